package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/cloud/internal/tenancy"
)

var aggT0 = telemetrytest.T0

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
	pts := []telemetrytest.Point{{TS: base, Val: "1"}, {TS: base + 20_000, Val: "3.5"}, {TS: base + 10_000, Val: "-2"},
		{TS: base + 59_999, Val: "x"}, {TS: base + 60_000, Val: "1e3"}, {TS: base + 60_000, Val: "4"}}
	for _, p := range pts {
		_, err = db.ExecContext(ctx, `INSERT INTO device_history (device_uid, pin, value, ts) VALUES ('U', 3, ?, ?)`, p.Val, p.TS)
		must(t, err)
	}
	must(t, db.Close())
	s, err := Open(ctx, path)
	must(t, err)
	defer s.Close()
	for _, span := range []time.Duration{2 * time.Minute, 2 * time.Hour} { // minute and hour rollups
		sr, err := s.Aggregate(ctx, "U", 3, aggT0, aggT0.Add(span), 2)
		must(t, err)
		if err := telemetrytest.SameBuckets(sr.Buckets, telemetrytest.WantBuckets(pts, aggT0, aggT0.Add(span), sr.Width.Milliseconds())); err != nil {
			t.Fatalf("%v: %v", span, err)
		}
	}
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
