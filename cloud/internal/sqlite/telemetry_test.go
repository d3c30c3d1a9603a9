package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// site is a claimed gateway in org A with one device, and a device of
// another root org it does not serve.
type site struct {
	s           *Store
	gw          string
	mine, other tenancy.Device
}

func newSite(t *testing.T) site {
	t.Helper()
	s := newTestStore(t)
	t.Cleanup(func() { s.Close() })
	return newSiteIn(t, s)
}

func newSiteIn(t testing.TB, s *Store) site {
	t.Helper()
	ctx := context.Background()
	mk := func(name string) tenancy.Org {
		o := tenancy.Org{Name: name, Type: tenancy.OrgRoot}
		if err := s.CreateOrg(ctx, &o); err != nil {
			t.Fatal(err)
		}
		tm := tenancy.Template{ID: tenancy.TemplateID("TMPL" + name), RootID: o.ID,
			Def: datastream.Template{ID: "TMPL" + name, Name: "T", Datastreams: []datastream.Datastream{{Pin: 1, Name: "t", Type: datastream.Double}}}}
		if err := s.CreateTemplate(ctx, tm); err != nil {
			t.Fatal(err)
		}
		return o
	}
	a, b := mk("A"), mk("B")
	dev := func(o tenancy.Org, name string) tenancy.Device {
		d := tenancy.Device{OrgID: o.ID, TemplateID: tenancy.TemplateID("TMPL" + o.Name), Name: name, Token: name,
			TokenHash: tenancy.HashToken(name)}
		if err := s.CreateDevice(ctx, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	g := tenancy.Gateway{Name: "pi", OrgID: a.ID, ClaimCodeHash: tenancy.HashToken("code"), CredentialHash: tenancy.HashToken("cred")}
	if err := s.CreateGateway(ctx, &g); err != nil {
		t.Fatal(err)
	}
	return site{s: s, gw: "1", mine: dev(a, "mine"), other: dev(b, "other")}
}

func TestDeviceUIDsAreAssignedAndBackfilled(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cloud.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	o := tenancy.Org{Name: "R", Type: tenancy.OrgRoot}
	must(t, s.CreateOrg(ctx, &o))
	must(t, s.CreateTemplate(ctx, tenancy.Template{ID: "T", RootID: o.ID, Def: datastream.Template{ID: "T", Name: "T"}}))
	d := tenancy.Device{OrgID: o.ID, TemplateID: "T", Name: "d", Token: "x", TokenHash: tenancy.HashToken("x")}
	must(t, s.CreateDevice(ctx, &d))
	if len(d.UID) != 26 {
		t.Fatalf("UID %q, want a 26-character ULID", d.UID)
	}
	got, err := s.GetDevice(ctx, d.ID)
	must(t, err)
	if got.UID != d.UID {
		t.Fatalf("UID round trip: %q, want %q", got.UID, d.UID)
	}
	// A row from before the migration (uid NULL) gets one on the next open.
	_, err = s.db.ExecContext(ctx, `UPDATE devices SET uid = NULL WHERE id = ?`, int64(d.ID))
	must(t, err)
	s.Close()
	s, err = Open(ctx, path)
	must(t, err)
	defer s.Close()
	got, err = s.GetDevice(ctx, d.ID)
	must(t, err)
	if len(got.UID) != 26 {
		t.Fatalf("backfilled UID %q", got.UID)
	}
}

func TestGatewayCredentialLookup(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	g, err := st.s.GetGatewayByCredentialHash(ctx, tenancy.HashToken("cred"))
	must(t, err)
	if g.CredentialHash != tenancy.HashToken("cred") {
		t.Fatal("credential hash not round-tripped")
	}
	g.CredentialHash = [32]byte{}
	must(t, st.s.UpdateGateway(ctx, g))
	for _, h := range [][32]byte{tenancy.HashToken("cred"), {}} {
		if _, err := st.s.GetGatewayByCredentialHash(ctx, h); tenancy.CodeOf(err) != tenancy.NotFound {
			t.Fatalf("revoked credential: err %v, want NotFound", err)
		}
	}
}

func TestApplyIsIdempotentAndScoped(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	u, o := st.mine.UID, st.other.UID
	batch := []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: u, Name: "tcp", TS: 1000},
		{Seq: 2, Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "20.5", TS: 1001},
		{Seq: 3, Kind: syncproto.KindWrite, Device: o, Pin: 1, Value: "99", TS: 1002}, // not served: ignored
		{Seq: 5, Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "21", TS: 1003},
		{Seq: 6, Kind: syncproto.KindEvent, Device: u, Name: "overheat", Value: "hot", TS: 1004},
		{Seq: 7, Kind: syncproto.KindInfo, Device: u, Value: "fw\x001.2\x00build\x00x", TS: 1005},
	}
	for range 2 { // the second time is a replay
		must(t, st.s.Apply(ctx, st.gw, 7, batch, 7))
	}
	// A stale batch below the cursor after a newer one changes nothing either.
	must(t, st.s.Apply(ctx, st.gw, 7, batch[:2], 2))
	applied, err := st.s.Applied(ctx, st.gw, 7)
	must(t, err)
	if applied != 7 {
		t.Fatalf("applied %d, want 7", applied)
	}
	if n, _ := st.s.Applied(ctx, st.gw, 8); n != 0 {
		t.Fatalf("another epoch starts at 0, got %d", n)
	}
	vals, err := st.s.DeviceValues(ctx, u)
	must(t, err)
	if diff := cmp.Diff([]PinValue{{Pin: 1, Value: "21", TS: fromMS(1003)}}, vals); diff != "" {
		t.Fatal(diff)
	}
	hist, next, err := st.s.History(ctx, u, 1, 0, 1)
	must(t, err)
	if len(hist) != 1 || hist[0].Value != "21" || next == 0 {
		t.Fatalf("first history page %+v next %d", hist, next)
	}
	hist, next, err = st.s.History(ctx, u, 1, next, 10)
	must(t, err)
	if len(hist) != 1 || hist[0].Value != "20.5" || next != 0 {
		t.Fatalf("second history page %+v next %d (a replay doubled history?)", hist, next)
	}
	if other, _ := st.s.DeviceValues(ctx, o); len(other) != 0 {
		t.Fatalf("a device the gateway does not serve got values: %v", other)
	}
	status, ok, err := st.s.DeviceStatus(ctx, u)
	must(t, err)
	if !ok || !status.Online || status.Transport != "tcp" || status.Info["fw"] != "1.2" {
		t.Fatalf("status %+v", status)
	}
	tl, _, err := st.s.Timeline(ctx, u, 0, 10)
	must(t, err)
	if len(tl) != 2 || tl[0].Code != "overheat" || tl[1].Kind != "online" {
		t.Fatalf("timeline %+v", tl)
	}
	if n, _ := st.s.DevicesOnline(ctx, st.gw); n != 1 {
		t.Fatalf("devices online %d", n)
	}
}

