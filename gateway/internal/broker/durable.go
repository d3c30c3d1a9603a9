package broker

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"outpost/gateway/internal/latency"
)

// Acknowledged means durable (README "Durability of writes"): the PUBACK of
// a QoS 1 publish goes out only once what the publish wrote is committed,
// so that a crash right after it loses nothing the device was told is
// stored.
//
// The client's read goroutine does not wait for the commit: it hands the
// acknowledgement to an ackShard and reads on, so a device keeps several
// publishes in flight and one commit carries the writes of every device
// (natural group commit: while acknowledgements wait, the store starts the
// next commit as soon as the current one ends). Each shard takes what has
// queued, waits for one Flush (everything appended before it is then
// committed) and writes the PUBACKs, in the order the publishes came: one
// connection always maps to one shard. A QoS 2 publish, which no Blynk
// library sends, waits on the read goroutine instead (mochi's PUBREC
// follows OnPublish). If the commit cannot be confirmed, the connections
// get no acknowledgement and are closed (no DISCONNECT packet), so that
// the devices publish again.
//
// A shard writes the PUBACKs of many devices one after the other, so a
// device that does not read them (its socket buffers full) would hold up
// the others: a write, or the wait for the client's lock, that lasts
// ackWriteWait disconnects that device instead (writeAcks).

// ackShards spreads the PUBACK writing (a system call each) over a few
// goroutines, which run only while acknowledgements wait.
const ackShards = 8

// durableWait bounds how long an acknowledgement waits for the commit
// (a store failing for that long) before its connection is closed.
const durableWait = 30 * time.Second

// errNotDurable closes a connection whose write could not be confirmed durable.
var errNotDurable = errors.New("broker: write not confirmed durable")

// ackWriteWait bounds how long one connection's PUBACKs may hold up the
// other connections of its shard: a device whose socket buffers are full
// (it has not read thousands of acknowledgements) or whose connection is
// stuck in another write for that long is disconnected, as mochi's
// keepalive would eventually do, instead of leaving the devices of its
// shard without PUBACKs until then.
const ackWriteWait = time.Second

// errSlowReader closes a connection that does not take its PUBACKs.
var errSlowReader = errors.New("broker: device does not read its acknowledgements")

type pendingAck struct {
	cl   *mqtt.Client
	id   uint16
	code packets.Code
	at   int64 // when the publish was handled (Unix ns), for Stats
}

type ackShard struct {
	mu      sync.Mutex
	pending []pendingAck
	running bool // a drain goroutine serves the shard
	spare   []pendingAck

	// Used by the drain goroutine only: each connection's PUBACKs of one
	// batch, in first-seen order, and buffers for reuse.
	bufs  map[*mqtt.Client]*bytes.Buffer
	order []*mqtt.Client
	free  []*bytes.Buffer

	// The connection being written to, stopped by watchdog when the
	// write takes longer than ackWriteWait (writeAcks).
	writing    atomic.Pointer[mqtt.Client]
	writeStart atomic.Int64 // Unix ns
	watchdog   *time.Timer

	// Publish handled → PUBACK written, of the PUBACKs this shard wrote:
	// the gateway's share of the device's publish→PUBACK time (Stats).
	histMu sync.Mutex
	hist   latency.Histogram
}

// ackAfterCommit takes over the acknowledgement of a QoS 1 or 2 publish
// that OnPublish handled with result err. It sets pk's QoS to 0 so that
// mochi sends nothing itself (a publish with QoS 0 is neither acknowledged
// nor, being ignored, forwarded). For MQTT 5 the PUBACK carries err's
// reason code.
func (b *Broker) ackAfterCommit(c *conn, pk *packets.Packet, err error) {
	switch pk.FixedHeader.Qos {
	case 0:
		return
	case 1:
		code := packets.CodeSuccess
		if err != nil && c.cl.Properties.ProtocolVersion == 5 {
			code = v5Code(err)
		}
		q := &b.acks[uint64(c.dev.ID)%ackShards]
		q.mu.Lock()
		q.pending = append(q.pending, pendingAck{c.cl, pk.PacketID, code, time.Now().UnixNano()})
		start := !q.running
		q.running = true
		q.mu.Unlock()
		if start {
			go b.drainAcks(q)
		}
		pk.FixedHeader.Qos = 0
	default:
		ctx, cancel := context.WithTimeout(context.Background(), durableWait)
		ferr := b.hub.Flush(ctx)
		cancel()
		if ferr != nil {
			b.log.Warn("closing a connection: its write is not confirmed durable", "device", c.dev.ID, "error", ferr)
			c.cl.Stop(errNotDurable)
			pk.FixedHeader.Qos = 0
		}
	}
}

// drainAcks serves q until nothing waits.
func (b *Broker) drainAcks(q *ackShard) {
	for {
		q.mu.Lock()
		batch := q.pending
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.pending = q.spare[:0]
		q.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), durableWait)
		err := b.hub.Flush(ctx)
		cancel()
		if err != nil {
			b.log.Warn("closing connections: their writes are not confirmed durable", "acknowledgements", len(batch), "error", err)
			for _, a := range batch {
				a.cl.Stop(errNotDurable)
			}
		} else {
			q.send(batch)
		}
		clear(batch)
		q.mu.Lock()
		q.spare = batch[:0]
		q.mu.Unlock()
	}
}

