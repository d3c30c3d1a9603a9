// Package telemetrytest is the conformance suite of the cloud's telemetry
// stores (values, history, events, site status, apply idempotent per
// gateway and epoch, aggregation, the device list's telemetry columns):
// call Run from a store's tests with a constructor of fresh, empty stores.
package telemetrytest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// Store is what the suite exercises: a tenancy store (to make orgs,
// gateways and devices) that also stores telemetry.
type Store interface {
	tenancy.Store
	telemetry.Store
	Apply(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) error
	// DeleteHistoryBefore deletes the raw history older than cutoff of the
	// devices of orgs (retention).
	DeleteHistoryBefore(ctx context.Context, orgs []tenancy.OrgID, cutoff time.Time) (int64, error)
}

// Run runs every contract test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newStore func(t *testing.T) Store)
	}{
		{"ApplyIsIdempotentAndScoped", testApplyIsIdempotentAndScoped},
		{"ApplyIsAtomic", testApplyIsAtomic},
		{"ApplyBatchEqualsOneByOne", testApplyBatchEqualsOneByOne},
		{"ApplyActivatesAndReports", testApplyActivatesAndReports},
		{"Aggregate", testAggregate},
		{"ExportHistory", testExportHistory},
		{"HistoryOrder", testHistoryOrder},
		{"HistoryKeepsValues", testHistoryKeepsValues},
		{"HistoryOrderOfLargeBatch", testHistoryOrderOfLargeBatch},
		{"HugeValuesDoNotBlockApply", testHugeValues},
		{"DeviceListTelemetry", testDeviceListTelemetry},
		{"ListCountersFollowMoves", testListCountersFollowMoves},
		{"TimelineOfKind", testTimelineOfKind},
		{"DeleteHistoryBefore", testDeleteHistoryBefore},
		{"EventsResolve", testEventsResolve},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// T0 is the suite's reference time.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Site is a claimed gateway (id "1") in root org A with one device, and
// a device of another root org B it does not serve.
type Site struct {
	S           Store
	GW          string
	Mine, Other tenancy.Device
}

// NewSite fills an empty store with a Site.
func NewSite(t testing.TB, s Store) Site {
	t.Helper()
	ctx := context.Background()
	mk := func(name string) tenancy.Org {
		o := tenancy.Org{Name: name, Type: tenancy.OrgRoot}
		must(t, s.CreateOrg(ctx, &o))
		tm := tenancy.Template{ID: tenancy.TemplateID("TMPL" + name), RootID: o.ID,
			Def: datastream.Template{ID: "TMPL" + name, Name: "T", Datastreams: []datastream.Datastream{{Pin: 1, Name: "t", Type: datastream.Double}}}}
		must(t, s.CreateTemplate(ctx, tm))
		return o
	}
	a, b := mk("A"), mk("B")
	dev := func(o tenancy.Org, name string) tenancy.Device {
		d := tenancy.Device{OrgID: o.ID, TemplateID: tenancy.TemplateID("TMPL" + o.Name), Name: name, Token: name,
			TokenHash: tenancy.HashToken(name)}
		must(t, s.CreateDevice(ctx, &d))
		return d
	}
	g := tenancy.Gateway{Name: "pi", OrgID: a.ID, ClaimCodeHash: tenancy.HashToken("code"), CredentialHash: tenancy.HashToken("cred")}
	must(t, s.CreateGateway(ctx, &g))
	return Site{S: s, GW: strconv.FormatInt(int64(g.ID), 10), Mine: dev(a, "mine"), Other: dev(b, "other")}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func testApplyIsIdempotentAndScoped(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	u, o := st.Mine.UID, st.Other.UID
	batch := []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: u, Name: "tcp", TS: 1000},
		{Seq: 2, Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "20.5", TS: 1001},
		{Seq: 3, Kind: syncproto.KindWrite, Device: o, Pin: 1, Value: "99", TS: 1002}, // not served: ignored
		{Seq: 5, Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "21", TS: 1003},
		{Seq: 6, Kind: syncproto.KindEvent, Device: u, Name: "overheat", Value: "hot", TS: 1004},
		{Seq: 7, Kind: syncproto.KindInfo, Device: u, Value: "fw\x001.2\x00build\x00x", TS: 1005},
		{Seq: 8, Kind: syncproto.KindMeta, Device: u, Name: "Serial", Value: "A-1", TS: 1006},
	}
	applied, err := st.S.ApplyItems(ctx, st.GW, 7, batch, 8)
	must(t, err)
	if len(applied) != 6 || slices.ContainsFunc(applied, func(it syncproto.Item) bool { return it.Device == o }) {
		t.Fatalf("ApplyItems returned %d items (%+v), want the 6 of the served device", len(applied), applied)
	}
	// A replay changes nothing and returns nothing.
	if again, err := st.S.ApplyItems(ctx, st.GW, 7, batch, 8); err != nil || len(again) != 0 {
		t.Fatalf("replay: %d items, %v", len(again), err)
	}
	// A stale batch below the cursor after a newer one changes nothing either.
	must(t, st.S.Apply(ctx, st.GW, 7, batch[:2], 2))
	n, err := st.S.Applied(ctx, st.GW, 7)
	must(t, err)
	if n != 8 {
		t.Fatalf("applied %d, want 8", n)
	}
	if n, _ := st.S.Applied(ctx, st.GW, 8); n != 0 {
		t.Fatalf("another epoch starts at 0, got %d", n)
	}
	vals, err := st.S.DeviceValues(ctx, u)
	must(t, err)
	if want := []telemetry.PinValue{{Pin: 1, Value: "21", TS: time.UnixMilli(1003).UTC()}}; !reflect.DeepEqual(vals, want) {
		t.Fatalf("latest values %+v, want %+v", vals, want)
	}
	hist, next, err := st.S.History(ctx, u, 1, 0, 1)
	must(t, err)
	if len(hist) != 1 || hist[0].Value != "21" || next == 0 {
		t.Fatalf("first history page %+v next %d", hist, next)
	}
	hist, next, err = st.S.History(ctx, u, 1, next, 10)
	must(t, err)
	if len(hist) != 1 || hist[0].Value != "20.5" || next != 0 {
		t.Fatalf("second history page %+v next %d (a replay doubled history?)", hist, next)
	}
	if other, _ := st.S.DeviceValues(ctx, o); len(other) != 0 {
		t.Fatalf("a device the gateway does not serve got values: %v", other)
	}
	status, ok, err := st.S.DeviceStatus(ctx, u)
	must(t, err)
	if !ok || !status.Online || status.Transport != "tcp" || status.Info["fw"] != "1.2" || status.Gateway != st.GW {
		t.Fatalf("status %+v", status)
	}
	if _, ok, err := st.S.DeviceStatus(ctx, o); ok || err != nil {
		t.Fatalf("status of a device never reported: ok %v, %v", ok, err)
	}
	meta, err := st.S.ReportedMeta(ctx, u)
	must(t, err)
	if meta["Serial"].Value != "A-1" || meta["Serial"].TS.IsZero() || len(meta) != 1 {
		t.Fatalf("meta %v", meta)
	}
	tl, _, err := st.S.Timeline(ctx, u, 0, 10)
	must(t, err)
	if len(tl) != 2 || tl[0].Code != "overheat" || tl[1].Kind != "online" {
		t.Fatalf("timeline %+v", tl)
	}
	if n, _ := st.S.DevicesOnline(ctx, st.GW); n != 1 {
		t.Fatalf("devices online %d", n)
	}
	if seen, err := st.S.GatewayLastSeen(ctx, st.GW); err != nil || seen.IsZero() {
		t.Fatalf("gateway last seen %v, %v", seen, err)
	}
	if seen, err := st.S.GatewayLastSeen(ctx, "999"); err != nil || !seen.IsZero() {
		t.Fatalf("unknown gateway last seen %v, %v", seen, err)
	}
}

