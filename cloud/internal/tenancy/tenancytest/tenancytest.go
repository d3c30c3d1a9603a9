// Package tenancytest is the conformance suite every tenancy.Store must
// pass: call Run from the store's own tests with a constructor that returns
// a fresh, empty store.
package tenancytest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// Run runs every contract test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) tenancy.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tenancy.Store)
	}{
		{"Orgs", testOrgs},
		{"OrgList", testOrgList},
		{"MoveOrg", testMoveOrg},
		{"Users", testUsers},
		{"Roles", testRoles},
		{"Templates", testTemplates},
		{"Devices", testDevices},
		{"DevicePaging", testDevicePaging},
		{"DeviceList", testDeviceList},
		{"StaticTokens", testStaticTokens},
		{"Locations", testLocations},
		{"Tags", testTags},
		{"DeviceMeta", testDeviceMeta},
		{"Invitations", testInvitations},
		{"Sessions", testSessions},
		{"RevokeCredentials", testRevokeCredentials},
		{"OAuth", testOAuth},
		{"Gateways", testGateways},
		{"Audit", testAudit},
		{"AuditFilters", testAuditFilters},
		{"OrgCounts", testOrgCounts},
		{"Atomic", testAtomic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// ms truncates to the precision stores must keep.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func h(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code tenancy.Code) {
	t.Helper()
	if got := tenancy.CodeOf(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// tree is a small fixture: root → a → a1, root → b.
type tree struct {
	root, a, a1, b tenancy.Org
}

func mkOrg(t *testing.T, s tenancy.Store, parent tenancy.OrgID, name string) tenancy.Org {
	t.Helper()
	o := tenancy.Org{ParentID: parent, Name: name, Type: tenancy.OrgBusiness, CanCreateSub: true, Active: true,
		TZ: "Europe/Berlin", Address: tenancy.Address{City: "Berlin"}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateOrg(context.Background(), &o))
	if o.ID == 0 {
		t.Fatal("CreateOrg did not assign an ID")
	}
	return o
}

func mkTree(t *testing.T, s tenancy.Store) tree {
	var tr tree
	tr.root = mkOrg(t, s, 0, "Root")
	tr.a = mkOrg(t, s, tr.root.ID, "A")
	tr.a1 = mkOrg(t, s, tr.a.ID, "A1")
	tr.b = mkOrg(t, s, tr.root.ID, "B")
	return tr
}

func mkUser(t *testing.T, s tenancy.Store, org tenancy.OrgID, email string, role tenancy.RoleID) tenancy.User {
	t.Helper()
	u := tenancy.User{OrgID: org, RoleID: role, Email: email, Name: email, Type: tenancy.UserEndUser,
		Status: tenancy.StatusActive, PasswordHash: "hash:" + email, CreatedAt: t0, UpdatedAt: t0, LastLoginAt: t0}
	must(t, s.CreateUser(context.Background(), &u))
	return u
}

func mkTemplate(t *testing.T, s tenancy.Store, root tenancy.OrgID, id string) tenancy.Template {
	t.Helper()
	tm := tenancy.Template{ID: tenancy.TemplateID(id), RootID: root, CreatedAt: t0, UpdatedAt: t0,
		Def: datastream.Template{ID: id, Name: "Heater " + id, Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}}
	must(t, s.CreateTemplate(context.Background(), tm))
	return tm
}

func mkDevice(t *testing.T, s tenancy.Store, org tenancy.OrgID, owner tenancy.UserID, tmpl tenancy.TemplateID, name string) tenancy.Device {
	t.Helper()
	d := tenancy.Device{OrgID: org, OwnerID: owner, TemplateID: tmpl, Name: name, Token: "tok-" + name,
		TokenHash: h("tok-" + name), CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateDevice(context.Background(), &d))
	if d.ID == 0 {
		t.Fatal("CreateDevice did not assign an ID")
	}
	return d
}

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

func sameIDs[T ~int64](got, want []T) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// equalJSON compares values by their JSON form (times as instants).
func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
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

func testUsers(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "ann@example.com", tenancy.RoleAdmin)
	mkUser(t, s, tr.a1.ID, "bob@example.com", tenancy.RoleUser)
	mkUser(t, s, tr.b.ID, "cid@example.com", tenancy.RoleUser)
	dup := tenancy.User{OrgID: tr.b.ID, RoleID: 3, Email: "ann@example.com", Type: tenancy.UserEndUser, Status: tenancy.StatusPending, CreatedAt: t0, UpdatedAt: t0}
	wantCode(t, s.CreateUser(ctx, &dup), tenancy.Conflict)
	got, err := s.GetUser(ctx, u.ID)
	must(t, err)
	if !equalJSON(got, u) {
		t.Fatalf("GetUser = %+v, want %+v", got, u)
	}
	got, err = s.GetUserByEmail(ctx, "ann@example.com")
	must(t, err)
	if got.ID != u.ID {
		t.Fatalf("GetUserByEmail = %+v", got)
	}
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	wantCode(t, err, tenancy.NotFound)
	u.Name, u.Status, u.IsDev, u.OrgID = "Ann B", tenancy.StatusSuspended, true, tr.a1.ID
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUser(ctx, u.ID)
	must(t, err)
	if !equalJSON(got, u) {
		t.Fatalf("after update = %+v, want %+v", got, u)
	}
	for _, c := range []struct {
		f    tenancy.UserFilter
		want int
	}{
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}}, 2},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}}, 0},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}, 3},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, RoleID: tenancy.RoleUser}, 2},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "BOB"}, 1},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "\x00"}, 0},
	} {
		c.f.Page.Size = 10
		l, err := s.ListUsers(ctx, c.f)
		must(t, err)
		if l.Total != c.want || len(l.Items) != c.want {
			t.Errorf("ListUsers(%+v) = %d/%d, want %d", c.f, l.Total, len(l.Items), c.want)
		}
	}
	must(t, s.DeleteUser(ctx, u.ID))
	_, err = s.GetUser(ctx, u.ID)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.DeleteUser(ctx, u.ID), tenancy.NotFound)
	wantCode(t, s.UpdateUser(ctx, u), tenancy.NotFound)
}

