package logconfig

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want []string
	}{
		{Config{"info", "text"}, nil},
		{Config{"debug", "json"}, nil},
		{Config{"loud", "text"}, []string{"log.level"}},
		{Config{"INFO", "text"}, []string{"log.level"}},
		{Config{"warn", "xml"}, []string{"log.format"}},
		{Config{"", ""}, []string{"log.level", "log.format"}},
	} {
		errs := c.cfg.Validate()
		if len(errs) != len(c.want) {
			t.Errorf("%+v: %v, want errors about %v", c.cfg, errs, c.want)
			continue
		}
		for i, e := range errs {
			if !strings.HasPrefix(e.Error(), c.want[i]+":") {
				t.Errorf("%+v: %v, want it about %s", c.cfg, e, c.want[i])
			}
		}
	}
}

func TestLogger(t *testing.T) {
	var b bytes.Buffer
	l := Config{Level: "warn", Format: "json"}.Logger(&b)
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["msg"] != "shown" || rec["k"] != 1.0 {
		t.Errorf("json log %q: %v", b.String(), err)
	}
	b.Reset()
	Config{Level: "debug", Format: "text"}.Logger(&b).Debug("detail")
	if !strings.Contains(b.String(), "level=DEBUG msg=detail") {
		t.Errorf("text log %q", b.String())
	}
}