func testApplyIsAtomic(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the transaction cannot even begin: neither items nor cursor
	items := []syncproto.Item{{Seq: 1, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 1, Value: "1", TS: 1}}
	if err := st.S.Apply(ctx, st.GW, 1, items, 1); err == nil {
		t.Fatal("Apply with a cancelled context succeeded")
	}
	hist, _, err := st.S.History(context.Background(), st.Mine.UID, 1, 0, 10)
	must(t, err)
	if applied, _ := st.S.Applied(context.Background(), st.GW, 1); applied != 0 || len(hist) != 0 {
		t.Fatalf("applied %d, history %d after a failed Apply", applied, len(hist))
	}
}

// testApplyBatchEqualsOneByOne: a large batch (several multi-row history
// chunks, timestamps going backwards and tying, erases between writes)
// leaves exactly what applying its items one at a time leaves.
func testApplyBatchEqualsOneByOne(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	var items []syncproto.Item
	for i := range 700 {
		it := syncproto.Item{Seq: int64(i + 1), Kind: syncproto.KindWrite, Pin: i % 4, Value: fmt.Sprint(i), TS: int64(1000 + i%97)}
		switch {
		case i%131 == 7:
			it.Kind, it.Value = syncproto.KindErase, ""
		case i%50 == 3:
			it.TS = 1000 // ties and goes back in time
		}
		items = append(items, it)
	}
	// Two newest values with the same timestamp: the later one wins.
	items = append(items,
		syncproto.Item{Seq: 701, Kind: syncproto.KindWrite, Pin: 1, Value: "first", TS: 5000},
		syncproto.Item{Seq: 702, Kind: syncproto.KindWrite, Pin: 1, Value: "second", TS: 5000},
		// A value written and erased in the same batch is gone.
		syncproto.Item{Seq: 703, Kind: syncproto.KindWrite, Pin: 2, Value: "x", TS: 6000},
		syncproto.Item{Seq: 704, Kind: syncproto.KindErase, Pin: 2, TS: 6000})
	state := func(st Site) ([]telemetry.PinValue, []telemetry.HistoryPoint) {
		vals, err := st.S.DeviceValues(ctx, st.Mine.UID)
		must(t, err)
		var hist []telemetry.HistoryPoint
		for pin := range 4 {
			h, _, err := st.S.History(ctx, st.Mine.UID, pin, 0, 1000)
			must(t, err)
			hist = append(hist, h...)
		}
		return vals, hist
	}
	withDevice := func(st Site) []syncproto.Item {
		out := slices.Clone(items)
		for i := range out {
			out[i].Device = st.Mine.UID
		}
		return out
	}
	one, batch := NewSite(t, newStore(t)), NewSite(t, newStore(t))
	for _, it := range withDevice(one) {
		must(t, one.S.Apply(ctx, one.GW, 1, []syncproto.Item{it}, it.Seq))
	}
	must(t, batch.S.Apply(ctx, batch.GW, 1, withDevice(batch), int64(len(items))))
	wantVals, wantHist := state(one)
	gotVals, gotHist := state(batch)
	if len(wantHist) != len(items)-7 || len(wantVals) != 3 {
		t.Fatalf("one by one stored %d history points, %d latest values", len(wantHist), len(wantVals))
	}
	if !reflect.DeepEqual(wantVals, gotVals) {
		t.Errorf("latest values: batch %+v, one by one %+v", gotVals, wantVals)
	}
	// Compare history without ids (sequences may differ between stores);
	// the order within a pin (newest id first) must be the same.
	strip := func(h []telemetry.HistoryPoint) []telemetry.HistoryPoint {
		out := slices.Clone(h)
		for i := range out {
			out[i].ID = 0
		}
		return out
	}
	if w, g := strip(wantHist), strip(gotHist); !reflect.DeepEqual(w, g) {
		for i := range min(len(w), len(g)) {
			if w[i] != g[i] {
				t.Errorf("history differs first at %d: batch %+v, one by one %+v", i, g[i], w[i])
				break
			}
		}
		t.Errorf("history: batch %d points, one by one %d", len(g), len(w))
	}
}