func TestApplyIsAtomic(t *testing.T) {
	st := newSite(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the transaction cannot even begin: neither items nor cursor
	items := []syncproto.Item{{Seq: 1, Kind: syncproto.KindWrite, Device: st.mine.UID, Pin: 1, Value: "1", TS: 1}}
	if err := st.s.Apply(ctx, st.gw, 1, items, 1); err == nil {
		t.Fatal("Apply with a cancelled context succeeded")
	}
	var n int
	must(t, st.s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM device_history`).Scan(&n))
	if applied, _ := st.s.Applied(context.Background(), st.gw, 1); applied != 0 || n != 0 {
		t.Fatalf("applied %d, history %d after a failed Apply", applied, n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestApplyBatchEqualsOneByOne: a large batch (several multi-row history
// chunks, timestamps going backwards and tying, erases between writes)
// leaves exactly what applying its items one at a time leaves.
func TestApplyBatchEqualsOneByOne(t *testing.T) {
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
	state := func(st site) ([]PinValue, []HistoryPoint) {
		vals, err := st.s.DeviceValues(ctx, st.mine.UID)
		must(t, err)
		var hist []HistoryPoint
		for pin := range 4 {
			h, _, err := st.s.History(ctx, st.mine.UID, pin, 0, 1000)
			must(t, err)
			hist = append(hist, h...)
		}
		return vals, hist
	}
	withDevice := func(st site) []syncproto.Item {
		out := slices.Clone(items)
		for i := range out {
			out[i].Device = st.mine.UID
		}
		return out
	}
	one, batch := newSite(t), newSite(t)
	for _, it := range withDevice(one) {
		must(t, one.s.Apply(ctx, one.gw, 1, []syncproto.Item{it}, it.Seq))
	}
	must(t, batch.s.Apply(ctx, batch.gw, 1, withDevice(batch), int64(len(items))))
	wantVals, wantHist := state(one)
	gotVals, gotHist := state(batch)
	if len(wantHist) != len(items)-7 || len(wantVals) != 3 {
		t.Fatalf("one by one stored %d history points, %d latest values", len(wantHist), len(wantVals))
	}
	if d := cmp.Diff(wantVals, gotVals); d != "" {
		t.Errorf("latest values (-one by one +batch):\n%s", d)
	}
	// IDs differ between the databases only if the order did.
	if d := cmp.Diff(wantHist, gotHist); d != "" {
		t.Errorf("history (-one by one +batch):\n%s", d)
	}
}

// TestApplyActivatesAndReports: a device's first report sets activated_at
// once; its newest report is its last_seen. Going offline, erases and what
// came from the cloud (a person's write) are not reports; a device the
// gateway does not serve is untouched.
func TestApplyActivatesAndReports(t *testing.T) {
	ctx := context.Background()
	st := newSite(t)
	u, o := st.mine.UID, st.other.UID
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
		must(t, st.s.Apply(ctx, st.gw, 1, tt.items, seq))
		d, err := st.s.GetDeviceByUID(ctx, u)
		must(t, err)
		status, _, err := st.s.DeviceStatus(ctx, u)
		must(t, err)
		if got := ms(d.ActivatedAt); got != tt.activated {
			t.Errorf("%s: activated_at %d, want %d", tt.name, got, tt.activated)
		}
		if got := ms(status.LastSeen); got != tt.lastSeen {
			t.Errorf("%s: last_seen %d, want %d", tt.name, got, tt.lastSeen)
		}
	}
	if d, err := st.s.GetDeviceByUID(ctx, o); err != nil || !d.ActivatedAt.IsZero() {
		t.Errorf("a device the gateway does not serve: activated %v, %v", d.ActivatedAt, err)
	}
}
