// Package tenancytest is the conformance suite every tenancy.Store must
// pass: call Run from the store's own tests with a constructor that returns
// a fresh, empty store.
package tenancytest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
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
		{"UserSearch", testUserSearch},
		{"Roles", testRoles},
		{"Templates", testTemplates},
		{"TemplateOrgs", testTemplateOrgs},
		{"Devices", testDevices},
		{"DevicePaging", testDevicePaging},
		{"DeviceList", testDeviceList},
		{"StaticTokens", testStaticTokens},
		{"Locations", testLocations},
		{"Tags", testTags},
		{"UserTags", testUserTags},
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
