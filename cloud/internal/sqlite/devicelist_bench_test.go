package sqlite

import (
	"context"
	"fmt"
	"testing"

	"outpost/cloud/internal/tenancy"
)

// enrichForList gives the 100k fixture what the console's list filters on:
// a second template on every 10th device, every other device online (as
// gateways report it, through device_status), two tags on every 100th,
// and uids for the telemetry join.
func enrichForList(b *testing.B, f *benchFixture) (tmpl tenancy.TemplateID, tag tenancy.TagID) {
	b.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO templates (id, root_id, def, created_at, updated_at) VALUES ('TMPLOTHER', 1, '{"id":"TMPLOTHER","name":"Another","datastreams":[]}', 0, 0)`,
		`UPDATE devices SET uid = printf('U%025d', id) WHERE uid IS NULL`,
		`UPDATE devices SET template_id = 'TMPLOTHER' WHERE id % 10 = 3`,
		`INSERT INTO device_status (device_uid, gateway_id, online, last_seen) SELECT uid, '1', id % 2, 1764000000000 + id * 1000 FROM devices`,
		`INSERT INTO tags (id, org_id, name) VALUES (1, 1, 'roof'), (2, 1, 'cellar')`,
		`INSERT INTO device_tags (device_id, tag_id) SELECT id, 1 FROM devices WHERE id % 100 = 7`,
		`INSERT INTO device_tags (device_id, tag_id) SELECT id, 2 FROM devices WHERE id % 200 = 7`,
		`ANALYZE`,
	} {
		if _, err := f.store.db.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	return "TMPLOTHER", 1
}

// BenchmarkDeviceList100k measures the console's device list (first page
// of 50, through the Service) on the 1,111-org, 100,000-device fixture.
func BenchmarkDeviceList100k(b *testing.B) {
	f := buildBenchFixture(b)
	tmpl, tag := enrichForList(b, f)
	ctx := context.Background()
	level2 := tenancy.Actor{UserID: 1, OrgID: f.level2[3], RoleID: tenancy.RoleAdmin}
	q := func(mod func(*tenancy.DeviceListQuery)) tenancy.DeviceListQuery {
		l := tenancy.DeviceListQuery{DeviceQuery: tenancy.DeviceQuery{IncludeSub: true, Page: tenancy.Page{Size: 50}}}
		if mod != nil {
			mod(&l)
		}
		return l
	}
	cases := []struct {
		name  string
		a     tenancy.Actor
		q     tenancy.DeviceListQuery
		total int
	}{
		{"RootAdmin/Unfiltered", f.rootAdmin, q(nil), 100_000},
		{"RootAdmin/SortStatus", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Sort, l.Desc = tenancy.SortStatus, true }), 100_000},
		{"RootAdmin/SortLastReportedDesc", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Sort, l.Desc = tenancy.SortLastReported, true }), 100_000},
		{"RootAdmin/SortTemplate", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Sort = tenancy.SortTemplate }), 100_000},
		{"RootAdmin/SortOrg", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Sort = tenancy.SortOrg }), 100_000},
		{"RootAdmin/SortOwnerDesc", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Sort, l.Desc = tenancy.SortOwner, true }), 100_000},
		{"RootAdmin/Online", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Status = tenancy.OnlyOnline }), 50_000},
		{"RootAdmin/Offline", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Status = tenancy.OnlyOffline }), 50_000},
		{"RootAdmin/Template", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.TemplateID = tmpl }), 10_000},
		{"RootAdmin/Search", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Query = "device 4242" }), 11},
		{"RootAdmin/Tag", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Tags = []tenancy.TagID{tag} }), 1_000},
		{"RootAdmin/TwoTagsAll", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Tags, l.AllTags = []tenancy.TagID{1, 2}, true }), 500},
		{"RootAdmin/OnlineTemplate", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Status, l.TemplateID = tenancy.OnlyOnline, tmpl }), 10_000},
		{"Level2Admin/Unfiltered", level2, q(nil), 10_000},
		{"Level2Admin/Online", level2, q(func(l *tenancy.DeviceListQuery) { l.Status = tenancy.OnlyOnline }), 5_000},
		{"Level2Admin/SortLastReportedDesc", level2, q(func(l *tenancy.DeviceListQuery) { l.Sort, l.Desc = tenancy.SortLastReported, true }), 10_000},
		{"LeafStaff/Unfiltered", f.leafStaff, q(nil), 100},
		{"LeafStaff/Offline", f.leafStaff, q(func(l *tenancy.DeviceListQuery) { l.Status = tenancy.OnlyOffline }), 100},
		{"LeafUserOwn/Unfiltered", f.leafUs, q(nil), 10},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			timed(b, func() error {
				p, err := f.svc.DeviceList(ctx, c.a, c.q)
				if err == nil && (p.Total != c.total || len(p.Rows) != min(c.total, 50)) {
					err = fmt.Errorf("got %d rows of %d, want %d", len(p.Rows), p.Total, c.total)
				}
				return err
			})
		})
	}
	// The next page: no count, the cursor's total.
	b.Run("RootAdmin/Page2", func(b *testing.B) {
		p, err := f.svc.DeviceList(ctx, f.rootAdmin, q(nil))
		if err != nil {
			b.Fatal(err)
		}
		next := q(func(l *tenancy.DeviceListQuery) { l.Cursor = p.Next })
		timed(b, func() error {
			_, err := f.svc.DeviceList(ctx, f.rootAdmin, next)
			return err
		})
	})
	b.Run("RootAdmin/OnlinePage2", func(b *testing.B) {
		first := q(func(l *tenancy.DeviceListQuery) { l.Status = tenancy.OnlyOnline })
		p, err := f.svc.DeviceList(ctx, f.rootAdmin, first)
		if err != nil {
			b.Fatal(err)
		}
		first.Cursor = p.Next
		timed(b, func() error {
			_, err := f.svc.DeviceList(ctx, f.rootAdmin, first)
			return err
		})
	})
}