// testApplyActivatesAndReports: a device's first report sets activated_at
// once; its newest report is its last_seen. Going offline, erases and what
// came from the cloud (a person's write) are not reports; a device the
// gateway does not serve is untouched.
func testApplyActivatesAndReports(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	st := NewSite(t, newStore(t))
	u, o := st.Mine.UID, st.Other.UID
	tests := []struct {
		name                string
		items               []syncproto.Item
		activated, lastSeen int64 // ms; 0: none
	}{
		{"a person's write from the cloud", []syncproto.Item{
			{Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "1", TS: 900, Source: "cloud"}}, 0, 0},
		{"offline and erase", []syncproto.Item{
			{Kind: syncproto.KindOffline, Device: u, Name: "tcp", TS: 950, Source: "tcp"},
			{Kind: syncproto.KindErase, Device: u, Pin: 1, TS: 960, Source: "tcp"}}, 0, 0},
		{"first connection", []syncproto.Item{
			{Kind: syncproto.KindOnline, Device: u, Name: "tcp", TS: 1000, Source: "tcp"},
			{Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "2", TS: 1001, Source: "tcp"},
			{Kind: syncproto.KindWrite, Device: o, Pin: 1, Value: "2", TS: 1002, Source: "tcp"}}, 1000, 1001},
		{"a report timestamped out of order", []syncproto.Item{
			{Kind: syncproto.KindEvent, Device: u, Name: "hot", TS: 1500, Source: "mqtt"},
			{Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "3", TS: 1400, Source: "mqtt"}}, 1000, 1500},
		{"an older report does not move last_seen back", []syncproto.Item{
			{Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "4", TS: 1200, Source: "http"}}, 1000, 1500},
		{"offline keeps the last report", []syncproto.Item{
			{Kind: syncproto.KindOffline, Device: u, Name: "tcp", TS: 9000, Source: "tcp"}}, 1000, 1500},
		{"reconnecting moves last_seen, not activation", []syncproto.Item{
			{Kind: syncproto.KindOnline, Device: u, Name: "mqtt", TS: 20000, Source: "mqtt"},
			{Kind: syncproto.KindInfo, Device: u, Value: "fw\x002", TS: 20001, Source: "mqtt"}}, 1000, 20001},
	}
	var seq int64
	for _, tt := range tests {
		for i := range tt.items {
			seq++
			tt.items[i].Seq = seq
		}
		must(t, st.S.Apply(ctx, st.GW, 1, tt.items, seq))
		d, err := st.S.GetDeviceByUID(ctx, u)
		must(t, err)
		status, _, err := st.S.DeviceStatus(ctx, u)
		must(t, err)
		if got := ms(d.ActivatedAt); got != tt.activated {
			t.Errorf("%s: activated_at %d, want %d", tt.name, got, tt.activated)
		}
		if got := ms(status.LastSeen); got != tt.lastSeen {
			t.Errorf("%s: last_seen %d, want %d", tt.name, got, tt.lastSeen)
		}
	}
	if d, err := st.S.GetDeviceByUID(ctx, o); err != nil || !d.ActivatedAt.IsZero() {
		t.Errorf("a device the gateway does not serve: activated %v, %v", d.ActivatedAt, err)
	}
}

