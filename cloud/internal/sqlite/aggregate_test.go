package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

var aggT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestBucketWidth(t *testing.T) {
	for _, c := range []struct {
		span time.Duration
		max  int
		want time.Duration
	}{
		{time.Hour, 1000, 5 * time.Second}, // 720 buckets
		{time.Hour, 3600, time.Second},     // exactly 3,600
		{time.Hour, 60, time.Minute},       // exactly 60, aligned
		{6 * time.Hour, 1000, 30 * time.Second},
		{24 * time.Hour, 1000, 2 * time.Minute},
		{7 * 24 * time.Hour, 1000, 15 * time.Minute},
		{30 * 24 * time.Hour, 1000, time.Hour}, // 720 buckets
		{90 * 24 * time.Hour, 1000, 3 * time.Hour},
		{3 * 365 * 24 * time.Hour, 1000, 2 * 24 * time.Hour},
		{100 * 365 * 24 * time.Hour, 10, 4 * 365 * 24 * time.Hour / (30 * 24) * 30 * 24}, // a multiple of 30 days
	} {
		got := BucketWidth(aggT0, aggT0.Add(c.span), c.max)
		if c.span < 50*365*24*time.Hour && got != c.want {
			t.Errorf("%v in %d: width %v, want %v", c.span, c.max, got, c.want)
		}
		f, to := aggT0.UnixMilli(), aggT0.Add(c.span).UnixMilli()
		w := got.Milliseconds()
		if n := floorDiv(to-1, w) - floorDiv(f, w) + 1; n > int64(c.max) {
			t.Errorf("%v in %d: %d buckets of %v", c.span, c.max, n, got)
		}
	}
	// An unaligned start may need the next width.
	if got := BucketWidth(aggT0.Add(30*time.Second), aggT0.Add(time.Hour+30*time.Second), 60); got != 2*time.Minute {
		t.Errorf("unaligned hour in 60: %v, want 2m (61 one-minute buckets)", got)
	}
}

type point struct {
	ts  int64
	val string
}

// applyPoints writes points as one gateway's telemetry, in batches.
func applyPoints(t testing.TB, st site, pin int, pts []point, seq *int64) {
	t.Helper()
	ctx := context.Background()
	for len(pts) > 0 {
		n := min(len(pts), 1000)
		items := make([]syncproto.Item, n)
		for i, p := range pts[:n] {
			*seq++
			items[i] = syncproto.Item{Seq: *seq, Kind: syncproto.KindWrite, Device: st.mine.UID, Pin: pin, Value: p.val, TS: p.ts}
		}
		if err := st.s.Apply(ctx, st.gw, 1, items, *seq); err != nil {
			t.Fatal(err)
		}
		pts = pts[n:]
	}
}

