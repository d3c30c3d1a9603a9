package broker

import (
	"bytes"
	"errors"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/loginlog"
)

// Username is the only MQTT username devices use (PROTOCOL.md §2).
const Username = "device"

// hooks adapts mochi's hook interface to the hub: authentication, ACL,
// uplinks and the per-device downlink prefixes.
type hooks struct {
	mqtt.HookBase
	b *Broker
}

func (h *hooks) ID() string { return "outpost" }

func (h *hooks) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPublish, mqtt.OnSubscribe, mqtt.OnUnsubscribe,
		mqtt.OnPacketEncode, mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnPublishDropped:
		return true
	}
	return false
}

// OnConnectAuthenticate checks username "device" and the token. A known
// device gets the client id "device-<id>", so a second connection with the
// same token takes over the first one's session (mochi disconnects the old
// one). A false return makes mochi answer CONNACK 0x86 (5) / 0x04 (3.1.1).
func (h *hooks) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	var reason string
	switch token := string(pk.Connect.Password); {
	case string(pk.Connect.Username) != Username:
		reason = "username is not " + Username
	case !pk.Connect.PasswordFlag || token == "":
		reason = loginlog.ReasonNoToken
	case !hub.ValidToken(token):
		reason = loginlog.ReasonMalformedToken
	default:
		dev, err := h.b.hub.Authenticate(token)
		if err == nil {
			cl.ID = clientID(dev.ID)
			return true
		}
		reason = loginlog.ReasonUnknownToken
	}
	h.b.stats.authFailures.Add(1)
	h.b.logins.Refused(cl.Net.Listener, reason, cl.Net.Remote)
	if cl.Properties.ProtocolVersion < 5 {
		// mochi would map 0x86 to 3.1.1's 0x05 (not authorized); Blynk
		// answers 0x04 (bad user name or password). Answer that and close,
		// so mochi's own CONNACK finds the connection closed.
		_ = cl.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Connack},
			ReasonCode:  connackBadCredentials311,
		})
		cl.Stop(packets.ErrBadUsernameOrPassword)
	}
	return false
}

// connackBadCredentials311 is MQTT 3.1.1's CONNACK return code 4.
const connackBadCredentials311 = 0x04

// OnSessionEstablished attaches the connection to the hub (after the
// CONNACK was written and any older connection was taken over).
func (h *hooks) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	id, ok := deviceOf(cl)
	if !ok {
		return
	}
	dev, ok := h.b.hub.Device(id)
	if !ok {
		_ = h.b.server.DisconnectClient(cl, packets.ErrNotAuthorized)
		return
	}
	c := &conn{b: h.b, cl: cl, dev: dev, prefix: "$" + cl.ID + "/"}
	// The filter for downlinks that ignore subscriptions (ping, redirect,
	// diag) is added on the first such downlink (conn.subscribeForced): a
	// branch of mochi's topic tree costs about 3 KB per device, which idle
	// devices should not pay.

	h.b.conns.Store(cl, c)
	if s, ok := cl.Net.Conn.(slotted); ok {
		s.slot().c.Store(c)
	}
	h.b.mu.Lock()
	h.b.byDevice[id] = c
	h.b.mu.Unlock()
	h.b.stats.connections.Add(1)
	h.b.stats.connects.Add(1)
	c.detach = h.b.hub.Attach(id, c)
	h.b.logins.Login(cl.Net.Listener, id, cl.Net.Remote)
}

// OnDisconnect detaches the connection from the hub.
func (h *hooks) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	v, ok := h.b.conns.LoadAndDelete(cl)
	if !ok {
		return
	}
	c := v.(*conn)
	if s, ok := cl.Net.Conn.(slotted); ok {
		s.slot().c.CompareAndSwap(c, nil)
	}
	c.closed.Store(true)
	h.b.mu.Lock()
	if h.b.byDevice[c.dev.ID] == c {
		delete(h.b.byDevice, c.dev.ID)
	}
	h.b.mu.Unlock()
	h.b.stats.connections.Add(-1)
	if c.detach != nil {
		c.detach()
	}
}

// OnACLCheck: a device publishes only uplink topics and reads only its own
// prefixed downlinks (subscription filters were rewritten by OnSubscribe).
// A publish to another topic is answered on downlink/diag (diag.go).
func (h *hooks) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	if write {
		if parseTopic(topic).kind != topicInvalid {
			return true
		}
		if c, ok := h.b.connOf(cl); ok {
			h.b.countDrop(errUnknownTopic)
			h.b.diagnose(c, topic, uplink{}, nil, errUnknownTopic)
		}
		return false
	}
	// "$" + cl.ID + "/" without allocating.
	return len(topic) > len(cl.ID)+1 && topic[0] == '$' &&
		topic[1:1+len(cl.ID)] == cl.ID && topic[1+len(cl.ID)] == '/'
}

