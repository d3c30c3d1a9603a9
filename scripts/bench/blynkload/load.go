package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"outpost/shared/devicesim"
)

// config is what the flags say.
type config struct {
	addr        string
	useTLS      bool
	insecure    bool
	tokensFile  string
	tokensURL   string
	devices     int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	statsURL    string
	httpURL     string
	ctlRate     float64
	ctlDevices  int
	pin         int
	ctlPin      int
	pid         int
	jsonOut     bool
	allowRemote bool
	parallel    int
	batch       time.Duration
}

// maxDuration bounds a run so the tool always stops by itself.
const maxDuration = time.Hour

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("blynkload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "gateway Blynk TCP (or TLS) address")
	fs.BoolVar(&c.useTLS, "tls", false, "connect with TLS")
	fs.BoolVar(&c.insecure, "insecure", false, "with -tls: do not verify the server certificate")
	fs.StringVar(&c.tokensFile, "tokens", "", "file with one device token per line")
	fs.StringVar(&c.tokensURL, "tokens-url", "", "URL returning tokens (lines or a JSON array), if no -tokens file")
	fs.IntVar(&c.devices, "devices", 0, "devices to simulate (0: one per token)")
	fs.Float64Var(&c.rate, "rate", 10, "writes per second per device (0: devices stay idle)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured run length")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured writing before the run")
	fs.StringVar(&c.statsURL, "stats", "", "gateway stats URL (GET /installer/api/stats)")
	fs.StringVar(&c.httpURL, "http", "", "device HTTP API base URL; enables the server→device latency probe")
	fs.Float64Var(&c.ctlRate, "ctl-rate", 10, "HTTP updates per second sent by the latency probe")
	fs.IntVar(&c.ctlDevices, "ctl-devices", 10, "devices the latency probe writes to")
	fs.IntVar(&c.pin, "pin", 0, "virtual pin the devices write (string, or a double/integer wide enough for Unix ns)")
	fs.IntVar(&c.ctlPin, "ctl-pin", 0, "virtual pin the latency probe writes")
	fs.IntVar(&c.pid, "pid", 0, "gateway process id, for peak RSS from /proc")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow non-loopback targets")
	fs.IntVar(&c.parallel, "dial-parallel", 16, "devices logging in at once")
	fs.DurationVar(&c.batch, "batch", 50*time.Millisecond, "shortest gap between two socket writes of a device; writes due within it share one (raise it to spend less CPU on the generator)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.duration <= 0 || c.duration > maxDuration:
		return c, fmt.Errorf("-duration must be in (0, %v]", maxDuration)
	case c.warmup < 0 || c.warmup > maxDuration:
		return c, fmt.Errorf("-warmup must be in [0, %v]", maxDuration)
	case c.rate < 0 || c.ctlRate < 0:
		return c, errors.New("-rate and -ctl-rate must not be negative")
	case c.tokensFile == "" && c.tokensURL == "":
		return c, errors.New("-tokens or -tokens-url is required")
	case c.devices < 0:
		return c, errors.New("-devices must not be negative")
	}
	if !c.allowRemote {
		if err := checkLoopback(c.addr); err != nil {
			return c, fmt.Errorf("-addr: %w", err)
		}
		for name, u := range map[string]string{"-stats": c.statsURL, "-http": c.httpURL, "-tokens-url": c.tokensURL} {
			if err := checkLoopbackURL(u); err != nil {
				return c, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return c, nil
}

var errNotLoopback = errors.New("not a loopback address (use -allow-remote)")

// checkLoopback accepts host:port whose host is a loopback IP, "localhost"
// or empty. Other names are refused rather than resolved.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	if host == "" || strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: %w", host, errNotLoopback)
	}
	return nil
}

func checkLoopbackURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http(s) URL", raw)
	}
	return checkLoopback(net.JoinHostPort(u.Hostname(), "0"))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "blynkload:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "blynkload")
	// Bounded whatever happens: dialling, warm-up, the run and a margin.
	ctx, cancel := context.WithTimeout(context.Background(), c.warmup+c.duration+2*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep, err := run(ctx, c, log)
	if err != nil {
		fmt.Fprintln(stderr, "blynkload:", err)
		return 1
	}
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "blynkload:", err)
			return 1
		}
		return 0
	}
	rep.print(stdout)
	return 0
}

