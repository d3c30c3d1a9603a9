package hub

import (
	"context"
	"fmt"
)

// DeviceByUID returns the device with that UID.
func (h *Hub) DeviceByUID(uid string) (Device, bool) {
	h.mu.RLock()
	d := h.byUID[uid]
	h.mu.RUnlock()
	if d == nil {
		return Device{}, false
	}
	return *d.info.Load(), true
}

// UpsertDevice applies a device defined elsewhere (the cloud): it creates
// the device with d.UID, or replaces the name, template and token hash of
// the existing one, keeping its local id, values, events and connections.
// A new token hash revokes the old token at once: the token index is
// re-keyed and the device's connections are closed (they logged in with the
// old token). d.ID is ignored; the template must be known.
func (h *Hub) UpsertDevice(ctx context.Context, d Device) (Device, error) {
	if d.UID == "" {
		return Device{}, fmt.Errorf("hub: upsert device %q: no UID", d.Name)
	}
	if _, ok := h.Template(d.TemplateID); !ok {
		return Device{}, fmt.Errorf("hub: device %s: template %q: %w", d.UID, d.TemplateID, ErrNoTemplate)
	}
	h.upsertMu.Lock()
	defer h.upsertMu.Unlock()

	h.mu.RLock()
	ds := h.byUID[d.UID]
	h.mu.RUnlock()
	if ds == nil {
		if d.CreatedAt == 0 {
			d.CreatedAt = h.now().UnixMilli()
		}
		d.ID = 0
		nd, err := h.store.CreateDevice(ctx, d)
		if err != nil {
			return Device{}, fmt.Errorf("hub: create device %s: %w", d.UID, err)
		}
		h.addDevice(nd)
		h.log.Info("device added", "id", nd.ID, "uid", nd.UID, "name", nd.Name, "template", nd.TemplateID)
		return nd, nil
	}

	old := *ds.info.Load()
	d.ID, d.CreatedAt = old.ID, old.CreatedAt
	if d == old {
		return old, nil
	}
	if err := h.store.UpdateDevice(ctx, d); err != nil {
		return Device{}, fmt.Errorf("hub: update device %s: %w", d.UID, err)
	}
	rekeyed := d.TokenHash != old.TokenHash
	h.mu.Lock()
	if rekeyed {
		if h.byHash[old.TokenHash] == ds {
			delete(h.byHash, old.TokenHash)
		}
		h.byHash[d.TokenHash] = ds
	}
	ds.tmpl.Store(h.refLocked(d.TemplateID))
	ds.info.Store(&d)
	h.mu.Unlock()

	if rekeyed {
		ds.mu.Lock()
		conns := ds.conns
		ds.conns = nil
		if len(conns) > 0 && !ds.deleted {
			h.appendLocked(Record{Kind: KindOffline, DeviceID: d.ID, Name: conns[0].Transport(), Source: "cloud"})
		}
		ds.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	h.log.Info("device updated", "id", d.ID, "uid", d.UID, "name", d.Name, "template", d.TemplateID, "token_changed", rekeyed)
	return d, nil
}
