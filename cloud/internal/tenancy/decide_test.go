package tenancy

import (
	"strings"
	"testing"
)

// fixture is TENANCY.md §13: WarmPlus → United Heaters → {US branch,
// Canada branch}; WarmPlus → Muller.
const (
	warmPlus OrgID = iota + 1
	united
	usBranch
	canada
	muller
)

var (
	userA = Actor{UserID: 1, OrgID: warmPlus, RoleID: RoleAdmin}
	userU = Actor{UserID: 2, OrgID: united, RoleID: RoleAdmin}
	userM = Actor{UserID: 3, OrgID: usBranch, RoleID: RoleUser}
	userH = Actor{UserID: 4, OrgID: canada, RoleID: RoleUser}
	userR = Actor{UserID: 5, OrgID: muller, RoleID: RoleStaff}
	userW = Actor{UserID: 6, OrgID: muller, RoleID: RoleStaff}

	devAC       = Resource{OrgID: united, OwnerID: 2}
	devPool     = Resource{OrgID: usBranch, OwnerID: 3}
	devThermoH  = Resource{OrgID: canada, OwnerID: 4}
	devBoiler   = Resource{OrgID: muller, OwnerID: 5}
	devThermoW  = Resource{OrgID: muller, OwnerID: 6}
	allFixtureD = []Resource{devAC, devPool, devThermoH, devBoiler, devThermoW}
)

const customRole RoleID = 4

// fixtureTree builds the §13 tree with default permissions everywhere,
// then applies edits (org, role) → set.
func fixtureTree(edits map[[2]int64]PermSet) *Tree {
	orgs := []Org{
		{ID: warmPlus, Name: "WarmPlus", CanCreateSub: true},
		{ID: united, ParentID: warmPlus, Name: "United Heaters", CanCreateSub: true},
		{ID: usBranch, ParentID: united, Name: "US branch"},
		{ID: canada, ParentID: united, Name: "Canada branch"},
		{ID: muller, ParentID: warmPlus, Name: "Muller"},
	}
	var perms []RolePerms
	for _, o := range orgs {
		for _, r := range []RoleID{RoleAdmin, RoleStaff, RoleUser, customRole} {
			p := DefaultPermissions(r)
			if e, ok := edits[[2]int64{int64(o.ID), int64(r)}]; ok {
				p = e
			}
			perms = append(perms, RolePerms{OrgID: o.ID, RoleID: r, Perms: p})
		}
	}
	return NewTree(orgs, perms)
}

func edit(org OrgID, role RoleID, p PermSet) map[[2]int64]PermSet {
	return map[[2]int64]PermSet{{int64(org), int64(role)}: p}
}