// wantBuckets aggregates points in Go, the way Aggregate must in SQL.
func wantBuckets(pts []point, from, to time.Time, w int64) []Bucket {
	lo := floorDiv(from.UnixMilli(), w) * w
	hi := (floorDiv(to.UnixMilli()-1, w) + 1) * w
	type acc struct {
		b      Bucket
		sum    float64
		lastTS int64
	}
	m := map[int64]*acc{}
	for _, p := range pts {
		f, ok := number(p.val)
		if !ok || p.ts < lo || p.ts >= hi {
			continue
		}
		start := floorDiv(p.ts, w) * w
		a := m[start]
		if a == nil {
			a = &acc{b: Bucket{Start: time.UnixMilli(start).UTC(), Min: f, Max: f}, lastTS: math.MinInt64}
			m[start] = a
		}
		a.b.Count++
		a.sum += f
		a.b.Min, a.b.Max = min(a.b.Min, f), max(a.b.Max, f)
		if p.ts >= a.lastTS { // later in apply order wins a tie
			a.lastTS, a.b.Last = p.ts, f
		}
	}
	var out []Bucket
	for _, a := range m {
		a.b.Avg = a.sum / float64(a.b.Count)
		out = append(out, a.b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func sameBuckets(got, want []Bucket) error {
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

func TestAggregate(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	// Three hours of irregular points with a 40-minute hole, some values
	// not numbers, timestamps not in order, duplicates of one timestamp.
	var pts []point
	base := aggT0.UnixMilli()
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
		pts = append(pts, point{ts + jitter, v})
		if rng.IntN(50) == 0 {
			pts = append(pts, point{ts + jitter, "7"})
		}
	}
	var seq int64
	applyPoints(t, st, 1, pts, &seq)
	applyPoints(t, st, 2, []point{{base + 10, "1000"}}, &seq) // another pin stays out

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
		from, to := aggT0.Add(c.from), aggT0.Add(c.to)
		sr, err := st.s.Aggregate(ctx, st.mine.UID, 1, from, to, c.max)
		must(t, err)
		if sr.Width != BucketWidth(from, to, c.max) || sr.From.After(from) || sr.To.Before(to) {
			t.Fatalf("%s: series %v [%v, %v)", c.path, sr.Width, sr.From, sr.To)
		}
		if err := sameBuckets(sr.Buckets, wantBuckets(pts, from, to, sr.Width.Milliseconds())); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if len(sr.Buckets) > c.max {
			t.Fatalf("%s: %d buckets for at most %d", c.path, len(sr.Buckets), c.max)
		}
	}
	// The hole is a gap, not zeros.
	sr, err := st.s.Aggregate(ctx, st.mine.UID, 1, aggT0, aggT0.Add(3*time.Hour), 180)
	must(t, err)
	for _, b := range sr.Buckets {
		if off := b.Start.Sub(aggT0); off > 61*time.Minute && off < 99*time.Minute {
			t.Fatalf("bucket in the hole: %+v", b)
		}
	}

	for _, c := range []struct {
		from, to time.Time
		max      int
	}{
		{aggT0, aggT0, 10}, {aggT0.Add(time.Hour), aggT0, 10}, {aggT0, aggT0.Add(time.Hour), 0}, {aggT0, aggT0.Add(time.Hour), MaxBuckets + 1},
	} {
		if _, err := st.s.Aggregate(ctx, st.mine.UID, 1, c.from, c.to, c.max); err == nil {
			t.Errorf("Aggregate(%v, %v, %d) accepted", c.from, c.to, c.max)
		}
	}
}

func TestExportHistory(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	base := aggT0.UnixMilli()
	var pts []point
	for i := range 12_003 {
		pts = append(pts, point{base + int64(i/3), strconv.Itoa(i)}) // three points per ms
	}
	pts = append(pts, point{base - 1, "before"}, point{base + 5000, "after"})
	var seq int64
	applyPoints(t, st, 4, pts, &seq)
	var got []HistoryPoint
	pages := 0
	must(t, st.s.ExportHistory(ctx, st.mine.UID, 4, aggT0, aggT0.Add(4001*time.Millisecond), func(p []HistoryPoint) error {
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
	err := st.s.ExportHistory(ctx, st.mine.UID, 4, aggT0, aggT0.Add(time.Hour), func([]HistoryPoint) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("error %v, want the callback's", err)
	}
}

// TestDeviceListTelemetry: the list's status and last reported come from
// what gateways report.
func TestDeviceListTelemetry(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	mine := st.mine
	org := tenancy.Scope{OrgID: mine.OrgID, Subtree: true}
	second := tenancy.Device{OrgID: mine.OrgID, TemplateID: mine.TemplateID, Name: "second", Token: "second", TokenHash: tenancy.HashToken("second")}
	must(t, st.s.CreateDevice(ctx, &second))
	row := func(status tenancy.StatusFilter) (tenancy.DeviceRow, int) {
		t.Helper()
		p, err := st.s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: org, Status: status, Sort: tenancy.SortStatus, Desc: true})
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
		must(t, st.s.Apply(ctx, st.gw, 1, items, seq))
	}
	base := aggT0.UnixMilli()
	if _, n := row(tenancy.OnlyOnline); n != 0 {
		t.Fatalf("%d online before any report", n)
	}
	apply(syncproto.Item{Kind: syncproto.KindOnline, Name: "tcp", TS: base})
	r, n := row(tenancy.OnlyOnline)
	if n != 1 || r.ID != mine.ID || !r.Online || !r.LastReported.Equal(aggT0) {
		t.Fatalf("after online: %d, %+v", n, r)
	}
	// Every report moves last reported (the Platform API's lastReportedAt).
	apply(syncproto.Item{Kind: syncproto.KindWrite, Pin: 1, Value: "1", TS: base + 30_000})
	if r, _ = row(tenancy.OnlyOnline); !r.LastReported.Equal(aggT0.Add(30 * time.Second)) {
		t.Fatalf("not moved by 30 s: %v", r.LastReported)
	}
	apply(syncproto.Item{Kind: syncproto.KindWrite, Pin: 1, Value: "text is a report too", TS: base + 90_000})
	if r, _ = row(tenancy.OnlyOnline); !r.LastReported.Equal(aggT0.Add(90 * time.Second)) {
		t.Fatalf("not moved by 90 s: %v", r.LastReported)
	}
	// Sorted by last reported, the silent device comes first ascending.
	p, err := st.s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: org, Sort: tenancy.SortLastReported})
	must(t, err)
	if len(p.Rows) != 2 || p.Rows[0].ID != second.ID || p.Rows[1].ID != mine.ID {
		t.Fatalf("by last reported: %+v", p.Rows)
	}
	apply(syncproto.Item{Kind: syncproto.KindOffline, TS: base + 120_000})
	if _, n := row(tenancy.OnlyOnline); n != 0 {
		t.Fatalf("%d online after offline", n)
	}
	if r, n = row(tenancy.OnlyOffline); n != 2 || r.Online || !r.LastReported.Equal(aggT0.Add(2*time.Minute)) && r.ID == mine.ID {
		t.Fatalf("after offline: %d, %+v", n, r)
	}
}

// TestMigrationBackfillsRollups: history stored before migration 0005
// gets its numbers and per-minute rollups.
func TestMigrationBackfillsRollups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cloud.db")
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	names, err := fs.Glob(migrations, "migrations/*.sql")
	must(t, err)
	for _, name := range names[:3] {
		body, err := migrations.ReadFile(name)
		must(t, err)
		_, err = db.ExecContext(ctx, string(body))
		must(t, err)
	}
	_, err = db.ExecContext(ctx, `PRAGMA user_version = 4`)
	must(t, err)
	base := aggT0.UnixMilli()
	pts := []point{{base, "1"}, {base + 20_000, "3.5"}, {base + 10_000, "-2"}, {base + 59_999, "x"}, {base + 60_000, "1e3"}, {base + 60_000, "4"}}
	for _, p := range pts {
		_, err = db.ExecContext(ctx, `INSERT INTO device_history (device_uid, pin, value, ts) VALUES ('U', 3, ?, ?)`, p.val, p.ts)
		must(t, err)
	}
	must(t, db.Close())
	s, err := Open(ctx, path)
	must(t, err)
	defer s.Close()
	for _, span := range []time.Duration{2 * time.Minute, 2 * time.Hour} { // minute and hour rollups
		sr, err := s.Aggregate(ctx, "U", 3, aggT0, aggT0.Add(span), 2)
		must(t, err)
		if err := sameBuckets(sr.Buckets, wantBuckets(pts, aggT0, aggT0.Add(span), sr.Width.Milliseconds())); err != nil {
			t.Fatalf("%v: %v", span, err)
		}
	}
}

