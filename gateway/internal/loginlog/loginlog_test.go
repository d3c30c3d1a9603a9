package loginlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRateLimit: one line per cause per minute per device; the next line
// counts what was suppressed; devices, hosts and causes are independent.
func TestRateLimit(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1_700_000_000, 0)
	l := New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})), func() time.Time { return now })
	type step struct {
		advance time.Duration
		call    func()
		want    string // the line written, "" for none
	}
	login := func(dev int64, port string) func() { return func() { l.Login("mqtt", dev, "10.0.0.5:"+port) } }
	refused := func(reason, remote string) func() { return func() { l.Refused("tcp", reason, remote) } }
	for i, s := range []step{
		{0, login(1, "4000"), `level=INFO msg="device login" device=1 transport=mqtt remote=10.0.0.5:4000`},
		{time.Second, login(1, "4001"), ""},
		{time.Second, login(2, "4002"), `level=INFO msg="device login" device=2 transport=mqtt remote=10.0.0.5:4002`},
		{0, refused(ReasonUnknownToken, "10.0.0.9:5000"), `level=INFO msg="device login refused" reason="unknown token" transport=tcp remote=10.0.0.9:5000`},
		{0, refused(ReasonUnknownToken, "10.0.0.9:5001"), ""},
		{0, refused(ReasonMalformedToken, "10.0.0.9:5002"), `level=INFO msg="device login refused" reason="malformed token" transport=tcp remote=10.0.0.9:5002`},
		{0, refused(ReasonUnknownToken, "10.0.0.10:5000"), `level=INFO msg="device login refused" reason="unknown token" transport=tcp remote=10.0.0.10:5000`},
		{57 * time.Second, login(1, "4003"), ""},
		{time.Second, login(1, "4004"), `level=INFO msg="device login" device=1 transport=mqtt remote=10.0.0.5:4004 suppressed=2`},
		{0, login(1, "4005"), ""},
	} {
		buf.Reset()
		now = now.Add(s.advance)
		s.call()
		if got := strings.TrimSpace(buf.String()); got != s.want {
			t.Errorf("step %d: wrote %q, want %q", i, got, s.want)
		}
	}
}

// TestSweep: the refused-login table stays bounded.
func TestSweep(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(slog.New(slog.DiscardHandler), func() time.Time { return now })
	for i := range maxEntries {
		l.Refused("tcp", ReasonUnknownToken, fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
	}
	now = now.Add(Every)
	l.Refused("tcp", ReasonUnknownToken, "10.1.0.0:1")
	if n := len(l.last); n != 1 {
		t.Errorf("%d entries after the sweep, want 1", n)
	}
}

// BenchmarkLogin is the cost a logged-in HTTP request pays.
func BenchmarkLogin(b *testing.B) {
	l := New(slog.New(slog.DiscardHandler), nil)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Login("http", 7, "10.0.0.5:4000")
		}
	})
}
