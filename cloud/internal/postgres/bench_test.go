package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/internal/proccpu"
	"outpost/shared/syncproto"
)

// The benchmarks mirror the SQLite store's (cloud/internal/sqlite): the
// same 1,111-org, 100,000-device fixture and the same cases, so that the
// figures compare side by side.

type nopHasher struct{}

func (nopHasher) Hash(p string) (string, error) { return p, nil }
func (nopHasher) Verify(string, string) error   { return nil }

type benchFixture struct {
	store                        *Store
	svc                          *tenancy.Service
	rootAdmin, leafStaff, leafUs tenancy.Actor
	level2                       tenancy.OrgID
}

// buildBenchFixture writes 1,111 orgs (1/10/100/1,000 per level) and
// 100,000 devices (device i in leaf i mod 1,000), enriched for the
// console's list: a second template on every 10th device, every other
// device online, two tags on every 100th. It is written in set-based SQL
// with the maintaining triggers off, then the counters are computed once.
func buildBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	ctx := context.Background()
	s := newTestStore(b)
	leaf := int64(112 + 500) // a leaf in the middle
	perm := func(r tenancy.RoleID) int64 { return int64(tenancy.DefaultPermissions(r).Bits()) }
	own := int64(tenancy.NewPermSet(tenancy.OwnDevicesView).Bits())
	steps := []string{
		`ALTER TABLE devices DISABLE TRIGGER USER`,
		`ALTER TABLE device_status DISABLE TRIGGER USER`,
		`INSERT INTO orgs (id, parent_id, root_id, depth, name, type, can_create_sub, created_at, updated_at)
		SELECT g, CASE WHEN g = 1 THEN NULL WHEN g <= 11 THEN 1 WHEN g <= 111 THEN 2 + (g - 12) / 10 ELSE 12 + (g - 112) / 10 END,
			1, CASE WHEN g = 1 THEN 1 WHEN g <= 11 THEN 2 WHEN g <= 111 THEN 3 ELSE 4 END, 'Org ' || g, 'BUSINESS', 1, 0, 0
		FROM generate_series(1, 1111) g`,
		`WITH RECURSIVE c(a, d, depth) AS (SELECT id, id, 0 FROM orgs
			UNION ALL SELECT o.parent_id, c.d, c.depth + 1 FROM c JOIN orgs o ON o.id = c.a WHERE o.parent_id IS NOT NULL)
		INSERT INTO org_closure (ancestor, descendant, depth) SELECT a, d, depth FROM c`,
		`INSERT INTO templates (id, root_id, def, created_at, updated_at) VALUES
			('TMPLBENCH', 1, '{"id":"TMPLBENCH","name":"Bench","datastreams":[]}', 0, 0),
			('TMPLOTHER', 1, '{"id":"TMPLOTHER","name":"Another","datastreams":[]}', 0, 0)`,
		`INSERT INTO roles (root_id, id, name, builtin) VALUES (1, 1, 'Admin', 1), (1, 2, 'Staff', 1), (1, 3, 'User', 1)`,
		fmt.Sprintf(`INSERT INTO role_perms (org_id, role_id, bits) SELECT id, r, CASE r WHEN 1 THEN %d WHEN 2 THEN %d
			ELSE CASE WHEN id = %d THEN %d ELSE %d END END FROM orgs, generate_series(1, 3) r`,
			perm(tenancy.RoleAdmin), perm(tenancy.RoleStaff), leaf, own, perm(tenancy.RoleUser)),
		`INSERT INTO template_orgs (org_id, template_id) SELECT id, 'TMPLBENCH' FROM orgs`,
		fmt.Sprintf(`INSERT INTO users (id, org_id, role_id, email, type, status, created_at, updated_at) VALUES
			(1, 1, 1, 'root@bench.test', 'end-user', 'active', 0, 0), (2, %[1]d, 2, 'staff@bench.test', 'end-user', 'active', 0, 0),
			(3, %[1]d, 3, 'user@bench.test', 'end-user', 'active', 0, 0)`, leaf),
		fmt.Sprintf(`INSERT INTO devices (id, org_id, owner_id, template_id, name, token_hash, token, created_at, updated_at, uid,
			org_name, template_name, online, last_reported)
		SELECT g, 112 + g %% 1000, CASE WHEN 112 + g %% 1000 = %d AND (g / 1000) %% 10 = 0 THEN 3 END,
			CASE WHEN g %% 10 = 3 THEN 'TMPLOTHER' ELSE 'TMPLBENCH' END, 'Device ' || g, sha256(int8send(g)), lpad(g::text, 32, '0'),
			0, 0, 'U' || lpad(g::text, 25, '0'), 'Org ' || (112 + g %% 1000), CASE WHEN g %% 10 = 3 THEN 'Another' ELSE 'Bench' END,
			g %% 2, 1764000000000 + g * 1000
		FROM generate_series(1, 100000) g`, leaf),
		`UPDATE devices SET owner_name = 'user@bench.test' WHERE owner_id = 3`,
		`INSERT INTO device_status (device_uid, gateway_id, online, last_seen) SELECT uid, '1', online, last_reported FROM devices`,
		`INSERT INTO tags (id, org_id, name) VALUES (1, 1, 'roof'), (2, 1, 'cellar')`,
		`INSERT INTO device_tags (device_id, tag_id) SELECT id, 1 FROM devices WHERE id % 100 = 7`,
		`INSERT INTO device_tags (device_id, tag_id) SELECT id, 2 FROM devices WHERE id % 200 = 7`,
		`ANALYZE`,
		`INSERT INTO org_device_counts (org_id, n_direct, n_subtree, n_online_direct, n_online_subtree)
		SELECT o.id, coalesce(dd.n, 0), coalesce(ss.n, 0), coalesce(dd.online, 0), coalesce(ss.online, 0) FROM orgs o
		LEFT JOIN (SELECT org_id, count(*) AS n, sum(online) AS online FROM devices GROUP BY org_id) dd ON dd.org_id = o.id
		LEFT JOIN (SELECT c.ancestor, count(*) AS n, sum(d.online) AS online FROM org_closure c
			JOIN devices d ON d.org_id = c.descendant GROUP BY c.ancestor) ss ON ss.ancestor = o.id`,
		`INSERT INTO org_template_counts (org_id, template_id, n_subtree)
		SELECT c.ancestor, d.template_id, count(*) FROM org_closure c JOIN devices d ON d.org_id = c.descendant GROUP BY 1, 2`,
		`ALTER TABLE devices ENABLE TRIGGER USER`,
		`ALTER TABLE device_status ENABLE TRIGGER USER`,
		`SELECT setval(pg_get_serial_sequence(t, 'id'), 200000) FROM unnest(ARRAY['orgs', 'users', 'devices', 'tags']) t`,
		`ANALYZE`,
	}
	for _, q := range steps {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	svc, err := tenancy.New(ctx, tenancy.Deps{Store: s, Hasher: nopHasher{}}, tenancy.Config{MaxDepth: 5})
	if err != nil {
		b.Fatal(err)
	}
	return &benchFixture{store: s, svc: svc,
		rootAdmin: tenancy.Actor{UserID: 1, OrgID: 1, RoleID: tenancy.RoleAdmin},
		leafStaff: tenancy.Actor{UserID: 2, OrgID: tenancy.OrgID(leaf), RoleID: tenancy.RoleStaff},
		leafUs:    tenancy.Actor{UserID: 3, OrgID: tenancy.OrgID(leaf), RoleID: tenancy.RoleUser},
		level2:    5}
}

