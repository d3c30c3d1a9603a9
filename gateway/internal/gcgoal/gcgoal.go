// Package gcgoal keeps the Go garbage collector's headroom proportional to
// the heap, not to the heap plus goroutine stacks.
//
// Since Go 1.18 the collector's goal counts the stack bytes it scans: with
// GOGC=100 the heap may grow by live heap + scanned stacks + globals before
// the next cycle. The broker runs two goroutines per MQTT connection
// (mochi's design), which use about 7.7 KB of stack per connection
// (BenchmarkIdleConnection in gateway/internal/broker); 10,000 idle devices
// then count 77 MB of stacks next to some 50 MB of heap, and about 130 MB
// of garbage (mochi copies its client map every second) piles up before a
// collection: the gateway's RSS grew from 291 to 402 MB in the first idle
// minute. Run lowers the GC percentage so that the headroom is what GOGC
// means for the heap alone, as before Go 1.18 (353 MB, level after 30 s).
// With few connections the stacks are small and nothing changes.
package gcgoal

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Sample is what the collector's goal is made of, as of the last cycle.
type Sample struct {
	Live    uint64 // heap marked live
	Stacks  uint64 // stack bytes scanned
	Globals uint64 // globals scanned
}

// MinPercent keeps a floor under the percentage: below it the collector's
// CPU cost grows faster than the memory it saves.
const MinPercent = 10

// Percent is the GC percentage that gives a headroom of base% of the live
// heap, given that the runtime applies the percentage to live heap,
// stacks and globals together. It is base when stacks and globals are
// small next to the heap.
func Percent(base int, s Sample) int {
	total := s.Live + s.Stacks + s.Globals
	if base <= 0 || total == 0 {
		return base
	}
	p := int(uint64(base) * s.Live / total)
	if p >= base*3/4 {
		return base // stacks and globals add at most a third: leave it
	}
	return max(p, MinPercent)
}

var names = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

func read(buf []metrics.Sample) Sample {
	metrics.Read(buf)
	var v [3]uint64
	for i, m := range buf {
		if m.Value.Kind() == metrics.KindUint64 {
			v[i] = m.Value.Uint64()
		}
	}
	return Sample{Live: v[0], Stacks: v[1], Globals: v[2]}
}

// Run adjusts the GC percentage every interval until ctx is done, then
// restores base. base is the percentage the user asked for (GOGC, 100 by
// default): pass Base(). A negative base (GOGC=off) is left alone.
func Run(ctx context.Context, base int, every time.Duration, log *slog.Logger) {
	if base < 0 {
		return
	}
	buf := make([]metrics.Sample, len(names))
	for i, n := range names {
		buf[i].Name = n
	}
	cur := base
	defer debug.SetGCPercent(base)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p := Percent(base, read(buf))
		// Setting the percentage stops the world briefly: only on a
		// change of a fifth or more, or back to base.
		if d := p - cur; d == 0 || (p != base && max(d, -d) < cur/5) {
			continue
		}
		debug.SetGCPercent(p)
		log.Debug("GC percentage adjusted for goroutine stacks", "gogc", p, "base", base)
		cur = p
	}
}

// Base returns the percentage in effect (GOGC, or 100; -1 for off).
func Base() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(int64(s[0].Value.Uint64())) // off reads as -1
}
