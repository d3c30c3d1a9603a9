package cloud

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/internal/procmem"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
	"outpost/shared/ulid"
)

// sitesEnv names, in the benchmark's child process, the file of gateways
// to connect ("url id credential" per line).
const sitesEnv = "OUTPOST_BENCH_SITE_CLIENTS"

// benchSite is one org with one device and a claimed gateway.
type benchSite struct {
	org    tenancy.OrgID
	device tenancy.DeviceID
	gw     tenancy.GatewayID
	cred   string
}

// BenchmarkTenThousandSites: 10,000 gateway websockets (OUTPOST_BENCH_SITES
// overrides) across two cloud instances on one PostgreSQL, each gateway
// in an org of its own under the root. It reports what the websockets
// cost the process holding both instances (heap and stacks after GC, and
// RSS, per websocket; the gateways run in a child process), then, per
// iteration, a device renamed on instance A whose site is connected to B:
// the time until that gateway has its delta, and the views read and
// connections woken for it on both instances (1 and 1: O(the site), not
// O(all gateways)). For contrast it reports once what waking every gateway
// costs (wakeall-ms, until all have re-read their view).
func BenchmarkTenThousandSites(b *testing.B) {
	n := 10000
	if s := os.Getenv("OUTPOST_BENCH_SITES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	raiseFileLimit(b, n+1000) // the gateways have a process of their own
	dsn := pgtest.Database(b)
	pg := func(c *Config) {
		c.Store.Driver, c.Store.DSN, c.Store.MaxConns = "postgres", dsn, 8
		c.Log.Level = "warn"
	}
	inst := []*syncEnv{runEnv(b, pg), runEnv(b, pg)}
	sites := makeSites(b, inst[0], n+1)
	for _, e := range inst {
		if err := e.s.svc.Reload(context.Background()); err != nil {
			b.Fatal(err)
		}
	}

	// The n gateways in a child process, alternating between A and B.
	var lines strings.Builder
	for i, s := range sites[:n] {
		fmt.Fprintf(&lines, "ws://%s/api/v1/gateway/sync %d %s\n", inst[i%2].s.Addr(), s.gw, s.cred)
	}
	list := filepath.Join(b.TempDir(), "sites")
	if err := os.WriteFile(list, []byte(lines.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	heap0, rss0 := inUse(), rss()
	start := time.Now()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), sitesEnv+"="+list)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("child: %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(15 * time.Minute):
		b.Fatal("the gateways did not all connect")
	}
	connected := time.Since(start)
	heap1, rss1 := inUse(), rss()

	// The measured site, connected to B, from this process.
	me := sites[n]
	gw, code := inst[1].dial(me.cred)
	if code != http.StatusSwitchingProtocols {
		b.Fatalf("dial B: %d", code)
	}
	gw.send(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: siteregistry.Key(me.gw), Epoch: 1, Software: "bench"}})
	gw.must(syncproto.TypeSnapshot)

	w0, r0 := wakes(inst...)
	ctx := context.Background()
	i := 0
	var commit time.Duration
	b.ResetTimer()
	for b.Loop() {
		i++
		name := fmt.Sprint("Boiler ", i)
		t0 := time.Now()
		if _, err := inst[0].s.svc.RenameDevice(ctx, inst[0].admin, me.device, name); err != nil {
			b.Fatal(err)
		}
		commit += time.Since(t0)
		for {
			d := gw.must(syncproto.TypeDelta).Delta
			if len(d.Devices) == 1 && d.Devices[0].Name == name {
				break
			}
		}
	}
	b.StopTimer()
	w1, r1 := wakes(inst...)
	b.ReportMetric(float64(heap1-heap0)/float64(n)/1024, "heapKB/websocket")
	b.ReportMetric(float64(rss1-rss0)/float64(n)/1024, "rssKB/websocket")
	b.ReportMetric(connected.Seconds(), "connect-all-s")
	b.ReportMetric(float64(commit.Microseconds())/1000/float64(i), "rename-call-ms")
	b.ReportMetric(float64(r1-r0)/float64(i), "viewreads/change")
	b.ReportMetric(float64(w1-w0)/float64(i), "wakes/change")

	// For contrast: every gateway woken (an unattributed change).
	start = time.Now()
	_, r0 = wakes(inst...)
	for _, e := range inst {
		e.s.sync.TenancyChanged()
	}
	for {
		if _, r := wakes(inst...); r-r0 >= int64(n+1) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "wakeall-ms")
}

