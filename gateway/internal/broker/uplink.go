package broker

import (
	"fmt"
	"strconv"
	"time"

	"outpost/gateway/internal/blynktime"
	"outpost/gateway/internal/deviceapi/batchjson"
	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
)

// maxBatchAge bounds timestamped_batch points (PROTOCOL.md §2: within ±1 month).
const maxBatchAge = 31 * 24 * time.Hour

// uplink performs what one uplink message asks. A nil error means accepted.
// It does not wait for the commit: see ackAfterCommit.
func (b *Broker) uplink(c *conn, u uplink, payload []byte) error {
	id := c.dev.ID
	switch u.kind {
	case topicDS:
		pin, err := b.hub.PinByName(id, u.name)
		if err != nil {
			return err
		}
		_, err = b.hub.DeviceWrite(id, pin, c.items(payload), 0, Source)
		c.one[0] = nil // do not keep the packet alive
		return err
	case topicDSErase:
		pin, err := b.hub.PinByName(id, u.name)
		if err != nil {
			return err
		}
		return b.hub.Erase(id, pin, Source)
	case topicDSBatch:
		return b.timestampedBatch(c, u.name, payload)
	case topicBatchDS:
		return b.batchDS(c, payload)
	case topicDSProp, topicDSPropErase:
		pin, err := b.hub.PinByName(id, u.name)
		if err != nil {
			return err
		}
		items := [][]byte{nil} // erase stores an empty property
		if u.kind == topicDSProp {
			items = splitItems(payload)
		}
		return b.hub.SetProperty(id, pin, u.prop, items, Source)
	case topicEvent:
		return b.hub.LogEvent(id, u.name, string(payload), 0, Source)
	case topicMeta:
		return b.hub.SetMeta(id, u.name, string(payload), Source)
	case topicGetDS:
		var pins []int
		for _, n := range splitNames(payload) {
			if pin, err := b.hub.PinByName(id, n); err == nil {
				pins = append(pins, pin)
			}
		}
		if len(pins) > 0 {
			b.sendValues(c, b.hub.SyncPins(id, pins))
		}
		return nil
	case topicGetDSAll:
		b.sendValues(c, b.hub.SyncAll(id))
		return nil
	case topicGetMeta:
		for _, n := range splitNames(payload) {
			if v, err := b.hub.Meta(id, n); err == nil {
				_ = c.publish("downlink/meta/"+n, []byte(v), 1)
			}
		}
		return nil
	case topicGetUTC:
		tz, _ := b.hub.Meta(id, blynktime.MetaTimeZone)
		return c.publish("downlink/utc/all/json", utcJSON(blynktime.At(b.now(), blynktime.Zone(tz, nil))), 1)
	case topicGetLoc:
		// Outpost keeps no device location; nothing to answer.
		return nil
	case topicInfoMCU:
		pairs, err := infoPairs(payload)
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i] == "rxbuff" {
				if n, err := strconv.ParseInt(pairs[i+1], 10, 64); err == nil && n > 0 {
					c.rxbuff.Store(n)
				}
			}
		}
		b.hub.SetInfo(id, pairs, Source)
		return nil
	}
	return fmt.Errorf("%w: unknown topic", errBadPayload)
}

// sendValues answers get/ds and get/ds/all on downlink/ds/<name>.
func (b *Broker) sendValues(c *conn, vals []hub.PinValue) {
	if len(vals) == 0 {
		return
	}
	names := b.pinNames(c.dev)
	for _, v := range vals {
		if n, ok := names[v.Pin]; ok {
			_ = c.publish("downlink/ds/"+n, []byte(v.Value), 1)
		}
	}
}

// timestampedBatch stores [[ts, value], …] for one datastream. Points more
// than a month away from now are dropped; a malformed batch stores nothing.
func (b *Broker) timestampedBatch(c *conn, name string, payload []byte) error {
	id := c.dev.ID
	pin, err := b.hub.PinByName(id, name)
	if err != nil {
		return err
	}
	points, err := batchjson.ParseTimestamped(payload, 0)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadPayload, err)
	}
	now := b.now().UnixMilli()
	window := maxBatchAge.Milliseconds()
	var firstErr error
	for _, p := range points {
		if p.TS < now-window || p.TS > now+window {
			if firstErr == nil {
				firstErr = errOutOfWindow
			}
			continue
		}
		if err := b.writeJSON(id, pin, p.Value, p.TS); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// batchDS stores {name: value, …} with one timestamp. Each field's JSON
// type must match its datastream type; mismatches are dropped, the rest kept.
func (b *Broker) batchDS(c *conn, payload []byte) error {
	id := c.dev.ID
	fields, err := batchjson.ParseObject(payload)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadPayload, err)
	}
	ts := b.now().UnixMilli()
	var firstErr error
	for _, f := range fields {
		pin, err := b.hub.PinByName(id, f.Name)
		if err == nil {
			err = b.writeJSON(id, pin, f.Value, ts)
		}
		if err != nil && firstErr == nil {
			firstErr = &fieldError{name: f.Name, err: err}
		}
	}
	return firstErr
}

// writeJSON stores one JSON value: its JSON type must match the datastream
// type (datastream.NormalizeJSON), then it takes the ordinary write path.
func (b *Broker) writeJSON(id int64, pin int, raw []byte, ts int64) error {
	ds, ok := b.hub.Datastream(id, pin)
	if !ok {
		return datastream.ErrNoDatastream
	}
	v, err := ds.NormalizeJSON(raw)
	if err != nil {
		return err
	}
	_, err = b.hub.DeviceWrite(id, pin, splitItems([]byte(v)), ts, Source)
	return err
}

// infoPairs turns the info/mcu JSON object into key/value pairs, keeping
// the device's order; non-string values are kept as their JSON text.
func infoPairs(payload []byte) ([]string, error) {
	fields, err := batchjson.ParseObject(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: info/mcu: %w", errBadPayload, err)
	}
	pairs := make([]string, 0, 2*len(fields))
	for _, f := range fields {
		pairs = append(pairs, f.Name, batchjson.Text(f.Value))
	}
	return pairs, nil
}

func (b *Broker) template(dev hub.Device) datastream.Template {
	if d, ok := b.hub.Device(dev.ID); ok {
		dev = d
	}
	t, _ := b.hub.Template(dev.TemplateID)
	return t
}

func (b *Broker) pinNames(dev hub.Device) map[int]string {
	t := b.template(dev)
	m := make(map[int]string, len(t.Datastreams))
	for _, ds := range t.Datastreams {
		m[ds.Pin] = ds.Name
	}
	return m
}

func (b *Broker) datastreamName(dev hub.Device, pin int) string {
	for _, ds := range b.template(dev).Datastreams {
		if ds.Pin == pin {
			return ds.Name
		}
	}
	return ""
}