// Point is one value written at a time (ms).
type Point struct {
	TS  int64
	Val string
}

// ApplyPoints writes points on the site device's pin as the gateway's
// telemetry, in batches of 1,000; seq carries the sequence across calls.
func ApplyPoints(t testing.TB, st Site, pin int, pts []Point, seq *int64) {
	t.Helper()
	ctx := context.Background()
	for len(pts) > 0 {
		n := min(len(pts), 1000)
		items := make([]syncproto.Item, n)
		for i, p := range pts[:n] {
			*seq++
			items[i] = syncproto.Item{Seq: *seq, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: pin, Value: p.Val, TS: p.TS}
		}
		must(t, st.S.Apply(ctx, st.GW, 1, items, *seq))
		pts = pts[n:]
	}
}

// WantBuckets aggregates points in Go, the way Aggregate must in SQL.
func WantBuckets(pts []Point, from, to time.Time, w int64) []telemetry.Bucket {
	lo := telemetry.FloorDiv(from.UnixMilli(), w) * w
	hi := (telemetry.FloorDiv(to.UnixMilli()-1, w) + 1) * w
	type acc struct {
		b      telemetry.Bucket
		sum    float64
		lastTS int64
	}
	m := map[int64]*acc{}
	for _, p := range pts {
		f, ok := telemetry.Number(p.Val)
		if !ok || p.TS < lo || p.TS >= hi {
			continue
		}
		start := telemetry.FloorDiv(p.TS, w) * w
		a := m[start]
		if a == nil {
			a = &acc{b: telemetry.Bucket{Start: time.UnixMilli(start).UTC(), Min: f, Max: f}, lastTS: math.MinInt64}
			m[start] = a
		}
		a.b.Count++
		a.sum += f
		a.b.Min, a.b.Max = min(a.b.Min, f), max(a.b.Max, f)
		if p.TS >= a.lastTS { // later in apply order wins a tie
			a.lastTS, a.b.Last = p.TS, f
		}
	}
	var out []telemetry.Bucket
	for _, a := range m {
		a.b.Avg = a.sum / float64(a.b.Count)
		out = append(out, a.b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// SameBuckets compares buckets, averages within rounding.
func SameBuckets(got, want []telemetry.Bucket) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d buckets, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) || g.Count != w.Count || g.Min != w.Min || g.Max != w.Max || g.Last != w.Last ||
			math.Abs(g.Avg-w.Avg) > 1e-9*math.Max(1, math.Abs(w.Avg)) {
			return fmt.Errorf("bucket %d: %+v, want %+v", i, g, w)
		}
	}
	return nil
}

