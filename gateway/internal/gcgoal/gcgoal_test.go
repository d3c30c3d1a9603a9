package gcgoal

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"outpost/internal/poll"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name string
		base int
		s    Sample
		want int
	}{
		{"no stacks to speak of", 100, Sample{Live: 50 * mb, Stacks: 64 << 10, Globals: 0}, 100},
		{"10k idle devices", 100, Sample{Live: 50 * mb, Stacks: 65 * mb, Globals: 1 * mb}, 43},
		{"user's GOGC scaled the same way", 200, Sample{Live: 50 * mb, Stacks: 50 * mb}, 100},
		{"floor", 100, Sample{Live: 1 * mb, Stacks: 300 * mb}, MinPercent},
		{"stacks a third of the heap", 100, Sample{Live: 30 * mb, Stacks: 10 * mb}, 100},
		{"never above base", 20, Sample{Live: 10 * mb, Stacks: 10 * mb}, MinPercent},
		{"no sample yet", 100, Sample{}, 100},
		{"GC off stays off", -1, Sample{Live: 1, Stacks: 1}, -1},
	} {
		if got := Percent(tc.base, tc.s); got != tc.want {
			t.Errorf("%s: Percent(%d, %+v) = %d, want %d", tc.name, tc.base, tc.s, got, tc.want)
		}
	}
}

// park holds a goroutine with about depth KB of used stack.
func park(depth int, wg *sync.WaitGroup, stop <-chan struct{}) {
	var pad [1024]byte
	pad[depth%len(pad)] = byte(depth)
	if depth > 0 {
		park(depth-1, wg, stop)
		return
	}
	wg.Done()
	<-stop
	runtime.KeepAlive(pad)
}

// With many parked goroutines and little heap, Run lowers the percentage;
// when they are gone it returns to base, and it restores base on exit.
func TestRunFollowsStacks(t *testing.T) {
	base := Base()
	if base < 0 {
		t.Skip("GOGC=off")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2000 {
		wg.Add(1)
		go park(16, &wg, stop)
	}
	wg.Wait()
	runtime.GC() // the scan the sample reports

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, base, 5*time.Millisecond, slog.New(slog.DiscardHandler)) }()
	waitPercent(t, "lowered", func(p int) bool { return p < base })

	close(stop)
	runtime.GC()
	runtime.GC()
	waitPercent(t, "back to base", func(p int) bool { return p == base })
	cancel()
	<-done
	if p := Base(); p != base {
		t.Errorf("after Run: GC percentage %d, want %d", p, base)
	}
}

// waitPercent waits for the GC percentage to satisfy ok; each miss runs a
// collection, which is what moves the goal.
func waitPercent(t *testing.T, what string, ok func(int) bool) {
	t.Helper()
	poll.Until(t, "GC percentage "+what, func() bool {
		if ok(Base()) {
			return true
		}
		runtime.GC()
		return false
	})
}
