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
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"outpost/shared/datastream"
	"outpost/shared/ulid"
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
	values  map[uint8]value
	pairs   []string // device info (SetInfo)
	meta    map[string]string
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
			d.values[uint8(v.Pin)] = value{v.Value, v.TS}
			d.mu.Unlock()
		}
	}
	for _, m := range snap.Meta {
		if d := h.device(m.DeviceID); d != nil {
			d.mu.Lock()
			d.meta[m.Name] = m.Value
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
		values: make(map[uint8]value),
		meta:   make(map[string]string),
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

// TokenLen is the length of a device token.
const TokenLen = 32

// ValidToken reports whether token has the shape of a device token: 32
// characters of the base64url alphabet (Blynk.Cloud tokens; legacy 32-hex
// tokens are a subset).
func ValidToken(token string) bool {
	if len(token) != TokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// HashToken is how tokens are kept: SHA-256, never the token itself.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// NewToken returns a fresh device token: 24 random bytes in base64url.
func NewToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("hub: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Authenticate returns the device whose token this is, or ErrInvalidToken.
func (h *Hub) Authenticate(token string) (Device, error) {
	if !ValidToken(token) {
		return Device{}, ErrInvalidToken
	}
	sum := HashToken(token)
	h.mu.RLock()
	d := h.byHash[sum]
	h.mu.RUnlock()
	if d == nil {
		return Device{}, ErrInvalidToken
	}
	return *d.info.Load(), nil
}

// Device returns a device by id.
func (h *Hub) Device(id int64) (Device, bool) {
	if d := h.device(id); d != nil {
		return *d.info.Load(), true
	}
	return Device{}, false
}

// Devices returns every device, sorted by ID.
func (h *Hub) Devices() []Device {
	all := h.allDevices()
	out := make([]Device, len(all))
	for i, d := range all {
		out[i] = *d.info.Load()
	}
	return out
}

// Template returns a template by id.
func (h *Hub) Template(id string) (datastream.Template, bool) {
	h.mu.RLock()
	r := h.templates[id]
	h.mu.RUnlock()
	if r == nil {
		return datastream.Template{}, false
	}
	ti := r.cur.Load()
	if ti == nil {
		return datastream.Template{}, false
	}
	return ti.t, true
}

// Templates returns every template, sorted by ID.
func (h *Hub) Templates() []datastream.Template {
	h.mu.RLock()
	var out []datastream.Template
	for _, r := range h.templates {
		if ti := r.cur.Load(); ti != nil {
			out = append(out, ti.t)
		}
	}
	h.mu.RUnlock()
	slices.SortFunc(out, func(a, b datastream.Template) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SaveTemplate validates t, stores it and replaces it in memory; devices of
// that template see the new datastreams on their next write.
func (h *Hub) SaveTemplate(ctx context.Context, t datastream.Template) error {
	if err := t.Check(); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := h.store.SaveTemplate(ctx, t); err != nil {
		return fmt.Errorf("hub: save template %s: %w", t.ID, err)
	}
	ti := indexTemplate(t)
	h.mu.Lock()
	h.refLocked(t.ID).cur.Store(ti)
	h.mu.Unlock()
	return nil
}

// AddDevice creates a device of a known template with a fresh token. The
// token is returned once; only its hash is kept.
func (h *Hub) AddDevice(ctx context.Context, templateID, name string) (Device, string, error) {
	token, err := NewToken()
	if err != nil {
		return Device{}, "", err
	}
	d, err := h.create(ctx, templateID, name, token)
	if err != nil {
		return Device{}, "", err
	}
	return d, token, nil
}

// AddDeviceWithToken creates a device with a given token (config-declared
// devices). It is idempotent by token: an existing device with that token is
// returned unchanged.
func (h *Hub) AddDeviceWithToken(ctx context.Context, templateID, name, token string) (Device, error) {
	if !ValidToken(token) {
		return Device{}, fmt.Errorf("hub: device %q: token must be 32 base64url characters: %w", name, ErrInvalidToken)
	}
	if d, err := h.Authenticate(token); err == nil {
		return d, nil
	}
	return h.create(ctx, templateID, name, token)
}

func (h *Hub) create(ctx context.Context, templateID, name, token string) (Device, error) {
	if _, ok := h.Template(templateID); !ok {
		return Device{}, fmt.Errorf("hub: template %q: %w", templateID, ErrNoTemplate)
	}
	uid, err := ulid.New(h.now(), rand.Reader)
	if err != nil {
		return Device{}, err
	}
	d := Device{
		UID:        uid,
		Name:       name,
		TemplateID: templateID,
		TokenHash:  HashToken(token),
		CreatedAt:  h.now().UnixMilli(),
	}
	d, err = h.store.CreateDevice(ctx, d)
	if err != nil {
		return Device{}, fmt.Errorf("hub: create device %q: %w", name, err)
	}
	h.addDevice(d)
	h.log.Info("device added", "id", d.ID, "uid", d.UID, "name", name, "template", templateID)
	return d, nil
}

// DeleteDevice removes a device and its data and closes its connections.
func (h *Hub) DeleteDevice(ctx context.Context, id int64) error {
	d := h.device(id)
	if d == nil {
		return ErrNoDevice
	}
	if err := h.store.DeleteDevice(ctx, id); err != nil {
		return fmt.Errorf("hub: delete device %d: %w", id, err)
	}
	h.mu.Lock()
	info := d.info.Load()
	if h.byHash[info.TokenHash] == d {
		delete(h.byHash, info.TokenHash)
	}
	if h.byUID[info.UID] == d {
		delete(h.byUID, info.UID)
	}
	h.mu.Unlock()
	s := &h.shard[uint64(id)%shards]
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	d.mu.Lock()
	d.deleted = true
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return nil
}

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
		if old, ok := d.values[uint8(pin)]; ok {
			if old.ts > ts {
				return old.v, ErrStale
			}
			if old.ts == ts && old.v == v {
				return v, nil
			}
		}
	}
	d.values[uint8(pin)] = value{v, ts}
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
	delete(d.values, uint8(pin))
	d.cnt.erased++
	h.appendLocked(Record{Kind: KindErase, DeviceID: deviceID, Pin: pin, Source: source})
	return nil
}

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
	if v, ok := d.values[uint8(pin)]; ok {
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
	d, ti := h.deviceTmpl(deviceID)
	if d == nil {
		return ErrNoDevice
	}
	if ti == nil {
		return ErrNoMeta
	}
	if _, ok := ti.meta[name]; !ok {
		return fmt.Errorf("hub: meta %q: %w", name, ErrNoMeta)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deleted {
		return ErrNoDevice
	}
	d.meta[name] = value
	for _, c := range d.conns {
		c.Deliver(Delivery{Kind: DeliverMeta, Name: name, Value: value})
		d.cnt.deliveries++
	}
	h.appendLocked(Record{Kind: KindMeta, DeviceID: deviceID, Name: name, Value: value, Source: source})
	return nil
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
		return v, nil
	}
	return def, nil
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