func testAggregate(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	// Three hours of irregular points with a 40-minute hole, some values
	// not numbers, timestamps not in order, duplicates of one timestamp.
	var pts []Point
	base := T0.UnixMilli()
	for ts := base; ts < base+3*3600_000; ts += int64(500 + rng.IntN(25000)) {
		if ts > base+3600_000 && ts < base+6000_000 {
			continue
		}
		v := strconv.FormatFloat(float64(rng.IntN(2000))/10-50, 'f', -1, 64)
		switch rng.IntN(20) {
		case 0:
			v = "on"
		case 1:
			v = "1\x002" // a multi-value write
		}
		jitter := int64(rng.IntN(3000)) - 1500
		pts = append(pts, Point{ts + jitter, v})
		if rng.IntN(50) == 0 {
			pts = append(pts, Point{ts + jitter, "7"})
		}
	}
	var seq int64
	ApplyPoints(t, st, 1, pts, &seq)
	ApplyPoints(t, st, 2, []Point{{base + 10, "1000"}}, &seq) // another pin stays out

	for _, c := range []struct {
		from, to time.Duration
		max      int
		path     string
	}{
		{0, 3 * time.Hour, 1000, "raw (15s)"},
		{0, 3 * time.Hour, 100, "rollup (2m)"},
		{0, 3 * time.Hour, 3, "rollup (1h)"},
		{17 * time.Minute, 97 * time.Minute, 50, "rollup, unaligned"},
		{17*time.Minute + 3*time.Second, 29 * time.Minute, 1000, "raw, unaligned"},
		{70 * time.Minute, 95 * time.Minute, 10, "inside the hole"},
		{-time.Hour, 0, 10, "before any point"},
	} {
		from, to := T0.Add(c.from), T0.Add(c.to)
		sr, err := st.S.Aggregate(ctx, st.Mine.UID, 1, from, to, c.max)
		must(t, err)
		if sr.Width != telemetry.BucketWidth(from, to, c.max) || sr.From.After(from) || sr.To.Before(to) {
			t.Fatalf("%s: series %v [%v, %v)", c.path, sr.Width, sr.From, sr.To)
		}
		if err := SameBuckets(sr.Buckets, WantBuckets(pts, from, to, sr.Width.Milliseconds())); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if len(sr.Buckets) > c.max {
			t.Fatalf("%s: %d buckets for at most %d", c.path, len(sr.Buckets), c.max)
		}
	}
	// The hole is a gap, not zeros.
	sr, err := st.S.Aggregate(ctx, st.Mine.UID, 1, T0, T0.Add(3*time.Hour), 180)
	must(t, err)
	for _, b := range sr.Buckets {
		if off := b.Start.Sub(T0); off > 61*time.Minute && off < 99*time.Minute {
			t.Fatalf("bucket in the hole: %+v", b)
		}
	}

	for _, c := range []struct {
		from, to time.Time
		max      int
	}{
		{T0, T0, 10}, {T0.Add(time.Hour), T0, 10}, {T0, T0.Add(time.Hour), 0}, {T0, T0.Add(time.Hour), telemetry.MaxBuckets + 1},
	} {
		if _, err := st.S.Aggregate(ctx, st.Mine.UID, 1, c.from, c.to, c.max); err == nil {
			t.Errorf("Aggregate(%v, %v, %d) accepted", c.from, c.to, c.max)
		}
	}
}

func testExportHistory(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	base := T0.UnixMilli()
	var pts []Point
	for i := range 12_003 {
		pts = append(pts, Point{base + int64(i/3), strconv.Itoa(i)}) // three points per ms
	}
	pts = append(pts, Point{base - 1, "before"}, Point{base + 5000, "after"})
	var seq int64
	ApplyPoints(t, st, 4, pts, &seq)
	var got []telemetry.HistoryPoint
	pages := 0
	must(t, st.S.ExportHistory(ctx, st.Mine.UID, 4, T0, T0.Add(4001*time.Millisecond), func(p []telemetry.HistoryPoint) error {
		pages++
		got = append(got, p...)
		return nil
	}))
	if len(got) != 12_003 || pages != 3 {
		t.Fatalf("%d points in %d pages, want 12,003 in 3", len(got), pages)
	}
	for i, p := range got {
		if p.Value != strconv.Itoa(i) || p.TS.UnixMilli() != base+int64(i/3) || p.Pin != 4 {
			t.Fatalf("point %d = %+v", i, p)
		}
	}
	stop := errors.New("client went away")
	err := st.S.ExportHistory(ctx, st.Mine.UID, 4, T0, T0.Add(time.Hour), func([]telemetry.HistoryPoint) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("error %v, want the callback's", err)
	}
}

