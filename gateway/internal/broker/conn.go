package broker

import (
	"bytes"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"outpost/gateway/internal/hub"
)

// conn is one device's MQTT connection as the hub sees it.
type conn struct {
	b      *Broker
	cl     *mqtt.Client
	dev    hub.Device
	prefix string // "$device-<id>/"
	detach func()

	rxbuff      atomic.Int64  // device rx buffer from info/mcu; 0 = unknown
	pingPending atomic.Bool   // a downlink/ping awaits its PUBACK
	pingID      atomic.Uint32 // packet id of that ping
	closed      atomic.Bool
	forced      atomic.Bool // the "<prefix>f/#" filter is subscribed

	// one holds a single-item value for the hub, so the common ds/<name>
	// publish allocates no slice. Only the client's read goroutine (which
	// runs OnPublish) uses it, and the hub does not keep items.
	one [1][]byte
}

// connSlot, embedded in the net.Conn the listeners hand to mochi, holds
// the *conn serving that connection: the per-publish hooks find it there
// instead of in Broker.conns, a shared map whose lookup (a hash and a few
// cache misses among thousands of connections) was a visible share of
// the QoS 1 path. Broker.conns stays the record for connections that
// came by other means (mochi's inline client, tests).
type connSlot struct{ c atomic.Pointer[conn] }

func (s *connSlot) slot() *connSlot { return s }

type slotted interface{ slot() *connSlot }

// connOf returns the *conn of a connected device's client.
func (b *Broker) connOf(cl *mqtt.Client) (*conn, bool) {
	if s, ok := cl.Net.Conn.(slotted); ok {
		c := s.slot().c.Load()
		return c, c != nil
	}
	v, ok := b.conns.Load(cl)
	if !ok {
		return nil, false
	}
	return v.(*conn), true
}

// items splits an uplink payload into value items, reusing c.one for a
// single item. The result is valid until the next call.
func (c *conn) items(payload []byte) [][]byte {
	if bytes.IndexByte(payload, 0) < 0 {
		c.one[0] = payload
		return c.one[:]
	}
	return splitItems(payload)
}

// Transport implements hub.Conn.
func (c *conn) Transport() string { return Source }

// Deliver implements hub.Conn: a write or metadata value addressed to the
// device goes out on its downlink topic. It never blocks: mochi queues the
// packet for the client's writer and drops it (counted) when the queue is full.
func (c *conn) Deliver(d hub.Delivery) {
	if c.closed.Load() || c.cl.Closed() {
		return // replaced or closing; the new connection gets its own copy
	}
	switch d.Kind {
	case hub.DeliverWrite:
		name := d.Name
		if name == "" {
			name = c.b.datastreamName(c.dev, d.Pin)
		}
		if name == "" {
			return
		}
		_ = c.publish("downlink/ds/"+name, []byte(d.Value), 1)
	case hub.DeliverMeta:
		_ = c.publish("downlink/meta/"+d.Name, []byte(d.Value), 1)
	case hub.DeliverOTA:
		_ = c.publish("downlink/ota/json", []byte(d.Value), 1)
	default:
		// Blynk's MQTT API has no downlink for widget properties.
	}
}

// Close implements hub.Conn: the device is disconnected (deleted, token
// revoked). It does not wait for the disconnect to be written.
func (c *conn) Close() {
	if c.closed.Swap(true) {
		return
	}
	go func() { _ = c.b.server.DisconnectClient(c.cl, packets.ErrAdministrativeAction) }()
}

// publish sends topic (a downlink/… topic) to the device if it subscribed
// to it, at most at qos (and at most the subscription's QoS).
func (c *conn) publish(topic string, payload []byte, qos byte) error {
	return c.send(c.prefix+"s/"+topic, len(topic), payload, qos)
}

// publishForced sends topic to the device whether or not it subscribed.
func (c *conn) publishForced(topic string, payload []byte, qos byte) error {
	c.subscribeForced()
	return c.send(c.prefix+"f/"+topic, len(topic), payload, qos)
}

// subscribeForced adds the filter forced downlinks reach the device
// through, once per connection. It is recorded in the client's session
// too, so mochi removes it from the topic tree when the session ends. If
// the connection ended meanwhile and no newer connection of the device
// holds the client id, it is removed here; a newer one may share the
// (identical) filter, which is then left to its session.
func (c *conn) subscribeForced() {
	if c.forced.Load() || c.forced.Swap(true) {
		return
	}
	sub := packets.Subscription{Filter: c.prefix + "f/#", Qos: 1}
	c.b.server.Topics.Subscribe(c.cl.ID, sub)
	c.cl.State.Subscriptions.Add(sub.Filter, sub)
	if c.closed.Load() || c.cl.Closed() {
		if cur, ok := c.b.server.Clients.Get(c.cl.ID); !ok || cur == c.cl {
			c.b.server.Topics.Unsubscribe(sub.Filter, c.cl.ID)
		}
	}
}

func (c *conn) send(full string, topicLen int, payload []byte, qos byte) error {
	// An MQTT publish costs 2 bytes of topic length, a packet id at QoS>0
	// and up to 5 bytes of fixed header besides topic and payload; never
	// send more than the device said it can buffer.
	if rx := c.rxbuff.Load(); rx > 0 && int64(topicLen+len(payload)+9) > rx {
		c.b.stats.downlinksDropped.Add(1)
		c.b.log.Warn("downlink larger than the device's rx buffer dropped", "device", c.dev.ID, "topic", full[len(c.prefix)+2:], "rxbuff", rx)
		return nil
	}
	c.b.stats.downlinks.Add(1)
	return c.b.server.Publish(full, payload, false, qos)
}
