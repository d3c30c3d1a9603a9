package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/internal/poll"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

func TestCheckConfigAndUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nlisten_port: 1\n"), 0o600)
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-check-config", "-config", "../../../configs/cloud.yaml"}, 0, "config ok"},
		{[]string{"-check-config"}, 0, "config ok"},
		{[]string{"-check-config", "-config", bad}, 2, "listen_port"},
		{[]string{"-check-config", "-config", "/nonexistent.yaml"}, 2, "nonexistent"},
		{[]string{"-check-config", "-admin-password", "short"}, 2, "admin.password"},
		{[]string{"-no-such-flag"}, 2, "no-such-flag"},
		{[]string{"extra"}, 2, "unexpected"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, noEnv, &out, &errOut)
		if code != c.code || !strings.Contains(out.String()+errOut.String(), c.out) {
			t.Errorf("%v: code %d, output %q %q; want %d and %q", c.args, code, out.String(), errOut.String(), c.code, c.out)
		}
	}
}

func TestFirstStartCreatesAdminOnce(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cloud.yaml")
	os.WriteFile(cfgPath, []byte("version: 1\ndata_dir: "+dir+"\nauth:\n  bcrypt_cost: 4\nlog:\n  level: warn\n"), 0o600)
	env := map[string]string{"OUTPOST_ADMIN_EMAIL": "boss@example.com"}
	pwFile := filepath.Join(dir, "admin-password")
	args := []string{"-config", cfgPath, "-listen", "127.0.0.1:0"}

	// stdout is no terminal here (as under systemd, where it goes to the
	// journal): without a password file the first start refuses to run.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "admin.password_file") {
		t.Fatalf("first start without a terminal or password file: exit %d, stderr %q", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "cloud.db")); !os.IsNotExist(err) {
		t.Fatalf("the refused start created the database: %v", err)
	}

	args = append(args, "-admin-password-file", pwFile)
	start := func() string {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
		}()
		poll.Within(t, "the start banner", 20*time.Second, func() bool {
			select {
			case code := <-done:
				t.Fatalf("exited %d early: %s %s", code, out.String(), errOut.String())
			default:
			}
			return strings.Contains(out.String(), "Platform API on")
		})
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("exit code %d: %s", code, errOut.String())
		}
		return out.String() + errOut.String()
	}
	first := start()
	if !strings.Contains(first, "Admin boss@example.com") || !strings.Contains(first, "password written to "+pwFile) {
		t.Errorf("first start output %q", first)
	}
	fi, err := os.Stat(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v, want 0600", fi.Mode().Perm())
	}
	pw, _ := os.ReadFile(pwFile)
	if p := strings.TrimSpace(string(pw)); len(p) < 16 || strings.Contains(first, p) {
		t.Errorf("password file holds %q; output %q must not contain it", p, first)
	}
	if second := start(); strings.Contains(second, "password") || strings.Contains(second, "created root") {
		t.Errorf("second start repeated the bootstrap: %q", second)
	}
}

// -h is a request, not a mistake: exit 0; an unknown flag is 2.
func TestFlagExitCodes(t *testing.T) {
	for args, want := range map[string]int{"-h": 0, "-nope": 2} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{args}, func(string) string { return "" }, &out, &errOut); code != want {
			t.Errorf("%s: exit %d, want %d (stderr %q)", args, code, want, errOut.String())
		}
	}
}