// testDeviceListTelemetry: the list's status and last reported come from
// what gateways report.
func testDeviceListTelemetry(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	mine := st.Mine
	org := tenancy.Scope{OrgID: mine.OrgID, Subtree: true}
	second := tenancy.Device{OrgID: mine.OrgID, TemplateID: mine.TemplateID, Name: "second", Token: "second", TokenHash: tenancy.HashToken("second")}
	must(t, st.S.CreateDevice(ctx, &second))
	row := func(status tenancy.StatusFilter) (tenancy.DeviceRow, int) {
		t.Helper()
		p, err := st.S.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: org, Status: status, Sort: tenancy.SortStatus, Desc: true})
		must(t, err)
		if len(p.Rows) == 0 {
			return tenancy.DeviceRow{}, p.Total
		}
		return p.Rows[0], p.Total
	}
	var seq int64
	apply := func(items ...syncproto.Item) {
		t.Helper()
		for i := range items {
			seq++
			items[i].Seq, items[i].Device = seq, mine.UID
		}
		must(t, st.S.Apply(ctx, st.GW, 1, items, seq))
	}
	base := T0.UnixMilli()
	if _, n := row(tenancy.OnlyOnline); n != 0 {
		t.Fatalf("%d online before any report", n)
	}
	apply(syncproto.Item{Kind: syncproto.KindOnline, Name: "tcp", TS: base})
	r, n := row(tenancy.OnlyOnline)
	if n != 1 || r.ID != mine.ID || !r.Online || !r.LastReported.Equal(T0) {
		t.Fatalf("after online: %d, %+v", n, r)
	}
	// Every report moves last reported (the Platform API's lastReportedAt).
	apply(syncproto.Item{Kind: syncproto.KindWrite, Pin: 1, Value: "1", TS: base + 30_000})
	if r, _ = row(tenancy.OnlyOnline); !r.LastReported.Equal(T0.Add(30 * time.Second)) {
		t.Fatalf("not moved by 30 s: %v", r.LastReported)
	}
	apply(syncproto.Item{Kind: syncproto.KindWrite, Pin: 1, Value: "text is a report too", TS: base + 90_000})
	if r, _ = row(tenancy.OnlyOnline); !r.LastReported.Equal(T0.Add(90 * time.Second)) {
		t.Fatalf("not moved by 90 s: %v", r.LastReported)
	}
	// Sorted by last reported, the silent device comes first ascending.
	p, err := st.S.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: org, Sort: tenancy.SortLastReported})
	must(t, err)
	if len(p.Rows) != 2 || p.Rows[0].ID != second.ID || p.Rows[1].ID != mine.ID {
		t.Fatalf("by last reported: %+v", p.Rows)
	}
	apply(syncproto.Item{Kind: syncproto.KindOffline, TS: base + 120_000})
	if _, n := row(tenancy.OnlyOnline); n != 0 {
		t.Fatalf("%d online after offline", n)
	}
	if r, n = row(tenancy.OnlyOffline); n != 2 || r.Online || !r.LastReported.Equal(T0.Add(2*time.Minute)) && r.ID == mine.ID {
		t.Fatalf("after offline: %d, %+v", n, r)
	}
}

// testListCountersFollowMoves: the online and template counters behind
// the status and template filters' totals stay equal to a count of the
// rows through device moves, org moves and deletions.
func testListCountersFollowMoves(t *testing.T, newStore func(t *testing.T) Store) {
	s := newStore(t)
	ctx := context.Background()
	mk := func(parent tenancy.OrgID, name string) tenancy.Org {
		o := tenancy.Org{ParentID: parent, Name: name, Type: tenancy.OrgBusiness}
		must(t, s.CreateOrg(ctx, &o))
		return o
	}
	root := mk(0, "root")
	a, b := mk(root.ID, "a"), mk(root.ID, "b")
	a1 := mk(a.ID, "a1")
	must(t, s.CreateTemplate(ctx, tenancy.Template{ID: "T", RootID: root.ID, Def: datastream.Template{ID: "T", Name: "T"}}))
	must(t, s.CreateTemplate(ctx, tenancy.Template{ID: "T2", RootID: root.ID, Def: datastream.Template{ID: "T2", Name: "T2"}}))
	g := tenancy.Gateway{Name: "pi", OrgID: root.ID, ClaimCodeHash: tenancy.HashToken("c"), CredentialHash: tenancy.HashToken("cr")}
	must(t, s.CreateGateway(ctx, &g))
	gw := strconv.FormatInt(int64(g.ID), 10)
	var devs []tenancy.Device
	for i, o := range []tenancy.Org{a, a1, a1, b, root} {
		tmpl := tenancy.TemplateID("T")
		if i%2 == 1 {
			tmpl = "T2"
		}
		d := tenancy.Device{OrgID: o.ID, TemplateID: tmpl, Name: fmt.Sprint("d", i), Token: fmt.Sprint(i), TokenHash: tenancy.HashToken(fmt.Sprint(i))}
		must(t, s.CreateDevice(ctx, &d))
		devs = append(devs, d)
	}
	var seq int64
	setOnline := func(d tenancy.Device, on bool) {
		seq++
		k := syncproto.KindOffline
		if on {
			k = syncproto.KindOnline
		}
		must(t, s.Apply(ctx, gw, 1, []syncproto.Item{{Seq: seq, Kind: k, Device: d.UID, TS: seq}}, seq))
	}
	check := func(step string) {
		t.Helper()
		for _, o := range []tenancy.Org{root, a, a1, b} {
			for _, sub := range []bool{false, true} {
				sc := tenancy.Scope{OrgID: o.ID, Subtree: sub}
				// The truth: every row of the scope, read in one page
				// with a filter the counters cannot answer.
				every, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc, Query: "d", Page: tenancy.Page{Size: 100}})
				must(t, err)
				want, wantT := 0, 0
				for _, r := range every.Rows {
					if r.Online {
						want++
					}
					if r.TemplateID == "T2" {
						wantT++
					}
				}
				p, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc, Status: tenancy.OnlyOnline})
				must(t, err)
				off, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc, Status: tenancy.OnlyOffline})
				must(t, err)
				all, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc})
				must(t, err)
				tp, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc, TemplateID: "T2"})
				must(t, err)
				if tp.Total != wantT || len(tp.Rows) != wantT {
					t.Fatalf("%s: org %s subtree %v: %d of template T2 (%d rows), want %d", step, o.Name, sub, tp.Total, len(tp.Rows), wantT)
				}
				if all.Total != len(every.Rows) || p.Total != want || len(p.Rows) != want || off.Total+p.Total != all.Total {
					t.Fatalf("%s: org %s subtree %v: %d online (%d rows), %d offline of %d (%d rows); want %d online",
						step, o.Name, sub, p.Total, len(p.Rows), off.Total, all.Total, len(every.Rows), want)
				}
			}
		}
	}
	check("none online")
	for _, d := range devs[:4] {
		setOnline(d, true)
	}
	check("four online")
	setOnline(devs[1], false)
	setOnline(devs[2], true) // again: no change
	check("one offline")
	moved := devs[2]
	moved.OrgID = b.ID
	must(t, s.UpdateDevice(ctx, moved))
	check("device moved")
	moved.TemplateID = "T2"
	must(t, s.UpdateDevice(ctx, moved))
	check("template changed")
	must(t, s.MoveOrg(ctx, a.ID, b.ID))
	check("org moved")
	must(t, s.DeleteDevice(ctx, devs[0].ID))
	check("device deleted")
}

