package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
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
	consoleRE := regexp.MustCompile(`Cloud console\s+(http://\S+)\s`)
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
	// The console's address answers with its sign-in page.
	c := consoleRE.FindStringSubmatch(banner)
	if c == nil {
		t.Fatalf("banner has no console line:\n%s", banner)
	}
	resp, err = http.Get(c[1])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Sign in to Outpost") {
		t.Errorf("the printed console URL answered %s", resp.Status)
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
	checkMergedUp(t, out(), l[1], l[2])
	stop()

	banner2, stop2 := startSite()
	defer stop2()
	tokRE := regexp.MustCompile(`Demo Device 1 +token (\S+)`)
	if a, b := tokRE.FindStringSubmatch(banner), tokRE.FindStringSubmatch(banner2); a == nil || b == nil || a[1] != b[1] {
		t.Errorf("tokens changed between runs: %v vs %v", a, b)
	}
}

// checkMergedUp: the demo devices, created on the gateway, are merged up
// into the demo client org, and a simulated device's value written on the
// gateway shows in the cloud's Platform API (dataStreamValues).
func checkMergedUp(t *testing.T, banner, loginURL, loginBody string) {
	t.Helper()
	m := regexp.MustCompile(`\(orgId (\d+)\)`).FindStringSubmatch(banner)
	sim := regexp.MustCompile(`(?m)^ (.+?) +token \S+ +\(simulated`).FindStringSubmatch(banner)
	if m == nil || sim == nil {
		t.Fatalf("banner has no demo org id or simulated device:\n%s", banner)
	}
	api := strings.TrimSuffix(loginURL, "/api/v1/auth/login")
	resp, err := http.Post(loginURL, "application/json", strings.NewReader(loginBody))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if err != nil || sess.Token == "" {
		t.Fatalf("login: %v", err)
	}
	get := func(path string, out any) int {
		req, _ := http.NewRequest("GET", api+path, nil)
		req.Header.Set("Authorization", "Bearer "+sess.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	deadline := time.Now().Add(20 * time.Second)
	var id int64
	for id == 0 {
		var l struct {
			Content []struct {
				ID   int64
				Name string
			}
		}
		get(fmt.Sprintf("/api/v1/organization/devices?orgId=%s", m[1]), &l)
		for _, d := range l.Content {
			if d.Name == sim[1] {
				id = d.ID
			}
		}
		if id == 0 && time.Now().After(deadline) {
			t.Fatalf("device %q not merged up into org %s within 20s: %+v", sim[1], m[1], l)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		var d struct {
			DataStreamValues []struct{ Pin, Value string }
		}
		get("/api/v1/organization/device?deviceId="+strconv.FormatInt(id, 10), &d)
		for _, v := range d.DataStreamValues {
			if strings.EqualFold(v.Pin, "v0") && v.Value != "" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no V0 value of %q in the cloud within 20s: %+v", sim[1], d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// -h is a request, not a mistake: exit 0; an unknown flag is 2.
func TestFlagExitCodes(t *testing.T) {
	for args, want := range map[string]int{"-h": 0, "-nope": 2} {
		if code := run(context.Background(), []string{args}, io.Discard, io.Discard); code != want {
			t.Errorf("%s: exit %d, want %d", args, code, want)
		}
	}
}