// send writes the PUBACKs of batch, one write per connection: a commit
// acknowledges several publishes of each device (a window of them in
// flight), and a system call per PUBACK was the largest single cost of
// the QoS 1 path. Each connection's PUBACKs keep their order, as MQTT
// requires.
func (q *ackShard) send(batch []pendingAck) {
	if q.bufs == nil {
		q.bufs = make(map[*mqtt.Client]*bytes.Buffer)
	}
	for _, a := range batch {
		buf := q.bufs[a.cl]
		if buf == nil {
			if n := len(q.free); n > 0 {
				buf, q.free = q.free[n-1], q.free[:n-1]
			} else {
				buf = new(bytes.Buffer)
			}
			q.bufs[a.cl] = buf
			q.order = append(q.order, a.cl)
		}
		encodePuback(buf, a)
	}
	for _, cl := range q.order {
		buf := q.bufs[cl]
		q.writeAcks(cl, buf.Bytes())
		buf.Reset()
		q.free = append(q.free, buf)
		delete(q.bufs, cl)
	}
	clear(q.order)
	q.order = q.order[:0]
	now := time.Now().UnixNano()
	q.histMu.Lock()
	for _, a := range batch {
		q.hist.Record(now - a.at)
	}
	q.histMu.Unlock()
}

// pubackLatency is the publish handled → PUBACK written histogram of
// every shard since the broker started.
func (b *Broker) pubackLatency() *latency.Histogram {
	var h latency.Histogram
	for i := range b.acks {
		q := &b.acks[i]
		q.histMu.Lock()
		h.Add(&q.hist)
		q.histMu.Unlock()
	}
	return &h
}

// writeAcks writes whole packets to cl's connection under the client's
// lock, the one mochi's WritePacket holds, so packets never interleave. A
// failed write is left to the client's read loop, which sees the
// connection end, as WritePacket's callers do. Neither the lock nor the
// write is waited for longer than ackWriteWait (see there): the client is
// then stopped, which closes its socket and so ends the write, ours or
// one of mochi's that holds the lock. (A write deadline would not do:
// mochi moves it on with the read deadline at every packet it reads.)
func (q *ackShard) writeAcks(cl *mqtt.Client, b []byte) {
	start := time.Now()
	for i := 0; !cl.TryLock(); i++ {
		// Held by a write of mochi's (a downlink): usually a moment.
		switch {
		case i < 8:
			runtime.Gosched()
		case time.Since(start) >= ackWriteWait:
			cl.Stop(errSlowReader)
			return
		default:
			time.Sleep(time.Millisecond)
		}
	}
	defer cl.Unlock()
	if cl.Closed() || cl.Net.Conn == nil {
		return
	}
	q.writeStart.Store(start.UnixNano())
	q.writing.Store(cl)
	if q.watchdog == nil {
		q.watchdog = time.AfterFunc(ackWriteWait, q.stopSlowWrite)
	} else {
		q.watchdog.Reset(ackWriteWait - time.Since(start))
	}
	_, _ = cl.Net.Conn.Write(b)
	q.watchdog.Stop()
	q.writing.Store(nil)
}

// stopSlowWrite stops the client being written to if its write has taken
// ackWriteWait. (A watchdog that fired as one write ended may run during
// the next, which is then too young to be stopped.)
func (q *ackShard) stopSlowWrite() {
	c := q.writing.Load()
	if c != nil && time.Since(time.Unix(0, q.writeStart.Load())) >= ackWriteWait {
		c.Stop(errSlowReader)
	}
}

// encodePuback appends a's PUBACK to buf. A success needs only the packet
// id (a Remaining Length of 2 is valid in MQTT 3.1.1 and 5); a refusal,
// MQTT 5 only, is encoded by mochi with the client's limits, as
// WritePacket would.
func encodePuback(buf *bytes.Buffer, a pendingAck) {
	if a.code.Code == packets.CodeSuccess.Code {
		buf.Write([]byte{packets.Puback << 4, 2, byte(a.id >> 8), byte(a.id)})
		return
	}
	pk := puback(a)
	pk.ProtocolVersion = a.cl.Properties.ProtocolVersion
	pk.Mods.MaxSize = a.cl.Properties.Props.MaximumPacketSize
	if a.cl.Properties.Props.RequestProblemInfoFlag && a.cl.Properties.Props.RequestProblemInfo == 0 {
		pk.Mods.DisallowProblemInfo = true
	}
	var one bytes.Buffer
	if err := pk.PubackEncode(&one); err != nil || (pk.Mods.MaxSize > 0 && uint32(one.Len()) > pk.Mods.MaxSize) {
		pk.Properties.ReasonString = "" // too large for the client with the reason: the code alone
		one.Reset()
		_ = pk.PubackEncode(&one)
	}
	buf.Write(one.Bytes())
}

// puback is the acknowledgement mochi would have sent.
func puback(a pendingAck) packets.Packet {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Puback},
		PacketID:    a.id,
		ReasonCode:  a.code.Code,
	}
	if a.code.Code >= packets.ErrUnspecifiedError.Code {
		pk.Properties.ReasonString = a.code.Reason
	}
	return pk
}
