package cloudlink

import (
	"context"
	"fmt"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// cursorKnown prefixes the cursor that records a device UID as known to
// the cloud (value 1): it came down in a snapshot or a delta.
const cursorKnown = "cloud_device:"

// announceChunk bounds the devices of one announcement, far below
// syncproto's limits.
const announceChunk = 500

// known reports whether the cloud is known to have the device (it came down
// in a snapshot or delta, now or in an earlier run).
func (l *Link) known(ctx context.Context, uid string) bool {
	l.knownMu.Lock()
	k, ok := l.knownSet[uid]
	l.knownMu.Unlock()
	if ok {
		return k
	}
	v, err := l.opts.Store.Cursor(ctx, cursorKnown+uid)
	if err != nil {
		return false // announced once more: harmless
	}
	l.knownMu.Lock()
	l.knownSet[uid] = v == 1
	l.knownMu.Unlock()
	return v == 1
}

// setKnown records (durably when the store allows) that the cloud has, or
// no longer has, the device.
func (l *Link) setKnown(ctx context.Context, uid string, k bool) {
	l.knownMu.Lock()
	was, cached := l.knownSet[uid]
	l.knownSet[uid] = k
	l.knownMu.Unlock()
	if cached && was == k {
		return
	}
	v := int64(0)
	if k {
		v = 1
	}
	if err := l.opts.Store.SetCursor(ctx, cursorKnown+uid, v); err != nil {
		l.log.Warn("could not record a device as known to the cloud", "uid", uid, "err", err)
	}
}

// announceLocal sends the local devices the cloud is not known to have and
// this session has not announced yet, with their templates. It runs after
// the welcome (before any telemetry), before each batch that names an
// unannounced device, and with every status report (devices created while
// connected that send nothing).
func (s *session) announceLocal(ctx context.Context, only map[string]bool) error {
	l := s.l
	var devs []hub.Device
	if only != nil {
		for uid := range only {
			if d, ok := l.opts.Hub.DeviceByUID(uid); ok {
				devs = append(devs, d)
			}
		}
	} else {
		devs = l.opts.Hub.Devices()
	}
	var out []syncproto.LocalDevice
	for _, d := range devs {
		if s.announced[d.UID] {
			continue
		}
		s.announced[d.UID] = true
		if d.UID == "" || l.known(ctx, d.UID) {
			continue
		}
		out = append(out, syncproto.LocalDevice{UID: d.UID, Name: d.Name, TemplateID: d.TemplateID,
			TokenHash: syncproto.TokenHashHex(d.TokenHash), CreatedAt: max(d.CreatedAt, 0)})
	}
	if len(out) == 0 {
		return nil
	}
	all := l.opts.Hub.Templates()
	tmpls := make(map[string]datastream.Template, len(all))
	for _, t := range all {
		tmpls[t.ID] = t
	}
	for len(out) > 0 {
		n := min(len(out), announceChunk)
		body := &syncproto.LocalDevices{Devices: out[:n]}
		seen := map[string]bool{}
		for _, d := range body.Devices {
			if t, ok := tmpls[d.TemplateID]; ok && !seen[t.ID] {
				seen[t.ID] = true
				body.Templates = append(body.Templates, t)
			}
		}
		if err := s.send(&syncproto.Message{Type: syncproto.TypeDevices, Devices: body}); err != nil {
			return fmt.Errorf("cloudlink: announce devices: %w", err)
		}
		l.announcedN.Add(uint64(n))
		l.log.Info("local devices announced to the cloud", "count", n)
		out = out[n:]
	}
	return nil
}

// announceItems announces the devices of a batch not announced yet, so the
// cloud reads each device before its telemetry.
func (s *session) announceItems(ctx context.Context, items []syncproto.Item) error {
	var missing map[string]bool
	for i := range items {
		if uid := items[i].Device; !s.announced[uid] {
			if missing == nil {
				missing = map[string]bool{}
			}
			missing[uid] = true
		}
	}
	if missing == nil {
		return nil
	}
	return s.announceLocal(ctx, missing)
}
