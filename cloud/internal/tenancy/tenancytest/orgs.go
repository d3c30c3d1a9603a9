package tenancytest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

func testOrgs(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	if tr.root.Depth != 1 || tr.root.RootID != tr.root.ID || tr.a1.Depth != 3 || tr.a1.RootID != tr.root.ID {
		t.Fatalf("depth/root not derived: root %+v a1 %+v", tr.root, tr.a1)
	}
	got, err := s.GetOrg(ctx, tr.a1.ID)
	must(t, err)
	if !equalJSON(got, tr.a1) {
		t.Fatalf("GetOrg = %+v, want %+v", got, tr.a1)
	}
	_, err = s.GetOrg(ctx, 99999)
	wantCode(t, err, tenancy.NotFound)

	dup := tenancy.Org{ParentID: tr.root.ID, Name: "a", Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
	wantCode(t, s.CreateOrg(ctx, &dup), tenancy.Conflict) // sibling names are unique, case-insensitively
	other := tenancy.Org{ParentID: tr.b.ID, Name: "A", Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateOrg(ctx, &other)) // same name elsewhere is fine
	orphan := tenancy.Org{ParentID: 99999, Name: "Orphan", Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
	wantCode(t, s.CreateOrg(ctx, &orphan), tenancy.NotFound)

	up := tr.a
	up.Name, up.CanCreateSub, up.Special, up.Address.City = "A renamed", false, tenancy.SpecialClients, "Hamburg"
	up.HistoryRetentionDays = 90
	up.UpdatedAt = t0.Add(time.Hour)
	must(t, s.UpdateOrg(ctx, up))
	got, err = s.GetOrg(ctx, tr.a.ID)
	must(t, err)
	if !equalJSON(got, up) {
		t.Fatalf("after update = %+v, want %+v", got, up)
	}
	wantCode(t, s.UpdateOrg(ctx, tenancy.Org{ID: 99999, Name: "x"}), tenancy.NotFound)

	all, err := s.AllOrgs(ctx)
	must(t, err)
	if len(all) != 5 {
		t.Fatalf("AllOrgs = %d orgs, want 5", len(all))
	}
	desc, err := s.Descendants(ctx, tr.a.ID)
	must(t, err)
	if !sameIDs(desc, []tenancy.OrgID{tr.a.ID, tr.a1.ID}) {
		t.Fatalf("Descendants(a) = %v", desc)
	}
	_, err = s.Descendants(ctx, 99999)
	wantCode(t, err, tenancy.NotFound)

	u, err := s.OrgUsage(ctx, tr.a.ID)
	must(t, err)
	if u != (tenancy.OrgUsage{Children: 1}) {
		t.Fatalf("OrgUsage(a) = %+v", u)
	}
	_, err = s.OrgUsage(ctx, 99999)
	wantCode(t, err, tenancy.NotFound)

	must(t, s.DeleteOrg(ctx, tr.a1.ID))
	_, err = s.GetOrg(ctx, tr.a1.ID)
	wantCode(t, err, tenancy.NotFound)
	desc, err = s.Descendants(ctx, tr.root.ID)
	must(t, err)
	if slices.Contains(desc, tr.a1.ID) {
		t.Fatal("closure still lists a deleted org")
	}
	wantCode(t, s.DeleteOrg(ctx, tr.a1.ID), tenancy.NotFound)
}

func testOrgList(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	for i := range 5 {
		mkOrg(t, s, tr.b.ID, fmt.Sprintf("Branch %d", i))
	}
	kids, err := s.ListOrgs(ctx, tenancy.OrgFilter{Parent: tr.root.ID, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if kids.Total != 2 || len(kids.Items) != 2 {
		t.Fatalf("children of root = %+v", kids)
	}
	sub, err := s.ListOrgs(ctx, tenancy.OrgFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if sub.Total != 6 {
		t.Fatalf("subtree of b: total %d, want 6", sub.Total)
	}
	one, err := s.ListOrgs(ctx, tenancy.OrgFilter{Scope: tenancy.Scope{OrgID: tr.b.ID}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if one.Total != 1 || one.Items[0].ID != tr.b.ID {
		t.Fatalf("scope b alone = %+v", one)
	}
	q, err := s.ListOrgs(ctx, tenancy.OrgFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "branch 3", Page: tenancy.Page{Size: 10}})
	must(t, err)
	if q.Total != 1 || q.Items[0].Name != "Branch 3" {
		t.Fatalf("query = %+v", q)
	}
	wild, err := s.ListOrgs(ctx, tenancy.OrgFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "%", Page: tenancy.Page{Size: 10}})
	must(t, err)
	if wild.Total != 0 {
		t.Fatalf("query %% matched %d orgs; LIKE wildcards must be escaped", wild.Total)
	}
	// A NUL is in no name, so it matches nothing (a LIKE pattern cut short
	// at the NUL would match everything; the Service refuses such queries,
	// the store must not widen them either).
	for _, nul := range []string{"\x00", "Branch\x00zzz"} {
		l, err := s.ListOrgs(ctx, tenancy.OrgFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: nul, Page: tenancy.Page{Size: 10}})
		must(t, err)
		if l.Total != 0 {
			t.Fatalf("query %q matched %d orgs", nul, l.Total)
		}
	}
	// Keyset and offset pages agree and cover everything once.
	var viaKeyset, viaOffset []tenancy.OrgID
	f := tenancy.OrgFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Page: tenancy.Page{Size: 3}}
	for {
		l, err := s.ListOrgs(ctx, f)
		must(t, err)
		for _, o := range l.Items {
			viaKeyset = append(viaKeyset, o.ID)
		}
		if l.Next == 0 {
			break
		}
		f.Page.After = l.Next
	}
	for n := 0; ; n++ {
		l, err := s.ListOrgs(ctx, tenancy.OrgFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Page: tenancy.Page{Number: n, Size: 3}})
		must(t, err)
		if len(l.Items) == 0 {
			break
		}
		for _, o := range l.Items {
			viaOffset = append(viaOffset, o.ID)
		}
	}
	if len(viaKeyset) != 9 || !slices.Equal(viaKeyset, viaOffset) || !slices.IsSorted(viaKeyset) {
		t.Fatalf("keyset %v, offset %v", viaKeyset, viaOffset)
	}
}

func testMoveOrg(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	a2 := mkOrg(t, s, tr.a1.ID, "A2") // root → a → a1 → a2
	must(t, s.MoveOrg(ctx, tr.a1.ID, tr.b.ID))
	check := func(id tenancy.OrgID, parent tenancy.OrgID, depth int) {
		t.Helper()
		o, err := s.GetOrg(ctx, id)
		must(t, err)
		if o.ParentID != parent || o.Depth != depth || o.RootID != tr.root.ID {
			t.Fatalf("org %d: parent %d depth %d root %d, want parent %d depth %d", id, o.ParentID, o.Depth, o.RootID, parent, depth)
		}
	}
	check(tr.a1.ID, tr.b.ID, 3)
	check(a2.ID, tr.a1.ID, 4)
	desc, err := s.Descendants(ctx, tr.a.ID)
	must(t, err)
	if !sameIDs(desc, []tenancy.OrgID{tr.a.ID}) {
		t.Fatalf("a still has %v below it", desc)
	}
	desc, err = s.Descendants(ctx, tr.b.ID)
	must(t, err)
	if !sameIDs(desc, []tenancy.OrgID{tr.b.ID, tr.a1.ID, a2.ID}) {
		t.Fatalf("b has %v below it", desc)
	}
	// Move up a level, then back: reversible.
	must(t, s.MoveOrg(ctx, tr.a1.ID, tr.root.ID))
	check(tr.a1.ID, tr.root.ID, 2)
	check(a2.ID, tr.a1.ID, 3)
	must(t, s.MoveOrg(ctx, tr.a1.ID, tr.a.ID))
	check(tr.a1.ID, tr.a.ID, 3)
	check(a2.ID, tr.a1.ID, 4)
	desc, err = s.Descendants(ctx, tr.root.ID)
	must(t, err)
	if len(desc) != 5 {
		t.Fatalf("root has %d orgs below it, want 5", len(desc))
	}
	wantCode(t, s.MoveOrg(ctx, tr.a.ID, a2.ID), tenancy.Invalid) // cycle
	wantCode(t, s.MoveOrg(ctx, tr.a.ID, tr.a.ID), tenancy.Invalid)
	wantCode(t, s.MoveOrg(ctx, tr.a.ID, 99999), tenancy.NotFound)
	wantCode(t, s.MoveOrg(ctx, 99999, tr.a.ID), tenancy.NotFound)
	// Devices in a moved subtree show up under the new ancestors.
	tm := mkTemplate(t, s, tr.root.ID, "TMPLmove")
	d := mkDevice(t, s, a2.ID, 0, tm.ID, "deep")
	must(t, s.MoveOrg(ctx, tr.a1.ID, tr.b.ID))
	l, err := s.ListDevices(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != d.ID {
		t.Fatalf("devices under b after move = %+v", l)
	}
	l, err = s.ListDevices(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("devices under a after move = %+v", l)
	}
}

// testOrgCounts: each org of the scope with its own devices and users,
// none of its sub-orgs' counted in.
func testOrgCounts(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPLCOUNT")
	mkDevice(t, s, tr.a.ID, 0, tm.ID, "a-1")
	mkDevice(t, s, tr.a1.ID, 0, tm.ID, "a1-1")
	mkDevice(t, s, tr.a1.ID, 0, tm.ID, "a1-2")
	mkUser(t, s, tr.a1.ID, "a1@x.test", tenancy.RoleStaff)
	mkUser(t, s, tr.b.ID, "b@x.test", tenancy.RoleAdmin)
	m, err := s.OrgCounts(ctx, tenancy.Scope{OrgID: tr.root.ID, Subtree: true})
	must(t, err)
	want := map[tenancy.OrgID]tenancy.OrgUsage{tr.root.ID: {}, tr.a.ID: {Devices: 1}, tr.a1.ID: {Devices: 2, Users: 1}, tr.b.ID: {Users: 1}}
	if !maps.Equal(m, want) {
		t.Fatalf("counts of the whole tree: %v, want %v", m, want)
	}
	m, err = s.OrgCounts(ctx, tenancy.Scope{OrgID: tr.a.ID})
	must(t, err)
	if !maps.Equal(m, map[tenancy.OrgID]tenancy.OrgUsage{tr.a.ID: {Devices: 1}}) {
		t.Fatalf("counts of A alone: %v", m)
	}
}
