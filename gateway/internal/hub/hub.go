// Package hub is the gateway's routing core: the devices and templates the
// gateway knows, the latest value of every pin, and the one write path every
// transport (Blynk TCP/TLS, MQTT, HTTP, bridges, the cloud link) goes
// through. Writes are validated by the datastream package, kept in memory,
// appended to the Store (which group-commits them) and fanned out to the
// device's connections and to subscribers.
//
// The hub does no I/O of its own. The write path takes only the written
// device's lock, so devices never contend with each other.
package hub

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"outpost/shared/datastream"
)

// Options configure a Hub.
type Options struct {
	Store  Store
	Logger *slog.Logger
	Now    func() time.Time // nil → time.Now; tests inject a clock
}

// Update is what subscribers receive: one change accepted in memory.
type Update struct{ Record Record }

// Stats are the hub's counters.
type Stats struct {
	Devices        int
	Online         int    // devices with at least one connection
	WritesAccepted uint64 // device and control writes stored
	ControlWrites  uint64 // of those, writes addressed to the device
	Deliveries     uint64 // deliveries handed to connections
	Erased         uint64
	Events         uint64
	// Writes dropped, by reason.
	DroppedWrongType    uint64 // value of the wrong type (datastream.ErrWrongType, ErrTooLong)
	DroppedArity        uint64 // wrong number of items
	DroppedNoDatastream uint64 // no datastream on that pin
	DroppedBadPin       uint64 // pin outside 0..255
}

const shards = 64

// Hub routes device data. Create with New, then Load.
type Hub struct {
	store   Store
	log     *slog.Logger
	now     func() time.Time
	wallNow bool // now is time.Now: Enqueued can reuse it

	shard [shards]struct {
		mu sync.RWMutex
		m  map[int64]*device
	}

	mu        sync.RWMutex // guards byHash, byUID and templates (login and admin paths only)
	byHash    map[[32]byte]*device
	byUID     map[string]*device
	templates map[string]*tmplRef

	upsertMu sync.Mutex // serialises UpsertDevice: find-or-create by UID is one step

	subMu  sync.Mutex
	subSeq int
	subs   atomic.Pointer[[]subscriber]

	droppedBadPin atomic.Uint64
}

type subscriber struct {
	id int
	fn func(Update)
}

// tmplRef is shared by every device of one template id, so replacing a
// template is one atomic store, visible to all its devices' write paths.
type tmplRef struct{ cur atomic.Pointer[tmplIndex] }

// tmplIndex is an immutable, indexed view of a template.
type tmplIndex struct {
	t        datastream.Template
	byPin    [datastream.MaxPin + 1]*datastream.Datastream
	defaults [datastream.MaxPin + 1]string // canonical defaults ("" = none)
	byName   map[string]int
	events   map[string]bool
	meta     map[string]string // field name → default
}

type value struct {
	v  string
	ts int64
}

type propKey struct {
	pin  int
	name string
}

type counters struct {
	writes, control, deliveries, erased, events uint64
	wrongType, arity, noDatastream              uint64
}

// device is the in-memory state of one device. Everything below mu is
// guarded by it.
type device struct {
	id   int64
	info atomic.Pointer[Device]  // replaced whole by UpsertDevice
	tmpl atomic.Pointer[tmplRef] // replaced with the template id

	mu      sync.Mutex
	deleted bool
	values  map[uint32]value // by pin; uint32, not uint8, for the map's fast path (a hash call less per write)
	pairs   []string         // device info (SetInfo)
	meta    map[string]value // by field name, with the time it was set
	props   map[propKey]string
	conns   []Conn
	cnt     counters
}

// New returns an empty Hub; call Load to fill it from the store.
func New(opts Options) *Hub {
	h := &Hub{
		store:     opts.Store,
		log:       opts.Logger,
		now:       opts.Now,
		byHash:    make(map[[32]byte]*device),
		byUID:     make(map[string]*device),
		templates: make(map[string]*tmplRef),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "hub")
	if h.now == nil {
		h.now = time.Now
		h.wallNow = true
	}
	for i := range h.shard {
		h.shard[i].m = make(map[int64]*device)
	}
	return h
}