func testTimelineOfKind(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	u := st.Mine.UID
	var items []syncproto.Item
	kinds := []syncproto.Kind{syncproto.KindOnline, syncproto.KindEvent, syncproto.KindEvent, syncproto.KindOffline, syncproto.KindClear}
	for i := range 23 {
		it := syncproto.Item{Seq: int64(i + 1), Kind: kinds[i%len(kinds)], Device: u, TS: int64(1000 + i)}
		if it.Kind == syncproto.KindEvent || it.Kind == syncproto.KindClear {
			it.Name, it.Value = fmt.Sprint("code", i), "d"
		}
		items = append(items, it)
	}
	must(t, st.S.Apply(ctx, st.GW, 1, items, 23))
	for _, kind := range []string{"", "event", "online", "offline", "clear", "nothing"} {
		var want []int64
		for i := len(items) - 1; i >= 0; i-- {
			if kind == "" || string(items[i].Kind) == kind {
				want = append(want, items[i].TS)
			}
		}
		var got []int64
		for before, pages := int64(0), 0; pages < 30; pages++ {
			es, next, err := st.S.TimelineOfKind(ctx, u, kind, before, 3)
			must(t, err)
			for _, e := range es {
				if kind != "" && e.Kind != kind {
					t.Fatalf("kind %q page holds %+v", kind, e)
				}
				got = append(got, e.TS.UnixMilli())
			}
			if next == 0 {
				break
			}
			before = next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("kind %q: %v, want %v", kind, got, want)
		}
	}
}

