package hub

import (
	"fmt"
)

// LogEvent records an event the template declares (ErrNoEvent otherwise).
func (h *Hub) LogEvent(deviceID int64, code, description string, ts int64, source string) error {
	return h.event(deviceID, KindEvent, code, description, ts, source)
}

// ClearEvent resolves the latest open event of that code, or all of them.
func (h *Hub) ClearEvent(deviceID int64, code string, all bool, source string) error {
	v := ""
	if all {
		v = "all"
	}
	return h.event(deviceID, KindClear, code, v, 0, source)
}

func (h *Hub) event(deviceID int64, kind Kind, code, value string, ts int64, source string) error {
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return ErrNoDevice
	}
	if ti == nil || !ti.events[code] {
		return fmt.Errorf("hub: event %q: %w", code, ErrNoEvent)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return ErrNoDevice
	}
	d.cnt.events++
	h.appendLocked(Record{Kind: kind, DeviceID: deviceID, Name: code, Value: value, TS: ts, Source: source})
	return nil
}
