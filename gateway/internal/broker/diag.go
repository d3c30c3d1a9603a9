package broker

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
)

// Diagnostics for device makers (PROTOCOL.md §2, downlink/diag): an uplink
// the gateway refuses (unknown topic or datastream, a value of the wrong
// type, an unknown event code or metadata field, a malformed payload) is
// answered on downlink/diag with one short line, "<topic>: <reason>", so
// the mistake shows where the firmware's developer looks (the device's
// serial console, MQTT Explorer) rather than only in the gateway's
// counters. QoS 0, delivered without a subscription, as Blynk does.
//
// Rate limit, per device (kept across its reconnects): diagBurst lines at
// once, then one per diagEvery; refusals beyond it are only counted. A
// firmware that sends a bad value ten times a second thus gets five lines
// and then one every five seconds.
const (
	diagBurst  = 5
	diagEvery  = 5 * time.Second
	diagMaxLen = 200 // bytes of a diag line; longer reasons are cut
	diagValue  = 32  // bytes of a refused value quoted in the line
)

// diagLimiter is the per-device token bucket of diag lines.
type diagLimiter struct {
	mu      sync.Mutex
	buckets map[int64]*diagBucket
}

type diagBucket struct {
	tokens float64
	at     time.Time
}

func (l *diagLimiter) allow(dev int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[int64]*diagBucket{}
	}
	bk := l.buckets[dev]
	if bk == nil {
		bk = &diagBucket{tokens: diagBurst, at: now}
		l.buckets[dev] = bk
	}
	if el := now.Sub(bk.at); el > 0 {
		bk.tokens = min(diagBurst, bk.tokens+el.Seconds()/diagEvery.Seconds())
		bk.at = now
	}
	if bk.tokens < 1 {
		return false
	}
	bk.tokens--
	return true
}

// fieldError names the batch_ds field a refused value belongs to.
type fieldError struct {
	name string
	err  error
}

func (e *fieldError) Error() string { return fmt.Sprintf("%q: %v", e.name, e.err) }
func (e *fieldError) Unwrap() error { return e.err }

// errUnknownTopic is an uplink to a topic outside Blynk's MQTT API.
var errUnknownTopic = errors.New("broker: unknown topic")

// diagnose answers a refused uplink on downlink/diag, within the device's
// rate limit. It writes the packet itself, on the client's reading
// goroutine, so the line precedes the PUBACK and reaches the device even
// when mochi closes the connection next (a refused QoS 1 publish of an
// MQTT 3.1.1 client).
func (b *Broker) diagnose(c *conn, topic string, u uplink, payload []byte, err error) {
	if !b.diags.allow(c.dev.ID, b.now()) {
		b.stats.diagsDropped.Add(1)
		return
	}
	text := b.diagText(c, topic, u, payload, err)
	if len(text) > diagMaxLen {
		text = text[:diagMaxLen-3] + "..."
	}
	// Like every downlink, never more than the device can buffer.
	if rx := c.rxbuff.Load(); rx > 0 && int64(len("downlink/diag")+len(text)+9) > rx {
		b.stats.diagsDropped.Add(1)
		return
	}
	b.stats.diags.Add(1)
	_ = c.cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName:   "downlink/diag",
		Payload:     []byte(text),
	})
}

// diagText is the line for a refused uplink: "<topic>: <reason>".
func (b *Broker) diagText(c *conn, topic string, u uplink, payload []byte, err error) string {
	name := u.name
	value := quoteValue(payload)
	if fe := (*fieldError)(nil); errors.As(err, &fe) {
		name, value = fe.name, ""
	}
	if u.kind == topicDSBatch {
		value = ""
	}
	var reason string
	switch {
	case errors.Is(err, errUnknownTopic):
		reason = "unknown topic (Blynk MQTT API: ds/<datastream>, batch_ds, event/<code>, meta/<field>, get/..., info/mcu)"
	case errors.Is(err, datastream.ErrNoDatastream), errors.Is(err, datastream.ErrNoDatastream):
		reason = fmt.Sprintf("unknown datastream %q", name)
	case errors.Is(err, datastream.ErrWrongType):
		reason = fmt.Sprintf("value%s does not match datastream %q%s", value, name, b.typeOf(c, name))
	case errors.Is(err, datastream.ErrArity):
		reason = fmt.Sprintf("wrong number of values for datastream %q%s", name, b.typeOf(c, name))
	case errors.Is(err, datastream.ErrTooLong):
		reason = fmt.Sprintf("value too long for datastream %q (at most 1024 bytes)", name)
	case errors.Is(err, hub.ErrNoEvent):
		reason = fmt.Sprintf("unknown event code %q", u.name)
	case errors.Is(err, hub.ErrNoMeta):
		reason = fmt.Sprintf("unknown metadata field %q", u.name)
	case errors.Is(err, hub.ErrBadProperty):
		reason = fmt.Sprintf("unknown property %q or no value", u.prop)
	case errors.Is(err, errOutOfWindow):
		reason = "points more than a month away from now were dropped"
	case errors.Is(err, errBadPayload):
		// The innermost detail only ("not a JSON object"), without the
		// package prefixes of the wrapped errors.
		msg := err.Error()
		reason = "malformed payload (" + msg[strings.LastIndex(msg, ": ")+2:] + ")"
	case errors.Is(err, hub.ErrRateLimited):
		reason = "too many messages, dropped"
	default:
		reason = "refused (" + err.Error() + ")"
	}
	return topic + ": " + reason
}

// typeOf is " (<type>)" of the device's datastream name, or "".
func (b *Broker) typeOf(c *conn, name string) string {
	pin, err := b.hub.PinByName(c.dev.ID, name)
	if err != nil {
		return ""
	}
	if ds, ok := b.hub.Datastream(c.dev.ID, pin); ok {
		return " (" + string(ds.Type) + ")"
	}
	return ""
}

// quoteValue is ` "<value>"` of a refused payload, cut to diagValue bytes.
func quoteValue(p []byte) string {
	if len(p) > diagValue {
		return fmt.Sprintf(" %q...", p[:diagValue])
	}
	return fmt.Sprintf(" %q", p)
}
