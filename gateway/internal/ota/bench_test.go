package ota_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/internal/procmem"
	"outpost/shared/syncproto"
)

// BenchmarkServe100Parallel: 100 devices download a 1.5 MB image from the
// gateway's cache at once, as HTTP/1.0 clients (ESP8266 Edgent). Reported:
// MB/s over loopback and the peak RSS growth during the downloads (client
// and server share the process, so it is an upper bound for the server).
func BenchmarkServe100Parallel(b *testing.B) {
	const devices, size = 100, 1536 << 10
	img := image("2.0.0", "new", size)
	e := newEnv(b, img, 0)
	fw := firmwareOf(img, "2.0.0", "new")
	devs := e.addDevices(b, devices, flashOK)
	if err := e.d.ApplyShipments(context.Background(), syncproto.Shipments{Items: []syncproto.Shipment{{
		ID: "1", Name: "v2", TemplateID: tmplID, Window: "any", Rule: "lower_version", Attempts: 1 << 30, Firmware: fw}}}); err != nil {
		b.Fatal(err)
	}
	urls := make([]atomic.Value, devices)
	for i, d := range devs {
		e.hub.Attach(d.id, &urlConn{url: &urls[i]})
		e.hub.SetInfo(d.id, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "old"}, "test")
	}
	poll.Until(b, "an offer to every device", func() bool {
		for i := range urls {
			if urls[i].Load() == nil {
				return false
			}
		}
		return true
	})
	// The clients run in a child process (this test binary again), so the
	// RSS sampled here is the gateway side's alone.
	var list []string
	for i := range urls {
		list = append(list, strings.TrimPrefix(urls[i].Load().(string), e.lan.URL))
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	runtime.GC()
	b.ResetTimer()
	// The sampler must not grow what it measures: a Reader does not
	// allocate.
	mem := procmem.NewReader(0)
	defer mem.Close()
	rss := func() int64 { m, _ := mem.Read(); return m.RSS }
	base := rss()
	sampler.Add(1)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	go func() {
		defer sampler.Done()
		for {
			if r := rss(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDownloadClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OTA_BENCH_ADDR="+e.lan.Listener.Addr().String(),
		"OTA_BENCH_ROUNDS="+strconv.Itoa(b.N), "OTA_BENCH_SIZE="+strconv.Itoa(size))
	cmd.Stdin = strings.NewReader(strings.Join(list, "\n"))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("clients: %v\n%s", err, out)
	}
	b.StopTimer()
	close(stop)
	sampler.Wait()
	b.ReportMetric(float64(int64(b.N)*devices*size)/(1<<20)/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(peak.Load()-base)/(1<<20), "extra-RSS-MB")
}

// TestDownloadClients is the client side of BenchmarkServe100Parallel, run
// in a child process; it does nothing in a normal test run.
func TestDownloadClients(t *testing.T) {
	addr := os.Getenv("OTA_BENCH_ADDR")
	if addr == "" {
		t.Skip("client process of BenchmarkServe100Parallel")
	}
	rounds, _ := strconv.Atoi(os.Getenv("OTA_BENCH_ROUNDS"))
	size, _ := strconv.ParseInt(os.Getenv("OTA_BENCH_SIZE"), 10, 64)
	in, _ := io.ReadAll(os.Stdin)
	paths := strings.Split(string(in), "\n")
	get := func(path string) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n", path)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && (n != size || resp.ContentLength != size) {
			err = fmt.Errorf("%d bytes, Content-Length %d", n, resp.ContentLength)
		}
		return err
	}
	for range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, len(paths))
		for _, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := get(p); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}