func TestDecideScenarios(t *testing.T) {
	def := fixtureTree(nil)
	everything := allPerms
	tests := []struct {
		name  string
		tree  *Tree
		actor Actor
		perm  Permission
		res   Resource
		want  Code // "" = allowed
	}{
		// §13.1 sibling isolation, even with org-wide view.
		{"H cannot see Pool Heater", fixtureTree(edit(canada, RoleUser, NewPermSet(OrgDevicesView, OrgSwitchSub))), userH, OrgDevicesView, devPool, NotFound},
		{"H cannot control Pool Heater", fixtureTree(edit(canada, RoleUser, everything)), userH, OrgDevicesControl, devPool, NotFound},
		// §13.2 no upward visibility.
		{"M with everything cannot see AC", fixtureTree(edit(usBranch, RoleUser, everything)), userM, OrgDevicesView, devAC, NotFound},
		{"M with everything cannot see WarmPlus", fixtureTree(edit(usBranch, RoleUser, everything)), userM, OrgSettingsAccess, Resource{OrgID: warmPlus}, NotFound},
		// §13.3 parent sees down.
		{"U sees AC", def, userU, OrgDevicesView, devAC, ""},
		{"U sees Pool Heater", def, userU, OrgDevicesView, devPool, ""},
		{"U sees Thermostat-H", def, userU, OrgDevicesView, devThermoH, ""},
		{"U cannot see Boiler", def, userU, OrgDevicesView, devBoiler, NotFound},
		// §13.4 default User sees nothing, not even own devices; per-org edit.
		{"default M cannot see own Pool Heater", def, userM, OrgDevicesView, devPool, NotFound},
		{"M with own-view sees Pool Heater", fixtureTree(edit(usBranch, RoleUser, NewPermSet(OwnDevicesView))), userM, OrgDevicesView, devPool, ""},
		{"US edit leaves Canada alone", fixtureTree(edit(usBranch, RoleUser, NewPermSet(OwnDevicesView))), userH, OrgDevicesView, devThermoH, NotFound},
		// §11.3 control separate from view.
		{"M with own-view cannot control", fixtureTree(edit(usBranch, RoleUser, NewPermSet(OwnDevicesView))), userM, OrgDevicesControl, devPool, Forbidden},
		{"M with own-control controls", fixtureTree(edit(usBranch, RoleUser, NewPermSet(OwnDevicesControl))), userM, OrgDevicesControl, devPool, ""},
		// §13.5 own vs org.
		{"W own-only sees Thermostat-W", fixtureTree(edit(muller, customRole, NewPermSet(OwnDevicesView))), Actor{UserID: 6, OrgID: muller, RoleID: customRole}, OrgDevicesView, devThermoW, ""},
		{"W own-only cannot see Boiler", fixtureTree(edit(muller, customRole, NewPermSet(OwnDevicesView))), Actor{UserID: 6, OrgID: muller, RoleID: customRole}, OrgDevicesView, devBoiler, NotFound},
		{"W org-view sees Boiler", fixtureTree(edit(muller, customRole, NewPermSet(OrgDevicesView))), Actor{UserID: 6, OrgID: muller, RoleID: customRole}, OrgDevicesView, devBoiler, ""},
		{"default Staff R controls Thermostat-W", def, userR, OrgDevicesControl, devThermoW, ""},
		{"default Staff R controls Boiler", def, userR, OrgDevicesControl, devBoiler, ""},
		{"own key on someone else's device", def, userW, OwnDevicesView, devBoiler, ""}, // W has org-view anyway
		{"own key never grants others' devices", fixtureTree(edit(muller, RoleStaff, NewPermSet(OwnDevicesView))), userW, OwnDevicesView, devBoiler, NotFound},
		// §13.13 templates: root only.
		{"U cannot edit templates", def, userU, ProductEdit, Resource{OrgID: united}, Forbidden},
		{"A edits templates in root", def, userA, ProductEdit, Resource{OrgID: warmPlus}, ""},
		{"A cannot edit templates in a sub-org", def, userA, ProductEdit, Resource{OrgID: united}, Forbidden},
		// §13.18 switch permission.
		{"WarmPlus Staff without switch", fixtureTree(edit(warmPlus, RoleStaff, DefaultPermissions(RoleStaff).Without(OrgSwitchSub))), Actor{UserID: 9, OrgID: warmPlus, RoleID: RoleStaff}, OrgDevicesView, devAC, NotFound},
		{"WarmPlus Staff without switch, own org", fixtureTree(edit(warmPlus, RoleStaff, DefaultPermissions(RoleStaff).Without(OrgSwitchSub))), Actor{UserID: 9, OrgID: warmPlus, RoleID: RoleStaff}, OrgDevicesView, Resource{OrgID: warmPlus}, ""},
		{"WarmPlus Staff with switch", def, Actor{UserID: 9, OrgID: warmPlus, RoleID: RoleStaff}, OrgDevicesView, devAC, ""},
		// §11.2 below one's org the home role applies, not the sub-org's.
		{"A acts in US with WarmPlus Admin perms", fixtureTree(edit(usBranch, RoleAdmin, PermSet{})), userA, OrgDevicesDelete, devPool, ""},
		{"sub-org Admin perms don't widen a parent user", fixtureTree(edit(usBranch, RoleStaff, everything)), Actor{UserID: 9, OrgID: warmPlus, RoleID: RoleStaff}, OrgDevicesDelete, devPool, Forbidden},
		// Org transfer: root-org Admin only.
		{"A transfers orgs", def, userA, OrgTransfer, Resource{OrgID: usBranch}, ""},
		{"U cannot transfer orgs", def, userU, OrgTransfer, Resource{OrgID: usBranch}, Forbidden},
		{"root Staff granted ORG_TRANSFER still cannot", fixtureTree(edit(warmPlus, RoleStaff, everything)), Actor{UserID: 9, OrgID: warmPlus, RoleID: RoleStaff}, OrgTransfer, Resource{OrgID: usBranch}, Forbidden},
		// §11.5 create-sub flag.
		{"A creates under United", def, userA, OrgCreateSub, Resource{OrgID: united}, ""},
		{"flag off in US branch", def, userA, OrgCreateSub, Resource{OrgID: usBranch}, Forbidden},
		{"Staff lacks ORG_CREATE_SUB", def, userR, OrgCreateSub, Resource{OrgID: muller}, Forbidden},
		// Users: view is visibility, edits need their key.
		{"R sees users of Muller", def, userR, OrgUsersView, Resource{OrgID: muller}, ""},
		{"R cannot delete users", def, userR, UsersDelete, Resource{OrgID: muller}, Forbidden},
		{"M cannot see users", def, userM, UsersDelete, Resource{OrgID: usBranch}, NotFound},
		// Issue 11 item 10: an org in scope is visible; acting on it
		// without the key is Forbidden, out of scope stays NotFound.
		{"M may not create devices in its org", def, userM, OrgDevicesCreate, OrgResource(usBranch), Forbidden},
		{"M may not invite into its org", def, userM, UsersInvite, OrgResource(usBranch), Forbidden},
		{"M may not create devices in Muller", fixtureTree(edit(usBranch, RoleUser, everything)), userM, OrgDevicesCreate, OrgResource(muller), NotFound},
		{"R may not list roles of Muller", def, userR, RolesView, OrgResource(muller), Forbidden},
		// §13.17 OAuth client scope.
		{"client of United sees Pool Heater", def, Actor{ClientID: "oc", OrgID: united}, OrgDevicesView, devPool, ""},
		{"client of United cannot see Boiler", def, Actor{ClientID: "oc", OrgID: united}, OrgDevicesView, devBoiler, NotFound},
		{"client cannot transfer orgs", def, Actor{ClientID: "oc", OrgID: warmPlus}, OrgTransfer, Resource{OrgID: usBranch}, Forbidden},
		// Unknown orgs and actors.
		{"unknown resource org", def, userA, OrgDevicesView, Resource{OrgID: 99}, NotFound},
		{"unknown actor org", def, Actor{UserID: 9, OrgID: 99, RoleID: RoleAdmin}, OrgDevicesView, devAC, NotFound},
		{"unknown role", def, Actor{UserID: 9, OrgID: warmPlus, RoleID: 8}, OrgDevicesView, Resource{OrgID: warmPlus}, NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Decide(tc.tree, tc.actor, tc.perm, tc.res)
			if got := CodeOf(err); got != tc.want {
				t.Fatalf("Decide(%+v, %v, %+v) = %v (code %q), want %q", tc.actor, tc.perm, tc.res, err, got, tc.want)
			}
			if tc.want == Forbidden && tc.perm != OrgTransfer && tc.perm != ProductEdit && tc.perm != OrgCreateSub &&
				!strings.Contains(err.Error(), tc.perm.String()) {
				t.Fatalf("Forbidden %q does not name %s", err, tc.perm)
			}
		})
	}
}

