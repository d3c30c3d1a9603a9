package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/internal/poll"
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
			done <- run(ctx, []string{"-data", dir, "-listen", "127.0.0.1", "-port-base", "-1", "-sim-every", "200ms"}, &out, io.Discard)
		}()
		poll.Within(t, "the banner", 30*time.Second, func() bool {
			select {
			case code := <-done:
				t.Fatalf("site exited with %d before printing its banner: %s", code, out.String())
			default:
			}
			return strings.Contains(out.String(), "Log in:")
		})
		outBuf = &out
		return out.String(), func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("site exited with %d after cancel", code)
			}
		}
	}

	started := time.Now()
	banner, stop := startSite()
	if !strings.Contains(banner, " Gateway host      127.0.0.1\n") {
		t.Errorf("with -listen 127.0.0.1 the banner names another host:\n%s", banner)
	}
	checkBannerAnswers(t, banner, filepath.Join(dir, "gateway", "tls", "ca.crt"))
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
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("site output:\n%s", out())
		}
	})
	poll.Within(t, "the gateway claimed", 20*time.Second, func() bool { return strings.Contains(out(), "Gateway claimed into client org") })
	checkMergedUp(t, out(), l[1], l[2], started)
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
// gateway shows in the cloud's Platform API (dataStreamValues), with the
// time it was activated (its first connection, after started) and the time
// of its last report, which moves on with its next writes.
func checkMergedUp(t *testing.T, banner, loginURL, loginBody string, started time.Time) {
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
	var id int64
	poll.Within(t, fmt.Sprintf("device %q merged up into org %s", sim[1], m[1]), 20*time.Second, func() bool {
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
		return id != 0
	})
	type device struct {
		ActivatedAt, LastReportedAt int64
		DataStreamValues            []struct{ Pin, Value string }
	}
	var first device
	poll.Within(t, fmt.Sprintf("a V0 value of %q in the cloud", sim[1]), 20*time.Second, func() bool {
		var d device
		get("/api/v1/organization/device?deviceId="+strconv.FormatInt(id, 10), &d)
		for _, v := range d.DataStreamValues {
			if strings.EqualFold(v.Pin, "v0") && v.Value != "" {
				first = d
			}
		}
		return first.DataStreamValues != nil
	})
	now := time.Now().UnixMilli()
	if first.ActivatedAt < started.UnixMilli() || first.ActivatedAt > now ||
		first.LastReportedAt < first.ActivatedAt || first.LastReportedAt > now {
		t.Fatalf("device %q: activatedAt %d, lastReportedAt %d; want both in [%d, %d], activated first",
			sim[1], first.ActivatedAt, first.LastReportedAt, started.UnixMilli(), now)
	}
	poll.Within(t, fmt.Sprintf("lastReportedAt of %q moving on while it writes", sim[1]), 20*time.Second, func() bool {
		var d device
		get("/api/v1/organization/device?deviceId="+strconv.FormatInt(id, 10), &d)
		if d.ActivatedAt != first.ActivatedAt {
			t.Fatalf("activatedAt moved from %d to %d", first.ActivatedAt, d.ActivatedAt)
		}
		return d.LastReportedAt > first.LastReportedAt
	})
}

// bannerAddrRE finds the host:port pairs of the banner's gateway lines.
var bannerAddrRE = regexp.MustCompile(`(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):(\d+)`)

// checkBannerAnswers: every gateway address the banner prints accepts a
// connection, and its Blynk TLS address verifies against the CA file it
// names, as a device that pins that file and checks the name would.
func checkBannerAnswers(t *testing.T, banner, caFile string) {
	t.Helper()
	if !strings.Contains(banner, "devices pin the CA "+caFile) {
		t.Errorf("banner does not name the CA file %s:\n%s", caFile, banner)
	}
	n := 0
	for _, line := range strings.Split(banner, "\n") {
		for _, prefix := range []string{" Blynk TCP", " Blynk TLS", " MQTT", " Device HTTP API", " Try:"} {
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			for _, m := range bannerAddrRE.FindAllStringSubmatch(line, -1) {
				c, err := net.DialTimeout("tcp", m[0], 5*time.Second)
				if err != nil {
					t.Errorf("banner line %q: %s does not answer: %v", strings.TrimSpace(line), m[0], err)
					continue
				}
				c.Close()
				n++
				if prefix != " Blynk TLS" {
					continue
				}
				pem, err := os.ReadFile(caFile)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(pem)
				tc, err := tls.Dial("tcp", m[0], &tls.Config{RootCAs: pool, ServerName: strings.Trim(m[1], "[]")})
				if err != nil {
					t.Errorf("Blynk TLS at %s with the pinned CA: %v", m[0], err)
					continue
				}
				tc.Close()
			}
		}
	}
	if n < 7 {
		t.Errorf("found %d gateway addresses in the banner, want ≥ 7:\n%s", n, banner)
	}
}

// TestBannerOnEveryInterface: listening on every interface, the banner
// names the box's LAN address (when it has one) and every address it
// prints answers.
func TestBannerOnEveryInterface(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-data", dir, "-port-base", "-1", "-sim", "0"}, &out, io.Discard) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("site exited with %d", code)
		}
	}()
	poll.Within(t, "the banner", 30*time.Second, func() bool { return strings.Contains(out.String(), "Log in:") })
	banner := out.String()
	m := regexp.MustCompile(`Gateway host +(\S+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no gateway host in the banner:\n%s", banner)
	}
	if ip := net.ParseIP(m[1]); ip == nil || ip.IsLoopback() {
		t.Logf("gateway host %s: this box has no LAN address", m[1])
	} else if !slices.ContainsFunc(lanAddrs(t), ip.Equal) {
		t.Errorf("gateway host %s is not an address of this box", m[1])
	}
	checkBannerAnswers(t, banner, filepath.Join(dir, "gateway", "tls", "ca.crt"))
}

func lanAddrs(t *testing.T) []net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var ips []net.IP
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			ips = append(ips, ipn.IP)
		}
	}
	return ips
}

// -h is a request, not a mistake: exit 0; an unknown flag is 2.
func TestFlagExitCodes(t *testing.T) {
	for args, want := range map[string]int{"-h": 0, "-nope": 2} {
		if code := run(context.Background(), []string{args}, io.Discard, io.Discard); code != want {
			t.Errorf("%s: exit %d, want %d", args, code, want)
		}
	}
}
