package hub

import (
	"fmt"
	"slices"
	"strings"

	"outpost/shared/datastream"
)

// SetInfo records the device's info pairs (k1, v1, k2, v2, …).
func (h *Hub) SetInfo(deviceID int64, pairs []string, source string) {
	d := h.device(deviceID)
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return
	}
	d.pairs = slices.Clone(pairs)
	h.appendLocked(Record{Kind: KindInfo, DeviceID: deviceID, Value: strings.Join(pairs, "\x00"), Source: source})
}

// Offer hands a delivery (a firmware offer) to every connection of the
// device and returns how many got it; nothing is stored.
func (h *Hub) Offer(deviceID int64, dl Delivery) int {
	d := h.device(deviceID)
	if d == nil {
		return 0
	}
	d.mu.Lock()
	conns := slices.Clone(d.conns)
	d.mu.Unlock()
	for _, c := range conns {
		c.Deliver(dl)
	}
	return len(conns)
}

// RecordOTA appends a device's progress in a firmware shipment to the
// outbox (KindOTA), for the cloud's status table.
func (h *Hub) RecordOTA(deviceID int64, shipment, value string) {
	d := h.device(deviceID)
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return
	}
	h.appendLocked(Record{Kind: KindOTA, DeviceID: deviceID, Name: shipment, Value: value, Source: "local"})
}

// Info returns the device's last info pairs.
func (h *Hub) Info(deviceID int64) []string {
	d := h.device(deviceID)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.pairs)
}

// widgetProperties are the properties a device may set (PROTOCOL.md §1.11).
var widgetProperties = map[string]bool{
	"label": true, "color": true, "isDisabled": true, "isHidden": true,
	"onLabel": true, "offLabel": true, "onColor": true, "offColor": true,
	"onBackColor": true, "offBackColor": true, "labels": true, "min": true,
	"max": true, "step": true, "url": true, "urls": true, "opacity": true,
	"scale": true, "rotation": true, "isOnPlay": true, "isMuted": true,
}

// SetProperty stores a widget property of a pin's datastream. An unknown
// property or no value is ErrBadProperty; a pin without a datastream is
// datastream.ErrNoDatastream.
func (h *Hub) SetProperty(deviceID int64, pin int, name string, items [][]byte, source string) error {
	if pin < 0 || pin > datastream.MaxPin {
		return datastream.ErrBadPin
	}
	if !widgetProperties[name] || len(items) == 0 {
		return fmt.Errorf("hub: property %q: %w", name, ErrBadProperty)
	}
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return ErrNoDevice
	}
	if ti == nil || ti.byPin[pin] == nil {
		return datastream.ErrNoDatastream
	}
	n := len(items) - 1
	for _, it := range items {
		n += len(it)
	}
	if n > datastream.MaxString {
		return fmt.Errorf("hub: property %q: %w", name, datastream.ErrTooLong)
	}
	b := make([]byte, 0, n)
	for i, it := range items {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, it...)
	}
	v := string(b)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return ErrNoDevice
	}
	d.props[propKey{pin, name}] = v
	h.appendLocked(Record{Kind: KindProperty, DeviceID: deviceID, Pin: pin, Name: name, Value: v, Source: source})
	return nil
}

// Property returns a stored widget property.
func (h *Hub) Property(deviceID int64, pin int, name string) (string, bool) {
	d := h.device(deviceID)
	if d == nil {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.props[propKey{pin, name}]
	return v, ok
}

// SetMeta sets a metadata field the template declares (ErrNoMeta
// otherwise) and delivers it to the device's connections.
func (h *Hub) SetMeta(deviceID int64, name, value, source string) error {
	_, err := h.setMeta(deviceID, name, value, 0, source)
	return err
}

// SetMetaAt sets a metadata field to a value a person set in the cloud at
// ts (ms), unless the hub holds a value set at ts or later (the device set
// it since): newest wins, as for control writes. It reports whether it
// applied the value; an applied value is delivered and recorded with ts.
func (h *Hub) SetMetaAt(deviceID int64, name, value string, ts int64, source string) (bool, error) {
	return h.setMeta(deviceID, name, value, ts, source)
}

func (h *Hub) setMeta(deviceID int64, name, val string, ts int64, source string) (bool, error) {
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return false, ErrNoDevice
	}
	if ti == nil {
		return false, ErrNoMeta
	}
	if _, ok := ti.meta[name]; !ok {
		return false, fmt.Errorf("hub: meta %q: %w", name, ErrNoMeta)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return false, ErrNoDevice
	}
	if ts != 0 {
		if old, ok := d.meta[name]; ok && old.ts >= ts {
			return false, nil
		}
	} else {
		ts = h.now().UnixMilli()
	}
	d.meta[name] = value{val, ts}
	for _, c := range d.conns {
		c.Deliver(Delivery{Kind: DeliverMeta, Name: name, Value: val})
		d.cnt.deliveries++
	}
	h.appendLocked(Record{Kind: KindMeta, DeviceID: deviceID, Name: name, Value: val, TS: ts, Source: source})
	return true, nil
}

// Meta returns a metadata field's value, else its default; ErrNoMeta if the
// template has no such field.
func (h *Hub) Meta(deviceID int64, name string) (string, error) {
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return "", ErrNoDevice
	}
	if ti == nil {
		return "", ErrNoMeta
	}
	def, ok := ti.meta[name]
	if !ok {
		return "", fmt.Errorf("hub: meta %q: %w", name, ErrNoMeta)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.meta[name]; ok {
		return v.v, nil
	}
	return def, nil
}