// testEventsResolve: a device's clear resolves the latest open event of
// its code ("all": every one), events the cloud logs are timeline entries
// with their source, and a person resolves one event once, with a comment.
func testEventsResolve(t *testing.T, newStore func(t *testing.T) Store) {
	st := NewSite(t, newStore(t))
	ctx := context.Background()
	u := st.Mine.UID
	ev := func(seq int64, kind syncproto.Kind, code, v string) syncproto.Item {
		return syncproto.Item{Seq: seq, Kind: kind, Device: u, Name: code, Value: v, TS: 1000 + seq, Source: "tcp"}
	}
	must(t, st.S.Apply(ctx, st.GW, 1, []syncproto.Item{
		ev(1, syncproto.KindEvent, "hot", "a"), ev(2, syncproto.KindEvent, "hot", "b"), ev(3, syncproto.KindEvent, "cold", "c"),
		ev(4, syncproto.KindClear, "hot", ""), // resolves b, the latest
		ev(5, syncproto.KindEvent, "leak", "d"), ev(6, syncproto.KindEvent, "leak", "e"),
		ev(7, syncproto.KindClear, "leak", "all"), // resolves d and e
	}, 7))
	open := func(codes ...string) string {
		es, err := st.S.OpenEvents(ctx, u, codes, 10)
		must(t, err)
		var out []string
		for _, e := range es {
			if !e.Open() {
				t.Fatalf("open event %+v is not Open", e)
			}
			out = append(out, e.Description)
		}
		return fmt.Sprint(out)
	}
	if got := open("hot", "cold", "leak"); got != "[c a]" {
		t.Fatalf("open events %s, want [c a]", got)
	}
	if got := open("hot"); got != "[a]" {
		t.Fatalf("open hot events %s, want [a]", got)
	}
	if got := open(); got != "[]" {
		t.Fatalf("open events of no code %s", got)
	}
	all, _, err := st.S.Timeline(ctx, u, 0, 100)
	must(t, err)
	byDesc := map[string]telemetry.TimelineEntry{}
	for _, e := range all {
		if e.Kind == "event" {
			byDesc[e.Description] = e
		}
	}
	for d, want := range map[string]int64{"b": 1004, "d": 1007, "e": 1007} {
		if e := byDesc[d]; e.ResolvedAt.UnixMilli() != want || e.ResolvedBy != "device" || e.Source != "tcp" {
			t.Fatalf("event %s: %+v, want resolved at %d by the device", d, e, want)
		}
	}

	at := T0.Add(time.Minute)
	logged, err := st.S.LogEvent(ctx, u, "hot", "from the cloud", "automation:A1", at)
	must(t, err)
	if logged.ID == 0 || !logged.Open() || logged.Source != "automation:A1" || !logged.TS.Equal(at) {
		t.Fatalf("logged %+v", logged)
	}
	if got := open("hot"); got != "[from the cloud a]" {
		t.Fatalf("open hot events %s after the cloud logged one", got)
	}
	// Not the device reporting: last seen is still its last report.
	if ds, _, err := st.S.DeviceStatus(ctx, u); err != nil || ds.LastSeen.UnixMilli() != 1007 {
		t.Fatalf("status %+v %v after a cloud event: last seen moved", ds, err)
	}
	counts, err := st.S.OpenEventCounts(ctx, []string{u, st.Other.UID}, []string{"hot", "cold", "leak"})
	must(t, err)
	if fmt.Sprint(counts) != fmt.Sprintf("map[%s:map[cold:1 hot:2]]", u) {
		t.Fatalf("open counts %v", counts)
	}

	a := byDesc["a"]
	res, err := st.S.ResolveEvent(ctx, u, a.ID, []string{"hot"}, "user:7", "fixed the boiler", at)
	must(t, err)
	if !res.ResolvedAt.Equal(at) || res.ResolvedBy != "user:7" || res.Comment != "fixed the boiler" || res.Description != "a" {
		t.Fatalf("resolved %+v", res)
	}
	if _, err := st.S.ResolveEvent(ctx, u, a.ID, []string{"hot"}, "user:8", "again", at); !errors.Is(err, telemetry.ErrResolved) {
		t.Fatalf("resolving twice: %v, want ErrResolved", err)
	}
	if _, err := st.S.ResolveEvent(ctx, st.Other.UID, logged.ID, []string{"hot"}, "user:7", "", at); !errors.Is(err, telemetry.ErrNoEvent) {
		t.Fatalf("resolving another device's event: %v, want ErrNoEvent", err)
	}
	clearID := int64(0)
	for _, e := range all {
		if e.Kind == "clear" {
			clearID = e.ID
		}
	}
	if _, err := st.S.ResolveEvent(ctx, u, clearID, []string{"hot"}, "user:7", "", at); !errors.Is(err, telemetry.ErrNoEvent) {
		t.Fatalf("resolving a clear: %v, want ErrNoEvent", err)
	}
	if _, err := st.S.ResolveEvent(ctx, u, byDesc["c"].ID, []string{"hot", "leak"}, "user:7", "", at); !errors.Is(err, telemetry.ErrNoEvent) {
		t.Fatalf("resolving an event of a code not allowed: %v, want ErrNoEvent", err)
	}
	if got := open("hot", "cold"); got != "[from the cloud c]" {
		t.Fatalf("open events %s after resolving a", got)
	}
	all, _, err = st.S.TimelineOfKind(ctx, u, "event", 0, 100)
	must(t, err)
	for _, e := range all {
		if e.ID == a.ID && (e.ResolvedBy != "user:7" || e.Comment != "fixed the boiler") {
			t.Fatalf("timeline shows %+v", e)
		}
	}
}