// TestParentSeesAll: §13.3 — A reaches every device; nobody else does.
func TestParentSeesAll(t *testing.T) {
	tr := fixtureTree(nil)
	for _, d := range allFixtureD {
		if err := Decide(tr, userA, OrgDevicesView, d); err != nil {
			t.Errorf("A cannot see %+v: %v", d, err)
		}
	}
}

func TestNotFoundIsIndistinguishable(t *testing.T) {
	tr := fixtureTree(edit(canada, RoleUser, NewPermSet(OrgDevicesView)))
	outOfScope := Decide(tr, userH, OrgDevicesView, devPool)
	missing := Decide(tr, userH, OrgDevicesView, Resource{OrgID: 12345})
	invisible := Decide(fixtureTree(nil), userH, OrgDevicesView, devThermoH)
	if outOfScope.Error() != missing.Error() || missing.Error() != invisible.Error() {
		t.Fatalf("messages differ: %q / %q / %q", outOfScope, missing, invisible)
	}
}

func TestDeviceScope(t *testing.T) {
	tests := []struct {
		name      string
		tree      *Tree
		actor     Actor
		wantOK    bool
		wantOwner UserID
		wantSub   bool
	}{
		{"admin sees subtree", fixtureTree(nil), userA, true, 0, true},
		{"default user sees nothing", fixtureTree(nil), userM, false, 0, false},
		{"own-view user sees own", fixtureTree(edit(usBranch, RoleUser, NewPermSet(OwnDevicesView))), userM, true, 3, false},
		{"client sees subtree", fixtureTree(nil), Actor{ClientID: "c", OrgID: united}, true, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, owner, ok := tc.tree.DeviceScope(tc.actor)
			if ok != tc.wantOK || owner != tc.wantOwner || (ok && (s.OrgID != tc.actor.OrgID || s.Subtree != tc.wantSub)) {
				t.Fatalf("DeviceScope = %+v, %d, %v", s, owner, ok)
			}
		})
	}
}