// report is the tool's result; pointers are nil where a source was absent.
type report struct {
	Devices        int               `json:"devices"`
	Connected      int               `json:"connected"`
	ConnectError   string            `json:"connectError,omitempty"`
	RatePerDevice  float64           `json:"ratePerDevice"`
	DurationSec    float64           `json:"durationSec"`
	Sent           uint64            `json:"sent"`
	SentPerSec     float64           `json:"sentPerSec"`
	Late           uint64            `json:"late"`
	SendErrors     uint64            `json:"sendErrors"`
	Disconnected   int               `json:"disconnected"`
	Responses      map[string]uint64 `json:"responses,omitempty"`
	Accepted       *float64          `json:"accepted,omitempty"`
	AcceptedPerSec *float64          `json:"acceptedPerSec,omitempty"`
	Persisted      *float64          `json:"persisted,omitempty"`
	PersistedPerS  *float64          `json:"persistedPerSec,omitempty"`
	CommitP50Ms    *float64          `json:"commitP50Ms,omitempty"`
	CommitP99Ms    *float64          `json:"commitP99Ms,omitempty"`
	StatsError     string            `json:"statsError,omitempty"`
	ProbeSent      uint64            `json:"probeSent"`
	ProbeFailed    uint64            `json:"probeFailed"`
	ProbeError     string            `json:"probeError,omitempty"`
	Downlinks      uint64            `json:"downlinks"`
	DownP50Ms      *float64          `json:"downlinkP50Ms,omitempty"`
	DownP99Ms      *float64          `json:"downlinkP99Ms,omitempty"`
	PeakRSSMB      *float64          `json:"peakRssMB,omitempty"`
	MaxSampledMB   *float64          `json:"maxSampledRssMB,omitempty"`
	RSSError       string            `json:"rssError,omitempty"`
}

func run(ctx context.Context, c config, log *slog.Logger) (*report, error) {
	tokens, err := loadTokens(ctx, c)
	if err != nil {
		return nil, err
	}
	if c.devices == 0 {
		c.devices = len(tokens)
	}
	if c.devices > len(tokens) {
		return nil, fmt.Errorf("-devices %d but only %d tokens", c.devices, len(tokens))
	}
	tokens = tokens[:c.devices]
	opts := devicesim.FleetOptions{Addr: c.addr, Tokens: tokens, Pin: c.pin, Rate: c.rate, DialParallel: c.parallel, Batch: c.batch,
		Device: devicesim.Options{Logger: log}}
	if c.useTLS {
		opts.Device.TLS = &tls.Config{InsecureSkipVerify: c.insecure} // loopback bench against a self-signed gateway cert
	}
	rep := &report{Devices: c.devices, RatePerDevice: c.rate, DurationSec: c.duration.Seconds()}
	fleet := devicesim.NewFleet(opts)
	defer fleet.Close()
	if err := fleet.Connect(ctx); err != nil {
		rep.ConnectError = err.Error()
		log.Warn("some devices did not connect", "err", err)
	}
	rep.Connected = len(fleet.Devices())
	if rep.Connected == 0 {
		return nil, fmt.Errorf("no device connected: %s", rep.ConnectError)
	}
	if c.warmup > 0 {
		fleet.Run(ctx, c.warmup)
	}

	client := &http.Client{Timeout: 5 * time.Second}
	before, berr := fetchStats(ctx, client, c.statsURL)
	statsFrom := time.Now()
	rss := newRSSSampler(c.pid)
	runCtx, endRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if rss != nil {
		wg.Go(func() { rss.loop(runCtx, 100*time.Millisecond) })
	}
	var pr probe
	if c.httpURL != "" && c.ctlRate > 0 {
		var sample []string
		for _, d := range fleet.Devices()[:min(c.ctlDevices, rep.Connected)] {
			sample = append(sample, d.Token())
		}
		// Stop probing a little before the end, so every probe's downlink can
		// arrive while the run still counts.
		probeCtx, cancel := context.WithTimeout(runCtx, c.duration-min(time.Second, c.duration/5))
		wg.Go(func() {
			defer cancel()
			pr.loop(probeCtx, client, c.httpURL, c.ctlPin, c.ctlRate, sample)
		})
	}
	st := fleet.Run(ctx, c.duration)
	endRun()
	wg.Wait()
	// Offered more than it can take, the gateway still drains the sockets'
	// backlog when the run ends and answers slowly: wait for it, and take
	// the rates over the time between the two readings of the counters.
	after, aerr := fetchStats(ctx, &http.Client{Timeout: time.Minute}, c.statsURL)
	statsSecs := time.Since(statsFrom).Seconds()

	rep.Sent, rep.SentPerSec, rep.Late, rep.SendErrors, rep.Disconnected = st.Sent, st.SentPerSecond(), st.Late, st.SendErrors, st.Disconnected
	if len(st.Responses) > 0 {
		rep.Responses = map[string]uint64{}
		for s, n := range st.Responses {
			rep.Responses[s.String()] = n
		}
	}
	rep.Downlinks = st.Downlinks
	if len(st.Latency) > 0 {
		rep.DownP50Ms = ptr(ms(devicesim.Percentile(st.Latency, 50)))
		rep.DownP99Ms = ptr(ms(devicesim.Percentile(st.Latency, 99)))
	}
	rep.ProbeSent, rep.ProbeFailed, rep.ProbeError = pr.sent.Load(), pr.failed.Load(), pr.firstErr()
	switch {
	case c.statsURL == "":
	case berr != nil || aerr != nil:
		rep.StatsError = errors.Join(berr, aerr).Error()
	default:
		rep.Accepted, rep.AcceptedPerSec = delta(before, after, "hub.writesAccepted", statsSecs)
		rep.Persisted, rep.PersistedPerS = delta(before, after, "store.committed", statsSecs)
		rep.CommitP50Ms = lookup(after, "store.commitP50Ms")
		rep.CommitP99Ms = lookup(after, "store.commitP99Ms")
	}
	if rss != nil {
		peak, maxSampled, err := rss.result()
		if err != nil {
			rep.RSSError = err.Error()
		} else {
			rep.PeakRSSMB, rep.MaxSampledMB = ptr(peak), ptr(maxSampled)
		}
	}
	return rep, nil
}

