package cloudlink

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
	"outpost/internal/faultproxy"
	"outpost/internal/poll"
	"outpost/shared/datastream"
)

// The long versions of these tests are scripts/sync/*.sh, which set these.
var (
	syncDuration = flag.Duration("sync.duration", 0, "how long devices write during partition tests (0: a short CI run)")
	syncKills    = flag.Int("sync.kills", 0, "SIGKILLs of the gateway in TestCrashGatewayMidDrain (0: 2, or 1 in -short)")
)

// The real store satisfies the link's Store (the package itself may not
// import it).
var _ Store = (*sqlite.Store)(nil)

// realGateway opens a hub on a real SQLite store in dir with n devices of
// one integer datastream (V1), created on first use.
func realGateway(t testing.TB, dir string, n int) (*hub.Hub, *sqlite.Store, []hub.Device) {
	h, st, devs, err := openRealGateway(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	return h, st, devs
}

func openRealGateway(dir string, n int) (*hub.Hub, *sqlite.Store, []hub.Device, error) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "gateway.db")})
	if err != nil {
		return nil, nil, nil, err
	}
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		return nil, nil, nil, err
	}
	if len(h.Devices()) == 0 {
		tm := datastream.Template{ID: "TMPL1", Name: "counter", Datastreams: []datastream.Datastream{{Pin: 1, Name: "n", Type: datastream.Integer}}}
		if err := h.SaveTemplate(ctx, tm); err != nil {
			return nil, nil, nil, err
		}
		for i := range n {
			if _, _, err := h.AddDevice(ctx, "TMPL1", fmt.Sprintf("dev%d", i)); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return h, st, h.Devices(), nil
}

func duration(short, long time.Duration) time.Duration {
	if *syncDuration > 0 {
		return *syncDuration
	}
	if testing.Short() {
		return short
	}
	return long
}

// TestRealStorePartitions: the real hub and SQLite outbox behind the link;
// four devices count upwards while the websocket is closed by the cloud and
// black-holed by a proxy in turn. Afterwards the cloud holds every count of
// every device exactly once, in order, and the outbox is empty.
func TestRealStorePartitions(t *testing.T) {
	fc := newFakeCloud(t)
	p := faultproxy.Start(t, fc.srv.Listener.Addr().String())
	h, st, devs := realGateway(t, t.TempDir(), 4)
	defer st.Close()
	r := newRig(t, "ws://"+p.Addr()+"/sync", fc, func(o *Options) {
		o.Hub, o.Store = h, st
		o.IdleTimeout = 300 * time.Millisecond
		o.PollInterval = 10 * time.Millisecond
	})

	stop := make(chan struct{})
	counts := make([]atomic.Int64, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.DeviceWrite(d.ID, 1, [][]byte{[]byte(strconv.Itoa(n))}, 0, "tcp"); err != nil {
					t.Error(err)
					return
				}
				counts[i].Store(int64(n + 1))
				if n%4 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	end := time.Now().Add(duration(400*time.Millisecond, 1500*time.Millisecond))
	cuts := 0
	for time.Now().Before(end) {
		sessions := r.link.Stats().Connects
		poll.Within(t, "a session", 10*time.Second, func() bool { return r.link.Stats().Connects > sessions || r.link.Stats().Connected })
		if cuts%2 == 0 {
			fc.kick()
		} else {
			p.Blackhole(true)
			poll.Within(t, "the link to notice", 10*time.Second, func() bool { return !r.link.Stats().Connected })
			p.Blackhole(false)
		}
		cuts++
	}
	close(stop)
	wg.Wait()
	if err := st.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	poll.Within(t, "the outbox to drain", 30*time.Second, func() bool {
		n, _ := st.OutboxLen(context.Background())
		return n == 0
	})
	got := fc.snapshotValues()
	total := 0
	for i, d := range devs {
		n := int(counts[i].Load())
		total += n
		checkCounts(t, d.UID, got[d.UID], n)
	}
	t.Logf("%d cuts, %d sessions, %d writes, %d items sent (replays included)", cuts, r.link.Stats().Connects, total, r.link.Stats().ItemsSent)
}

// checkCounts: the cloud's values for one device are exactly 0..n-1.
func checkCounts(t *testing.T, uid string, vals []string, n int) {
	t.Helper()
	if len(vals) != n {
		t.Errorf("device %s: cloud holds %d values, the device wrote %d", uid, len(vals), n)
	}
	for j, v := range vals {
		if v != strconv.Itoa(j) {
			t.Errorf("device %s: value %d is %s (lost, doubled or out of order)", uid, j, v)
			return
		}
	}
}

const crashChildEnv = "OUTPOST_CLOUDLINK_CRASH_CHILD"

// TestCrashGatewayMidDrain SIGKILLs a gateway process (this test binary run
// again) while its devices write and its link drains, restarts it on the
// same SQLite file, and repeats. Each device counts on from its latest
// durable value. At the end the cloud holds, per device, 0..last exactly
// once: what was committed locally reached the cloud, nothing twice.
func TestCrashGatewayMidDrain(t *testing.T) {
	kills := *syncKills
	if kills == 0 {
		kills = 2
		if testing.Short() {
			kills = 1
		}
	}
	fc := newFakeCloud(t)
	dir := t.TempDir()
	run := func(mode string) *exec.Cmd {
		cmd := exec.Command(os.Args[0]) // TestMain runs the child
		cmd.Env = append(os.Environ(), crashChildEnv+"="+mode+","+dir+","+fc.url())
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
			}
		}()
		return cmd
	}
	for k := range kills {
		cmd := run("write")
		before := fc.total()
		poll.Within(t, "the cloud to receive from this run", 30*time.Second, func() bool { return fc.total() > before+2000 })
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		t.Logf("kill %d: cloud holds %d values", k+1, fc.total())
	}
	// A last run writes nothing: it drains what is left and reports the
	// latest durable value of every device.
	cmd := run("drain")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("drain run: %v", err)
	}
	h, st, devs := realGateway(t, dir, 0)
	defer st.Close()
	got := fc.snapshotValues()
	for _, d := range devs {
		v, ok := h.Value(d.ID, 1)
		if !ok {
			t.Fatalf("device %s has no value", d.UID)
		}
		last, _ := strconv.Atoi(v.Value)
		checkCounts(t, d.UID, got[d.UID], last+1)
	}
}

