package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"outpost/internal/poll"
)

// gatedHub is the hub with a Flush (the wait for the group commit) that
// returns only when the test says so: it shows whether the broker waits
// for the commit, and whether the PUBACK waits for it.
type gatedHub struct {
	Hub
	entered chan struct{}
	release chan error
}

func (g *gatedHub) Flush(context.Context) error {
	g.entered <- struct{}{}
	return <-g.release
}

func newGatedEnv(t *testing.T) (*env, *gatedHub) {
	g := &gatedHub{entered: make(chan struct{}), release: make(chan error)}
	e := newEnv(t, func(o *Options) {
		g.Hub = o.Hub
		o.Hub = g
	})
	return e, g
}

// TestPubackAfterCommit: a QoS 1 publish that writes is acknowledged only
// once its write is committed; reads and QoS 0 publishes do not wait.
func TestPubackAfterCommit(t *testing.T) {
	e, g := newGatedEnv(t)
	d := connect(t, e.tcp, tokenA)
	for _, tc := range []struct {
		topic, payload string
		qos            byte
		waits          bool
	}{
		{"ds/Temperature", "21.5", 1, true},
		{"ds/Location", "1.5\x002.5", 1, true},
		{"ds/Temperature/erase", "", 1, true},
		{"batch_ds", `{"Temperature": 22.5, "Power": 1}`, 1, true},
		{"ds/Status/prop/label", "Hall", 1, true},
		{"event/overheat", "too hot", 1, true},
		{"meta/Serial Number", "SN-1", 1, true},
		{"info/mcu", `{"ver": "1.0"}`, 1, true},
		{"ds/Temperature/timestamped_batch", "[[" + ms(time.Now()) + ", 23.5]]", 1, true},
		// Refused writes wait too: a batch may have stored part of itself.
		{"ds/Nope", "1", 1, true},
		// PUBACKs go out in the order of the publishes: a read's waits
		// behind the commit too.
		{"get/ds", "Temperature", 1, true},
		{"get/ds/all", "", 1, true},
		{"ds/Temperature", "24.5", 0, false},
	} {
		tok := d.c.Publish(tc.topic, tc.qos, false, tc.payload)
		if !tc.waits {
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("%s QoS %d: %v", tc.topic, tc.qos, tok.Error())
			}
			// A QoS 0 publish waits for nothing: its value is there,
			// and no commit was waited for.
			poll.Until(t, "the QoS 0 value", func() bool { return value(e.hub, e.devA.ID, 0) == tc.payload })
			select {
			case <-g.entered:
				t.Fatalf("%s QoS %d waits for a commit", tc.topic, tc.qos)
			default:
			}
			continue
		}
		select {
		case <-g.entered:
		case <-tok.Done():
			t.Fatalf("%s: PUBACK without waiting for the commit", tc.topic)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: neither a PUBACK nor a wait for the commit", tc.topic)
		}
		select {
		case <-tok.Done():
			t.Fatalf("%s: PUBACK while the commit is pending", tc.topic)
		default:
		}
		g.release <- nil
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s: no PUBACK after the commit (%v)", tc.topic, tok.Error())
		}
	}
}

