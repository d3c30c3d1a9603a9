package cloudlink

import (
	"context"
	"flag"
	"strconv"
	"sync"
	"testing"
	"time"

	"outpost/internal/poll"
)

var backlog = flag.Int("sync.backlog", 100_000, "outbox entries BenchmarkBacklogDrain drains (1000000 for the issue's figure)")

// BenchmarkBacklogDrain: a backlog of -sync.backlog updates in the real
// SQLite outbox, written while the cloud was away, drained over one
// websocket into the (in-process, in-memory) far side. Run with -benchtime=1x.
func BenchmarkBacklogDrain(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		h, st, devs := realGateway(b, dir, 10)
		for i := range *backlog {
			d := devs[i%len(devs)]
			if _, err := h.DeviceWrite(d.ID, 1, [][]byte{[]byte(strconv.Itoa(i / len(devs)))}, 0, "tcp"); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		fc := newFakeCloud(b)
		start := time.Now()
		b.StartTimer()
		l, err := New(Options{URL: fc.url(), Credential: "secret-cred", GatewayID: "gw-1", Hub: h, Store: st})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = l.Run(ctx) })
		poll.Within(b, "the drain", 10*time.Minute, func() bool { return fc.total() == *backlog })
		elapsed := time.Since(start)
		b.StopTimer()
		cancel()
		wg.Wait()
		b.ReportMetric(elapsed.Seconds(), "s/drain")
		b.ReportMetric(float64(*backlog)/elapsed.Seconds(), "updates/s")
		got := fc.snapshotValues()
		for _, d := range devs {
			vals := got[d.UID]
			if len(vals) != *backlog/len(devs) {
				b.Fatalf("device %s: %d values in the cloud, want %d", d.UID, len(vals), *backlog/len(devs))
			}
			for j, v := range vals {
				if v != strconv.Itoa(j) {
					b.Fatalf("device %s: value %d is %s", d.UID, j, v)
				}
			}
		}
		st.Close()
		b.StartTimer()
	}
}

// BenchmarkSteadyState: ten devices write as fast as the hub takes it while
// the link drains the outbox over one websocket; updates/s is the rate at
// which writes reach the far side (b.N×1000 updates).
func BenchmarkSteadyState(b *testing.B) {
	h, st, devs := realGateway(b, b.TempDir(), 10)
	defer st.Close()
	fc := newFakeCloud(b)
	l, err := New(Options{URL: fc.url(), Credential: "secret-cred", GatewayID: "gw-1", Hub: h, Store: st, PollInterval: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { _ = l.Run(ctx) })
	defer func() { cancel(); run.Wait() }()
	poll.Within(b, "connection", 10*time.Second, func() bool { return l.Stats().Connected })
	total := b.N * 1000
	b.ResetTimer()
	var wg sync.WaitGroup
	for k, d := range devs {
		wg.Go(func() {
			for i := k; i < total; i += len(devs) {
				if _, err := h.DeviceWrite(d.ID, 1, [][]byte{[]byte(strconv.Itoa(i))}, 0, "tcp"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	written := b.Elapsed()
	poll.Within(b, "the far side to hold every update", 10*time.Minute, func() bool { return fc.total() == total })
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(float64(total)/written.Seconds(), "writes/s")
}
