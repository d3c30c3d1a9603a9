package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"outpost/cloud"
	"outpost/internal/proccpu"
)

type config struct {
	url, token, email, password string
	fixture                     bool
	data                        string
	orgs                        []int // orgs per level below the root
	devices                     int
	clients                     int
	duration, warmup            time.Duration
	sample                      int
	cpuProfile                  string
	netHTTP                     bool
}

func run(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("cloudload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "", "running cloud's base URL (loopback only), e.g. http://127.0.0.1:8000")
	fs.StringVar(&c.token, "token", "", "bearer token (session or OAuth access token)")
	fs.StringVar(&c.email, "email", "", "log in with this email instead of -token")
	fs.StringVar(&c.password, "password", "", "password for -email")
	fs.BoolVar(&c.fixture, "fixture", false, "start a cloud in-process on a generated fixture")
	fs.StringVar(&c.data, "data", "", "fixture directory, reused when it holds a database (default: a temporary one)")
	fs.IntVar(&c.devices, "devices", 100000, "fixture devices, spread over the leaf orgs")
	fs.IntVar(&c.clients, "clients", 32, "concurrent keep-alive clients")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time (at most 5m)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured time first")
	fs.IntVar(&c.sample, "sample", 10000, "device ids to spread the requests over")
	orgs := fs.String("orgs", "10,10,10", "fixture orgs per level below the root (10,10,10: 1+10+100+1,000 = 1,111 orgs)")
	fs.BoolVar(&c.netHTTP, "nethttp", false, "load with net/http's client instead of the lean built-in one (costs more CPU per request)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured window (load tool and in-process cloud) here")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h asked for the usage
		}
		return 2
	}
	var err error
	if c.orgs, err = parseLevels(*orgs); err == nil {
		err = c.check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "cloudload:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := load(ctx, c, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "cloudload:", err)
		return 1
	}
	return 0
}

func (c *config) check() error {
	if c.fixture == (c.url != "") {
		return errors.New("give exactly one of -url and -fixture")
	}
	if c.url != "" {
		if err := loopbackOnly(c.url); err != nil {
			return err
		}
		if c.token == "" && c.email == "" {
			return errors.New("-url needs -token or -email/-password")
		}
	}
	if c.clients < 1 || c.clients > 1024 {
		return errors.New("-clients must be 1..1024")
	}
	if c.duration <= 0 || c.duration > 5*time.Minute || c.warmup < 0 {
		return errors.New("-duration must be in (0, 5m] and -warmup not negative")
	}
	if c.devices < 1 || c.devices > 1_000_000 || c.sample < 1 {
		return errors.New("-devices must be 1..1,000,000 and -sample positive")
	}
	return nil
}

// parseLevels reads "10,10,10": orgs per parent at each level below the root.
func parseLevels(s string) ([]int, error) {
	var out []int
	total := 1
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-orgs %q: want positive counts like 10,10,10", s)
		}
		total *= n
		out = append(out, n)
	}
	if len(out) > 3 || total > 100_000 {
		return nil, fmt.Errorf("-orgs %q: at most 3 levels below the root and 100,000 leaves", s)
	}
	return out, nil
}

// loopbackOnly refuses targets that are not this machine.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("bad -url %q", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q is not a loopback address; cloudload only loads this machine", raw)
	}
	return nil
}

func load(ctx context.Context, c config, stdout, stderr io.Writer) error {
	base, token := c.url, c.token
	if c.fixture {
		srv, tok, done, err := startFixture(ctx, c, stderr)
		if err != nil {
			return err
		}
		defer done()
		base, token = srv.URL(), tok
	}
	tr := &http.Transport{MaxIdleConns: c.clients, MaxIdleConnsPerHost: c.clients, MaxConnsPerHost: c.clients,
		IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if token == "" {
		var err error
		if token, err = login(ctx, hc, base, c.email, c.password); err != nil {
			return err
		}
	}
	ids, err := deviceIDs(ctx, hc, base, token, c.sample)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "loading %s with %d clients over %d devices: %v warm-up, %v measured\n", base, c.clients, len(ids), c.warmup, c.duration)
	res := hammer(ctx, hc, base, token, ids, c, c.cpuProfile)
	res.print(stdout, c)
	return nil
}

