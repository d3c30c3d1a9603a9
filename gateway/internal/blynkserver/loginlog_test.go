package blynkserver

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/shared/blynk"
)

// lockedBuffer is a log destination written by the sessions' goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLoginLog: logins and refused logins are logged at info, once per
// cause per minute per device, with reason and remote address, never the
// token (loginlog has the rate-limit table tests).
func TestLoginLog(t *testing.T) {
	e := newEnv(t)
	var logs lockedBuffer
	clk := &fakeClock{t: time.Unix(1_767_225_600, 0)}
	srv := New(Options{Hub: e.hub, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clk.Now, LoginTimeout: time.Second})
	addr := serve(t, srv, nil)
	const unknown = "ffffffffffffffffffffffffffffffff"
	for i, tc := range []struct {
		token string
		want  string // a line the login adds; "" for none
	}{
		{testToken, `level=INFO msg="device login" component=blynkserver device=1 transport=tcp remote=127.0.0.1:`},
		{testToken, ""},
		{unknown, `level=INFO msg="device login refused" component=blynkserver reason="unknown token" transport=tcp remote=127.0.0.1:`},
		{unknown, ""},
		{"short", `level=INFO msg="device login refused" component=blynkserver reason="malformed token" transport=tcp remote=127.0.0.1:`},
		{"", `level=INFO msg="device login refused" component=blynkserver reason="no login within the login timeout" transport=tcp remote=127.0.0.1:`},
	} {
		before := strings.Count(logs.String(), "device login")
		c := dial(t, addr)
		if tc.token == "" { // says nothing: closed after LoginTimeout
			c.expectClosed()
		} else if id := c.send(blynk.CmdHWLogin, tc.token); tc.token == testToken {
			c.expectResponse(id, blynk.StatusSuccess)
			c.roundTrip() // the session logged the login before reading this
		} else {
			c.expectResponse(id, blynk.StatusInvalidToken)
		}
		c.conn.Close()
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if tc.want == "" {
			if n := strings.Count(logs.String(), "device login"); n != before {
				t.Errorf("login %d: %d new lines, want none: %q", i, n-before, lines[len(lines)-1])
			}
			continue
		}
		if last := lines[len(lines)-1]; !strings.Contains(last, tc.want) {
			t.Errorf("login %d: last line %q, want %q", i, last, tc.want)
		}
	}
	for _, secret := range []string{testToken, unknown} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows a token:\n%s", logs.String())
		}
	}
}