func testRoles(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	for _, r := range []tenancy.Role{{ID: 3, Name: "User", BuiltIn: true}, {ID: 1, Name: "Admin", BuiltIn: true}, {ID: 4, Name: "Installer"}} {
		r.RootID = tr.root.ID
		must(t, s.CreateRole(ctx, r))
	}
	wantCode(t, s.CreateRole(ctx, tenancy.Role{RootID: tr.root.ID, ID: 4, Name: "Again"}), tenancy.Conflict)
	roles, err := s.ListRoles(ctx, tr.root.ID)
	must(t, err)
	if len(roles) != 3 || roles[0].ID != 1 || roles[2].ID != 4 || !roles[0].BuiltIn || roles[2].BuiltIn {
		t.Fatalf("ListRoles = %+v", roles)
	}
	must(t, s.UpdateRole(ctx, tenancy.Role{RootID: tr.root.ID, ID: 4, Name: "Fitter"}))
	roles, _ = s.ListRoles(ctx, tr.root.ID)
	if roles[2].Name != "Fitter" {
		t.Fatalf("rename lost: %+v", roles)
	}
	wantCode(t, s.UpdateRole(ctx, tenancy.Role{RootID: tr.root.ID, ID: 7, Name: "x"}), tenancy.NotFound)

	p1 := tenancy.NewPermSet(tenancy.OrgDevicesView, tenancy.GatewaysManage)
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a.ID, RoleID: 4, Perms: p1}))
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a1.ID, RoleID: 4, Perms: p1}))
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a.ID, RoleID: 1, Perms: tenancy.DefaultPermissions(1)}))
	p2 := tenancy.NewPermSet(tenancy.OwnDevicesView)
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a.ID, RoleID: 4, Perms: p2})) // upsert
	rp, err := s.ListRolePerms(ctx, tr.a.ID)
	must(t, err)
	if len(rp) != 2 || rp[0].RoleID != 1 || rp[0].Perms != tenancy.DefaultPermissions(1) || rp[1].Perms != p2 {
		t.Fatalf("ListRolePerms = %+v", rp)
	}
	all, err := s.AllRolePerms(ctx)
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("AllRolePerms = %d rows, want 3", len(all))
	}
	u1 := mkUser(t, s, tr.a.ID, "x@example.com", 4)
	u2 := mkUser(t, s, tr.a1.ID, "y@example.com", 4)
	u3 := mkUser(t, s, tr.a1.ID, "z@example.com", 3)
	n, err := s.ReassignRole(ctx, tr.root.ID, 4, 3)
	must(t, err)
	if n != 2 {
		t.Fatalf("ReassignRole moved %d, want 2", n)
	}
	for _, id := range []tenancy.UserID{u1.ID, u2.ID, u3.ID} {
		u, _ := s.GetUser(ctx, id)
		if u.RoleID != 3 {
			t.Fatalf("user %d role %d after reassign", id, u.RoleID)
		}
	}
	must(t, s.DeleteRole(ctx, tr.root.ID, 4))
	rp, _ = s.ListRolePerms(ctx, tr.a1.ID)
	if len(rp) != 0 {
		t.Fatalf("perms of a deleted role remain: %+v", rp)
	}
	wantCode(t, s.DeleteRole(ctx, tr.root.ID, 4), tenancy.NotFound)
}

func testTemplates(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	mkTemplate(t, s, tr.root.ID, "TMPL2")
	wantCode(t, s.CreateTemplate(ctx, tm), tenancy.Conflict)
	got, err := s.GetTemplate(ctx, tm.ID)
	must(t, err)
	if !equalJSON(got, tm) {
		t.Fatalf("GetTemplate = %+v, want %+v", got, tm)
	}
	tm.Def.Datastreams = append(tm.Def.Datastreams, datastream.Datastream{Pin: 2, Name: "on", Type: datastream.Boolean})
	tm.Description = "two pins"
	must(t, s.UpdateTemplate(ctx, tm))
	got, _ = s.GetTemplate(ctx, tm.ID)
	if !equalJSON(got, tm) {
		t.Fatalf("after update = %+v", got)
	}
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, true))
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, true)) // idempotent
	on, err := s.TemplateEnabled(ctx, tr.a.ID, tm.ID)
	must(t, err)
	off, _ := s.TemplateEnabled(ctx, tr.b.ID, tm.ID)
	if !on || off {
		t.Fatalf("enabled a=%v b=%v", on, off)
	}
	l, err := s.ListTemplates(ctx, tenancy.TemplateFilter{RootID: tr.root.ID, EnabledIn: tr.a.ID, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 || l.Items[0].ID != tm.ID {
		t.Fatalf("enabled in a = %+v", l)
	}
	l, _ = s.ListTemplates(ctx, tenancy.TemplateFilter{RootID: tr.root.ID, Page: tenancy.Page{Size: 10}})
	if l.Total != 2 {
		t.Fatalf("all templates = %d", l.Total)
	}
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, false))
	on, _ = s.TemplateEnabled(ctx, tr.a.ID, tm.ID)
	if on {
		t.Fatal("still enabled after disable")
	}
	must(t, s.DeleteTemplate(ctx, "TMPL2"))
	_, err = s.GetTemplate(ctx, "TMPL2")
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.DeleteTemplate(ctx, "TMPL2"), tenancy.NotFound)
}