// timed runs fn in b.Loop, timing each call, and reports p50 and p99.
func timed(b *testing.B, fn func() error) {
	b.Helper()
	var durs []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkDeviceList100k measures the console's device list (first page
// of 50, through the Service) on the fixture, as the SQLite store's
// benchmark of the same name.
func BenchmarkDeviceList100k(b *testing.B) {
	f := buildBenchFixture(b)
	ctx := context.Background()
	level2 := tenancy.Actor{UserID: 1, OrgID: f.level2, RoleID: tenancy.RoleAdmin}
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
		{"RootAdmin/SortOrg", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Sort = tenancy.SortOrg }), 100_000},
		{"RootAdmin/Online", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Status = tenancy.OnlyOnline }), 50_000},
		{"RootAdmin/Template", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.TemplateID = "TMPLOTHER" }), 10_000},
		{"RootAdmin/Search", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Query = "device 4242" }), 11},
		{"RootAdmin/Tag", f.rootAdmin, q(func(l *tenancy.DeviceListQuery) { l.Tags = []tenancy.TagID{1} }), 1_000},
		{"Level2Admin/Unfiltered", level2, q(nil), 10_000},
		{"LeafStaff/Unfiltered", f.leafStaff, q(nil), 100},
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
}

// cpuMeter measures the CPU time a benchmark's loop costs, on the client
// side (this process: the store, pgx, the benchmark) and on the server
// side (the test cluster's processes). Per update it is a steadier figure
// than updates/s on a shared machine: other load slows the clock, not
// the work.
type cpuMeter struct {
	cluster        *pgtest.Cluster
	client, server time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	c := pgtest.Shared(b)
	return &cpuMeter{cluster: c, client: proccpu.Self(), server: c.CPU()}
}

