package cloudlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// applySnapshot makes the hub's tenancy what the cloud says: templates and
// devices are upserted and devices the snapshot does not name are deleted
// if the cloud had them (with PruneDevices, all of them): the cloud is the
// authority for tenancy. An entry the
// hub refuses is logged and skipped rather than wedging the link on it; the
// version advances.
func (l *Link) applySnapshot(ctx context.Context, t *syncproto.Tenancy) error {
	for _, tmpl := range t.Templates {
		l.saveTemplate(ctx, tmpl)
	}
	keep := make(map[string]bool, len(t.Devices))
	for _, d := range t.Devices {
		keep[d.UID] = true
		l.upsertDevice(ctx, d)
	}
	// A device the cloud had and no longer lists was deleted there; one
	// it never saw is the gateway's own, waiting to be announced.
	for _, d := range l.opts.Hub.Devices() {
		if !keep[d.UID] && (l.opts.PruneDevices || l.known(ctx, d.UID)) {
			l.deleteDevice(ctx, d)
		}
	}
	if err := l.cacheSnapshot(ctx, t); err != nil {
		return err
	}
	return l.setVersion(ctx, t.Version)
}

// applyDelta applies changes from the version the gateway has. A delta from
// another version means a change was missed: the session ends and the
// reconnect's hello makes the cloud send what is needed.
func (l *Link) applyDelta(ctx context.Context, d *syncproto.Delta) error {
	if cur := l.tenancy.Load(); d.From != cur {
		return fmt.Errorf("%w: delta %d→%d, local %d", ErrResync, d.From, d.Version, cur)
	}
	for _, tmpl := range d.Templates {
		l.saveTemplate(ctx, tmpl)
	}
	for _, dev := range d.Devices {
		l.upsertDevice(ctx, dev)
	}
	if len(d.DeletedDevices) > 0 {
		gone := make(map[string]bool, len(d.DeletedDevices))
		for _, uid := range d.DeletedDevices {
			gone[uid] = true
		}
		for _, dev := range l.opts.Hub.Devices() {
			if gone[dev.UID] {
				l.deleteDevice(ctx, dev)
			}
		}
		for uid := range gone {
			l.setKnown(ctx, uid, false)
		}
	}
	if len(d.DeletedTemplates) > 0 {
		// The hub keeps templates until no device uses them; the cloud only
		// deletes a template whose devices are gone, so nothing to do.
		l.log.Debug("templates deleted in the cloud", "ids", d.DeletedTemplates)
	}
	if err := l.cacheDelta(ctx, d); err != nil {
		return err
	}
	return l.setVersion(ctx, d.Version)
}

func (l *Link) setVersion(ctx context.Context, v int64) error {
	if err := l.opts.Store.SetCursor(ctx, CursorTenancy, v); err != nil {
		return fmt.Errorf("cloudlink: save tenancy version: %w", err)
	}
	l.tenancy.Store(v)
	l.log.Info("tenancy applied", "version", v)
	return nil
}

func (l *Link) saveTemplate(ctx context.Context, t datastream.Template) {
	if err := l.opts.Hub.SaveTemplate(ctx, t); err != nil {
		l.log.Error("template from the cloud refused", "template", t.ID, "err", err)
	}
}

func (l *Link) upsertDevice(ctx context.Context, d syncproto.Device) {
	hash, err := syncproto.ParseTokenHash(d.TokenHash)
	if err != nil { // Decode validated it; kept for safety
		l.log.Error("device from the cloud refused", "uid", d.UID, "err", err)
		return
	}
	dev, err := l.opts.Hub.UpsertDevice(ctx, hub.Device{UID: d.UID, Name: d.Name, TemplateID: d.TemplateID, TokenHash: hash})
	if err != nil {
		l.log.Error("device from the cloud refused", "uid", d.UID, "err", err)
		return
	}
	l.setKnown(ctx, d.UID, true)
	// Metadata people set in the cloud: applied unless the device set the
	// field since (the hub keeps the newer), so a snapshot resent after a
	// reconnect changes nothing.
	for _, m := range d.Meta {
		applied, err := l.opts.Hub.SetMetaAt(dev.ID, m.Name, m.Value, m.TS, "cloud")
		switch {
		case errors.Is(err, hub.ErrNoMeta): // the template dropped the field since
			l.log.Debug("metadata from the cloud for a field the template lacks", "uid", d.UID, "field", m.Name)
		case err != nil:
			l.log.Warn("metadata from the cloud not applied", "uid", d.UID, "field", m.Name, "err", err)
		case applied:
			l.log.Info("metadata set in the cloud applied", "uid", d.UID, "field", m.Name)
		}
	}
}

func (l *Link) deleteDevice(ctx context.Context, d hub.Device) {
	if err := l.opts.Hub.DeleteDevice(ctx, d.ID); err != nil && !errors.Is(err, hub.ErrNoDevice) {
		l.log.Error("device deleted in the cloud could not be deleted here", "uid", d.UID, "err", err)
		return
	}
	l.log.Info("device deleted by the cloud", "uid", d.UID, "name", d.Name)
}

// execute runs a command once per id: a replay (the cloud resends commands
// whose result it did not receive) gets the first answer again. See the
// package doc for the conflict rule.
func (l *Link) execute(id string, c *syncproto.Command) syncproto.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.results.get(id); ok {
		return r
	}
	r := l.run(c)
	l.results.put(id, r)
	l.commands.Add(1)
	return r
}

func (l *Link) run(c *syncproto.Command) syncproto.Result {
	dev, ok := l.opts.Hub.DeviceByUID(c.Device)
	if !ok {
		return syncproto.Result{Code: syncproto.ResultNoDevice}
	}
	items := bytes.Split([]byte(c.Value), []byte{0})
	v, err := l.opts.Hub.CommandWrite(dev.ID, c.Pin, items, c.TS, "cloud")
	switch {
	case err == nil:
		return syncproto.Result{Code: syncproto.ResultOK, Value: v}
	case errors.Is(err, hub.ErrStale):
		return syncproto.Result{Code: syncproto.ResultStale, Value: v, Message: "the device has a newer value"}
	case errors.Is(err, hub.ErrNoDevice):
		return syncproto.Result{Code: syncproto.ResultNoDevice}
	case errors.Is(err, datastream.ErrWrongType),
		errors.Is(err, datastream.ErrArity), errors.Is(err, datastream.ErrTooLong),
		errors.Is(err, datastream.ErrBadPin), errors.Is(err, datastream.ErrNoDatastream):
		return syncproto.Result{Code: syncproto.ResultInvalid, Message: err.Error()}
	default:
		return syncproto.Result{Code: syncproto.ResultFailed, Message: err.Error()}
	}
}

// resultCache remembers the last n command results, oldest evicted first.
type resultCache struct {
	n     int
	order []string
	m     map[string]syncproto.Result
}

func newResultCache(n int) *resultCache {
	return &resultCache{n: n, m: make(map[string]syncproto.Result, n)}
}

func (c *resultCache) get(id string) (syncproto.Result, bool) {
	r, ok := c.m[id]
	return r, ok
}

func (c *resultCache) put(id string, r syncproto.Result) {
	if len(c.order) >= c.n {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, id)
	c.m[id] = r
}