// Load reads the store's snapshot into memory, replacing nothing already
// loaded for other ids.
func (h *Hub) Load(ctx context.Context) error {
	snap, err := h.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("hub: load: %w", err)
	}
	h.mu.Lock()
	for _, t := range snap.Templates {
		h.refLocked(t.ID).cur.Store(indexTemplate(t))
	}
	h.mu.Unlock()
	for _, d := range snap.Devices {
		h.addDevice(d)
	}
	for _, v := range snap.Values {
		if d := h.device(v.DeviceID); d != nil && v.Pin >= 0 && v.Pin <= datastream.MaxPin {
			d.mu.Lock()
			d.values[uint32(v.Pin)] = value{v.Value, v.TS}
			d.mu.Unlock()
		}
	}
	for _, m := range snap.Meta {
		if d := h.device(m.DeviceID); d != nil {
			d.mu.Lock()
			d.meta[m.Name] = value{m.Value, m.TS}
			d.mu.Unlock()
		}
	}
	for _, p := range snap.Properties {
		if d := h.device(p.DeviceID); d != nil {
			d.mu.Lock()
			d.props[propKey{p.Pin, p.Name}] = p.Value
			d.mu.Unlock()
		}
	}
	h.log.Info("loaded", "templates", len(snap.Templates), "devices", len(snap.Devices), "values", len(snap.Values))
	return nil
}

func indexTemplate(t datastream.Template) *tmplIndex {
	ti := &tmplIndex{
		t:      t,
		byName: make(map[string]int, len(t.Datastreams)),
		events: make(map[string]bool, len(t.Events)),
		meta:   make(map[string]string, len(t.MetaFields)),
	}
	// Own copy, so the caller cannot change the datastreams under us.
	ti.t.Datastreams = slices.Clone(t.Datastreams)
	for i := range ti.t.Datastreams {
		ds := &ti.t.Datastreams[i]
		if ds.Pin < 0 || ds.Pin > datastream.MaxPin {
			continue
		}
		ti.byPin[ds.Pin] = ds
		if v, ok := ds.DefaultValue(); ok {
			ti.defaults[ds.Pin] = v
		}
		if ds.Name != "" {
			ti.byName[ds.Name] = ds.Pin
		}
	}
	for _, e := range t.Events {
		ti.events[e.Code] = true
	}
	for _, m := range t.MetaFields {
		ti.meta[m.Name] = m.Default
	}
	return ti
}

func (h *Hub) refLocked(id string) *tmplRef {
	r := h.templates[id]
	if r == nil {
		r = &tmplRef{}
		h.templates[id] = r
	}
	return r
}

func (h *Hub) addDevice(d Device) *device {
	h.mu.Lock()
	ds := &device{
		id:     d.ID,
		values: make(map[uint32]value),
		meta:   make(map[string]value),
		props:  make(map[propKey]string),
	}
	ds.info.Store(&d)
	ds.tmpl.Store(h.refLocked(d.TemplateID))
	h.byHash[d.TokenHash] = ds
	h.byUID[d.UID] = ds
	h.mu.Unlock()
	s := &h.shard[uint64(d.ID)%shards]
	s.mu.Lock()
	s.m[d.ID] = ds
	s.mu.Unlock()
	return ds
}

func (h *Hub) device(id int64) *device {
	s := &h.shard[uint64(id)%shards]
	s.mu.RLock()
	d := s.m[id]
	s.mu.RUnlock()
	return d
}

func (h *Hub) allDevices() []*device {
	var all []*device
	for i := range h.shard {
		s := &h.shard[i]
		s.mu.RLock()
		for _, d := range s.m {
			all = append(all, d)
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(all, func(a, b *device) int { return cmp.Compare(a.id, b.id) })
	return all
}

// Subscribe registers fn for every accepted change. fn runs synchronously
// with the changed device's lock held, so updates of one device arrive in
// order: it must not block and must not call back into the Hub.
func (h *Hub) Subscribe(fn func(Update)) (cancel func()) {
	h.subMu.Lock()
	h.subSeq++
	id := h.subSeq
	var next []subscriber
	if cur := h.subs.Load(); cur != nil {
		next = slices.Clone(*cur)
	}
	next = append(next, subscriber{id, fn})
	h.subs.Store(&next)
	h.subMu.Unlock()
	return func() {
		h.subMu.Lock()
		defer h.subMu.Unlock()
		cur := h.subs.Load()
		if cur == nil {
			return
		}
		next := slices.DeleteFunc(slices.Clone(*cur), func(s subscriber) bool { return s.id == id })
		h.subs.Store(&next)
	}
}

// Stats sums the per-device counters.
func (h *Hub) Stats() Stats {
	st := Stats{DroppedBadPin: h.droppedBadPin.Load()}
	for _, d := range h.allDevices() {
		d.mu.Lock()
		st.Devices++
		if len(d.conns) > 0 {
			st.Online++
		}
		c := d.cnt
		d.mu.Unlock()
		st.WritesAccepted += c.writes
		st.ControlWrites += c.control
		st.Deliveries += c.deliveries
		st.Erased += c.erased
		st.Events += c.events
		st.DroppedWrongType += c.wrongType
		st.DroppedArity += c.arity
		st.DroppedNoDatastream += c.noDatastream
	}
	return st
}