// result is what the measured window saw.
type result struct {
	elapsed   time.Duration
	cpu       time.Duration // this process's CPU time in the window
	latencies []time.Duration
	status    map[int]int
	errors    int
}

func hammer(ctx context.Context, hc *http.Client, base, token string, ids []int64, c config, profile string) result {
	clients, warmup, dur := c.clients, c.warmup, c.duration
	var measuring atomic.Bool
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type local struct {
		lat    []time.Duration
		status map[int]int
		errs   int
	}
	locals := make([]local, clients)
	var wg sync.WaitGroup
	for w := range clients {
		locals[w].status = map[int]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &locals[w]
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			buf := make([]byte, 4096)
			raw, err := newRawClient(base, token)
			if err != nil && !c.netHTTP {
				l.errs++
				return
			}
			defer func() {
				if raw != nil {
					raw.close()
				}
			}()
			for ctx.Err() == nil {
				path := "/api/v1/organization/device?deviceId=" + strconv.FormatInt(ids[rng.IntN(len(ids))], 10)
				t0 := time.Now()
				var status int
				if c.netHTTP {
					req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
					req.Header.Set("Authorization", "Bearer "+token)
					var resp *http.Response
					if resp, err = hc.Do(req); err == nil {
						for {
							if _, rerr := resp.Body.Read(buf); rerr != nil {
								break
							}
						}
						resp.Body.Close()
						status = resp.StatusCode
					}
				} else {
					status, err = raw.get(ctx, path)
				}
				el := time.Since(t0)
				if !measuring.Load() || ctx.Err() != nil {
					continue
				}
				if err != nil {
					l.errs++
					continue
				}
				l.status[status]++
				l.lat = append(l.lat, el)
			}
		}()
	}
	sleepCtx(ctx, warmup)
	stopProfile := startProfile(profile)
	measuring.Store(true)
	t0, cpu0 := time.Now(), proccpu.Self()
	sleepCtx(ctx, dur)
	measuring.Store(false)
	elapsed, cpu := time.Since(t0), proccpu.Self()-cpu0
	stopProfile()
	cancel()
	wg.Wait()
	r := result{elapsed: elapsed, cpu: cpu, status: map[int]int{}}
	for _, l := range locals {
		r.latencies = append(r.latencies, l.lat...)
		r.errors += l.errs
		for s, n := range l.status {
			r.status[s] += n
		}
	}
	return r
}

// startProfile starts a CPU profile to path ("" does nothing) and returns
// its stop function.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r result) print(w io.Writer, c config) {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	ok := r.status[http.StatusOK]
	client := "built-in"
	if c.netHTTP {
		client = "net/http"
	}
	fmt.Fprintf(w, "GET /api/v1/organization/device: %d requests in %.1fs, %.0f req/s (200: %.0f/s), %d keep-alive clients (%s)\n",
		len(r.latencies), r.elapsed.Seconds(), float64(len(r.latencies))/r.elapsed.Seconds(), float64(ok)/r.elapsed.Seconds(), c.clients, client)
	fmt.Fprintf(w, "latency p50 %v  p90 %v  p99 %v  max %v\n", pct(.50), pct(.90), pct(.99), pct(1))
	fmt.Fprintf(w, "status %v, transport errors %d\n", r.status, r.errors)
	if c.fixture {
		fmt.Fprintf(w, "peak RSS (load tool + in-process cloud) %d MiB\n", peakRSS()>>20)
		// On a shared machine the wall-clock rate understates capacity;
		// requests per CPU-second (cloud and load tool together) do not.
		if r.cpu > 0 {
			fmt.Fprintf(w, "CPU (cloud + load tool) %.2fs of %.1fs wall: %.0f requests per CPU-second\n",
				r.cpu.Seconds(), r.elapsed.Seconds(), float64(len(r.latencies))/r.cpu.Seconds())
		}
	}
}

func login(ctx context.Context, hc *http.Client, base, email, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var out struct{ Token string }
	if err := doJSON(hc, req, http.StatusOK, &out); err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	return out.Token, nil
}

