package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"outpost/shared/datastream"
)

// appendLocked stamps r, hands it to the store and the subscribers. The
// caller holds the device's lock, which keeps the store's and the
// subscribers' order per device the same as memory's.
func (h *Hub) appendLocked(r Record) {
	if r.TS == 0 || r.Enqueued == 0 {
		now := h.now()
		if r.TS == 0 {
			r.TS = now.UnixMilli()
		}
		if h.wallNow {
			r.Enqueued = now.UnixNano()
		} else {
			r.Enqueued = time.Now().UnixNano()
		}
	}
	h.store.Append(r)
	if subs := h.subs.Load(); subs != nil {
		for _, s := range *subs {
			s.fn(Update{Record: r})
		}
	}
}

// DeviceWrite stores an uplink from the device itself (not delivered back
// to its own connections). items are the raw value items; the canonical
// value is returned. Wrong type or arity → error, nothing stored. ts == 0
// means now.
func (h *Hub) DeviceWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error) {
	return h.write(deviceID, pin, items, ts, source, false, false)
}

// ControlWrite stores a write addressed to the device (HTTP update, cloud
// command, local UI) and delivers it to every connection of the device.
func (h *Hub) ControlWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error) {
	return h.write(deviceID, pin, items, ts, source, true, false)
}

// CommandWrite is ControlWrite for a write that may arrive late (a cloud
// command queued while the site was offline). Under the device's lock, the
// same one every device write takes, it checks the pin's latest value:
// if that value is newer than ts, nothing is written and ErrStale is
// returned with the newer value — a newer device value wins. A value
// equal in time and content is taken as this write applied before (a
// replay) and returned without writing it again.
func (h *Hub) CommandWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error) {
	return h.write(deviceID, pin, items, ts, source, true, true)
}

func (h *Hub) write(deviceID int64, pin int, items [][]byte, ts int64, source string, control, guard bool) (string, error) {
	if pin < 0 || pin > datastream.MaxPin {
		h.droppedBadPin.Add(1)
		return "", datastream.ErrBadPin
	}
	d := h.device(deviceID)
	if d == nil {
		return "", ErrNoDevice
	}
	ti := d.tmpl.Load().cur.Load()
	var ds *datastream.Datastream
	if ti != nil {
		ds = ti.byPin[pin]
	}
	var v string
	var err error
	if ds != nil {
		v, err = ds.Normalize(items)
	}
	now := h.now()
	if ts == 0 {
		ts = now.UnixMilli()
	}
	enq := now.UnixNano()
	if !h.wallNow {
		enq = time.Now().UnixNano()
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return "", ErrNoDevice
	}
	switch {
	case ds == nil:
		d.cnt.noDatastream++
		return "", datastream.ErrNoDatastream
	case errors.Is(err, datastream.ErrArity):
		d.cnt.arity++
		return "", err
	case err != nil:
		d.cnt.wrongType++
		return "", err
	}
	if guard {
		if old, ok := d.values[uint32(pin)]; ok {
			if old.ts > ts {
				return old.v, ErrStale
			}
			if old.ts == ts && old.v == v {
				return v, nil
			}
		}
	}
	d.values[uint32(pin)] = value{v, ts}
	d.cnt.writes++
	if control {
		d.cnt.control++
		for _, c := range d.conns {
			c.Deliver(Delivery{Kind: DeliverWrite, Pin: pin, Name: ds.Name, Value: v, TS: ts})
			d.cnt.deliveries++
		}
	}
	h.appendLocked(Record{Kind: KindWrite, DeviceID: deviceID, Pin: pin, Value: v, TS: ts, Source: source, Enqueued: enq})
	return v, nil
}

// RecordRun appends the record of an automation's run (run is its JSON)
// under a device of the automation, so that it reaches the cloud through
// the outbox like any other record, once.
func (h *Hub) RecordRun(deviceID int64, automation, run string, ts int64) error {
	d := h.device(deviceID)
	if d == nil {
		return ErrNoDevice
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return ErrNoDevice
	}
	h.appendLocked(Record{Kind: KindRun, DeviceID: deviceID, Name: automation, Value: run, TS: ts, Source: "automation"})
	return nil
}

// Flush waits until every change the hub accepted before the call is
// committed by the store, so that it survives a crash of the process. A
// transport that answers a write (an HTTP 200, an MQTT PUBACK) calls it
// between the write and the answer: a success answer then means the write
// is durable. Concurrent callers share commits (the store's natural group
// commit), so a waiting writer costs a commit only when nobody else is
// committing. It returns early with ctx's error, or with the store's error
// when the store is closed and the change may not be on disk.
func (h *Hub) Flush(ctx context.Context) error {
	if err := h.store.Flush(ctx); err != nil {
		return fmt.Errorf("hub: flush: %w", err)
	}
	return nil
}

// Erase removes a pin's latest value.
func (h *Hub) Erase(deviceID int64, pin int, source string) error {
	if pin < 0 || pin > datastream.MaxPin {
		return datastream.ErrBadPin
	}
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return ErrNoDevice
	}
	if ti == nil || ti.byPin[pin] == nil {
		return datastream.ErrNoDatastream
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return ErrNoDevice
	}
	delete(d.values, uint32(pin))
	d.cnt.erased++
	h.appendLocked(Record{Kind: KindErase, DeviceID: deviceID, Pin: pin, Source: source})
	return nil
}
