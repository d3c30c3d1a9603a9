package gatewaysync

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"outpost/internal/poll"
	"outpost/shared/syncproto"
)

// pump sends n items as batches of size per message, at most inflight
// unacknowledged, the way the gateway's cloud link drains its outbox, and
// returns when the last one is acknowledged.
func pump(tb testing.TB, c *client, first, n, size, inflight int) {
	acks := make(chan int64, inflight)
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := c.tryRecv()
			if err != nil {
				errc <- err
				return
			}
			if m.Type == syncproto.TypeAck {
				acks <- m.Seq
				if m.Seq == int64(first+n-1) {
					errc <- nil
					return
				}
			}
		}
	}()
	sent, out := 0, 0
	for sent < n {
		if out == inflight {
			<-acks
			out--
		}
		k := min(size, n-sent)
		b, err := syncproto.Encode(batch(first+sent, k, uid1))
		if err != nil {
			tb.Fatal(err)
		}
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			tb.Fatal(err)
		}
		sent += k
		out++
	}
	for out > 0 {
		select {
		case <-acks:
			out--
		case err := <-errc:
			if err != nil {
				tb.Fatal(err)
			}
			return
		}
	}
}

// BenchmarkTelemetry: datastream updates/s from one gateway over one
// websocket into the telemetry store (in memory here: the cloud's store has
// no telemetry tables yet), 1,000-item batches, 8 in flight.
func BenchmarkTelemetry(b *testing.B) {
	e := newEnv(b)
	c, _ := e.connect(b, "cred-1", "gw-1", 5)
	b.ResetTimer()
	pump(b, c, 1, b.N*1000, 1000, 8)
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "updates/s")
	if got := e.tel.total(); got != b.N*1000 {
		b.Fatalf("stored %d, want %d", got, b.N*1000)
	}
}

// BenchmarkBacklog1M drains a 1,000,000-update backlog (run with
// -benchtime=1x) and checks that every update was stored exactly once.
func BenchmarkBacklog1M(b *testing.B) {
	for b.Loop() {
		e := newEnv(b)
		c, _ := e.connect(b, "cred-1", "gw-1", 5)
		start := time.Now()
		pump(b, c, 1, 1_000_000, 4096, 8)
		b.ReportMetric(time.Since(start).Seconds(), "s/drain")
		if got := e.tel.total(); got != 1_000_000 {
			b.Fatalf("stored %d, want 1000000", got)
		}
		vals := e.tel.values("gw-1")
		for i, v := range vals {
			if v != strconv.Itoa(i+1) {
				b.Fatalf("item %d is %s: order or duplicates", i, v)
			}
		}
	}
}

// anyTenancy gives every gateway an empty tenancy at version 1, and
// anyCreds maps "cred-X" to gateway X.
type anyTenancy struct{}

func (anyTenancy) GatewayTenancy(context.Context, string) (syncproto.Tenancy, error) {
	return syncproto.Tenancy{Version: 1}, nil
}

type anyCreds struct{}

func (anyCreds) AuthenticateGateway(_ context.Context, cred string) (string, error) {
	gw, ok := strings.CutPrefix(cred, "cred-")
	if !ok || gw == "" {
		return "", ErrUnauthorized
	}
	return gw, nil
}

const clientsEnv = "GATEWAYSYNC_IDLE_CLIENTS"

// BenchmarkIdleGatewayMemory measures what 1,000 idle gateway websockets
// cost the cloud process: heap in use plus goroutine stacks, after GC, per
// connection. The gateways run in a child process so that their memory is
// not counted.
func BenchmarkIdleGatewayMemory(b *testing.B) {
	const n = 1000
	for b.Loop() {
		srv, err := New(Options{Credentials: anyCreds{}, Tenancy: anyTenancy{}, Telemetry: newMemTelemetry()})
		if err != nil {
			b.Fatal(err)
		}
		hs := newHTTPServer(b, srv)
		before := inUse()
		cmd := exec.Command(os.Args[0]) // TestMain runs the clients
		cmd.Env = append(os.Environ(), clientsEnv+"="+strconv.Itoa(n)+","+hs)
		cmd.Stderr = os.Stderr
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		poll.Within(b, fmt.Sprintf("%d gateways connected", n), time.Minute, func() bool {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			ready := 0
			for _, c := range srv.conns {
				if c.ready {
					ready++
				}
			}
			return ready == n
		})
		after := inUse()
		b.ReportMetric(float64(after-before)/n/1024, "KB/gateway")
		stdin.Close() // the child exits
		_ = cmd.Wait()
		srv.Close()
	}
}

func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

func newHTTPServer(b *testing.B, h http.Handler) string {
	hs := httptest.NewServer(h)
	b.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// TestMain runs, when clientsEnv is set, the child side of
// BenchmarkIdleGatewayMemory instead of the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv(clientsEnv); spec != "" {
		if err := idleClients(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// idleClients connects the gateways spec names ("n,url"), says hello, and
// idles until stdin closes.
func idleClients(spec string) error {
	ns, url, _ := strings.Cut(spec, ",")
	n, err := strconv.Atoi(ns)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", clientsEnv, spec, err)
	}
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		hdr := http.Header{"Authorization": {fmt.Sprintf("Bearer cred-gw-%d", i)}}
		ws, _, err := websocket.DefaultDialer.Dial(url, hdr)
		if err != nil {
			return err
		}
		b, _ := syncproto.Encode(&syncproto.Message{Type: syncproto.TypeHello, Hello: &syncproto.Hello{Gateway: fmt.Sprintf("gw-%d", i), TenancyVersion: 1}})
		if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
			return err
		}
		if _, _, err := ws.ReadMessage(); err != nil { // welcome
			return err
		}
		conns = append(conns, ws)
	}
	// Answer pings while idle.
	for _, ws := range conns {
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	_, _ = os.Stdin.Read(make([]byte, 1))
	return nil
}

// BenchmarkCommandRoundTrip: Server.Command → the gateway's websocket → its
// result back, one at a time, on loopback; reports p50 and p99. The gateway
// here answers at once (the hub's ControlWrite is not in the path).
func BenchmarkCommandRoundTrip(b *testing.B) {
	e := newEnv(b)
	c, _ := e.connect(b, "cred-1", "gw-1", 5)
	go func() {
		for {
			m, err := c.tryRecv()
			if err != nil {
				return
			}
			if m.Type == syncproto.TypeCommand {
				b, _ := syncproto.Encode(&syncproto.Message{Type: syncproto.TypeResult, ID: m.ID, Result: &syncproto.Result{Code: syncproto.ResultOK, Value: m.Command.Value}})
				if c.ws.WriteMessage(websocket.TextMessage, b) != nil {
					return
				}
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		r, err := e.srv.Command(context.Background(), "gw-1", syncproto.Command{Kind: syncproto.CommandWrite, Device: uid1, Pin: 1, Value: "1"})
		if err != nil || r.Code != syncproto.ResultOK {
			b.Fatalf("Command = %+v, %v", r, err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
