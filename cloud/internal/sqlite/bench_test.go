package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

// benchFixture is 1,111 orgs (1/10/100/1,000 per level) and 100,000
// devices, 100 per leaf org.
type benchFixture struct {
	store                        *Store
	svc                          *tenancy.Service
	rootAdmin, leafStaff, leafUs tenancy.Actor
	level2                       []tenancy.OrgID
	leaf                         tenancy.OrgID
	someDevice                   tenancy.DeviceID
}

type nopHasher struct{}

func (nopHasher) Hash(p string) (string, error) { return p, nil }
func (nopHasher) Verify(string, string) error   { return nil }

// buildBenchFixture writes the fixture in one transaction with prepared
// statements (a few seconds), bypassing the Service for speed.
func buildBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	now := time.Now().UnixMilli()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	prep := func(q string) func(args ...any) {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		return func(args ...any) {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
		}
	}
	insCount := prep(`INSERT INTO org_device_counts (org_id) VALUES (?)`)
	insOrg := prep(`INSERT INTO orgs (id, parent_id, root_id, depth, name, type, can_create_sub, created_at, updated_at)
		VALUES (?, ?, 1, ?, ?, 'BUSINESS', 1, ?, ?)`)
	insClosure := prep(`INSERT INTO org_closure (ancestor, descendant, depth)
		SELECT ancestor, ?1, depth + 1 FROM org_closure WHERE descendant = ?2 UNION ALL SELECT ?1, ?1, 0`)
	insPerm := prep(`INSERT INTO role_perms (org_id, role_id, bits) VALUES (?, ?, ?)`)
	insEnabled := prep(`INSERT INTO template_orgs (org_id, template_id) VALUES (?, 'TMPLBENCH')`)
	insUser := prep(`INSERT INTO users (id, org_id, role_id, email, type, status, created_at, updated_at) VALUES (?, ?, ?, ?, 'end-user', 'active', ?, ?)`)
	insDevice := prep(`INSERT INTO devices (id, org_id, owner_id, template_id, name, token_hash, token, created_at, updated_at)
		VALUES (?, ?, ?, 'TMPLBENCH', ?, ?, ?, ?, ?)`)

	f := &benchFixture{store: s}
	var parents []int64
	next := int64(1)
	levelSizes := []int{1, 10, 100, 1000}
	var leaves []int64
	for depth, n := range levelSizes {
		var level []int64
		for i := 0; i < n; i++ {
			id := next
			next++
			var parent any
			if depth > 0 {
				parent = parents[i/10]
			}
			insOrg(id, parent, depth+1, fmt.Sprintf("Org %d", id), now, now)
			pid := int64(0)
			if parent != nil {
				pid = parent.(int64)
			}
			insClosure(id, pid)
			insCount(id)
			level = append(level, id)
		}
		parents = level
		if depth == 1 {
			for _, id := range level {
				f.level2 = append(f.level2, tenancy.OrgID(id))
			}
		}
		if depth == 3 {
			leaves = level
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO templates (id, root_id, def, created_at, updated_at) VALUES ('TMPLBENCH', 1, '{"id":"TMPLBENCH","name":"Bench","datastreams":[]}', ?, ?)`, now, now); err != nil {
		b.Fatal(err)
	}
	for _, r := range []tenancy.Role{{ID: 1, Name: "Admin"}, {ID: 2, Name: "Staff"}, {ID: 3, Name: "User"}} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (root_id, id, name, builtin) VALUES (1, ?, ?, 1)`, int(r.ID), r.Name); err != nil {
			b.Fatal(err)
		}
	}
	leaf := leaves[len(leaves)/2]
	for id := int64(1); id < next; id++ {
		for _, r := range []tenancy.RoleID{tenancy.RoleAdmin, tenancy.RoleStaff, tenancy.RoleUser} {
			p := tenancy.DefaultPermissions(r)
			if r == tenancy.RoleUser && id == leaf {
				p = tenancy.NewPermSet(tenancy.OwnDevicesView)
			}
			insPerm(id, int(r), int64(p.Bits()))
		}
		insEnabled(id)
	}
	insUser(1, 1, 1, "root@bench.test", now, now)
	insUser(2, leaf, 2, "staff@bench.test", now, now)
	insUser(3, leaf, 3, "user@bench.test", now, now)
	f.rootAdmin = tenancy.Actor{UserID: 1, OrgID: 1, RoleID: tenancy.RoleAdmin}
	f.leafStaff = tenancy.Actor{UserID: 2, OrgID: tenancy.OrgID(leaf), RoleID: tenancy.RoleStaff}
	f.leafUs = tenancy.Actor{UserID: 3, OrgID: tenancy.OrgID(leaf), RoleID: tenancy.RoleUser}
	f.leaf = tenancy.OrgID(leaf)
	// Devices are created leaf by leaf, so ids interleave the way a real
	// fleet's would not; spread them instead: device i goes to leaf i%1000.
	var tok [8]byte
	for i := int64(1); i <= 100_000; i++ {
		org := leaves[i%int64(len(leaves))]
		var owner any
		if org == leaf && (i/1000)%10 == 0 {
			owner = int64(3) // the leaf user owns 10 of its leaf's 100
		}
		binary.BigEndian.PutUint64(tok[:], uint64(i))
		h := sha256.Sum256(tok[:])
		insDevice(i, org, owner, fmt.Sprintf("Device %d", i), h[:], fmt.Sprintf("%032d", i), now, now)
	}
	f.someDevice = tenancy.DeviceID(50_000 + int64(slices.Index(leaves, leaf)))
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	// A setting: depth 5 lets a level-2 subtree (10,000 devices) move under
	// a sibling and back, the largest legal move needing the same work.
	f.svc, err = tenancy.New(ctx, tenancy.Deps{Store: s, Hasher: nopHasher{}}, tenancy.Config{MaxDepth: 5})
	if err != nil {
		b.Fatal(err)
	}
	return f
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

