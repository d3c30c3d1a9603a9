package tenancytest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// BenchViewsTouchedTemplate benchmarks a store (newStore returns a fresh,
// empty one) under one company (a root with a gateway) with N sites
// below it, each a sub-org with a gateway and a device; a template
// enabled in the root and in site 0 only, used by a device there. It
// measures attributing an edit of that template (ViewsTouched of what
// UpdateTemplate notes): the figure must not grow with N (gateways/op is
// 2: the site's and the root's). "whole-tree" is what the edit cost
// before (every view at or under the root), for contrast.
func BenchViewsTouchedTemplate(b *testing.B, newStore func(b *testing.B) tenancy.Store) {
	for _, n := range []int{100, 1000, 10000} {
		// A level per size: a -bench pattern naming one size builds only
		// that company.
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			ctx := context.Background()
			svc, fan, change := templateSites(b, newStore(b), n)
			for _, c := range []struct {
				name   string
				change tenancy.Change
				want   int
			}{
				{"template", change, 2},
				{"whole-tree", tenancy.Change{Subtrees: []tenancy.OrgID{fan.RootID}}, n + 1},
			} {
				b.Run(c.name, func(b *testing.B) {
					var ids []tenancy.GatewayID
					for b.Loop() {
						var all bool
						var err error
						if ids, all, err = svc.ViewsTouched(ctx, c.change); err != nil || all {
							b.Fatalf("ViewsTouched: %v (all %v)", err, all)
						}
					}
					if len(ids) != c.want {
						b.Fatalf("%d gateways named, want %d", len(ids), c.want)
					}
					b.ReportMetric(float64(len(ids)), "gateways/op")
				})
			}
		})
	}
}

// templateSites builds the benchmark's company in st and returns the
// service, the template and the change its edit notes.
func templateSites(b *testing.B, st tenancy.Store, n int) (*tenancy.Service, tenancy.Template, tenancy.Change) {
	b.Helper()
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var change tenancy.Change
	svc, err := tenancy.New(ctx, tenancy.Deps{Store: st, Hasher: plainHasher{}, Now: func() time.Time { return now },
		OnChange: func(c tenancy.Change) { change = c }}, tenancy.Config{})
	if err != nil {
		b.Fatal(err)
	}
	root, admin, err := svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: "Company", AdminEmail: "a@company.test", AdminName: "A", Password: "correct horse"})
	if err != nil {
		b.Fatal(err)
	}
	a := tenancy.Actor{UserID: admin.ID, OrgID: root.ID, RoleID: tenancy.RoleAdmin}
	def := func(name string) datastream.Template {
		return datastream.Template{Name: name, Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}
	}
	heater, err := svc.CreateTemplate(ctx, a, tenancy.NewTemplate{Def: def("Heater")})
	if err != nil {
		b.Fatal(err)
	}
	var site0 tenancy.OrgID
	err = st.Atomic(ctx, func(tx tenancy.Tx) error {
		gw := func(i int, org tenancy.OrgID) error {
			return tx.CreateGateway(ctx, &tenancy.Gateway{OrgID: org, Name: fmt.Sprint("Pi ", i),
				ClaimCodeHash: sha256.Sum256(fmt.Appendf(nil, "claim %d", i)), CredentialHash: sha256.Sum256(fmt.Appendf(nil, "cred %d", i)),
				CreatedAt: now, ClaimedAt: now, ClaimExpiresAt: now})
		}
		if err := gw(-1, root.ID); err != nil {
			return err
		}
		for i := range n {
			o := tenancy.Org{ParentID: root.ID, Name: fmt.Sprint("Site ", i), CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateOrg(ctx, &o); err != nil {
				return err
			}
			if i == 0 {
				site0 = o.ID
			}
			if err := tx.SetTemplateEnabled(ctx, o.ID, heater.ID, true); err != nil {
				return err
			}
			d := tenancy.Device{OrgID: o.ID, TemplateID: heater.ID, Name: "Boiler", Token: fmt.Sprint("tok", i),
				TokenHash: sha256.Sum256(fmt.Appendf(nil, "tok %d", i)), UID: fmt.Sprintf("%026d", i), CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateDevice(ctx, &d); err != nil {
				return err
			}
			if err := gw(i, o.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	fan, err := svc.CreateTemplate(ctx, a, tenancy.NewTemplate{Def: def("Fan")})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.SetTemplateEnabled(ctx, a, site0, fan.ID, true); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateDevice(ctx, a, tenancy.NewDevice{TemplateID: fan.ID, Name: "Fan", OrgID: site0}); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.UpdateTemplate(ctx, a, fan.ID, tenancy.NewTemplate{Def: def("Fan 2")}); err != nil {
		b.Fatal(err)
	}
	return svc, fan, change
}

// plainHasher stands in for bcrypt/argon2id, which are slow on purpose.
type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error) { return "plain:" + p, nil }
func (plainHasher) Verify(h, p string) error {
	if h != "plain:"+p {
		return errors.New("password mismatch")
	}
	return nil
}
