package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the banner while run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// The README's first command: a site comes up, prints a working device
// token and a working cloud login, and stops cleanly; a second start reuses
// the same tokens.
func TestSiteCommand(t *testing.T) {
	dir := t.TempDir()
	tryRE := regexp.MustCompile(`Try: curl '([^']+)'`)
	loginRE := regexp.MustCompile(`Log in:  curl -s -X POST (\S+) -H 'Content-Type: application/json' -d '([^']+)'`)

	var outBuf *syncBuffer
	out := func() string { return outBuf.String() }
	startSite := func() (banner string, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		var out syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"-data", dir, "-listen", "127.0.0.1", "-port-base", "-1"}, &out, io.Discard)
		}()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), "Log in:") {
			select {
			case code := <-done:
				t.Fatalf("site exited with %d before printing its banner: %s", code, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("no banner within 30s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		outBuf = &out
		return out.String(), func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("site exited with %d after cancel", code)
			}
		}
	}

	banner, stop := startSite()
	m := tryRE.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner has no curl example:\n%s", banner)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the printed curl answered %s", resp.Status)
	}
	l := loginRE.FindStringSubmatch(banner)
	if l == nil {
		t.Fatalf("banner has no login line:\n%s", banner)
	}
	resp, err = http.Post(l[1], "application/json", strings.NewReader(l[2]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "token") {
		t.Errorf("the printed login answered %s %s", resp.Status, body)
	}
	// The gateway registers with the cloud and is claimed into the demo
	// client org.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out(), "Gateway claimed into client org") {
		if time.Now().After(deadline) {
			t.Fatalf("gateway not claimed within 20s:\n%s", out())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()

	banner2, stop2 := startSite()
	defer stop2()
	tokRE := regexp.MustCompile(`Demo Device 1 +token (\S+)`)
	if a, b := tokRE.FindStringSubmatch(banner), tokRE.FindStringSubmatch(banner2); a == nil || b == nil || a[1] != b[1] {
		t.Errorf("tokens changed between runs: %v vs %v", a, b)
	}
}