// BenchmarkTenancy100k measures the Service over the SQLite store on the
// 1,111-org, 100,000-device fixture.
func BenchmarkTenancy100k(b *testing.B) {
	f := buildBenchFixture(b)
	ctx := context.Background()
	page := tenancy.Page{Size: 50}
	list := func(a tenancy.Actor, want int) func() error {
		return func() error {
			l, err := f.svc.Devices(ctx, a, tenancy.DeviceQuery{IncludeSub: true, Page: page})
			if err == nil && (len(l.Items) != min(want, 50) || l.Total != want) {
				err = fmt.Errorf("got %d items of %d, want %d", len(l.Items), l.Total, want)
			}
			return err
		}
	}
	b.Run("ListDevices/RootAdmin", func(b *testing.B) { timed(b, list(f.rootAdmin, 100_000)) })
	b.Run("ListDevices/LeafStaff", func(b *testing.B) { timed(b, list(f.leafStaff, 100)) })
	b.Run("ListDevices/LeafUserOwn", func(b *testing.B) { timed(b, list(f.leafUs, 10)) })
	b.Run("ListDevices/Level2Admin", func(b *testing.B) {
		a := tenancy.Actor{UserID: 1, OrgID: f.level2[3], RoleID: tenancy.RoleAdmin}
		timed(b, list(a, 10_000))
	})
	b.Run("ListDevices/RootAdminKeysetPage1000", func(b *testing.B) {
		timed(b, func() error {
			_, err := f.svc.Devices(ctx, f.rootAdmin, tenancy.DeviceQuery{IncludeSub: true, Page: tenancy.Page{Size: 50, After: 50_000}})
			return err
		})
	})
	b.Run("GetDevice/LeafStaff", func(b *testing.B) {
		timed(b, func() error {
			_, err := f.svc.Device(ctx, f.leafStaff, f.someDevice)
			return err
		})
	})
	// What the cloud recomputes for each connected gateway after a tenancy
	// change: a site of 100 devices (a leaf org), and one of 10,000.
	for _, site := range []struct {
		name string
		org  tenancy.OrgID
	}{{"GatewayView/Leaf100Devices", f.leaf}, {"GatewayView/Level2With10kDevices", f.level2[5]}} {
		b.Run(site.name, func(b *testing.B) {
			g, code, err := f.svc.RegisterGateway(ctx, site.name)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.svc.ClaimGateway(ctx, f.rootAdmin, code, site.org); err != nil {
				b.Fatal(err)
			}
			timed(b, func() error {
				_, err := f.svc.GatewayView(ctx, g.ID)
				return err
			})
		})
	}
	b.Run("Decide/Snapshot1111", func(b *testing.B) {
		tr := f.svc.Tree()
		res := tenancy.Resource{OrgID: f.leaf, OwnerID: 3}
		timed(b, func() error { return tenancy.Decide(tr, f.rootAdmin, tenancy.OrgDevicesControl, res) })
	})
	b.Run("TransferOrg10kDevices/Service", func(b *testing.B) {
		from, to := f.level2[0], f.level2[1]
		toSibling := true
		timed(b, func() error {
			parent := tenancy.OrgID(1)
			if toSibling {
				parent = to
			}
			toSibling = !toSibling
			_, err := f.svc.TransferOrg(ctx, f.rootAdmin, from, parent)
			return err
		})
	})
	b.Run("TransferOrg10kDevices/StoreMoveOrg", func(b *testing.B) {
		from, to := f.level2[2], f.level2[3]
		toSibling := true
		timed(b, func() error {
			parent := tenancy.OrgID(1)
			if toSibling {
				parent = to
			}
			toSibling = !toSibling
			return f.store.Atomic(ctx, func(tx tenancy.Tx) error { return tx.MoveOrg(ctx, from, parent) })
		})
	})
}