// TestMain runs, when crashChildEnv is set, the gateway process of
// TestCrashGatewayMidDrain instead of the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		if err := crashChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild is a gateway process, run with crashChildEnv="mode,dir,url".
// In "write" mode its devices count until it is killed; in "drain" mode it
// drains the outbox, prints "latest <device uid> <value>" per device and
// exits.
func crashChild(spec string) error {
	mode, rest, _ := strings.Cut(spec, ",")
	dir, url, _ := strings.Cut(rest, ",")
	h, st, devs, err := openRealGateway(dir, 3)
	if err != nil {
		return err
	}
	l, err := New(Options{URL: url, Credential: "secret-cred", GatewayID: "gw-1", Hub: h, Store: st,
		MinBackoff: time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 5 * time.Millisecond,
		BatchSize: 200, IdleTimeout: time.Second})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	if mode == "drain" {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(60 * time.Second) // the parent's test fails on our exit status
		for n, _ := st.OutboxLen(ctx); n > 0; n, _ = st.OutboxLen(ctx) {
			select {
			case <-tick.C:
			case <-deadline:
				return fmt.Errorf("outbox not drained in 60s: %d entries left", n)
			}
		}
		cancel()
		<-done
		for _, d := range devs {
			if v, ok := h.Value(d.ID, 1); ok {
				fmt.Printf("latest %s %s\n", d.UID, v.Value)
			}
		}
		return st.Close()
	}
	errc := make(chan error, len(devs))
	for _, d := range devs {
		go func() {
			n := 0
			if v, ok := h.Value(d.ID, 1); ok {
				n, _ = strconv.Atoi(v.Value)
				n++
			}
			for ; ; n++ {
				if _, err := h.DeviceWrite(d.ID, 1, [][]byte{[]byte(strconv.Itoa(n))}, 0, "tcp"); err != nil {
					errc <- err
					return
				}
				time.Sleep(time.Millisecond) // ~1,000 writes/s per device
			}
		}()
	}
	return <-errc // or killed
}
