package cloudlink

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// memStore is an in-memory Store: an outbox with AUTOINCREMENT-like seqs,
// cursors and the tenancy cache.
type memStore struct {
	mu      sync.Mutex
	next    int64
	outbox  []Entry
	cursors map[string]int64
	cache   map[string][]byte
	acks    int
}

func newMemStore() *memStore {
	return &memStore{cursors: map[string]int64{}, cache: map[string][]byte{}}
}

func (s *memStore) append(r hub.Record) {
	s.mu.Lock()
	s.next++
	s.outbox = append(s.outbox, Entry{Seq: s.next, Record: r})
	s.mu.Unlock()
}

func (s *memStore) Outbox(_ context.Context, after int64, limit int) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.outbox, after+1, func(e Entry, t int64) int { return cmp.Compare(e.Seq, t) })
	end := min(i+limit, len(s.outbox))
	return slices.Clone(s.outbox[i:end]), nil
}

func (s *memStore) AckOutbox(_ context.Context, upTo int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.outbox, upTo+1, func(e Entry, t int64) int { return cmp.Compare(e.Seq, t) })
	s.outbox = slices.Delete(s.outbox, 0, i)
	s.acks++
	return nil
}

func (s *memStore) OutboxLen(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.outbox)), nil
}

func (s *memStore) Cursor(_ context.Context, name string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[name], nil
}

func (s *memStore) SetCursor(_ context.Context, name string, v int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors[name] = v
	return nil
}

func (s *memStore) TenancyCache(_ context.Context, kind string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cache[kind]), nil
}

func (s *memStore) SetTenancyCache(_ context.Context, version int64, docs map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, b := range docs {
		s.cache[k] = slices.Clone(b)
	}
	return nil
}

func (s *memStore) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.outbox)
}

// fakeHub is the part of the hub the link uses, with writes going to a
// memStore's outbox the way the real hub's Store.Append does.
type fakeHub struct {
	store *memStore

	mu        sync.Mutex
	nextID    int64
	devices   map[int64]hub.Device
	templates map[string]datastream.Template
	values    map[[2]int64]hub.PinValue
	controls  []string                 // "uid/pin=value" of every ControlWrite
	meta      map[string]hub.MetaValue // by "id/name"
	subs      []func(hub.Update)
}

func newFakeHub(s *memStore) *fakeHub {
	return &fakeHub{store: s, devices: map[int64]hub.Device{}, templates: map[string]datastream.Template{},
		values: map[[2]int64]hub.PinValue{}}
}

func (h *fakeHub) Device(id int64) (hub.Device, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.devices[id]
	return d, ok
}

func (h *fakeHub) Devices() []hub.Device {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hub.Device
	for _, d := range h.devices {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b hub.Device) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (h *fakeHub) byUID(uid string) (hub.Device, bool) {
	for _, d := range h.Devices() {
		if d.UID == uid {
			return d, true
		}
	}
	return hub.Device{}, false
}

func (h *fakeHub) Templates() []datastream.Template {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []datastream.Template
	for _, t := range h.templates {
		out = append(out, t)
	}
	return out
}

func (h *fakeHub) SaveTemplate(_ context.Context, t datastream.Template) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.templates[t.ID] = t
	return nil
}

func (h *fakeHub) UpsertDevice(_ context.Context, d hub.Device) (hub.Device, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.templates[d.TemplateID]; !ok {
		return hub.Device{}, hub.ErrNoTemplate
	}
	for id, old := range h.devices {
		if old.UID == d.UID {
			d.ID = id
			h.devices[id] = d
			return d, nil
		}
	}
	h.nextID++
	d.ID = h.nextID
	h.devices[d.ID] = d
	return d, nil
}

func (h *fakeHub) DeleteDevice(_ context.Context, id int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.devices[id]; !ok {
		return hub.ErrNoDevice
	}
	delete(h.devices, id)
	return nil
}

func (h *fakeHub) write(id int64, pin int, v string, ts int64, source string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.values[[2]int64{id, int64(pin)}] = hub.PinValue{DeviceID: id, Pin: pin, Value: v, TS: ts}
	r := hub.Record{Kind: hub.KindWrite, DeviceID: id, Pin: pin, Value: v, TS: ts, Source: source}
	h.store.append(r)
	for _, fn := range h.subs {
		fn(hub.Update{Record: r})
	}
}