// deniedPrefix marks subscription filters the device may not use, so the
// ACL refuses them (0x87 / 0x80) instead of subscribing.
const deniedPrefix = "$denied/"

// OnSubscribe rewrites downlink/… filters into the device's own prefix.
func (h *hooks) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	filters := make(packets.Subscriptions, len(pk.Filters))
	for i, f := range pk.Filters {
		if downlinkFilter(f.Filter) {
			f.Filter = "$" + cl.ID + "/s/" + f.Filter
		} else {
			f.Filter = deniedPrefix + f.Filter
		}
		// QoS 2 is granted as 1 (PROTOCOL.md §7.8).
		f.Qos = min(f.Qos, 1)
		filters[i] = f
	}
	pk.Filters = filters
	return pk
}

// OnUnsubscribe applies the same rewriting as OnSubscribe.
func (h *hooks) OnUnsubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	filters := make(packets.Subscriptions, len(pk.Filters))
	for i, f := range pk.Filters {
		if downlinkFilter(f.Filter) {
			f.Filter = "$" + cl.ID + "/s/" + f.Filter
		}
		filters[i] = f
	}
	pk.Filters = filters
	return pk
}

// OnPacketEncode strips the per-device prefix from outgoing publishes, and
// keeps DISCONNECT from MQTT 3.1.1 clients.
//
// In 3.1.1 only the client sends DISCONNECT; libmosquitto treats one from
// the server as a protocol error and its loop_forever stops reconnecting
// for good. mochi sends it on a session takeover (a second connection
// with the same token), on an ACL-refused QoS 1 publish and from
// DisconnectClient. Changing the packet type to Reserved makes mochi's
// WritePacket refuse to encode it, so nothing is written; DisconnectClient
// ignores that error and closes the socket, which is what a 3.1.1 server
// does instead. MQTT 5 clients keep their DISCONNECT with a reason code.
func (h *hooks) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Disconnect && cl.Properties.ProtocolVersion < 5 {
		pk.FixedHeader.Type = packets.Reserved
		return pk
	}
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return pk
	}
	t := pk.TopicName
	if n := len(cl.ID) + 2; len(t) > n+2 && t[0] == '$' && t[1:n-1] == cl.ID && t[n-1] == '/' {
		pk.TopicName = t[n+2:] // drop "$device-<id>/" and "s/" or "f/"
	}
	return pk
}

// OnQosPublish remembers the packet id of an outgoing ping.
func (h *hooks) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if resends == 0 && strings.HasSuffix(pk.TopicName, "/f/downlink/ping") {
		if c, ok := h.b.connOf(cl); ok {
			c.pingID.Store(uint32(pk.PacketID))
		}
	}
}

// OnQosComplete: the PUBACK of a ping answers the probe.
func (h *hooks) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if c, ok := h.b.connOf(cl); ok {
		if c.pingPending.Load() && c.pingID.Load() == uint32(pk.PacketID) {
			c.pingPending.Store(false)
		}
	}
}

// OnPublishDropped counts downlinks a slow device could not take.
func (h *hooks) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.stats.downlinksDropped.Add(1)
}

// OnPublish hands an uplink to the hub. The packet is always marked
// ignored so mochi neither retains nor forwards it (devices' retained
// publishes are not retained, PROTOCOL.md §7.8) but still acknowledges it.
// A refused uplink is answered on downlink/diag (diag.go).
// Setting pk.Ignore with a nil error does what packets.CodeSuccessIgnore
// does, without the four errors.Is comparisons mochi makes per publish on
// a non-nil error. A refused value is dropped and counted; an MQTT 5
// client gets the reason in its PUBACK.
func (h *hooks) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	pk.Ignore = true
	c, ok := h.b.connOf(cl)
	if !ok {
		return pk, nil
	}
	h.b.stats.uplinks.Add(1)
	u := parseTopic(pk.TopicName)
	err := h.b.uplink(c, u, pk.Payload)
	if err != nil {
		// Counted and diagnosed before the PUBACK can leave, so a client
		// that has its acknowledgement also sees the drop in the stats.
		h.b.countDrop(err)
		h.b.log.Debug("uplink refused", "device", c.dev.ID, "topic", pk.TopicName, "error", err)
		h.b.diagnose(c, pk.TopicName, u, pk.Payload, err)
	}
	h.b.ackAfterCommit(c, &pk, err) // the PUBACK waits for the commit
	if err == nil {
		return pk, nil
	}
	if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0 {
		return pk, v5Code(err)
	}
	return pk, nil
}

// splitItems splits a NUL-separated multi-value payload.
func splitItems(p []byte) [][]byte {
	if bytes.IndexByte(p, 0) < 0 {
		return [][]byte{p}
	}
	return bytes.Split(p, []byte{0})
}

var errBadPayload = errors.New("broker: malformed payload")
var errOutOfWindow = errors.New("broker: timestamp more than a month away")
