package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/internal/proccpu"
)

// BenchmarkAppendCommit measures committed KindWrite records per second
// (outbox insert, which is also the history, + latest upsert) from 1,000 devices
// written by a few concurrent producers, as the hub would.
func BenchmarkAppendCommit(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const devices, pins, producers = 1000, 4, 2
	values := make([]string, 100)
	for i := range values {
		values[i] = strconv.FormatFloat(20+float64(i)/10, 'f', -1, 64)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), proccpu.Self()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += producers {
				s.Append(hub.Record{
					Kind: hub.KindWrite, DeviceID: int64(i%devices + 1), Pin: (i / devices) % pins,
					Value: values[i%len(values)], TS: int64(i), Source: "tcp", Enqueued: time.Now().UnixNano(),
				})
			}
		}()
	}
	wg.Wait()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	el, cpu := time.Since(start), proccpu.Self()-cpu0
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/record")
	b.ReportMetric(float64(st.Committed)/float64(max(st.Transactions, 1)), "records/tx")
	b.ReportMetric(st.P50Ms, "p50-ms")
	b.ReportMetric(st.P99Ms, "p99-ms")
}

// BenchmarkCommitLatency offers a steady 50,000 KindWrite records/s (in
// bursts about every millisecond, 1,000 devices) and reports the Append →
// committed latency percentiles: the group-commit window plus the commit.
func BenchmarkCommitLatency(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const rate, devices = 50000, 1000
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		<-tick.C
		due := min(int(time.Since(start).Seconds()*rate), b.N) // catch up on late ticks
		for ; i < due; i++ {
			s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: int64(i%devices + 1), Pin: i % 7,
				Value: "21.5", TS: time.Now().UnixMilli(), Source: "mqtt", Enqueued: time.Now().UnixNano()})
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(st.P50Ms, "p50-ms")
	b.ReportMetric(st.P99Ms, "p99-ms")
	b.ReportMetric(float64(st.Committed)/float64(max(st.Transactions, 1)), "records/tx")
}

// BenchmarkCommitBatch measures the committer alone: one transaction of
// 4,096 KindWrite records per iteration, built in advance, from 1,000
// devices writing 1 pin each (every pin written about 4 times per batch,
// like devices streaming one reading) or 4 pins each (each pin about once),
// stamped as if they arrived at 300,000 records/s (about the committer's
// capacity: a second holds 75 or 300 writes of each pin). records/s is
// the committer's capacity on one core.
func BenchmarkCommitBatch(b *testing.B) {
	for _, pins := range []int{1, 4} {
		b.Run(fmt.Sprintf("pins=%d", pins), func(b *testing.B) { benchCommitBatch(b, pins) })
	}
}

func benchCommitBatch(b *testing.B, pins int) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := newCommitter(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	batch := make([]hub.Record, 4096)
	k := 0
	b.ResetTimer()
	cpu0 := proccpu.Self()
	for b.Loop() {
		for i := range batch {
			batch[i] = hub.Record{Kind: hub.KindWrite, DeviceID: int64(k%1000 + 1), Pin: (k / 1000) % pins,
				Value: strconv.Itoa(k % 97), TS: 1_700_000_000_000 + int64(k/300), Source: "tcp"}
			k++
		}
		if err := c.commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	cpu := proccpu.Self() - cpu0
	b.ReportMetric(float64(k)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(k), "cpu-µs/record")
}