// DeviceWrite is a device's own uplink.
func (h *fakeHub) DeviceWrite(id int64, pin int, v string, ts int64) { h.write(id, pin, v, ts, "tcp") }

func (h *fakeHub) DeviceByUID(uid string) (hub.Device, bool) { return h.byUID(uid) }

// CommandWrite follows hub.CommandWrite's rule (not under one lock: the
// fake's writes are test-driven).
func (h *fakeHub) CommandWrite(id int64, pin int, items [][]byte, ts int64, source string) (string, error) {
	d, ok := h.Device(id)
	if !ok {
		return "", hub.ErrNoDevice
	}
	if v, ok := h.Value(id, pin); ok && v.TS > ts {
		return v.Value, hub.ErrStale
	} else if ok && v.TS == ts && v.Value == string(bytes.Join(items, []byte{0})) {
		return v.Value, nil
	}
	if pin > 10 {
		return "", datastream.ErrNoDatastream
	}
	var parts []string
	for _, it := range items {
		parts = append(parts, string(it))
	}
	v := strings.Join(parts, "\x00")
	h.write(id, pin, v, ts, source)
	h.mu.Lock()
	h.controls = append(h.controls, fmt.Sprintf("%s/%d=%s", d.UID, pin, v))
	h.mu.Unlock()
	return v, nil
}

// SetMetaAt follows hub.SetMetaAt's rule: the newer value wins.
func (h *fakeHub) SetMetaAt(id int64, name, value string, ts int64, source string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.devices[id]; !ok {
		return false, hub.ErrNoDevice
	}
	if h.meta == nil {
		h.meta = map[string]hub.MetaValue{}
	}
	key := fmt.Sprintf("%d/%s", id, name)
	if old, ok := h.meta[key]; ok && old.TS >= ts {
		return false, nil
	}
	h.meta[key] = hub.MetaValue{DeviceID: id, Name: name, Value: value, TS: ts}
	r := hub.Record{Kind: hub.KindMeta, DeviceID: id, Name: name, Value: value, TS: ts, Source: source}
	h.store.append(r)
	return true, nil
}

func (h *fakeHub) Value(id int64, pin int) (hub.PinValue, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.values[[2]int64{id, int64(pin)}]
	return v, ok
}

func (h *fakeHub) Subscribe(fn func(hub.Update)) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs = append(h.subs, fn)
	n := len(h.subs) - 1
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.subs[n] = func(hub.Update) {}
	}
}

func (h *fakeHub) Stats() hub.Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hub.Stats{Devices: len(h.devices)}
}

func (h *fakeHub) controlLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.controls)
}

// fakeCloud is the far side: a websocket endpoint that checks the bearer
// credential, answers hello with a welcome, applies telemetry idempotently
// (per-gateway highest applied seq) and acknowledges each batch.
type fakeCloud struct {
	t    testing.TB
	srv  *httptest.Server
	cred string

	mu       sync.Mutex
	epoch    int64 // of the gateway's outbox, as the last hello said
	applied  int64
	values   map[string][]string // device UID → values in the order applied
	hellos   []syncproto.Hello
	results  map[string]syncproto.Result
	conns    map[*websocket.Conn]*sync.Mutex                               // → its write lock
	onHello  func(send func(*syncproto.Message) error, h *syncproto.Hello) // after the welcome
	ackDelay chan struct{}                                                 // if set, each ack waits for a token
	// events logs "devices:<uid>" per announced device and "telemetry:<uid>"
	// per telemetry item, in the order received.
	events    []string
	onDevices func(send func(*syncproto.Message) error, l *syncproto.LocalDevices)
}

func newFakeCloud(t testing.TB) *fakeCloud {
	fc := &fakeCloud{t: t, cred: "secret-cred", values: map[string][]string{},
		results: map[string]syncproto.Result{}, conns: map[*websocket.Conn]*sync.Mutex{}}
	fc.srv = httptest.NewServer(http.HandlerFunc(fc.serve))
	t.Cleanup(fc.srv.Close)
	return fc
}

