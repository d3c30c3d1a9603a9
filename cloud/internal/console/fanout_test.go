package console

import (
	"bufio"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/proccpu"
	"outpost/shared/syncproto"
)

// BenchmarkLiveFanout opens 1,000 device pages' live streams (one device
// each, over loopback HTTP) and publishes 1,000 updates per second (one
// per device) for 5 s through the real livefeed hub. It reports the
// process's CPU per viewer (server and the in-process readers together),
// the heap per open stream, and the share of updates delivered (the hub
// coalesces, so a slow page may skip a value, never fall behind).
func BenchmarkLiveFanout(b *testing.B) {
	const viewers, seconds = 1000, 5
	e := newEnv(b)
	devs := make([]tenancy.Device, viewers)
	for i := range devs {
		d, err := e.svc.CreateDevice(b.Context(), e.admin, tenancy.NewDevice{TemplateID: e.devA.TemplateID, OrgID: e.orgA.ID,
			Name: fmt.Sprintf("Fan %d", i)})
		if err != nil {
			b.Fatal(err)
		}
		devs[i] = d
	}
	ck := e.sessionCookie(b, "op@a.test")
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var got atomic.Int64
		var wg sync.WaitGroup
		tr := &http.Transport{MaxIdleConnsPerHost: viewers}
		hc := &http.Client{Transport: tr}
		bodies := make([]func() error, viewers)
		for i, d := range devs {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/devices/%d/live", e.srv.URL, d.ID), nil)
			req.AddCookie(ck)
			res, err := hc.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("viewer %d: %v %v", i, err, res)
			}
			bodies[i] = res.Body.Close
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc := bufio.NewScanner(res.Body)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "event: value") {
						got.Add(1)
					}
				}
			}()
		}
		for e.feed.Subscribers() < viewers {
			time.Sleep(10 * time.Millisecond)
		}
		runtime.GC()
		var open runtime.MemStats
		runtime.ReadMemStats(&open)
		cpu0 := proccpu.Self()
		start := time.Now()
		tick := time.NewTicker(time.Millisecond)
		sent := 0
		for sent < viewers*seconds {
			<-tick.C
			// Pace to 1,000/s: publish what is due by now.
			due := min(int(time.Since(start)/time.Millisecond), viewers*seconds)
			var us []livefeed.Update
			for ; sent < due; sent++ {
				d := devs[sent%viewers]
				us = append(us, livefeed.Update{Device: d.UID, Kind: syncproto.KindWrite, Pin: 0, Value: fmt.Sprint(sent), TS: time.Now().UnixMilli()})
			}
			e.feed.Publish(us)
		}
		tick.Stop()
		deadline := time.Now().Add(5 * time.Second)
		for got.Load() < int64(sent) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		cpu := proccpu.Self() - cpu0
		for _, c := range bodies {
			c()
		}
		wg.Wait()
		tr.CloseIdleConnections()
		b.ReportMetric(float64(cpu.Microseconds())/1000/elapsed.Seconds()/viewers, "cpu-ms/s/viewer")
		b.ReportMetric(float64(int64(open.HeapInuse)-int64(before.HeapInuse))/viewers/1024, "heap-KB/viewer")
		b.ReportMetric(float64(got.Load())/float64(sent)*100, "delivered-%")
	}
}
