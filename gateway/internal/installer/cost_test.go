package installer

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"outpost/internal/proccpu"
	"outpost/internal/procmem"
)

// TestPageWeight: all JavaScript and CSS of the heaviest page (the device
// page) stays within 30 KB gzipped.
func TestPageWeight(t *testing.T) {
	e := newEnv(t)
	in := e.installer(t, Options{})
	n := in.PageWeight()
	t.Logf("device page JS + CSS: %d bytes gzipped (%v)", n, devicePageAssets)
	if n == 0 || n > 30<<10 {
		t.Errorf("page weight %d bytes gzipped, want 1..%d", n, 30<<10)
	}
}

func rssKB(t *testing.T) int64 {
	m, ok := procmem.Self()
	if !ok {
		t.Skip("no /proc/self/status")
	}
	return m.RSS >> 10
}

// TestIdlePageCost measures what open pages cost the gateway while
// nothing happens: 100 live streams (device pages, status pages, device
// lists) over real sockets. Memory per page must stay under 1 MB (the
// process's RSS includes the test's own client side, so this is an upper
// bound); the CPU figure is logged, not asserted (the machine is shared).
func TestIdlePageCost(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	e := newEnv(t)
	in := e.installer(t, Options{})
	ck := signedIn(t, in)
	srv := httptest.NewServer(in)
	defer srv.Close()
	paths := []string{"/devices/" + strconv.FormatInt(e.dev.ID, 10) + "/live", "/status/live", "/devices/live"}
	const pages = 99
	runtime.GC()
	before := rssKB(t)
	var bodies []*http.Response
	for i := range pages {
		req, _ := http.NewRequest("GET", srv.URL+paths[i%len(paths)], nil)
		req.AddCookie(ck)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp)
	}
	defer func() {
		for _, b := range bodies {
			b.Body.Close()
		}
	}()
	runtime.GC()
	after := rssKB(t)
	perPage := float64(after-before) / pages
	t.Logf("%d open live pages: RSS %d → %d kB, %.1f kB per page (client side included)", pages, before, after, perPage)
	if perPage > 1024 {
		t.Errorf("an open page costs %.0f kB of RSS, want ≤ 1 MB", perPage)
	}
	c0, w0 := proccpu.Self(), time.Now()
	time.Sleep(4 * time.Second)
	cpu, wall := proccpu.Self()-c0, time.Since(w0)
	t.Logf("idle with %d open pages: %v CPU in %v wall (%.3f%% of one core; %.1f µs/s per page)",
		pages, cpu, wall.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(), float64(cpu.Microseconds())/wall.Seconds()/pages)
}
