package systemtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

var (
	backlog = flag.Int("sync.backlog", 100_000, "updates written while the cloud is down in BenchmarkBacklogDrain (scripts/sync/figures.sh: 1,000,000)")
	offered = flag.Int("sync.rate", 60_000, "updates/s the devices of BenchmarkSteadyState offer, all together")
	window  = flag.Duration("sync.window", 10*time.Second, "measuring window of one BenchmarkSteadyState iteration")
)

// benchSite is the real cloud in a fresh dir and one real gateway claimed
// into client A, its devices logged in.
func benchSite(b *testing.B, caddr string) (*cloudProc, *fixture, *site, string) {
	cloudBin, gwBin := products(b)
	root := b.TempDir()
	cdir := filepath.Join(root, "cloud")
	if err := os.Mkdir(cdir, 0o755); err != nil {
		b.Fatal(err)
	}
	cloud := startCloud(b, cloudBin, cdir, caddr)
	f := newFixture(b, cloud, 4)
	s := newSite(b, gwBin, root, cloud.url, "site-a")
	s.id = f.claimInto(b, s.gw, 0)
	return cloud, f, s, cdir
}

// BenchmarkControlLatency: Platform API POST …/device/datastream → the
// simulated TCP device receives the vw, through the real cloud, websocket
// and gateway on loopback. Reports p50/p99 in ms.
func BenchmarkControlLatency(b *testing.B) {
	_, f, s, _ := benchSite(b, "127.0.0.1:0")
	d := f.devices[0][0]
	dev := waitLogin(b, s, d.Token, devicesim.Options{})
	send := func(v int) time.Duration {
		start := time.Now()
		f.api.must(204, "POST", "/api/v1/organization/device/datastream", f.users[0],
			map[string]any{"deviceId": d.ID, "dataStreamId": "v2", "value": v}, nil)
		at, err := expectWrite(dev, 2, strconv.Itoa(v))
		if err != nil {
			b.Fatal(err)
		}
		return at.Sub(start)
	}
	send(-1) // the first waits for the link
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		lat = append(lat, send(i))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkBacklogDrain: with the cloud stopped, four devices write
// -sync.backlog updates into the gateway; then the cloud starts and the
// backlog drains into its store over the one websocket. Reports the drain
// time and updates/s; afterwards the cloud's histories are counted through
// the Platform API (zero loss).
func BenchmarkBacklogDrain(b *testing.B) {
	for b.Loop() {
		caddr := freeAddr(b)
		cloud, f, s, cdir := benchSite(b, caddr)
		cloudBin, _ := products(b)
		var devs []*devicesim.Device
		for _, d := range f.devices[0] {
			devs = append(devs, waitLogin(b, s, d.Token, devicesim.Options{}))
		}
		cloud.stop(b)
		per := *backlog / len(devs)
		var wg sync.WaitGroup
		for _, d := range devs {
			wg.Go(func() {
				for v := range per {
					if _, err := d.VirtualWrite(1, v); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		want := int64(per * len(devs))
		poll.Within(b, "the backlog on the gateway", 10*time.Minute, func() bool { return s.gw.stats(b).Backlog >= want })
		start := time.Now()
		cloud = startCloud(b, cloudBin, cdir, caddr)
		poll.Within(b, "the drain", 10*time.Minute, func() bool { st := s.gw.stats(b); return st.Connected && st.Backlog == 0 })
		el := time.Since(start)
		b.ReportMetric(el.Seconds(), "drain-s")
		b.ReportMetric(float64(want)/el.Seconds(), "updates/s")
		for _, d := range f.devices[0] {
			if n := len(f.api.history(f.users[0], d.ID, 1)); n != per {
				b.Errorf("%s: cloud holds %d values, the device wrote %d", d.Name, n, per)
			}
		}
		fmt.Fprintf(os.Stderr, "drained %d updates in %v (%.0f/s) from backlog %d\n", want, el.Round(time.Millisecond), float64(want)/el.Seconds(), want)
	}
}

// BenchmarkSteadyState: four devices write continuously at -sync.rate
// updates/s in all (paced every 10 ms) into one real gateway, whose link
// carries them over one websocket into the real cloud's store. After a
// warm-up, each iteration measures, over -sync.window, the rate at which
// the cloud acknowledged updates (acks follow the store's commit, so this
// is the applied rate) and the rate the devices actually offered; the
// backlog left at the end tells whether the cloud kept up. Run with
// -benchtime 1x (or Nx for N windows).
func BenchmarkSteadyState(b *testing.B) {
	_, f, s, _ := benchSite(b, "127.0.0.1:0")
	var devs []*devicesim.Device
	for _, d := range f.devices[0] {
		devs = append(devs, waitLogin(b, s, d.Token, devicesim.Options{}))
	}
	poll.Within(b, "the cloud link", 30*time.Second, func() bool { return s.gw.stats(b).Connected })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	const tick = 10 * time.Millisecond
	perTick := max(1, *offered/len(devs)/int(time.Second/tick))
	var written atomic.Int64
	for _, d := range devs {
		wg.Go(func() {
			t := time.NewTicker(tick)
			defer t.Stop()
			for v := 0; ; {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				for range perTick {
					if _, err := d.VirtualWrite(1, v); err != nil {
						if ctx.Err() == nil {
							b.Error(err)
						}
						return
					}
					v++
				}
				written.Add(int64(perTick))
			}
		})
	}
	// Warm-up: the link is up and the first batches are through.
	warm := time.Now().Add(2 * time.Second)
	poll.Within(b, "the warm-up", 30*time.Second, func() bool { return time.Now().After(warm) && s.gw.stats(b).ItemsAcked > 0 })
	var applied, offer float64
	var backlogEnd int64
	b.ResetTimer()
	for b.Loop() {
		a0, w0, t0 := s.gw.stats(b).ItemsAcked, written.Load(), time.Now()
		end := t0.Add(*window)
		poll.Within(b, "the window", *window+time.Minute, func() bool { return time.Now().After(end) })
		st := s.gw.stats(b)
		el := time.Since(t0).Seconds()
		applied += float64(st.ItemsAcked-a0) / el
		offer += float64(written.Load()-w0) / el
		backlogEnd = st.Backlog
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(applied/n, "updates/s")
	b.ReportMetric(offer/n, "offered/s")
	b.ReportMetric(float64(backlogEnd), "backlog")
	fmt.Fprintf(os.Stderr, "steady state: cloud applied %.0f updates/s, devices offered %.0f/s, backlog at the end %d\n", applied/n, offer/n, backlogEnd)
}
