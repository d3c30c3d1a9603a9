package console

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// benchSite is the 1,111-org, 100,000-device tree (1 root, 10, 100, 1,000
// leaves; device i in leaf i%1000), written through the Store interface in
// one transaction, with a console in front and a session per actor.
type benchSite struct {
	svc               *tenancy.Service
	st                *sqlite.Store
	c                 *Console
	rootCookie, staff *http.Cookie
	roof, cellar      tenancy.TagID // on every 100th and every 200th device
}

func newBenchSite(b *testing.B) *benchSite {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "cloud.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc, err := tenancy.New(ctx, tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{MaxDepth: 5})
	if err != nil {
		b.Fatal(err)
	}
	root, _, err := svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: "Bench Root", AdminEmail: "root@bench.test", Password: pw})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	var leaves []tenancy.OrgID
	roof, cellar := tenancy.Tag{OrgID: root.ID, Name: "roof"}, tenancy.Tag{OrgID: root.ID, Name: "cellar"}
	err = st.Atomic(ctx, func(tx tenancy.Tx) error {
		tmpl := tenancy.Template{ID: "TMPLBENCH", RootID: root.ID, Def: datastream.Template{ID: "TMPLBENCH", Name: "Bench"}, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateTemplate(ctx, tmpl); err != nil {
			return err
		}
		parents := []tenancy.OrgID{root.ID}
		for depth := 2; depth <= 4; depth++ {
			var level []tenancy.OrgID
			for i := 0; i < len(parents)*10; i++ {
				o := tenancy.Org{ParentID: parents[i/10], Name: fmt.Sprintf("Org %d-%d", depth, i), Type: tenancy.OrgBusiness,
					Active: true, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateOrg(ctx, &o); err != nil {
					return err
				}
				for _, r := range []tenancy.RoleID{tenancy.RoleAdmin, tenancy.RoleStaff, tenancy.RoleUser} {
					if err := tx.SetRolePerms(ctx, tenancy.RolePerms{OrgID: o.ID, RoleID: r, Perms: tenancy.DefaultPermissions(r)}); err != nil {
						return err
					}
				}
				level = append(level, o.ID)
			}
			parents = level
		}
		leaves = parents
		for _, o := range append([]tenancy.OrgID{root.ID}, leaves...) {
			if err := tx.SetTemplateEnabled(ctx, o, "TMPLBENCH", true); err != nil {
				return err
			}
		}
		for _, tg := range []*tenancy.Tag{&roof, &cellar} {
			if err := tx.CreateTag(ctx, tg); err != nil {
				return err
			}
		}
		var tok [8]byte
		for i := 1; i <= 100_000; i++ {
			binary.BigEndian.PutUint64(tok[:], uint64(i))
			d := tenancy.Device{UID: fmt.Sprintf("01BENCH%019d", i), OrgID: leaves[i%len(leaves)], TemplateID: "TMPLBENCH",
				Name: fmt.Sprintf("Device %d", i), TokenHash: sha256.Sum256(tok[:]), Token: fmt.Sprintf("%032d", i), CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateDevice(ctx, &d); err != nil {
				return err
			}
			if i%100 == 7 {
				tags := []tenancy.TagID{roof.ID}
				if i%200 == 7 {
					tags = append(tags, cellar.ID)
				}
				if err := tx.SetDeviceTags(ctx, d.ID, tags); err != nil {
					return err
				}
			}
		}
		u := tenancy.User{OrgID: leaves[500], RoleID: tenancy.RoleStaff, Email: "staff@bench.test", Name: "Staff", Type: tenancy.UserEndUser,
			Status: tenancy.StatusActive, CreatedAt: now, UpdatedAt: now}
		u.PasswordHash, _ = auth.Passwords{Cost: 4}.Hash(pw)
		return tx.CreateUser(ctx, &u)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{Service: svc})
	if err != nil {
		b.Fatal(err)
	}
	s := &benchSite{c: c, roof: roof.ID, cellar: cellar.ID}
	for _, who := range []struct {
		email string
		ck    **http.Cookie
	}{{"root@bench.test", &s.rootCookie}, {"staff@bench.test", &s.staff}} {
		res, err := svc.Login(ctx, tenancy.Login{Email: who.email, Password: pw})
		if err != nil {
			b.Fatal(err)
		}
		*who.ck = &http.Cookie{Name: sessionCookie, Value: res.Token}
	}
	s.svc, s.st = svc, st
	return s
}

// BenchmarkDevicesPage100k is the server time of the device list's first
// page (the whole handler: session, header with the org switcher, the
// query, filter options, rendering) on the 100,000-device tree: p50 and
// p99 wall time and the CPU time per request (serverTimes).
func BenchmarkDevicesPage100k(b *testing.B) {
	s := newBenchSite(b)
	for _, tc := range []struct {
		name, path string
		ck         *http.Cookie
	}{
		{"RootAdmin", "/devices", s.rootCookie},
		{"RootAdminSearch", "/devices?q=Device+4242", s.rootCookie},
		{"RootAdminByStatus", "/devices?status=offline&sort=lastReported&dir=desc", s.rootCookie},
		{"RootAdminTag", fmt.Sprintf("/devices?tag=%d", s.roof), s.rootCookie},
		{"RootAdminTwoTagsAll", fmt.Sprintf("/devices?tag=%d&tag=%d&match=all", s.roof, s.cellar), s.rootCookie},
		{"LeafStaff", "/devices", s.staff},
	} {
		b.Run(tc.name, func(b *testing.B) { serverTimes(b, s.c, tc.path, tc.ck) })
	}
}