func ptr(f float64) *float64 { return &f }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *report) print(w io.Writer) {
	num := func(p *float64, format string) string {
		if p == nil {
			return "n/a"
		}
		return fmt.Sprintf(format, *p)
	}
	fmt.Fprintf(w, "devices        %d connected of %d, %.0f msgs/s each, %.1fs measured\n", r.Connected, r.Devices, r.RatePerDevice, r.DurationSec)
	if r.ConnectError != "" {
		fmt.Fprintf(w, "connect errors %s\n", r.ConnectError)
	}
	fmt.Fprintf(w, "sent           %d msgs, %.0f msgs/s (late %d, send errors %d, disconnected %d)\n", r.Sent, r.SentPerSec, r.Late, r.SendErrors, r.Disconnected)
	if len(r.Responses) > 0 {
		fmt.Fprintf(w, "responses      %v\n", r.Responses)
	}
	fmt.Fprintf(w, "accepted       %s msgs/s (%s msgs)\n", num(r.AcceptedPerSec, "%.0f"), num(r.Accepted, "%.0f"))
	fmt.Fprintf(w, "persisted      %s msgs/s (%s msgs)\n", num(r.PersistedPerS, "%.0f"), num(r.Persisted, "%.0f"))
	fmt.Fprintf(w, "write→commit   p50 %s ms, p99 %s ms\n", num(r.CommitP50Ms, "%.2f"), num(r.CommitP99Ms, "%.2f"))
	if r.StatsError != "" {
		fmt.Fprintf(w, "stats error    %s\n", r.StatsError)
	}
	fmt.Fprintf(w, "server→device  p50 %s ms, p99 %s ms (%d probes sent, %d failed, %d downlinks received)\n",
		num(r.DownP50Ms, "%.2f"), num(r.DownP99Ms, "%.2f"), r.ProbeSent, r.ProbeFailed, r.Downlinks)
	if r.ProbeError != "" {
		fmt.Fprintf(w, "probe error    %s\n", r.ProbeError)
	}
	fmt.Fprintf(w, "gateway RSS    peak %s MB (max sampled during run %s MB)\n", num(r.PeakRSSMB, "%.1f"), num(r.MaxSampledMB, "%.1f"))
	if r.RSSError != "" {
		fmt.Fprintf(w, "rss error      %s\n", r.RSSError)
	}
}