func testDevices(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	tm2 := mkTemplate(t, s, tr.root.ID, "TMPL2")
	u := mkUser(t, s, tr.a1.ID, "own@example.com", tenancy.RoleUser)
	d1 := mkDevice(t, s, tr.a1.ID, u.ID, tm.ID, "Pool Heater")
	d2 := mkDevice(t, s, tr.a.ID, 0, tm.ID, "AC")
	d3 := mkDevice(t, s, tr.b.ID, 0, tm2.ID, "Boiler")
	got, err := s.GetDevice(ctx, d1.ID)
	must(t, err)
	if !equalJSON(got, d1) {
		t.Fatalf("GetDevice = %+v, want %+v", got, d1)
	}
	got, err = s.GetDeviceByTokenHash(ctx, h("tok-AC"))
	must(t, err)
	if got.ID != d2.ID {
		t.Fatalf("by token = %+v", got)
	}
	_, err = s.GetDeviceByTokenHash(ctx, h("nope"))
	wantCode(t, err, tenancy.NotFound)
	dup := d3
	dup.ID = 0
	wantCode(t, s.CreateDevice(ctx, &dup), tenancy.Conflict)

	list := func(f tenancy.DeviceFilter) []tenancy.DeviceID {
		t.Helper()
		f.Page.Size = 50
		l, err := s.ListDevices(ctx, f)
		must(t, err)
		var ids []tenancy.DeviceID
		for _, d := range l.Items {
			ids = append(ids, d.ID)
		}
		if l.Total != len(ids) {
			t.Fatalf("ListDevices(%+v): total %d, items %d", f, l.Total, len(ids))
		}
		return ids
	}
	for _, c := range []struct {
		name string
		f    tenancy.DeviceFilter
		want []tenancy.DeviceID
	}{
		{"root subtree", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}, []tenancy.DeviceID{d1.ID, d2.ID, d3.ID}},
		{"root alone", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID}}, nil},
		{"a subtree", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}}, []tenancy.DeviceID{d1.ID, d2.ID}},
		{"a alone", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}}, []tenancy.DeviceID{d2.ID}},
		{"owner in scope", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, OwnerID: u.ID}, []tenancy.DeviceID{d1.ID}},
		{"owner out of scope", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}, OwnerID: u.ID}, nil},
		{"owner single org", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a1.ID}, OwnerID: u.ID}, []tenancy.DeviceID{d1.ID}},
		{"template", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, TemplateID: tm2.ID}, []tenancy.DeviceID{d3.ID}},
		{"query", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "heat"}, []tenancy.DeviceID{d1.ID}},
		{"query NUL", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "\x00"}, nil},
		{"query NUL after text", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "heat\x00zzz"}, nil},
	} {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// Moves keep per-scope counts right.
	d2.OrgID, d2.OwnerID, d2.Name = tr.b.ID, u.ID, "AC moved"
	must(t, s.UpdateDevice(ctx, d2))
	got, _ = s.GetDevice(ctx, d2.ID)
	if !equalJSON(got, d2) {
		t.Fatalf("after update = %+v, want %+v", got, d2)
	}
	if ids := list(tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}}); len(ids) != 2 {
		t.Fatalf("b after move: %v", ids)
	}
	for _, d := range []*tenancy.Device{&d1, &d2} {
		got, err := s.GetDevice(ctx, d.ID)
		must(t, err)
		got.OrgID = tr.a.ID
		must(t, s.UpdateDevice(ctx, got))
	}
	if ids := list(tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}}); !sameIDs(ids, []tenancy.DeviceID{d1.ID, d2.ID}) {
		t.Fatalf("a after owner move: %v", ids)
	}
	n, err := s.ClearOwner(ctx, u.ID)
	must(t, err)
	if n != 2 {
		t.Fatalf("ClearOwner = %d, want 2", n)
	}
	got, _ = s.GetDevice(ctx, d1.ID)
	if got.OwnerID != 0 || got.OrgID != tr.a.ID {
		t.Fatalf("after ClearOwner: %+v", got)
	}
	// Deleting a user clears ownership rather than deleting devices.
	v := mkUser(t, s, tr.b.ID, "v@example.com", tenancy.RoleUser)
	d3.OwnerID = v.ID
	must(t, s.UpdateDevice(ctx, d3))
	must(t, s.DeleteUser(ctx, v.ID))
	got, err = s.GetDevice(ctx, d3.ID)
	must(t, err)
	if got.OwnerID != 0 {
		t.Fatalf("device keeps deleted owner: %+v", got)
	}
	usage, _ := s.OrgUsage(ctx, tr.a.ID)
	if usage.Devices != 2 {
		t.Fatalf("OrgUsage(a).Devices = %d", usage.Devices)
	}
	must(t, s.DeleteDevice(ctx, d1.ID))
	wantCode(t, s.DeleteDevice(ctx, d1.ID), tenancy.NotFound)
	_, err = s.GetDevice(ctx, d1.ID)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.UpdateDevice(ctx, d1), tenancy.NotFound)
	if ids := list(tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}); len(ids) != 2 {
		t.Fatalf("after delete: %v", ids)
	}
}

// testDevicePaging checks that keyset and offset pages cover a scope
// exactly once, in id order, for dense and sparse scopes alike (a store
// may use different plans for them).
func testDevicePaging(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	u := mkUser(t, s, tr.a1.ID, "p@example.com", tenancy.RoleUser)
	want := map[tenancy.OrgID][]tenancy.DeviceID{}
	var owned []tenancy.DeviceID
	orgs := []tenancy.OrgID{tr.b.ID, tr.b.ID, tr.b.ID, tr.a1.ID, tr.b.ID, tr.a.ID, tr.b.ID}
	for i := range 140 {
		org := orgs[i%len(orgs)]
		var owner tenancy.UserID
		if org == tr.a1.ID && i%2 == 0 {
			owner = u.ID
		}
		d := mkDevice(t, s, org, owner, tm.ID, fmt.Sprintf("dev%03d", i))
		want[org] = append(want[org], d.ID)
		if owner != 0 {
			owned = append(owned, d.ID)
		}
	}
	all := slices.Concat(want[tr.b.ID], want[tr.a1.ID], want[tr.a.ID])
	slices.Sort(all)
	aSub := slices.Concat(want[tr.a1.ID], want[tr.a.ID])
	slices.Sort(aSub)
	for _, c := range []struct {
		name string
		f    tenancy.DeviceFilter
		want []tenancy.DeviceID
	}{
		{"dense", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}, all},
		{"sparse", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}}, aSub},
		{"single", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.b.ID}}, want[tr.b.ID]},
		{"owner", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, OwnerID: u.ID}, owned},
	} {
		for _, size := range []int{1, 7, 50, 1000} {
			var keyset, offset []tenancy.DeviceID
			f := c.f
			f.Page = tenancy.Page{Size: size}
			for pages := 0; ; pages++ {
				l, err := s.ListDevices(ctx, f)
				must(t, err)
				if l.Total != len(c.want) {
					t.Fatalf("%s size %d: total %d, want %d", c.name, size, l.Total, len(c.want))
				}
				for _, d := range l.Items {
					keyset = append(keyset, d.ID)
				}
				if l.Next == 0 || pages > 200 {
					break
				}
				f.Page.After = l.Next
			}
			for n := 0; n < 200; n++ {
				f := c.f
				f.Page = tenancy.Page{Number: n, Size: size}
				l, err := s.ListDevices(ctx, f)
				must(t, err)
				if len(l.Items) == 0 {
					break
				}
				for _, d := range l.Items {
					offset = append(offset, d.ID)
				}
			}
			if !slices.Equal(keyset, c.want) || !slices.Equal(offset, c.want) {
				t.Fatalf("%s size %d:\nkeyset %v\noffset %v\nwant   %v", c.name, size, keyset, offset, c.want)
			}
		}
	}
}