// makeSites creates n orgs under the root, each with a device and a
// claimed gateway, in a few large transactions (through the Service it
// would take minutes).
func makeSites(b *testing.B, e *syncEnv, n int) []benchSite {
	ctx := context.Background()
	tm, err := e.s.svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	sites := make([]benchSite, 0, n)
	for len(sites) < n {
		err := e.s.store.Atomic(ctx, func(tx tenancy.Tx) error {
			for k := 0; k < 500 && len(sites) < n; k++ {
				i := len(sites)
				o := tenancy.Org{ParentID: e.admin.OrgID, Name: fmt.Sprint("Site ", i), Type: tenancy.OrgBusiness,
					Active: true, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateOrg(ctx, &o); err != nil {
					return err
				}
				uid, err := ulid.New(now, rand.Reader)
				if err != nil {
					return err
				}
				d := tenancy.Device{UID: uid, OrgID: o.ID, TemplateID: tm.ID, Name: "Boiler",
					TokenHash: tenancy.HashToken(uid), CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateDevice(ctx, &d); err != nil {
					return err
				}
				cred := "gwc_bench_" + uid
				g := tenancy.Gateway{OrgID: o.ID, Name: fmt.Sprint("Pi ", i), CredentialHash: tenancy.HashToken(cred),
					ClaimCodeHash: tenancy.HashToken("claimed_" + uid), CreatedAt: now, ClaimedAt: now, ClaimExpiresAt: now}
				if err := tx.CreateGateway(ctx, &g); err != nil {
					return err
				}
				sites = append(sites, benchSite{org: o.ID, device: d.ID, gw: g.ID, cred: cred})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return sites
}

// raiseFileLimit raises the soft limit on open files to want (at most the
// hard limit); the child process inherits it.
func raiseFileLimit(b *testing.B, want int) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
	if l.Cur >= uint64(want) {
		return
	}
	l.Cur = min(uint64(want), l.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
	if l.Cur < uint64(want) {
		b.Logf("open files limited to %d (hard limit); %d wanted", l.Cur, want)
	}
}

func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// rss is the process's resident set size in bytes (Linux; 0 elsewhere).
func rss() uint64 {
	m, _ := procmem.Self()
	return uint64(m.RSS)
}

// siteClients is the child side of BenchmarkTenThousandSites: it connects
// every gateway the file names, says hello, reads the welcome and the
// snapshot, prints "ready" and then idles (answering pings) until stdin
// closes.
func siteClients(list string) error {
	data, err := os.ReadFile(list)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	work := make(chan string)
	errs := make(chan error, len(lines))
	var wg sync.WaitGroup
	dialer := &websocket.Dialer{HandshakeTimeout: 5 * time.Minute, ReadBufferSize: 1024, WriteBufferSize: 1024}
	for range 32 {
		wg.Go(func() {
			for line := range work {
				errs <- siteClient(dialer, line)
			}
		})
	}
	for _, l := range lines {
		work <- l
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

func siteClient(d *websocket.Dialer, line string) error {
	f := strings.Fields(line)
	if len(f) != 3 {
		return fmt.Errorf("bad line %q", line)
	}
	ws, _, err := d.Dial(f[0], http.Header{"Authorization": {"Bearer " + f[2]}})
	if err != nil {
		return fmt.Errorf("gateway %s: %w", f[1], err)
	}
	b, _ := syncproto.Encode(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: f[1], Epoch: 1, Software: "bench"}})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return err
	}
	for _, want := range []syncproto.Type{syncproto.TypeWelcome, syncproto.TypeSnapshot} {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("gateway %s: %w", f[1], err)
		}
		m, err := syncproto.Decode(data)
		if err != nil {
			return err
		}
		if m.Type != want {
			return fmt.Errorf("gateway %s: %s, want %s", f[1], m.Type, want)
		}
	}
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return nil
}
