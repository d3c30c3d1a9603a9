package hub

import (
	"slices"
	"sync"
)

// Attach registers a live connection of a device. The first connection
// makes the device online (a KindOnline record); when the last one is
// detached it goes offline. detach is idempotent.
func (h *Hub) Attach(deviceID int64, c Conn) (detach func()) {
	d := h.device(deviceID)
	if d == nil {
		return func() {}
	}
	transport := c.Transport()
	d.mu.Lock()
	d.conns = append(d.conns, c)
	if len(d.conns) == 1 {
		h.appendLocked(Record{Kind: KindOnline, DeviceID: deviceID, Name: transport, Source: transport})
	}
	d.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			i := slices.Index(d.conns, c)
			if i < 0 {
				return
			}
			d.conns = slices.Delete(d.conns, i, i+1)
			if len(d.conns) == 0 && !d.deleted {
				h.appendLocked(Record{Kind: KindOffline, DeviceID: deviceID, Name: transport, Source: transport})
			}
		})
	}
}

// Online reports whether the device has a live connection.
func (h *Hub) Online(deviceID int64) bool {
	d := h.device(deviceID)
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns) > 0
}