func testStaticTokens(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	st := tenancy.StaticToken{QR: "sqr_1", OrgID: tr.a.ID, TemplateID: tm.ID, Status: tenancy.Unclaimed, CreatedAt: t0}
	must(t, s.CreateStaticToken(ctx, &st))
	if st.ID == 0 {
		t.Fatal("no ID")
	}
	dup := st
	wantCode(t, s.CreateStaticToken(ctx, &dup), tenancy.Conflict)
	d := mkDevice(t, s, tr.a.ID, 0, tm.ID, "static")
	d.StaticToken = st.ID
	must(t, s.UpdateDevice(ctx, d))
	st.DeviceID, st.Status, st.OwnerID, st.ClaimedOrgID, st.ClaimedAt = d.ID, tenancy.Claimed, 7, tr.b.ID, t0.Add(time.Minute)
	must(t, s.UpdateStaticToken(ctx, st))
	got, err := s.GetStaticTokenByQR(ctx, "sqr_1")
	must(t, err)
	if !equalJSON(got, st) {
		t.Fatalf("got %+v, want %+v", got, st)
	}
	got, _ = s.GetStaticToken(ctx, st.ID)
	if !equalJSON(got, st) {
		t.Fatalf("by id %+v", got)
	}
	l, err := s.ListStaticTokens(ctx, tenancy.StaticTokenFilter{OrgID: tr.a.ID, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 {
		t.Fatalf("list = %+v", l)
	}
	// By status: the claimed one, and none unclaimed (Total counts the
	// filtered rows).
	l, err = s.ListStaticTokens(ctx, tenancy.StaticTokenFilter{OrgID: tr.a.ID, Status: tenancy.Claimed, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != st.ID {
		t.Fatalf("claimed list = %+v", l)
	}
	l, err = s.ListStaticTokens(ctx, tenancy.StaticTokenFilter{OrgID: tr.a.ID, Status: tenancy.Unclaimed, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("unclaimed list = %+v", l)
	}
	must(t, s.DeleteStaticToken(ctx, st.ID))
	_, err = s.GetStaticTokenByQR(ctx, "sqr_1")
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.DeleteStaticToken(ctx, st.ID), tenancy.NotFound)
	got2, err := s.GetDevice(ctx, d.ID)
	must(t, err)
	if got2.StaticToken != 0 {
		t.Fatalf("device still points at a deleted static token: %+v", got2)
	}
}

func testLocations(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	l := tenancy.Location{OrgID: tr.a.ID, Name: "Plant", Address: tenancy.Address{City: "Linz"}, Lat: 48.3, Lon: 14.3, CreatedAt: t0}
	must(t, s.CreateLocation(ctx, &l))
	own := tenancy.Location{OrgID: tr.a1.ID, OwnerID: 5, Name: "Home", CreatedAt: t0}
	must(t, s.CreateLocation(ctx, &own))
	l.Users = []tenancy.UserID{3, 4}
	l.Name = "Plant 2"
	must(t, s.UpdateLocation(ctx, l))
	got, err := s.GetLocation(ctx, l.ID)
	must(t, err)
	if !equalJSON(got, l) {
		t.Fatalf("got %+v, want %+v", got, l)
	}
	list, err := s.ListLocations(ctx, tenancy.LocationFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if list.Total != 2 {
		t.Fatalf("subtree = %+v", list)
	}
	list, _ = s.ListLocations(ctx, tenancy.LocationFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, OwnerID: 5, Page: tenancy.Page{Size: 10}})
	if list.Total != 1 || list.Items[0].ID != own.ID {
		t.Fatalf("owned = %+v", list)
	}
	// An owned location moves with its owner to another org (user
	// transfer, issue 11).
	own.OrgID = tr.b.ID
	must(t, s.UpdateLocation(ctx, own))
	if got, _ := s.GetLocation(ctx, own.ID); got.OrgID != tr.b.ID {
		t.Fatalf("moved location is in org %d, want %d", got.OrgID, tr.b.ID)
	}
	must(t, s.DeleteLocation(ctx, l.ID))
	_, err = s.GetLocation(ctx, l.ID)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.UpdateLocation(ctx, l), tenancy.NotFound)
}

func testTags(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	d := mkDevice(t, s, tr.a.ID, 0, tm.ID, "tagged")
	t1 := tenancy.Tag{OrgID: tr.a.ID, Name: "roof"}
	t2 := tenancy.Tag{OrgID: tr.a.ID, Name: "cellar"}
	must(t, s.CreateTag(ctx, &t1))
	must(t, s.CreateTag(ctx, &t2))
	dup := tenancy.Tag{OrgID: tr.a.ID, Name: "roof"}
	wantCode(t, s.CreateTag(ctx, &dup), tenancy.Conflict)
	other := tenancy.Tag{OrgID: tr.b.ID, Name: "roof"}
	must(t, s.CreateTag(ctx, &other))
	ts, err := s.ListTags(ctx, tr.a.ID)
	must(t, err)
	if len(ts) != 2 {
		t.Fatalf("tags = %+v", ts)
	}
	got, err := s.GetTag(ctx, t2.ID)
	must(t, err)
	if got != t2 {
		t.Fatalf("GetTag = %+v", got)
	}
	wantCode(t, s.RenameTag(ctx, t2.ID, "roof"), tenancy.Conflict) // t1's name in the same org
	wantCode(t, s.RenameTag(ctx, 99999, "attic"), tenancy.NotFound)
	must(t, s.RenameTag(ctx, t2.ID, "basement"))
	t2.Name = "basement"
	if got, _ := s.GetTag(ctx, t2.ID); got != t2 {
		t.Fatalf("after rename GetTag = %+v", got)
	}
	must(t, s.SetDeviceTags(ctx, d.ID, []tenancy.TagID{t1.ID, t2.ID}))
	dt, err := s.DeviceTags(ctx, d.ID)
	must(t, err)
	if len(dt) != 2 {
		t.Fatalf("device tags = %+v", dt)
	}
	must(t, s.SetDeviceTags(ctx, d.ID, []tenancy.TagID{t2.ID})) // replaces
	dt, _ = s.DeviceTags(ctx, d.ID)
	if len(dt) != 1 || dt[0].ID != t2.ID {
		t.Fatalf("after replace = %+v", dt)
	}
	must(t, s.DeleteTag(ctx, t2.ID))
	dt, _ = s.DeviceTags(ctx, d.ID)
	if len(dt) != 0 {
		t.Fatalf("deleted tag still on device: %+v", dt)
	}
	wantCode(t, s.DeleteTag(ctx, t2.ID), tenancy.NotFound)
	wantCode(t, s.SetDeviceTags(ctx, 99999, nil), tenancy.NotFound)
}

func testDeviceMeta(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	d := mkDevice(t, s, tr.a1.ID, 0, tm.ID, "in a1")
	other := mkDevice(t, s, tr.b.ID, 0, tm.ID, "in b")
	bare := mkDevice(t, s, tr.a.ID, 0, tm.ID, "no metadata")
	t1 := t0.Add(time.Minute + 123*time.Millisecond)
	serial := tenancy.DeviceMeta{Name: "Serial", Value: "SN-1", UpdatedAt: t0, UpdatedBy: 7}
	contact := tenancy.DeviceMeta{Name: "Contact", Value: "ops@example.com", UpdatedAt: t0}
	must(t, s.SetDeviceMeta(ctx, d.ID, serial))
	must(t, s.SetDeviceMeta(ctx, d.ID, contact))
	must(t, s.SetDeviceMeta(ctx, other.ID, serial))
	serial.Value, serial.UpdatedAt, serial.UpdatedBy = "SN-2", t1, 0
	must(t, s.SetDeviceMeta(ctx, d.ID, serial)) // replaces
	got, err := s.DeviceMeta(ctx, d.ID)
	must(t, err)
	if want := []tenancy.DeviceMeta{contact, serial}; !slices.EqualFunc(got, want, func(a, b tenancy.DeviceMeta) bool {
		return a.Name == b.Name && a.Value == b.Value && a.UpdatedAt.Equal(b.UpdatedAt) && a.UpdatedBy == b.UpdatedBy
	}) {
		t.Fatalf("DeviceMeta = %+v, want %+v (by name)", got, want)
	}
	if got, err := s.DeviceMeta(ctx, bare.ID); err != nil || len(got) != 0 {
		t.Fatalf("DeviceMeta of a device without = %+v, %v", got, err)
	}
	sub, err := s.SubtreeDeviceMeta(ctx, tr.a.ID)
	must(t, err)
	if len(sub) != 1 || len(sub[d.ID]) != 2 || sub[d.ID][1].Value != "SN-2" {
		t.Fatalf("SubtreeDeviceMeta(a) = %+v", sub)
	}
	sub, err = s.SubtreeDeviceMeta(ctx, tr.root.ID)
	must(t, err)
	if len(sub) != 2 || len(sub[other.ID]) != 1 {
		t.Fatalf("SubtreeDeviceMeta(root) = %+v", sub)
	}
	wantCode(t, s.SetDeviceMeta(ctx, 99999, serial), tenancy.NotFound)
	must(t, s.DeleteDevice(ctx, d.ID))
	if sub, _ := s.SubtreeDeviceMeta(ctx, tr.a.ID); len(sub) != 0 {
		t.Fatalf("a deleted device's metadata remains: %+v", sub)
	}
}

func testInvitations(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "inv@example.com", tenancy.RoleUser)
	for i := range 3 {
		inv := tenancy.Invitation{UserID: u.ID, OrgID: tr.a.ID, ByOrgID: tr.root.ID, ByUserID: 1, TokenHash: h(fmt.Sprint("inv", i)),
			CreatedAt: t0.Add(time.Duration(i) * 12 * time.Hour), ExpiresAt: t0.Add(30 * 24 * time.Hour)}
		must(t, s.CreateInvitation(ctx, &inv))
		if inv.ID == 0 {
			t.Fatal("no ID")
		}
	}
	n, err := s.CountInvitations(ctx, tr.root.ID, t0.Add(12*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("CountInvitations = %d, want 2", n)
	}
	n, _ = s.CountInvitations(ctx, tr.a.ID, t0)
	if n != 0 {
		t.Fatalf("other org counted %d", n)
	}
	inv, err := s.GetInvitationByHash(ctx, h("inv1"))
	must(t, err)
	if inv.UserID != u.ID || inv.TokenHash != h("inv1") || !inv.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) || !inv.UsedAt.IsZero() {
		t.Fatalf("invitation = %+v", inv)
	}
	must(t, s.MarkInvitationUsed(ctx, inv.ID, t0.Add(time.Hour)))
	wantCode(t, s.MarkInvitationUsed(ctx, inv.ID, t0.Add(time.Hour)), tenancy.NotFound)
	inv, _ = s.GetInvitationByHash(ctx, h("inv1"))
	if !inv.UsedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("used at %v", inv.UsedAt)
	}
	_, err = s.GetInvitationByHash(ctx, h("nope"))
	wantCode(t, err, tenancy.NotFound)

	must(t, s.CreatePasswordReset(ctx, tenancy.PasswordReset{TokenHash: h("r1"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.CreatePasswordReset(ctx, tenancy.PasswordReset{TokenHash: h("r2"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	_, err = s.UsePasswordReset(ctx, h("r2"), t0.Add(2*time.Hour))
	wantCode(t, err, tenancy.NotFound) // expired
	r, err := s.UsePasswordReset(ctx, h("r1"), t0.Add(time.Minute))
	must(t, err)
	if r.UserID != u.ID {
		t.Fatalf("reset = %+v", r)
	}
	_, err = s.UsePasswordReset(ctx, h("r1"), t0.Add(time.Minute))
	wantCode(t, err, tenancy.NotFound) // single use
}

func testSessions(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "ses@example.com", tenancy.RoleUser)
	s1 := tenancy.Session{TokenHash: h("s1"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), RemoteAddr: "127.0.0.1", UserAgent: "test"}
	s2 := tenancy.Session{TokenHash: h("s2"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateSession(ctx, &s1))
	must(t, s.CreateSession(ctx, &s2))
	s3 := tenancy.Session{TokenHash: h("s3"), UserID: u.ID, CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)} // expired
	must(t, s.CreateSession(ctx, &s3))
	live, err := s.ListUserSessions(ctx, u.ID, t0)
	must(t, err)
	if len(live) != 2 || live[0].ID != s2.ID || live[1].ID != s1.ID || live[1].UserAgent != "test" {
		t.Fatalf("live sessions %+v, want s2 then s1 (newest first, the expired one left out)", live)
	}
	got, err := s.GetSessionByHash(ctx, h("s1"))
	must(t, err)
	if !equalJSON(got, s1) {
		t.Fatalf("got %+v, want %+v", got, s1)
	}
	must(t, s.RevokeSession(ctx, s1.ID, t0.Add(time.Minute)))
	must(t, s.RevokeSession(ctx, s1.ID, t0.Add(2*time.Minute))) // twice is fine
	wantCode(t, s.RevokeSession(ctx, 99999, t0), tenancy.NotFound)
	got, _ = s.GetSessionByHash(ctx, h("s1"))
	if !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("revoked at %v", got.RevokedAt)
	}
	n, err := s.RevokeUserSessions(ctx, u.ID, t0.Add(time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("RevokeUserSessions = %d, want 2 (s2 and the expired s3; s1 was already revoked)", n)
	}
	got, _ = s.GetSessionByHash(ctx, h("s2"))
	if got.RevokedAt.IsZero() {
		t.Fatal("s2 not revoked")
	}
	if live, err := s.ListUserSessions(ctx, u.ID, t0); err != nil || len(live) != 0 {
		t.Fatalf("live sessions after revoking all: %+v %v", live, err)
	}
	_, err = s.GetSessionByHash(ctx, h("nope"))
	wantCode(t, err, tenancy.NotFound)
}

func testOAuth(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	c := tenancy.OAuthClient{ID: "oc_1", OrgID: tr.a.ID, Name: "ERP", SecretHash: h("secret"), RedirectURLs: []string{"https://x"}, CreatedBy: 1, CreatedAt: t0}
	must(t, s.CreateOAuthClient(ctx, c))
	wantCode(t, s.CreateOAuthClient(ctx, c), tenancy.Conflict)
	got, err := s.GetOAuthClient(ctx, "oc_1")
	must(t, err)
	if !equalJSON(got, c) {
		t.Fatalf("got %+v, want %+v", got, c)
	}
	cs, err := s.ListOAuthClients(ctx, tr.a.ID)
	must(t, err)
	if len(cs) != 1 {
		t.Fatalf("clients = %+v", cs)
	}
	at := tenancy.AccessToken{TokenHash: h("at"), ClientID: c.ID, OrgID: c.OrgID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateAccessToken(ctx, at))
	gotAT, err := s.GetAccessTokenByHash(ctx, h("at"))
	must(t, err)
	if !equalJSON(gotAT, at) {
		t.Fatalf("access token %+v", gotAT)
	}
	for _, k := range []string{"rt1", "rt2", "rt3"} {
		must(t, s.CreateRefreshToken(ctx, tenancy.RefreshToken{TokenHash: h(k), ClientID: c.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	_, err = s.UseRefreshToken(ctx, h("rt1"), t0.Add(2*time.Hour))
	wantCode(t, err, tenancy.NotFound) // expired
	// Single use under concurrency: exactly one of several redeemers wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt, err := s.UseRefreshToken(ctx, h("rt2"), t0.Add(time.Minute))
			if err == nil && rt.ClientID == c.ID {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if tenancy.CodeOf(err) != tenancy.NotFound {
				t.Errorf("UseRefreshToken: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("refresh token redeemed %d times", wins)
	}
	must(t, s.RevokeClientTokens(ctx, c.ID, t0.Add(time.Minute)))
	gotAT, _ = s.GetAccessTokenByHash(ctx, h("at"))
	if gotAT.RevokedAt.IsZero() {
		t.Fatal("access token not revoked")
	}
	_, err = s.UseRefreshToken(ctx, h("rt3"), t0.Add(2*time.Minute))
	wantCode(t, err, tenancy.NotFound)
	must(t, s.DeleteOAuthClient(ctx, c.ID))
	_, err = s.GetOAuthClient(ctx, c.ID)
	wantCode(t, err, tenancy.NotFound)
	_, err = s.GetAccessTokenByHash(ctx, h("at"))
	wantCode(t, err, tenancy.NotFound) // tokens go with their client
	wantCode(t, s.DeleteOAuthClient(ctx, c.ID), tenancy.NotFound)
}

func testGateways(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	g := tenancy.Gateway{Name: "Pi", ClaimCodeHash: h("code"), CreatedAt: t0, ClaimExpiresAt: t0.Add(24 * time.Hour)}
	must(t, s.CreateGateway(ctx, &g))
	dup := tenancy.Gateway{Name: "Pi2", ClaimCodeHash: h("code"), CreatedAt: t0}
	wantCode(t, s.CreateGateway(ctx, &dup), tenancy.Conflict)
	got, err := s.GetGatewayByClaimHash(ctx, h("code"))
	must(t, err)
	if !equalJSON(got, g) {
		t.Fatalf("got %+v, want %+v", got, g)
	}
	g.OrgID, g.ClaimedAt, g.ClaimExpiresAt = tr.a1.ID, t0.Add(time.Hour), t0.Add(25*time.Hour)
	must(t, s.UpdateGateway(ctx, g))
	got, _ = s.GetGateway(ctx, g.ID)
	if !equalJSON(got, g) {
		t.Fatalf("after claim %+v", got)
	}
	l, err := s.ListGateways(ctx, tenancy.GatewayFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 {
		t.Fatalf("list = %+v", l)
	}
	l, _ = s.ListGateways(ctx, tenancy.GatewayFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	if l.Total != 0 {
		t.Fatalf("b sees %+v", l)
	}
	must(t, s.DeleteGateway(ctx, g.ID))
	_, err = s.GetGateway(ctx, g.ID)
	wantCode(t, err, tenancy.NotFound)
}

func testAudit(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	var ids []tenancy.AuditID
	for i, org := range []tenancy.OrgID{tr.a.ID, tr.a1.ID, tr.b.ID, tr.a1.ID} {
		e := tenancy.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), OrgID: org, UserID: 1, Action: "device.transfer",
			ObjectType: "device", ObjectID: fmt.Sprint(i), Before: json.RawMessage(`{"orgId":1}`), After: json.RawMessage(`{"orgId":2}`)}
		if i == 0 {
			e.Before, e.ClientID, e.UserID = nil, "oc_1", 0
		}
		must(t, s.AppendAudit(ctx, &e))
		ids = append(ids, e.ID)
	}
	l, err := s.ListAudit(ctx, tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 2}})
	must(t, err)
	if l.Total != 3 || len(l.Items) != 2 || l.Items[0].ID != ids[3] || l.Items[1].ID != ids[1] {
		t.Fatalf("newest first: %+v", l)
	}
	l2, err := s.ListAudit(ctx, tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 2, After: l.Next}})
	must(t, err)
	if len(l2.Items) != 1 || l2.Items[0].ID != ids[0] {
		t.Fatalf("second page: %+v", l2)
	}
	e := l2.Items[0]
	if e.Before != nil || string(e.After) != `{"orgId":2}` || e.ClientID != "oc_1" || !e.At.Equal(t0) {
		t.Fatalf("entry round trip: %+v", e)
	}
	// One object's entries, still within the scope.
	more := tenancy.AuditEntry{At: t0, OrgID: tr.b.ID, Action: "device.rename", ObjectType: "device", ObjectID: "1"}
	must(t, s.AppendAudit(ctx, &more))
	other := tenancy.AuditEntry{At: t0, OrgID: tr.a1.ID, Action: "user.create", ObjectType: "user", ObjectID: "1"}
	must(t, s.AppendAudit(ctx, &other))
	for _, c := range []struct {
		scope tenancy.Scope
		want  []tenancy.AuditID
	}{
		{tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, []tenancy.AuditID{more.ID, ids[1]}},
		{tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, []tenancy.AuditID{ids[1]}},
		{tenancy.Scope{OrgID: tr.a.ID}, nil},
	} {
		l, err := s.ListAudit(ctx, tenancy.AuditFilter{Scope: c.scope, ObjectType: "device", ObjectID: "1", Page: tenancy.Page{Size: 10}})
		must(t, err)
		var got []tenancy.AuditID
		for _, e := range l.Items {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, c.want) || l.Total != len(c.want) {
			t.Fatalf("device 1's entries in %+v: %v (total %d), want %v", c.scope, got, l.Total, c.want)
		}
	}
}

// testAuditFilters: user, action and time range narrow the scope's
// entries, each alone and together, newest first.
func testAuditFilters(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	var ids []tenancy.AuditID
	for i, e := range []struct {
		org    tenancy.OrgID
		user   tenancy.UserID
		action string
	}{
		{tr.a.ID, 1, "user.invite"}, {tr.a1.ID, 2, "user.invite"}, {tr.a1.ID, 1, "org.create"}, {tr.b.ID, 1, "user.invite"}, {tr.a.ID, 1, "user.invite"},
	} {
		en := tenancy.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), OrgID: e.org, UserID: e.user, Action: e.action,
			ObjectType: "user", ObjectID: fmt.Sprint(i)}
		must(t, s.AppendAudit(ctx, &en))
		ids = append(ids, en.ID)
	}
	sub := tenancy.Scope{OrgID: tr.a.ID, Subtree: true}
	for _, c := range []struct {
		name string
		f    tenancy.AuditFilter
		want []tenancy.AuditID
	}{
		{"user", tenancy.AuditFilter{Scope: sub, UserID: 1}, []tenancy.AuditID{ids[4], ids[2], ids[0]}},
		{"action", tenancy.AuditFilter{Scope: sub, Action: "user.invite"}, []tenancy.AuditID{ids[4], ids[1], ids[0]}},
		{"since", tenancy.AuditFilter{Scope: sub, Since: t0.Add(time.Minute)}, []tenancy.AuditID{ids[4], ids[2], ids[1]}},
		{"until is exclusive", tenancy.AuditFilter{Scope: sub, Until: t0.Add(2 * time.Minute)}, []tenancy.AuditID{ids[1], ids[0]}},
		{"all together", tenancy.AuditFilter{Scope: sub, UserID: 1, Action: "user.invite", Since: t0, Until: t0.Add(4 * time.Minute)}, []tenancy.AuditID{ids[0]}},
		{"with an object", tenancy.AuditFilter{Scope: sub, ObjectType: "user", ObjectID: "2", UserID: 1}, []tenancy.AuditID{ids[2]}},
		{"one org", tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}, Action: "user.invite"}, []tenancy.AuditID{ids[4], ids[0]}},
	} {
		c.f.Page = tenancy.Page{Size: 10}
		l, err := s.ListAudit(ctx, c.f)
		must(t, err)
		var got []tenancy.AuditID
		for _, e := range l.Items {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, c.want) || l.Total != len(c.want) {
			t.Errorf("%s: %v (total %d), want %v", c.name, got, l.Total, c.want)
		}
		// Without the count (a store may count anyway): the same
		// entries, paged the same way.
		c.f.SkipTotal, c.f.Page = true, tenancy.Page{Size: 1}
		got = nil
		for range 10 {
			l, err := s.ListAudit(ctx, c.f)
			must(t, err)
			for _, e := range l.Items {
				got = append(got, e.ID)
			}
			if l.Next == 0 {
				break
			}
			c.f.Page.After = l.Next
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s without the total, a page of one at a time: %v, want %v", c.name, got, c.want)
		}
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

func testAtomic(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	boom := errors.New("boom")
	var id tenancy.OrgID
	err := s.Atomic(ctx, func(tx tenancy.Tx) error {
		o := tenancy.Org{ParentID: tr.a.ID, Name: "Ghost", Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
		if err := tx.CreateOrg(ctx, &o); err != nil {
			return err
		}
		id = o.ID
		if _, err := tx.GetOrg(ctx, o.ID); err != nil { // visible inside
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomic returned %v, want fn's error", err)
	}
	_, err = s.GetOrg(ctx, id)
	wantCode(t, err, tenancy.NotFound)
	desc, _ := s.Descendants(ctx, tr.a.ID)
	if len(desc) != 2 {
		t.Fatalf("rolled-back org left closure rows: %v", desc)
	}
	must(t, s.Atomic(ctx, func(tx tenancy.Tx) error {
		o := tenancy.Org{ParentID: tr.a.ID, Name: "Real", Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
		if err := tx.CreateOrg(ctx, &o); err != nil {
			return err
		}
		id = o.ID
		return tx.MoveOrg(ctx, o.ID, tr.b.ID)
	}))
	o, err := s.GetOrg(ctx, id)
	must(t, err)
	if o.ParentID != tr.b.ID {
		t.Fatalf("committed org %+v", o)
	}
	// Concurrent transactions serialize instead of failing.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Atomic(ctx, func(tx tenancy.Tx) error {
				o := tenancy.Org{ParentID: tr.b.ID, Name: fmt.Sprintf("Par %d", i), Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
				return tx.CreateOrg(ctx, &o)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
}

// testRevokeCredentials: what a password change ends. RevokeOtherSessions
// keeps one session; RevokeCreatorTokens ends the access and refresh
// tokens of the clients the user created, and no one else's.
func testRevokeCredentials(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "me@example.com", tenancy.RoleAdmin)
	other := mkUser(t, s, tr.a.ID, "other@example.com", tenancy.RoleAdmin)
	var mine [3]tenancy.Session
	for i := range mine {
		mine[i] = tenancy.Session{TokenHash: h(fmt.Sprint("mine", i)), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		must(t, s.CreateSession(ctx, &mine[i]))
	}
	theirs := tenancy.Session{TokenHash: h("theirs"), UserID: other.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateSession(ctx, &theirs))
	at := t0.Add(time.Minute)
	n, err := s.RevokeOtherSessions(ctx, u.ID, mine[1].ID, at)
	must(t, err)
	if n != 2 {
		t.Errorf("RevokeOtherSessions = %d, want 2", n)
	}
	for i, want := range []bool{true, false, true} {
		got, _ := s.GetSessionByHash(ctx, mine[i].TokenHash)
		if revoked := !got.RevokedAt.IsZero(); revoked != want {
			t.Errorf("session %d revoked = %v, want %v", i, revoked, want)
		}
	}
	if got, _ := s.GetSessionByHash(ctx, h("theirs")); !got.RevokedAt.IsZero() {
		t.Error("another user's session was revoked")
	}
	if n, err := s.RevokeOtherSessions(ctx, u.ID, 0, at); err != nil || n != 1 {
		t.Errorf("RevokeOtherSessions keeping none = %d, %v; want 1", n, err)
	}

	for _, c := range []tenancy.OAuthClient{{ID: "oc_mine", CreatedBy: u.ID}, {ID: "oc_theirs", CreatedBy: other.ID}} {
		c.OrgID, c.Name, c.SecretHash, c.CreatedAt = tr.a.ID, c.ID, h(c.ID), t0
		must(t, s.CreateOAuthClient(ctx, c))
		must(t, s.CreateAccessToken(ctx, tenancy.AccessToken{TokenHash: h("at" + c.ID), ClientID: c.ID, OrgID: c.OrgID,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		must(t, s.CreateRefreshToken(ctx, tenancy.RefreshToken{TokenHash: h("rt" + c.ID), ClientID: c.ID,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	must(t, s.RevokeCreatorTokens(ctx, u.ID, at))
	if got, _ := s.GetAccessTokenByHash(ctx, h("atoc_mine")); !got.RevokedAt.Equal(at) {
		t.Errorf("the user's client's access token: revoked at %v, want %v", got.RevokedAt, at)
	}
	_, err = s.UseRefreshToken(ctx, h("rtoc_mine"), at)
	wantCode(t, err, tenancy.NotFound)
	if got, _ := s.GetAccessTokenByHash(ctx, h("atoc_theirs")); !got.RevokedAt.IsZero() {
		t.Error("another user's client's access token was revoked")
	}
	_, err = s.UseRefreshToken(ctx, h("rtoc_theirs"), at)
	must(t, err)
}