func TestTreeShape(t *testing.T) {
	tr := fixtureTree(nil)
	for _, c := range []struct {
		org           OrgID
		depth, height int
		root          OrgID
	}{{warmPlus, 1, 2, warmPlus}, {united, 2, 1, warmPlus}, {usBranch, 3, 0, warmPlus}, {muller, 2, 0, warmPlus}} {
		if tr.Depth(c.org) != c.depth || tr.Height(c.org) != c.height || tr.Root(c.org) != c.root {
			t.Errorf("org %d: depth %d height %d root %d", c.org, tr.Depth(c.org), tr.Height(c.org), tr.Root(c.org))
		}
	}
	if !tr.Within(warmPlus, canada) || tr.Within(usBranch, canada) || tr.Within(canada, united) || !tr.Within(muller, muller) {
		t.Fatal("Within is wrong")
	}
	// A cycle in damaged data must not hang or widen access.
	cyc := NewTree([]Org{{ID: 1, ParentID: 2}, {ID: 2, ParentID: 1}, {ID: 3}}, nil)
	if cyc.Within(3, 1) {
		t.Fatal("cycle widened access")
	}
}

func TestPermSet(t *testing.T) {
	s := NewPermSet(OrgDevicesControl)
	if !s.Has(OrgDevicesView) {
		t.Fatal("control must imply view")
	}
	if s2 := s.Without(OrgDevicesView); s2.Has(OrgDevicesControl) || s2.Has(OrgDevicesView) {
		t.Fatal("removing view must remove what implies it")
	}
	for _, p := range AllPermissions() {
		q, ok := ParsePermission(p.String())
		if !ok || q != p {
			t.Fatalf("round trip of %v failed", p)
		}
	}
	if _, err := ParsePermSet([]string{"ORG_DEVICES_VIEW", "NOPE"}); CodeOf(err) != Invalid {
		t.Fatalf("unknown key: %v", err)
	}
	// Migration 0004 of the SQLite store sets this bit by number.
	if OwnDevicesClaim != 62 {
		t.Fatalf("OWN_DEVICES_CLAIM is key %d; the stored catalogue is append-only", OwnDevicesClaim)
	}
	if PermSetFromBits(allPerms.Bits()|1<<63) != allPerms {
		t.Fatal("unknown bits must be dropped")
	}
	if DefaultPermissions(RoleUser) != NewPermSet(OwnDevicesClaim) || !DefaultPermissions(RoleStaff).Has(OrgDevicesControl) || DefaultPermissions(RoleStaff).Has(UsersDelete) {
		t.Fatal("defaults differ from §12")
	}
}