// TestPubacksShareCommits: a device with several QoS 1 publishes in flight
// gets their PUBACKs once the commits that hold them end, not before.
func TestPubacksShareCommits(t *testing.T) {
	e, g := newGatedEnv(t)
	d := connect(t, e.tcp, tokenA)
	var toks []paho.Token
	for i := range 10 {
		toks = append(toks, d.c.Publish("ds/Temperature", 1, false, strconv.Itoa(i)))
	}
	poll.Until(t, "the ten writes", func() bool { return value(e.hub, e.devA.ID, 0) == "9" })
	for _, tok := range toks {
		select {
		case <-tok.Done():
			t.Fatal("PUBACK before the commit")
		default:
		}
	}
	for range 2 { // the writes may be split over two waits
		select {
		case <-g.entered:
			g.release <- nil
		case <-toks[9].Done():
		}
		if toks[9].WaitTimeout(0) {
			break
		}
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
}

// TestNoPubackWhenNotDurable: when the commit cannot be confirmed, the
// device gets no PUBACK and its connection is closed, so that it sends the
// write again after reconnecting.
func TestNoPubackWhenNotDurable(t *testing.T) {
	e, g := newGatedEnv(t)
	d := connect(t, e.tcp, tokenA)
	tok := d.c.Publish("ds/Temperature", 1, false, "30")
	select {
	case <-g.entered:
	case <-tok.Done():
		t.Fatal("PUBACK without waiting for the commit")
	case <-time.After(5 * time.Second):
		t.Fatal("neither a PUBACK nor a wait for the commit")
	}
	g.release <- errors.New("store closed")
	select {
	case err := <-d.lost:
		t.Logf("connection closed: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after a write that is not durable")
	}
	select {
	case <-tok.Done():
		if tok.Error() == nil {
			t.Fatal("PUBACK for a write that is not durable")
		}
	default:
	}
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// TestPubackLatencyStat: Stats reports the time from a QoS 1 publish to
// its PUBACK inside the broker, which includes the wait for the commit.
func TestPubackLatencyStat(t *testing.T) {
	e, g := newGatedEnv(t)
	if s := e.broker.Stats(); s.PubackP50Ms != 0 || s.PubackP99Ms != 0 {
		t.Fatalf("PUBACK latency %v / %v ms before any PUBACK", s.PubackP50Ms, s.PubackP99Ms)
	}
	d := connect(t, e.tcp, tokenA)
	tok := d.c.Publish("ds/Temperature", 1, false, "21.5")
	<-g.entered
	const held = 50 * time.Millisecond
	time.Sleep(held) // the commit takes at least this long
	g.release <- nil
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("no PUBACK (%v)", tok.Error())
	}
	// The PUBACK is timed once written, which may follow the client's
	// receipt by a moment.
	floor := float64(held) / 1e6 * 15 / 16 // the histogram's resolution
	poll.Until(t, "the PUBACK timed", func() bool { return e.broker.Stats().PubackP99Ms > 0 })
	if s := e.broker.Stats(); s.PubackP50Ms < floor || s.PubackP99Ms < floor {
		t.Errorf("PUBACK latency p50 %.2f ms, p99 %.2f ms: want at least the %v the commit was held", s.PubackP50Ms, s.PubackP99Ms, held)
	}
}

// smallSendBuffers makes the broker's side of each accepted connection
// buffer little of what it sends, so a client that does not read stalls
// the broker's writes to it after a few thousand PUBACKs.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestSlowReaderHoldsNoOtherPubacks: a device that publishes at QoS 1 and
// never reads its PUBACKs is disconnected once its acknowledgements have
// been stuck for ackWriteWait, and meanwhile a device whose PUBACKs the
// same goroutine writes still gets them.
func TestSlowReaderHoldsNoOtherPubacks(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	// Two devices whose PUBACKs the same shard writes.
	var slow, fast = -1, -1
	var slowID int64
	for i := 0; fast < 0; i++ {
		d, err := e.hub.AddDeviceWithToken(ctx, "TMPLbroker01", "bench "+strconv.Itoa(i), benchToken(i))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case slow < 0:
			slow, slowID = i, d.ID
		case d.ID%ackShards == slowID%ackShards:
			fast = i
		}
	}
	ln := listen(t)
	b, _ := serveBroker(t, e.opts, Listeners{TCP: smallSendBuffers{ln}})
	addr := ln.Addr().String()

	sc, err := rawConnect(addr, slow)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	// Far more PUBACKs than both sides' socket buffers hold, never read.
	const n = 100_000
	uplinks := b.Stats().Uplinks
	var pk []byte
	for i := range n {
		pk = appendPublishQoS1(pk, "ds/Temperature", uint16(i%65535+1), []byte("21.5"))
		if len(pk) > 32<<10 || i == n-1 {
			if _, err := sc.Write(pk); err != nil {
				break // the broker gave up on the device: what this test wants
			}
			pk = pk[:0]
		}
	}
	for end := time.Now().Add(30 * time.Second); b.Stats().Uplinks-uplinks < n && b.Stats().Connections != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the broker neither read the slow device's publishes (%d of %d) nor closed it (%d connections):\n%s", b.Stats().Uplinks-uplinks, n, b.Stats().Connections, goroutines())
		}
	}

	fc, err := rawConnect(addr, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	if _, err := fc.Write(appendPublishQoS1(nil, "ds/Temperature", 7, []byte("22.5"))); err != nil {
		t.Fatal(err)
	}
	_ = fc.SetReadDeadline(time.Now().Add(10 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(fc, ack); err != nil {
		t.Fatalf("no PUBACK for the other device of the shard while one does not read its own: %v", err)
	}
	if want := []byte{0x40, 2, 0, 7}; !bytes.Equal(ack, want) {
		t.Fatalf("got % x, want the PUBACK % x", ack, want)
	}
	poll.Within(t, "the slow device disconnected", 10*time.Second, func() bool { return b.Stats().Connections == 1 })
}
