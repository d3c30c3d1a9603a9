package deviceapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoginLog: requests are device logins; they and refused tokens are
// logged at info once per cause per minute per device, never the token
// (loginlog has the rate-limit table tests).
func TestLoginLog(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var logs bytes.Buffer
	out := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	now := time.Unix(1_767_225_600, 0)
	srv := httptest.NewServer(New(Options{Hub: e.hub, Logger: slog.New(slog.NewTextHandler(out, nil)), Now: func() time.Time { return now }}))
	defer srv.Close()
	const unknown = "ffffffffffffffffffffffffffffffff"
	for i, tc := range []struct {
		query string
		want  string // a line the request adds; "" for none
	}{
		{"token=" + token + "&v1=5", `level=INFO msg="device login" component=deviceapi device=1 transport=http remote=127.0.0.1:`},
		{"token=" + token + "&v1=6", ""},
		{"token=" + unknown + "&v1=5", `level=INFO msg="device login refused" component=deviceapi reason="unknown token" transport=http remote=127.0.0.1:`},
		{"token=" + unknown + "&v1=5", ""},
		{"token=abc&v1=5", `level=INFO msg="device login refused" component=deviceapi reason="malformed token" transport=http`},
		{"v1=5", `level=INFO msg="device login refused" component=deviceapi reason="no token" transport=http`},
	} {
		mu.Lock()
		before := strings.Count(logs.String(), "device login")
		mu.Unlock()
		resp, err := http.Get(srv.URL + Prefix + "update?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		all := logs.String()
		mu.Unlock()
		lines := strings.Split(strings.TrimSpace(all), "\n")
		if tc.want == "" {
			if n := strings.Count(all, "device login"); n != before {
				t.Errorf("request %d: %d new lines, want none", i, n-before)
			}
			continue
		}
		if last := lines[len(lines)-1]; !strings.Contains(last, tc.want) {
			t.Errorf("request %d: last line %q, want %q", i, last, tc.want)
		}
		if strings.Contains(all, token) || strings.Contains(all, unknown) {
			t.Errorf("the log shows a token:\n%s", all)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