// deviceIDs collects up to n device ids the caller may read.
func deviceIDs(ctx context.Context, hc *http.Client, base, token string, n int) ([]int64, error) {
	var ids []int64
	for page := 0; len(ids) < n; page++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/organization/devices?includeSubOrgDevices=true&size=1000&page=%d", base, page), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var l struct {
			Content []struct{ ID int64 }
		}
		if err := doJSON(hc, req, http.StatusOK, &l); err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		if len(l.Content) == 0 {
			break
		}
		for _, d := range l.Content {
			ids = append(ids, d.ID)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("the caller sees no devices")
	}
	return ids[:min(n, len(ids))], nil
}

func doJSON(hc *http.Client, req *http.Request, want int, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// startFixture runs a cloud in-process (rate limit off) and fills it with
// the fixture unless -data already holds one.
func startFixture(ctx context.Context, c config, stderr io.Writer) (*cloud.Server, string, func(), error) {
	dir := c.data
	cleanup := func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "cloudload-")
		if err != nil {
			return nil, "", nil, err
		}
		dir, cleanup = d, func() { os.RemoveAll(d) }
	}
	_, statErr := os.Stat(filepath.Join(dir, "cloud.db"))
	fresh := errors.Is(statErr, os.ErrNotExist)
	cfg := cloud.Defaults()
	cfg.DataDir, cfg.Listen, cfg.API.RateLimit, cfg.Auth.BcryptCost = dir, "127.0.0.1:0", -1, 4
	cfg.Admin = cloud.AdminConfig{OrgName: "Load Root", Email: "root@load.test", Name: "Root", Password: "load-test-password"}
	cfg.Log.Level = "warn"
	srv, err := cloud.New(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		cleanup()
		return nil, "", nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(rctx) }()
	done := func() {
		cancel()
		if err := <-errc; err != nil {
			fmt.Fprintln(stderr, "cloud:", err)
		}
		cleanup()
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: time.Minute}
	tok, err := login(ctx, hc, srv.URL(), cfg.Admin.Email, cfg.Admin.Password)
	if err == nil && fresh {
		err = generate(ctx, hc, srv.URL(), tok, c, stderr)
	}
	if err != nil {
		done()
		return nil, "", nil, err
	}
	return srv, tok, done, nil
}

// generate builds the org tree level by level and spreads the devices over
// the leaves, with two concurrent writers.
func generate(ctx context.Context, hc *http.Client, base, tok string, c config, stderr io.Writer) error {
	t0 := time.Now()
	post := func(path string, body any, out any) error {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		return doJSON(hc, req, http.StatusCreated, out)
	}
	var tm struct{ ID string }
	if err := post("/api/v1/organization/template/create", map[string]any{"name": "Load template",
		"datastreams": []map[string]any{{"pin": 0, "name": "v0", "type": "double"}}}, &tm); err != nil {
		return err
	}
	var me struct{ OrgID int64 }
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if err := doJSON(hc, req, http.StatusOK, &me); err != nil {
		return err
	}
	level := []int64{me.OrgID}
	for depth, per := range c.orgs {
		var next []int64
		for _, parent := range level {
			for i := range per {
				var org struct{ ID int64 }
				if err := post("/api/v1/organization/create", map[string]any{"name": fmt.Sprintf("Org %d-%d-%d", depth+2, parent, i),
					"parentId": parent, "canCreateSubOrgs": true}, &org); err != nil {
					return err
				}
				next = append(next, org.ID)
			}
		}
		level = next
	}
	fmt.Fprintf(stderr, "fixture: %d leaf orgs in %v; creating %d devices…\n", len(level), time.Since(t0).Round(time.Millisecond), c.devices)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	// SQLite takes one writer at a time; two keep it busy while the other
	// request is on the wire, more only queue on its lock.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(c.devices) || ctx.Err() != nil {
					return
				}
				err := post("/api/v1/organization/device/create", map[string]any{"templateId": tm.ID,
					"orgId": level[int(i)%len(level)], "name": fmt.Sprintf("dev %d", i)}, nil)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if (i+1)%20000 == 0 {
					fmt.Fprintf(stderr, "fixture: %d devices, %v\n", i+1, time.Since(t0).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Fprintf(stderr, "fixture ready in %v\n", time.Since(t0).Round(time.Second))
	return ctx.Err()
}
