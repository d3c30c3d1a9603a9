package broker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/hub/hubtest"
	"outpost/internal/poll"
)

func benchToken(i int) string { return fmt.Sprintf("bench%027d", i) }

// benchBroker serves a broker over a counting store with n bench devices.
func benchBroker(b *testing.B, n int) (*Broker, *hubtest.CountStore, string) {
	b.Helper()
	st := &hubtest.CountStore{}
	br, addr := benchBrokerOn(b, st, n)
	return br, st, addr
}

// benchBrokerOn serves a broker over st with n bench devices until the
// benchmark ends.
func benchBrokerOn(b *testing.B, st hub.Store, n int) (*Broker, string) {
	b.Helper()
	ctx := context.Background()
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		b.Fatal(err)
	}
	if err := h.SaveTemplate(ctx, testTemplate()); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := h.AddDeviceWithToken(ctx, "TMPLbroker01", "bench "+strconv.Itoa(i), benchToken(i)); err != nil {
			b.Fatal(err)
		}
	}
	br, err := New(Options{Hub: h})
	if err != nil {
		b.Fatal(err)
	}
	ln := listen(b)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = br.Serve(ctx, Listeners{TCP: ln}) }()
	b.Cleanup(func() { cancel(); <-done })
	return br, ln.Addr().String()
}

// rawConnect opens an MQTT 3.1.1 connection as bench device i and reads the
// CONNACK on the caller's goroutine, so the client side adds no goroutines
// to the memory being measured.
func rawConnect(addr string, i int) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 120,
			UsernameFlag: true, Username: []byte(Username),
			PasswordFlag: true, Password: []byte(benchToken(i)),
		},
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.Write(buf.Bytes()); err != nil {
		c.Close()
		return nil, err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		c.Close()
		return nil, err
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("connack % x", ack)
	}
	return c, nil
}

// BenchmarkIdleConnection reports the broker's memory per idle device
// connection (heap and goroutine stacks), the figure behind "10,000 idle
// MQTT devices in 200 MB". The raw clients add a socket each and no
// goroutines.
func BenchmarkIdleConnection(b *testing.B) {
	b.Run("outpost", func(b *testing.B) {
		br, _, addr := benchBroker(b, idleConns)
		benchIdle(b, addr, func() int64 { return br.Stats().Connections })
	})
	// The same with mochi alone (an allow-all hook), the floor any broker
	// built on it pays per connection.
	b.Run("bare-mochi", func(b *testing.B) {
		s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
		if err := s.AddHook(new(allowAll), nil); err != nil {
			b.Fatal(err)
		}
		ln := listen(b)
		if err := s.AddListener(newNetListener("t", ln)); err != nil {
			b.Fatal(err)
		}
		if err := s.Serve(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		benchIdle(b, ln.Addr().String(), func() int64 { return int64(s.Clients.Len()) })
	})
}

// allowAll is the least a bare mochi needs to accept clients.
type allowAll struct{ mqtt.HookBase }

func (allowAll) ID() string { return "allow-all" }
func (allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

const idleConns = 1000

func benchIdle(b *testing.B, addr string, connections func() int64) {
	const n = idleConns
	var heap, stack, settled, scanned, gor float64
	// What the GC counts of those stacks in its goal (gateway/internal/gcgoal).
	scan := []metrics.Sample{{Name: "/gc/scan/stack:bytes"}}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		metrics.Read(scan)
		scan0 := scan[0].Value.Uint64()
		g0 := runtime.NumGoroutine()
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := rawConnect(addr, i)
			if err != nil {
				b.Fatal(err)
			}
			conns[i] = c
		}
		poll.Within(b, fmt.Sprintf("%d connections", n), 30*time.Second, func() bool { return connections() == n })
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap += float64(after.HeapInuse) - float64(before.HeapInuse)
		stack += float64(after.StackInuse) - float64(before.StackInuse)
		gor += float64(runtime.NumGoroutine() - g0)
		// Each GC halves the stacks of idle goroutines that use less than
		// a quarter of theirs; an idle gateway runs one at least every
		// two minutes (the runtime's forced GC).
		for range 4 {
			runtime.GC()
		}
		runtime.ReadMemStats(&after)
		settled += float64(after.StackInuse) - float64(before.StackInuse)
		metrics.Read(scan)
		scanned += float64(scan[0].Value.Uint64()) - float64(scan0)
		for _, c := range conns {
			c.Close()
		}
		poll.Within(b, "no connections", 30*time.Second, func() bool { return connections() == 0 })
	}
	runs := float64(b.N) * n
	b.ReportMetric(heap/runs, "heap-B/conn")
	b.ReportMetric(stack/runs, "stack-B/conn")
	b.ReportMetric(settled/runs, "stack-after-5-GCs-B/conn")
	b.ReportMetric(scanned/runs, "stack-scanned-B/conn")
	b.ReportMetric(gor/runs, "goroutines/conn")
}

// BenchmarkPublishQoS0 is the uplink path end to end over TCP: decode in
// mochi, ACL, topic parsing, hub validation and the store append, from 50
// devices publishing ds/Temperature; one op is one message.
func BenchmarkPublishQoS0(b *testing.B) {
	const clients = 50
	br, st, addr := benchBroker(b, clients)
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := rawConnect(addr, i)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	poll.Within(b, fmt.Sprintf("%d connections", clients), 30*time.Second, func() bool { return br.Stats().Connections == clients })
	// 64 publishes per write, like a device flushing its buffer.
	var one bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "ds/Temperature", Payload: []byte("21.5")}
	if err := pk.PublishEncode(&one); err != nil {
		b.Fatal(err)
	}
	batch := bytes.Repeat(one.Bytes(), 64)
	base := st.Appended()
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := (b.N + clients*64 - 1) / (clients * 64)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := bufio.NewWriterSize(c, len(batch))
			for range per {
				if _, err := w.Write(batch); err != nil {
					return
				}
				if err := w.Flush(); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	want := base + int64(per*clients*64)
	poll.Within(b, fmt.Sprintf("%d records stored", want-base), time.Minute, func() bool { return st.Appended() >= want })
	b.StopTimer()
	b.ReportMetric(float64(per*clients*64)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkUplinkHook is the broker's own share of one publish: the ACL
// check and OnPublish (topic parsing, hub write), without the network.
func BenchmarkUplinkHook(b *testing.B) {
	br, _, _ := benchBroker(b, 1)
	dev, err := br.hub.Authenticate(benchToken(0))
	if err != nil {
		b.Fatal(err)
	}
	cl := br.server.NewClient(nil, "bench", clientID(dev.ID), false)
	c := &conn{b: br, cl: cl, dev: dev, prefix: "$" + cl.ID + "/"}
	br.conns.Store(cl, c)
	h := &hooks{b: br}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "ds/Temperature", Payload: []byte("21.5")}
	b.ReportAllocs()
	for b.Loop() {
		if !h.OnACLCheck(cl, pk.TopicName, true) {
			b.Fatal("ACL refused")
		}
		if out, err := h.OnPublish(cl, pk); err != nil || !out.Ignore {
			b.Fatal(err)
		}
	}
}
