package hub

import (
	"cmp"
	"slices"

	"outpost/shared/datastream"
)

func (h *Hub) deviceTmpl(id int64) (*device, *tmplIndex) {
	d := h.device(id)
	if d == nil {
		return nil, nil
	}
	return d, d.tmpl.Load().cur.Load()
}

// PinByName maps a datastream name (MQTT topics) to its pin.
func (h *Hub) PinByName(deviceID int64, name string) (int, error) {
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return 0, ErrNoDevice
	}
	if ti != nil {
		if pin, ok := ti.byName[name]; ok {
			return pin, nil
		}
	}
	return 0, datastream.ErrNoDatastream
}

// Datastream returns the datastream of a device's pin.
func (h *Hub) Datastream(deviceID int64, pin int) (datastream.Datastream, bool) {
	_, ti := h.deviceTmpl(deviceID)
	if ti == nil || pin < 0 || pin > datastream.MaxPin || ti.byPin[pin] == nil {
		return datastream.Datastream{}, false
	}
	return *ti.byPin[pin], true
}

// Value returns the latest value of a pin, else its default, else false.
func (h *Hub) Value(deviceID int64, pin int) (PinValue, bool) {
	d, ti := h.deviceTmpl(deviceID)
	if d == nil || pin < 0 || pin > datastream.MaxPin {
		return PinValue{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.valueLocked(ti, pin)
}

func (d *device) valueLocked(ti *tmplIndex, pin int) (PinValue, bool) {
	if v, ok := d.values[uint32(pin)]; ok {
		return PinValue{DeviceID: d.id, Pin: pin, Value: v.v, TS: v.ts}, true
	}
	if ti != nil && ti.defaults[pin] != "" {
		return PinValue{DeviceID: d.id, Pin: pin, Value: ti.defaults[pin]}, true
	}
	return PinValue{}, false
}

// SyncAll returns, by pin, the datastreams flagged "sync" that have a value
// or a default (syncAll, get/ds/all).
func (h *Hub) SyncAll(deviceID int64) []PinValue {
	d, ti := h.deviceTmpl(deviceID)
	if d == nil || ti == nil {
		return nil
	}
	var out []PinValue
	d.mu.Lock()
	defer d.mu.Unlock()
	for pin, ds := range ti.byPin {
		if ds == nil || !ds.Sync {
			continue
		}
		if pv, ok := d.valueLocked(ti, pin); ok {
			out = append(out, pv)
		}
	}
	return out
}

// SyncPins returns the named pins' values or defaults regardless of the sync
// flag (syncVirtual, get/ds), in the order asked; pins with neither are
// left out.
func (h *Hub) SyncPins(deviceID int64, pins []int) []PinValue {
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return nil
	}
	var out []PinValue
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, pin := range pins {
		if pin < 0 || pin > datastream.MaxPin {
			continue
		}
		if pv, ok := d.valueLocked(ti, pin); ok {
			out = append(out, pv)
		}
	}
	return out
}

// Values returns every pin with a stored value, by pin (getAll).
func (h *Hub) Values(deviceID int64) []PinValue {
	d := h.device(deviceID)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	out := make([]PinValue, 0, len(d.values))
	for pin, v := range d.values {
		out = append(out, PinValue{DeviceID: deviceID, Pin: int(pin), Value: v.v, TS: v.ts})
	}
	d.mu.Unlock()
	slices.SortFunc(out, func(a, b PinValue) int { return cmp.Compare(a.Pin, b.Pin) })
	return out
}