func (fc *fakeCloud) url() string { return "ws" + strings.TrimPrefix(fc.srv.URL, "http") + "/sync" }

func (fc *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+fc.cred {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	wmu := new(sync.Mutex)
	fc.mu.Lock()
	fc.conns[c] = wmu
	fc.mu.Unlock()
	defer func() {
		fc.mu.Lock()
		delete(fc.conns, c)
		fc.mu.Unlock()
	}()
	send := func(m *syncproto.Message) error {
		b, err := syncproto.Encode(m)
		if err != nil {
			fc.t.Errorf("fake cloud: encode: %v", err)
			return err
		}
		wmu.Lock()
		defer wmu.Unlock()
		return c.WriteMessage(websocket.TextMessage, b)
	}
	read := func() (*syncproto.Message, error) {
		_, b, err := c.ReadMessage()
		if err != nil {
			return nil, err
		}
		m, err := syncproto.Decode(b)
		if err != nil {
			fc.t.Errorf("fake cloud: gateway sent a bad message: %v", err)
		}
		return m, err
	}
	m, err := read()
	if err != nil || m.Type != syncproto.TypeHello {
		return
	}
	fc.mu.Lock()
	fc.hellos = append(fc.hellos, *m.Hello)
	if fc.epoch != 0 && m.Hello.Epoch != fc.epoch {
		fc.applied = 0 // another database: its own sequence
	}
	fc.epoch = m.Hello.Epoch
	applied := fc.applied
	onHello := fc.onHello
	fc.mu.Unlock()
	if send(&syncproto.Message{Type: syncproto.TypeWelcome, Welcome: &syncproto.Welcome{Gateway: m.Hello.Gateway, TelemetryApplied: applied}}) != nil {
		return
	}
	if onHello != nil {
		onHello(send, m.Hello)
	}
	for {
		m, err := read()
		if err != nil {
			return
		}
		switch m.Type {
		case syncproto.TypeDevices:
			fc.mu.Lock()
			for _, d := range m.Devices.Devices {
				fc.events = append(fc.events, "devices:"+d.UID)
			}
			onDevices := fc.onDevices
			fc.mu.Unlock()
			if onDevices != nil {
				onDevices(send, m.Devices)
			}
		case syncproto.TypeTelemetry:
			fc.mu.Lock()
			for _, it := range m.Telemetry.Items {
				fc.events = append(fc.events, "telemetry:"+it.Device)
				if it.Seq <= fc.applied {
					continue
				}
				fc.values[it.Device] = append(fc.values[it.Device], it.Value)
			}
			if m.Seq > fc.applied {
				fc.applied = m.Seq
			}
			delay := fc.ackDelay
			fc.mu.Unlock()
			if delay != nil {
				<-delay
			}
			if send(&syncproto.Message{Type: syncproto.TypeAck, Seq: m.Seq}) != nil {
				return
			}
		case syncproto.TypeResult:
			fc.mu.Lock()
			fc.results[m.ID] = *m.Result
			fc.mu.Unlock()
		case syncproto.TypeStatus:
		default:
			fc.t.Errorf("fake cloud: unexpected %s", m.Type)
		}
	}
}

// push sends m on every open connection.
func (fc *fakeCloud) push(m *syncproto.Message) {
	b, err := syncproto.Encode(m)
	if err != nil {
		fc.t.Fatal(err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for c, wmu := range fc.conns {
		wmu.Lock()
		_ = c.WriteMessage(websocket.TextMessage, b)
		wmu.Unlock()
	}
}

// kick closes every open connection.
// kick closes every session and returns how many there were.
func (fc *fakeCloud) kick() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for c := range fc.conns {
		c.Close()
	}
	return len(fc.conns)
}

func (fc *fakeCloud) connCount() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return len(fc.conns)
}

func (fc *fakeCloud) snapshotValues() map[string][]string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	out := make(map[string][]string, len(fc.values))
	for k, v := range fc.values {
		out[k] = slices.Clone(v)
	}
	return out
}

func (fc *fakeCloud) total() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	n := 0
	for _, v := range fc.values {
		n += len(v)
	}
	return n
}