// report adds the client's, the server's and their total CPU µs per
// update (0 where unknown: not Linux).
func (m *cpuMeter) report(b *testing.B, updates int64) {
	if updates <= 0 {
		return
	}
	client, server := proccpu.Self()-m.client, m.cluster.CPU()-m.server
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(updates) }
	b.ReportMetric(per(client), "client-µs/update")
	b.ReportMetric(per(server), "server-µs/update")
	b.ReportMetric(per(client+server), "cpu-µs/update")
}

// BenchmarkApply measures datastream updates/s through Apply: batches of
// 4,000 writes (the cloud link's batch size) of one served device on 10
// pins, each batch one transaction, as the SQLite store's BenchmarkApply.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	s := newTestStore(b)
	st := telemetrytest.NewSite(b, s)
	const n = 4000
	items := make([]syncproto.Item, n)
	seq := int64(0)
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		for i := range items {
			seq++
			items[i] = syncproto.Item{Seq: seq, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: int(seq % 10),
				Value: strconv.FormatInt(seq, 10), TS: 1764000000000 + seq, Source: "tcp"}
		}
		if err := s.Apply(ctx, st.GW, 1, items, seq); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "updates/s")
	cpu.report(b, int64(b.N*n))
}

// BenchmarkApplyFourGateways measures the aggregate rate of four gateways
// applying at once through two stores (two instances' pools) on one
// database, batches of 4,000 as in BenchmarkApply.
func BenchmarkApplyFourGateways(b *testing.B) {
	ctx := context.Background()
	dsn := migratedDSN(b)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, dsn, Options{MaxConns: 4})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	// Four sites: each its own root org, gateway and device.
	type gw struct {
		s   *Store
		id  string
		uid string
	}
	var gws []gw
	for i := range 4 {
		s := stores[i%2]
		o := tenancy.Org{Name: fmt.Sprint("Root ", i), Type: tenancy.OrgRoot}
		if err := s.CreateOrg(ctx, &o); err != nil {
			b.Fatal(err)
		}
		tm := tenancy.TemplateID(fmt.Sprint("T", i))
		if err := s.CreateTemplate(ctx, tenancy.Template{ID: tm, RootID: o.ID}); err != nil {
			b.Fatal(err)
		}
		d := tenancy.Device{OrgID: o.ID, TemplateID: tm, Name: "d", Token: fmt.Sprint("t", i), TokenHash: tenancy.HashToken(fmt.Sprint("t", i))}
		if err := s.CreateDevice(ctx, &d); err != nil {
			b.Fatal(err)
		}
		g := tenancy.Gateway{Name: "g", OrgID: o.ID, ClaimCodeHash: tenancy.HashToken(fmt.Sprint("c", i))}
		if err := s.CreateGateway(ctx, &g); err != nil {
			b.Fatal(err)
		}
		gws = append(gws, gw{s: s, id: strconv.FormatInt(int64(g.ID), 10), uid: d.UID})
	}
	const n = 4000
	var seq atomic.Int64
	b.ResetTimer()
	cpu := startCPU(b)
	var wg sync.WaitGroup
	per := b.N/len(gws) + 1
	for _, g := range gws {
		wg.Go(func() {
			items := make([]syncproto.Item, n)
			var s int64
			for range per {
				for i := range items {
					s++
					items[i] = syncproto.Item{Seq: s, Kind: syncproto.KindWrite, Device: g.uid, Pin: int(s % 10),
						Value: strconv.FormatInt(s, 10), TS: 1764000000000 + s, Source: "tcp"}
				}
				if err := g.s.Apply(ctx, g.id, 1, items, s); err != nil {
					b.Error(err)
					return
				}
				seq.Add(n)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(seq.Load())/b.Elapsed().Seconds(), "updates/s")
	cpu.report(b, seq.Load())
}