// TestListCountersFollowMoves: the online and template counters behind
// the status and template filters' totals stay equal to a count of the rows through device moves,
// org moves and deletions.
func TestListCountersFollowMoves(t *testing.T) {
	s := newTestStore(t)
	t.Cleanup(func() { s.Close() })
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
		must(t, s.Apply(ctx, "1", 1, []syncproto.Item{{Seq: seq, Kind: k, Device: d.UID, TS: seq}}, seq))
	}
	check := func(step string) {
		t.Helper()
		for _, o := range []tenancy.Org{root, a, a1, b} {
			for _, sub := range []bool{false, true} {
				sc := tenancy.Scope{OrgID: o.ID, Subtree: sub}
				cond, args := scopeSQL(sc, "org_id")
				want, err := s.count(ctx, "", `SELECT count(*) FROM devices WHERE online = 1 AND `+cond, args...)
				must(t, err)
				p, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc, Status: tenancy.OnlyOnline})
				must(t, err)
				off, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc, Status: tenancy.OnlyOffline})
				must(t, err)
				all, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc})
				must(t, err)
				wantT, err := s.count(ctx, "", `SELECT count(*) FROM devices WHERE template_id = 'T2' AND `+cond, args...)
				must(t, err)
				tp, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: sc, TemplateID: "T2"})
				must(t, err)
				if tp.Total != wantT || len(tp.Rows) != wantT {
					t.Fatalf("%s: org %s subtree %v: %d of template T2 (%d rows), want %d", step, o.Name, sub, tp.Total, len(tp.Rows), wantT)
				}
				if p.Total != want || len(p.Rows) != want || off.Total+p.Total != all.Total {
					t.Fatalf("%s: org %s subtree %v: %d online (%d rows), %d offline of %d; want %d online",
						step, o.Name, sub, p.Total, len(p.Rows), off.Total, all.Total, want)
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

// TestMigrationBackfillsDeviceList: devices stored before migration 0005
// get the list's columns, counters and search index.
func TestMigrationBackfillsDeviceList(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cloud.db")
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	names, err := fs.Glob(migrations, "migrations/*.sql")
	must(t, err)
	for _, name := range names[:3] {
		body, err := migrations.ReadFile(name)
		must(t, err)
		_, err = db.ExecContext(ctx, string(body))
		must(t, err)
	}
	for _, q := range []string{
		`PRAGMA user_version = 4`,
		`INSERT INTO orgs (id, parent_id, root_id, depth, name, type, created_at, updated_at) VALUES (1, NULL, 1, 1, 'Root', 'ROOT', 0, 0), (2, 1, 1, 2, 'Client', 'BUSINESS', 0, 0)`,
		`INSERT INTO org_closure (ancestor, descendant, depth) VALUES (1, 1, 0), (2, 2, 0), (1, 2, 1)`,
		`INSERT INTO org_device_counts (org_id) VALUES (1), (2)`, // the insert trigger counts
		`INSERT INTO templates (id, root_id, def, created_at, updated_at) VALUES ('T', 1, '{"id":"T","name":"Heater"}', 0, 0)`,
		`INSERT INTO users (id, org_id, role_id, email, name, type, status, created_at, updated_at) VALUES (1, 2, 3, 'o@x.test', '', 'end-user', 'active', 0, 0)`,
		`INSERT INTO devices (id, org_id, owner_id, template_id, name, token_hash, created_at, updated_at, uid) VALUES
			(1, 1, NULL, 'T', 'Boiler room', x'01', 0, 0, 'U1'), (2, 2, 1, 'T', 'Pool pump', x'02', 0, 0, 'U2'), (3, 2, NULL, 'T', 'Roof', x'03', 0, 0, 'U3')`,
		`INSERT INTO device_status (device_uid, gateway_id, online, last_seen) VALUES ('U2', '1', 1, 5000), ('U3', '1', 0, 7000)`,
	} {
		_, err = db.ExecContext(ctx, q)
		must(t, err)
	}
	must(t, db.Close())
	s, err := Open(ctx, path)
	must(t, err)
	defer s.Close()
	root := tenancy.Scope{OrgID: 1, Subtree: true}
	p, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: root, Sort: tenancy.SortLastReported, Desc: true})
	must(t, err)
	want := "3:Roof/Client/Heater//loc0 2:Pool pump/Client/Heater/o@x.test/loc0 1:Boiler room/Root/Heater//loc0 "
	var got string
	for _, r := range p.Rows {
		got += fmt.Sprintf("%d:%s/%s/%s/%s/loc%d ", r.ID, r.Name, r.OrgName, r.TemplateName, r.OwnerName, r.LocationID)
	}
	if got != want || p.Total != 3 || !p.Rows[1].Online || p.Rows[0].LastReported.UnixMilli() != 7000 {
		t.Fatalf("rows %s (total %d), want %s", got, p.Total, want)
	}
	for _, c := range []struct {
		f    tenancy.DeviceFilter
		want int
	}{
		{tenancy.DeviceFilter{Scope: root, Status: tenancy.OnlyOnline}, 1},
		{tenancy.DeviceFilter{Scope: root, Status: tenancy.OnlyOffline}, 2},
		{tenancy.DeviceFilter{Scope: root, TemplateID: "T"}, 3},
		{tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: 2, Subtree: true}, TemplateID: "T"}, 2},
		{tenancy.DeviceFilter{Scope: root, Query: "pump"}, 1},
		{tenancy.DeviceFilter{Scope: root, Query: "MP"}, 1}, // too short for the trigram index
	} {
		p, err := s.ListDeviceRows(ctx, c.f)
		must(t, err)
		if p.Total != c.want || len(p.Rows) != c.want {
			t.Errorf("%+v: %d (%d rows), want %d", c.f, p.Total, len(p.Rows), c.want)
		}
	}
}

func TestTimelineOfKind(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	u := st.mine.UID
	var items []syncproto.Item
	kinds := []syncproto.Kind{syncproto.KindOnline, syncproto.KindEvent, syncproto.KindEvent, syncproto.KindOffline, syncproto.KindClear}
	for i := range 23 {
		it := syncproto.Item{Seq: int64(i + 1), Kind: kinds[i%len(kinds)], Device: u, TS: int64(1000 + i)}
		if it.Kind == syncproto.KindEvent || it.Kind == syncproto.KindClear {
			it.Name, it.Value = fmt.Sprint("code", i), "d"
		}
		items = append(items, it)
	}
	must(t, st.s.Apply(ctx, st.gw, 1, items, 23))
	for _, kind := range []string{"", "event", "online", "offline", "clear", "nothing"} {
		var want []int64
		for i := len(items) - 1; i >= 0; i-- {
			if kind == "" || string(items[i].Kind) == kind {
				want = append(want, items[i].TS)
			}
		}
		var got []int64
		for before, pages := int64(0), 0; pages < 30; pages++ {
			es, next, err := st.s.TimelineOfKind(ctx, u, kind, before, 3)
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
