package livefeed

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"outpost/internal/proccpu"
	"outpost/shared/syncproto"
)

func liveBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// BenchmarkFanout: 1,000 subscribers (each a goroutine that waits for
// updates and takes them, as a console page's event stream does, without
// the network write) while updates arrive in batches of 100, as gateway
// telemetry batches do. "spread": each subscriber watches its own device
// and updates go round the 1,000 devices; "hot": all 1,000 watch the same
// device. It reports the process CPU per update (publisher and
// subscribers), what 1,000 updates/s then cost per subscriber, and the
// memory each subscription holds (heap and goroutine stack).
func BenchmarkFanout(b *testing.B) {
	const subs, batch = 1000, 100
	for _, mode := range []string{"spread", "hot"} {
		b.Run(mode, func(b *testing.B) {
			h := New(Options{})
			before := liveBytes()
			var wg sync.WaitGroup
			stop := make(chan struct{})
			var mu sync.Mutex
			received := 0
			for i := range subs {
				dev := "d0"
				if mode == "spread" {
					dev = fmt.Sprint("d", i)
				}
				s := h.Subscribe(dev)
				wg.Go(func() {
					defer s.Close()
					var buf []Update
					for {
						select {
						case <-s.Ready():
							buf, _ = s.Take(buf[:0])
							mu.Lock()
							received += len(buf)
							mu.Unlock()
						case <-stop:
							return
						}
					}
				})
			}
			perSub := float64(liveBytes()-before) / subs
			us := make([]Update, batch)
			b.ResetTimer()
			c0 := proccpu.Self()
			for n := 0; n < b.N; n += batch {
				for j := range us {
					i := n + j
					dev := "d0"
					if mode == "spread" {
						dev = fmt.Sprint("d", i%subs)
					}
					us[j] = Update{Device: dev, Kind: syncproto.KindWrite, Pin: i % 8, Value: "21.5", TS: int64(i)}
				}
				h.Publish(us)
			}
			close(stop)
			wg.Wait()
			cpu := proccpu.Self() - c0
			b.StopTimer()
			perUpdate := float64(cpu.Nanoseconds()) / float64(max(b.N, 1))
			b.ReportMetric(perUpdate, "cpu-ns/update")
			// At 1,000 updates/s the process spends perUpdate·1000 ns per
			// second; shared by 1,000 subscribers.
			b.ReportMetric(perUpdate*1000/1e9*100/subs, "cpu%/sub@1000ups")
			b.ReportMetric(perSub, "bytes/sub")
			_ = received
		})
	}
}
