package hub

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/shared/datastream"
)

// memStore is a Store in memory, so the hub's own rules can be tested
// without SQLite (blynkserver's tests run the hub on the real store).
type memStore struct {
	mu      sync.Mutex
	recs    []Record
	snap    Snapshot
	nextID  int64
	updated []Device // UpdateDevice calls
	discard bool     // benchmarks: count only
	n       atomic.Int64
}

func (s *memStore) Load(context.Context) (Snapshot, error) { return s.snap, nil }
func (s *memStore) Append(r Record) {
	if s.discard {
		s.n.Add(1)
		return
	}
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}
func (s *memStore) SaveTemplate(context.Context, datastream.Template) error { return nil }
func (s *memStore) CreateDevice(_ context.Context, d Device) (Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	d.ID = s.nextID
	return d, nil
}
func (s *memStore) UpdateDevice(_ context.Context, d Device) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updated = append(s.updated, d)
	return nil
}
func (s *memStore) DeleteDevice(context.Context, int64) error { return nil }
func (s *memStore) Flush(context.Context) error               { return nil }

func (s *memStore) records(kind Kind) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.recs {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func fp(f float64) *float64 { return &f }

func testTemplate() datastream.Template {
	return datastream.Template{
		ID:   "TMPLtest0001",
		Name: "Test",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: fp(-40), Max: fp(125), Sync: true},
			{Pin: 1, Name: "Level", Type: datastream.Integer, Min: fp(0), Max: fp(100), Default: "5", Sync: true},
			{Pin: 2, Name: "Label", Type: datastream.String},
			{Pin: 3, Name: "Unsynced", Type: datastream.Integer, Default: "7"},
			{Pin: 4, Name: "Position", Type: datastream.Location},
		},
		Events:     []datastream.Event{{Code: "overheat"}},
		MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial Number", Default: "none"}},
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func newTestHub(t testing.TB) (*Hub, *memStore, Device, string) {
	t.Helper()
	st := &memStore{}
	clk := &fakeClock{t: time.UnixMilli(1_700_000_000_000)}
	h := New(Options{Store: st, Now: clk.Now})
	ctx := context.Background()
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.SaveTemplate(ctx, testTemplate()); err != nil {
		t.Fatal(err)
	}
	d, tok, err := h.AddDevice(ctx, "TMPLtest0001", "dev1")
	if err != nil {
		t.Fatal(err)
	}
	return h, st, d, tok
}

func items(s string) [][]byte {
	var out [][]byte
	for _, p := range strings.Split(s, "\x00") {
		out = append(out, []byte(p))
	}
	return out
}

type fakeConn struct {
	mu     sync.Mutex
	got    []Delivery
	closed bool
}

func (c *fakeConn) Transport() string { return "test" }
func (c *fakeConn) Deliver(d Delivery) {
	c.mu.Lock()
	c.got = append(c.got, d)
	c.mu.Unlock()
}
func (c *fakeConn) Close() { c.mu.Lock(); c.closed = true; c.mu.Unlock() }

func TestTokenAndAuth(t *testing.T) {
	h, _, d, tok := newTestHub(t)
	if len(tok) != 32 || !ValidToken(tok) {
		t.Fatalf("token %q: want 32 base64url chars", tok)
	}
	if len(d.UID) != 26 {
		t.Fatalf("UID %q: want a 26-char ULID", d.UID)
	}
	got, err := h.Authenticate(tok)
	if err != nil || got.ID != d.ID {
		t.Fatalf("Authenticate = %v, %v", got, err)
	}
	for _, bad := range []string{"", tok[:31], tok + "x", strings.Repeat("a", 32), strings.Repeat("!", 32)} {
		if _, err := h.Authenticate(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Authenticate(%q) err = %v, want ErrInvalidToken", bad, err)
		}
	}
	// Config-declared devices are idempotent by token.
	ctx := context.Background()
	const fixed = "0123456789abcdef0123456789abcdef"
	a, err := h.AddDeviceWithToken(ctx, "TMPLtest0001", "cfg", fixed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.AddDeviceWithToken(ctx, "TMPLtest0001", "cfg", fixed)
	if err != nil || a.ID != b.ID {
		t.Fatalf("second AddDeviceWithToken = %v, %v; want id %d", b, err, a.ID)
	}
	if _, err := h.AddDeviceWithToken(ctx, "TMPLtest0001", "bad", "short"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("malformed token err = %v", err)
	}
	if _, _, err := h.AddDevice(ctx, "TMPLnope", "x"); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("unknown template err = %v", err)
	}
	if ids := h.Devices(); len(ids) != 2 || ids[0].ID > ids[1].ID {
		t.Errorf("Devices() = %v, want 2 sorted", ids)
	}
}

func TestWriteRules(t *testing.T) {
	h, st, d, _ := newTestHub(t)
	tests := []struct {
		pin     int
		in      string
		want    string
		wantErr error
	}{
		{0, "21.5000000", "21.5", nil},
		{0, "500", "125", nil}, // clamped
		{1, "-3", "0", nil},
		{1, "12.5", "", datastream.ErrWrongType}, // dropped
		{2, "hello\x00world", "hello\x00world", nil},
		{4, "30.5\x0050.25", "30.5\x0050.25", nil},
		{4, "30.5", "", datastream.ErrArity},
		{9, "1", "", datastream.ErrNoDatastream},
		{256, "1", "", datastream.ErrBadPin},
	}
	for _, tc := range tests {
		got, err := h.DeviceWrite(d.ID, tc.pin, items(tc.in), 0, "tcp")
		if !errors.Is(err, tc.wantErr) || got != tc.want {
			t.Errorf("DeviceWrite(v%d, %q) = %q, %v; want %q, %v", tc.pin, tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if pv, ok := h.Value(d.ID, 1); !ok || pv.Value != "0" {
		t.Errorf("v1 after dropped write = %v, %v; want the clamped 0 kept", pv, ok)
	}
	writes := st.records(KindWrite)
	if len(writes) != 5 {
		t.Fatalf("stored %d writes, want 5 (drops never stored): %v", len(writes), writes)
	}
	if writes[0].TS != 1_700_000_000_000 || writes[0].Enqueued == 0 || writes[0].Source != "tcp" {
		t.Errorf("record = %+v: want hub clock ts, Enqueued set, source", writes[0])
	}
	s := h.Stats()
	want := Stats{Devices: 1, WritesAccepted: 5, DroppedWrongType: 1, DroppedArity: 1, DroppedNoDatastream: 1, DroppedBadPin: 1}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if _, err := h.DeviceWrite(999, 0, items("1"), 0, "tcp"); !errors.Is(err, ErrNoDevice) {
		t.Errorf("unknown device err = %v", err)
	}
}

func TestControlWriteDeliversDeviceWriteDoesNot(t *testing.T) {
	h, st, d, _ := newTestHub(t)
	c := &fakeConn{}
	detach := h.Attach(d.ID, c)
	if !h.Online(d.ID) {
		t.Fatal("not online after Attach")
	}
	var seen []Record
	var mu sync.Mutex
	cancel := h.Subscribe(func(u Update) { mu.Lock(); seen = append(seen, u.Record); mu.Unlock() })
	if _, err := h.DeviceWrite(d.ID, 0, items("1"), 0, "tcp"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ControlWrite(d.ID, 2, items("on"), 42, "http"); err != nil {
		t.Fatal(err)
	}
	want := []Delivery{{Kind: DeliverWrite, Pin: 2, Name: "Label", Value: "on", TS: 42}}
	if diff := cmp.Diff(want, c.got); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	cancel()
	h.DeviceWrite(d.ID, 0, items("2"), 0, "tcp")
	if len(seen) != 2 || seen[1].Value != "on" || seen[1].TS != 42 {
		t.Errorf("subscriber saw %+v; want the 2 writes before cancel", seen)
	}
	detach()
	detach() // idempotent
	if h.Online(d.ID) {
		t.Error("online after last detach")
	}
	on, off := st.records(KindOnline), st.records(KindOffline)
	if len(on) != 1 || len(off) != 1 || on[0].Name != "test" {
		t.Errorf("online records %v, offline %v; want one each", on, off)
	}
}

func TestSync(t *testing.T) {
	h, _, d, _ := newTestHub(t)
	// Nothing written: only flagged pins with a default (v1=5); v3 has a
	// default but no sync flag.
	if got := h.SyncAll(d.ID); !slices.EqualFunc(got, []PinValue{{DeviceID: d.ID, Pin: 1, Value: "5"}}, func(a, b PinValue) bool { return a == b }) {
		t.Errorf("SyncAll before writes = %v", got)
	}
	h.DeviceWrite(d.ID, 0, items("3.25"), 100, "tcp")
	h.DeviceWrite(d.ID, 2, items("x"), 100, "tcp")
	got := h.SyncAll(d.ID)
	want := []PinValue{{DeviceID: d.ID, Pin: 0, Value: "3.25", TS: 100}, {DeviceID: d.ID, Pin: 1, Value: "5"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SyncAll (-want +got):\n%s", diff)
	}
	got = h.SyncPins(d.ID, []int{3, 2, 9, 300})
	want = []PinValue{{DeviceID: d.ID, Pin: 3, Value: "7"}, {DeviceID: d.ID, Pin: 2, Value: "x", TS: 100}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SyncPins (-want +got):\n%s", diff)
	}
	if err := h.Erase(d.ID, 0, "http"); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Value(d.ID, 0); ok {
		t.Error("v0 still has a value after Erase")
	}
	if vals := h.Values(d.ID); len(vals) != 1 || vals[0].Pin != 2 {
		t.Errorf("Values = %v, want only v2", vals)
	}
	if pin, err := h.PinByName(d.ID, "Level"); err != nil || pin != 1 {
		t.Errorf("PinByName(Level) = %d, %v", pin, err)
	}
	if _, err := h.PinByName(d.ID, "Nope"); !errors.Is(err, datastream.ErrNoDatastream) {
		t.Errorf("PinByName(Nope) err = %v", err)
	}
}

func TestEventsInfoPropertiesMeta(t *testing.T) {
	h, st, d, _ := newTestHub(t)
	c := &fakeConn{}
	h.Attach(d.ID, c)
	if err := h.LogEvent(d.ID, "overheat", "too hot", 0, "tcp"); err != nil {
		t.Fatal(err)
	}
	if err := h.LogEvent(d.ID, "nope", "", 0, "tcp"); !errors.Is(err, ErrNoEvent) {
		t.Errorf("unknown event err = %v", err)
	}
	if err := h.ClearEvent(d.ID, "overheat", true, "tcp"); err != nil {
		t.Fatal(err)
	}
	ev, cl := st.records(KindEvent), st.records(KindClear)
	if len(ev) != 1 || ev[0].Name != "overheat" || ev[0].Value != "too hot" || len(cl) != 1 || cl[0].Value != "all" {
		t.Errorf("events %v clears %v", ev, cl)
	}
	h.SetInfo(d.ID, []string{"h-beat", "10", "buff-in", "1024"}, "tcp")
	if got := h.Info(d.ID); !slices.Equal(got, []string{"h-beat", "10", "buff-in", "1024"}) {
		t.Errorf("Info = %q", got)
	}
	if r := st.records(KindInfo); len(r) != 1 || r[0].Value != "h-beat\x0010\x00buff-in\x001024" {
		t.Errorf("info record %v", r)
	}
	if err := h.SetProperty(d.ID, 0, "label", items("Temp"), "tcp"); err != nil {
		t.Fatal(err)
	}
	if v, ok := h.Property(d.ID, 0, "label"); !ok || v != "Temp" {
		t.Errorf("Property = %q, %v", v, ok)
	}
	if err := h.SetProperty(d.ID, 0, "bogus", items("x"), "tcp"); !errors.Is(err, ErrBadProperty) {
		t.Errorf("bad property err = %v", err)
	}
	if err := h.SetProperty(d.ID, 77, "label", items("x"), "tcp"); !errors.Is(err, datastream.ErrNoDatastream) {
		t.Errorf("property on pin without datastream err = %v", err)
	}
	if v, err := h.Meta(d.ID, "Serial Number"); err != nil || v != "none" {
		t.Errorf("Meta default = %q, %v", v, err)
	}
	if err := h.SetMeta(d.ID, "Serial Number", "SN1", "tcp"); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.Meta(d.ID, "Serial Number"); v != "SN1" {
		t.Errorf("Meta = %q", v)
	}
	if err := h.SetMeta(d.ID, "Nope", "x", "tcp"); !errors.Is(err, ErrNoMeta) {
		t.Errorf("unknown meta err = %v", err)
	}
	if len(c.got) != 1 || c.got[0].Kind != DeliverMeta || c.got[0].Value != "SN1" {
		t.Errorf("meta deliveries %v", c.got)
	}
}

func TestDeleteDeviceClosesConnections(t *testing.T) {
	h, _, d, tok := newTestHub(t)
	c := &fakeConn{}
	detach := h.Attach(d.ID, c)
	if err := h.DeleteDevice(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	detach()
	if !c.closed {
		t.Error("connection not closed")
	}
	if _, err := h.Authenticate(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token still valid after delete: %v", err)
	}
	if _, err := h.DeviceWrite(d.ID, 0, items("1"), 0, "tcp"); !errors.Is(err, ErrNoDevice) {
		t.Errorf("write after delete err = %v", err)
	}
}

func TestLoadRestoresState(t *testing.T) {
	tmpl := testTemplate()
	st := &memStore{snap: Snapshot{
		Templates:  []datastream.Template{tmpl},
		Devices:    []Device{{ID: 7, UID: "U", Name: "d", TemplateID: tmpl.ID, TokenHash: HashToken("0123456789abcdef0123456789abcdef")}},
		Values:     []PinValue{{DeviceID: 7, Pin: 0, Value: "1.5", TS: 9}},
		Meta:       []MetaValue{{DeviceID: 7, Name: "Serial Number", Value: "SN9"}},
		Properties: []PropertyValue{{DeviceID: 7, Pin: 0, Name: "label", Value: "L"}},
	}}
	h := New(Options{Store: st})
	if err := h.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d, err := h.Authenticate("0123456789abcdef0123456789abcdef"); err != nil || d.ID != 7 {
		t.Fatalf("Authenticate after Load = %v, %v", d, err)
	}
	if pv, ok := h.Value(7, 0); !ok || pv.Value != "1.5" || pv.TS != 9 {
		t.Errorf("Value = %v", pv)
	}
	if v, _ := h.Meta(7, "Serial Number"); v != "SN9" {
		t.Errorf("Meta = %q", v)
	}
	if v, _ := h.Property(7, 0, "label"); v != "L" {
		t.Errorf("Property = %q", v)
	}
}

func TestConcurrentWrites(t *testing.T) {
	h, st, _, _ := newTestHub(t)
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 8; i++ {
		d, _, err := h.AddDevice(ctx, "TMPLtest0001", "d")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fakeConn{}
			defer h.Attach(id, c)()
			for i := 0; i < 200; i++ {
				h.DeviceWrite(id, 1, items("3"), 0, "tcp")
				h.ControlWrite(id, 2, items("x"), 0, "http")
			}
			_ = h.Stats()
		}()
	}
	wg.Wait()
	if got := len(st.records(KindWrite)); got != 8*400 {
		t.Errorf("stored %d writes, want %d", got, 8*400)
	}
}

func BenchmarkDeviceWrite(b *testing.B) {
	st := &memStore{discard: true}
	h := New(Options{Store: st})
	ctx := context.Background()
	if err := h.SaveTemplate(ctx, testTemplate()); err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for i := 0; i < 1000; i++ {
		d, _, err := h.AddDevice(ctx, "TMPLtest0001", "d")
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	val := [][]byte{[]byte("21.5000000")}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := h.DeviceWrite(ids[i%len(ids)], 0, val, 0, "tcp"); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	})
}

type nopConn struct{}

func (nopConn) Transport() string { return "bench" }
func (nopConn) Deliver(Delivery)  {}
func (nopConn) Close()            {}

func BenchmarkControlWrite(b *testing.B) {
	st := &memStore{discard: true}
	h := New(Options{Store: st})
	ctx := context.Background()
	if err := h.SaveTemplate(ctx, testTemplate()); err != nil {
		b.Fatal(err)
	}
	d, _, err := h.AddDevice(ctx, "TMPLtest0001", "d")
	if err != nil {
		b.Fatal(err)
	}
	h.Attach(d.ID, nopConn{})
	val := [][]byte{[]byte("42")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.ControlWrite(d.ID, 1, val, 0, "http"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSaveTemplateValidates(t *testing.T) {
	h, _, _, _ := newTestHub(t)
	bad := testTemplate()
	bad.Datastreams = append(bad.Datastreams, datastream.Datastream{Pin: 0, Name: "Dup", Type: datastream.Integer})
	if err := h.SaveTemplate(context.Background(), bad); !errors.Is(err, datastream.ErrBadTemplate) {
		t.Fatalf("SaveTemplate with a pin used twice: err = %v, want ErrBadTemplate", err)
	}
	if tm, _ := h.Template(bad.ID); len(tm.Datastreams) != len(testTemplate().Datastreams) {
		t.Error("an invalid template replaced the stored one")
	}
}

// TestSetMetaAt: a value a person set in the cloud at ts applies unless
// the device holds one set at ts or later; applied values are delivered
// and recorded with ts; a loaded value keeps its time.
func TestSetMetaAt(t *testing.T) {
	h, st, d, _ := newTestHub(t)
	c := &fakeConn{}
	defer h.Attach(d.ID, c)()
	now := int64(1_700_000_000_000) // the test clock
	steps := []struct {
		name    string
		value   string
		ts      int64 // 0: the device's own SetMeta, at now
		applied bool
		want    string
	}{
		{"first cloud value", "A", now - 10, true, "A"},
		{"older cloud value", "B", now - 20, false, "A"},
		{"resent cloud value", "A", now - 10, false, "A"},
		{"device sets it", "D", 0, true, "D"},
		{"cloud value older than the device's", "C", now - 1, false, "D"},
		{"cloud value at the device's time", "C", now, false, "D"},
		{"newer cloud value", "E", now + 1, true, "E"},
	}
	delivered := 0
	for _, s := range steps {
		var applied bool
		var err error
		if s.ts == 0 {
			applied, err = true, h.SetMeta(d.ID, "Serial Number", s.value, "tcp")
		} else {
			applied, err = h.SetMetaAt(d.ID, "Serial Number", s.value, s.ts, "cloud")
		}
		if err != nil || applied != s.applied {
			t.Fatalf("%s: applied %v, %v; want %v", s.name, applied, err, s.applied)
		}
		if v, _ := h.Meta(d.ID, "Serial Number"); v != s.want {
			t.Fatalf("%s: Meta = %q, want %q", s.name, v, s.want)
		}
		if applied {
			delivered++
			rs := st.records(KindMeta)
			if r := rs[len(rs)-1]; r.Kind != KindMeta || r.Value != s.value || (s.ts != 0 && r.TS != s.ts) {
				t.Fatalf("%s: recorded %+v", s.name, r)
			}
		}
	}
	if len(c.got) != delivered {
		t.Errorf("%d deliveries, want %d", len(c.got), delivered)
	}
	if _, err := h.SetMetaAt(d.ID, "Nope", "x", now, "cloud"); !errors.Is(err, ErrNoMeta) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := h.SetMetaAt(999, "Serial Number", "x", now, "cloud"); !errors.Is(err, ErrNoDevice) {
		t.Errorf("unknown device: %v", err)
	}

	// After a restart the stored time still decides.
	tmpl := testTemplate()
	st2 := &memStore{snap: Snapshot{Templates: []datastream.Template{tmpl},
		Devices: []Device{{ID: 7, UID: "U", Name: "d", TemplateID: tmpl.ID, TokenHash: HashToken("0123456789abcdef0123456789abcdef")}},
		Meta:    []MetaValue{{DeviceID: 7, Name: "Serial Number", Value: "SN9", TS: 500}}}}
	h2 := New(Options{Store: st2})
	if err := h2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if applied, _ := h2.SetMetaAt(7, "Serial Number", "old", 400, "cloud"); applied {
		t.Error("a cloud value older than the loaded one applied")
	}
	if applied, _ := h2.SetMetaAt(7, "Serial Number", "new", 600, "cloud"); !applied {
		t.Error("a cloud value newer than the loaded one did not apply")
	}
}
