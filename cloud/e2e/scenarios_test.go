package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/cloud"
)

// Scenario numbers refer to TENANCY.md §13.

const missingID = 987654321

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func wantNames(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
		t.Errorf("%s sees wrong devices (-want +got):\n%s", who, diff)
	}
}

// same404 checks that an out-of-scope request answers exactly like a
// request for an id that does not exist.
func same404(t *testing.T, scoped, missing resp) {
	t.Helper()
	if scoped.status != 404 || missing.status != 404 || !bytes.Equal(scoped.body, missing.body) {
		t.Errorf("out of scope %s differs from missing %s", scoped, missing)
	}
}

func TestScenario01SiblingIsolation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.setPerms(f.ca, 3, []string{"ORG_DEVICES_VIEW", "ORG_DEVICES_CONTROL", "ORG_DEVICES_EDIT"}, false, false)
	h := f.tok["H"]
	wantNames(t, "H", f.deviceNames(h, "includeSubOrgDevices", true), "Thermostat-H")
	same404(t, f.req("GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), h, nil),
		f.req("GET", q(o+"/device", "deviceId", missingID), h, nil))
	same404(t, f.req("PUT", q(o+"/device", "deviceId", f.dev["Pool Heater"]), h, map[string]string{"name": "x"}),
		f.req("PUT", q(o+"/device", "deviceId", missingID), h, map[string]string{"name": "x"}))
	if msg := f.req("GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), h, nil).errMsg(t); !strings.Contains(msg, "not found or you don't have access") {
		t.Errorf("message %q", msg)
	}
	wantNames(t, "H listing US branch", nil)
	if r := f.req("GET", q(o+"/devices", "orgId", f.us), h, nil); r.status != 404 {
		t.Errorf("H lists US branch: %s", r)
	}
}

func TestScenario02NoUpwardVisibility(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	all := []string{"OWN_DEVICES_VIEW", "OWN_DEVICES_CONTROL", "ORG_DEVICES_VIEW", "ORG_DEVICES_CONTROL",
		"ORG_DEVICES_CREATE", "ORG_DEVICES_EDIT", "ORG_DEVICES_DELETE", "DEVICES_TRANSFER", "ORG_SWITCH_SUB"}
	f.setPerms(f.us, 3, all, false, false)
	m := f.tok["M"]
	same404(t, f.req("GET", q(o+"/device", "deviceId", f.dev["AC"]), m, nil),
		f.req("GET", q(o+"/device", "deviceId", missingID), m, nil))
	same404(t, f.req("DELETE", q(o+"/device", "deviceId", f.dev["AC"]), m, nil),
		f.req("DELETE", q(o+"/device", "deviceId", missingID), m, nil))
	wantNames(t, "M", f.deviceNames(m, "includeSubOrgDevices", true), "Pool Heater")
	same404(t, f.req("GET", q(o, "orgId", f.uh), m, nil), f.req("GET", q(o, "orgId", missingID), m, nil))
}

func TestScenario03ParentSeesDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	wantNames(t, "A with sub-orgs", f.deviceNames(f.tok["A"], "includeSubOrgDevices", true),
		"AC", "Pool Heater", "Thermostat-H", "Boiler", "Thermostat-W")
	wantNames(t, "A without sub-orgs", f.deviceNames(f.tok["A"]))
	wantNames(t, "U", f.deviceNames(f.tok["U"], "includeSubOrgDevices", true), "AC", "Pool Heater", "Thermostat-H")
}

func TestScenario04DefaultUserSeesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	m := f.tok["M"]
	wantNames(t, "M (default User)", f.deviceNames(m))
	if r := f.req("GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), m, nil); r.status != 404 {
		t.Errorf("default User reads own device: %s", r)
	}
	f.setPerms(f.us, 3, []string{"OWN_DEVICES_VIEW"}, false, false)
	wantNames(t, "M (own view)", f.deviceNames(m), "Pool Heater")
	f.must(200, "GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), m, nil)
	// Unchanged: the default User's one key, claiming by QR (issue 11).
	if got := f.rolePerms(f.ca, 3); !slices.Equal(got, []string{"OWN_DEVICES_CLAIM"}) {
		t.Errorf("Canada branch's User role changed: %v", got)
	}
	wantNames(t, "H", f.deviceNames(f.tok["H"]))
}

func TestScenario05OwnVersusOrg(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var role struct{ ID int }
	f.must(201, "POST", o+"/roles/create", a, map[string]string{"name": "Viewer"}).decode(t, &role)
	f.setPerms(f.muller, role.ID, []string{"OWN_DEVICES_VIEW"}, false, false)
	f.must(200, "PUT", q(o+"/users/role", "userId", f.user["W"], "roleId", role.ID), a, nil)
	w := f.tok["W"]
	wantNames(t, "W own-only", f.deviceNames(w), "Thermostat-W")
	f.setPerms(f.muller, role.ID, []string{"OWN_DEVICES_VIEW", "ORG_DEVICES_VIEW"}, false, false)
	wantNames(t, "W org view", f.deviceNames(w), "Thermostat-W", "Boiler")

	r := f.tok["R"]
	wantNames(t, "R default Staff", f.deviceNames(r), "Thermostat-W", "Boiler")
	var me struct{ Permissions []string }
	f.must(200, "GET", "/api/v1/auth/me", r, nil).decode(t, &me)
	if !slices.Contains(me.Permissions, "ORG_DEVICES_CONTROL") {
		t.Errorf("default Staff lacks ORG_DEVICES_CONTROL: %v", me.Permissions)
	}
	for _, d := range []string{"Boiler", "Thermostat-W"} {
		f.must(200, "PUT", q(o+"/device", "deviceId", f.dev[d]), r, map[string]string{"name": d + " (R)"})
	}
}

func TestScenario06DepthLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	f.must(200, "PUT", q(o, "orgId", f.us), a, map[string]any{"canCreateSubOrgs": true})
	var d4 struct {
		ID    int64
		Depth int
	}
	f.must(201, "POST", o+"/create", a, map[string]any{"name": "Pool Team", "parentId": f.us, "canCreateSubOrgs": true}).decode(t, &d4)
	if d4.Depth != 4 {
		t.Fatalf("depth %d, want 4", d4.Depth)
	}
	r := f.must(400, "POST", o+"/create", a, map[string]any{"name": "Too Deep", "parentId": d4.ID})
	if msg := r.errMsg(t); !strings.Contains(msg, "maximum organization depth is 4") {
		t.Errorf("message %q", msg)
	}
	var root struct{ Depth int }
	f.must(200, "GET", o+"/profile", a, nil).decode(t, &root)
	if root.Depth != 1 {
		t.Errorf("root depth %d", root.Depth)
	}
	// An org transfer may not break the limit either: a subtree of height 1
	// cannot move under a depth-3 org.
	f.must(400, "POST", o+"/transfer", a, map[string]any{"orgId": f.us, "newParentId": f.ca})
}

func TestScenario07DeviceTransferFollowsOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.setPerms(f.us, 3, []string{"OWN_DEVICES_VIEW"}, false, false)
	f.setPerms(f.ca, 3, []string{"OWN_DEVICES_VIEW"}, false, false)
	wantNames(t, "H before", f.deviceNames(f.tok["H"]), "Thermostat-H")
	id := f.dev["Thermostat-H"]
	f.must(204, "POST", o+"/device/transfer", f.tok["A"], map[string]any{"deviceId": id, "newUserId": f.user["M"]})
	var d struct{ OwnerUserID, OrgID int64 }
	f.must(200, "GET", q(o+"/device", "deviceId", id), f.tok["A"], nil).decode(t, &d)
	if d.OwnerUserID != f.user["M"] || d.OrgID != f.us {
		t.Errorf("after transfer owner %d org %d, want %d %d", d.OwnerUserID, d.OrgID, f.user["M"], f.us)
	}
	wantNames(t, "H after", f.deviceNames(f.tok["H"]))
	wantNames(t, "M after", f.deviceNames(f.tok["M"]), "Pool Heater", "Thermostat-H")
	for _, who := range []string{"h@canada.test", "m@usbranch.test"} {
		if ms := f.mails(who); len(ms) != 1 || !strings.Contains(ms[0], "Thermostat-H") {
			t.Errorf("%s got %d notifications", who, len(ms))
		}
	}
}

func TestScenario08TransferPreconditions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var p struct{ ID int64 }
	f.must(201, "POST", o+"/users/invite", a, map[string]any{"email": "p@usbranch.test", "name": "P", "roleId": 3, "orgId": f.us}).decode(t, &p)
	pool := f.dev["Pool Heater"]
	r := f.must(400, "POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newUserId": p.ID})
	if !strings.Contains(r.errMsg(t), "activated") {
		t.Errorf("pending: %s", r)
	}
	f.must(400, "POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newUserId": f.user["M"]})

	other, err := f.srv.CreateTree(t.Context(), cloud.TreeSpec{OrgName: "Other Corp", AdminEmail: "x@other.test", AdminName: "X", Password: "other-admin-pw"})
	if err != nil {
		t.Fatal(err)
	}
	var x struct{ ID int64 }
	f.must(200, "GET", "/api/v1/auth/me", f.login("x@other.test", "other-admin-pw"), nil).decode(t, &x)
	same404(t, f.req("POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newUserId": x.ID}),
		f.req("POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newUserId": missingID}))
	same404(t, f.req("POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newOrgId": other.OrgID}),
		f.req("POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newOrgId": missingID}))

	f.must(204, "PUT", q(o+"/template/enabled", "orgId", f.muller, "templateId", f.tmpl, "enabled", false), a, nil)
	r = f.must(400, "POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newOrgId": f.muller})
	if !strings.Contains(r.errMsg(t), "not enabled") {
		t.Errorf("template disabled: %s", r)
	}
	f.must(400, "POST", o+"/device/transfer", a, map[string]any{"deviceId": pool, "newUserId": f.user["R"]})
	var d struct{ OrgID int64 }
	f.must(200, "GET", q(o+"/device", "deviceId", pool), a, nil).decode(t, &d)
	if d.OrgID != f.us {
		t.Errorf("refused transfers moved the device to %d", d.OrgID)
	}
}

func TestScenario09RemoveOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var role struct{ ID int }
	f.must(201, "POST", o+"/roles/create", a, map[string]string{"name": "Own only"}).decode(t, &role)
	f.setPerms(f.muller, role.ID, []string{"OWN_DEVICES_VIEW"}, false, false)
	f.must(200, "PUT", q(o+"/users/role", "userId", f.user["R"], "roleId", role.ID), a, nil)
	boiler := f.dev["Boiler"]
	wantNames(t, "R before", f.deviceNames(f.tok["R"]), "Boiler")
	f.must(204, "DELETE", q(o+"/device/owner", "deviceId", boiler), a, nil)
	var d struct {
		OwnerUserID int64
		OrgID       int64
	}
	f.must(200, "GET", q(o+"/device", "deviceId", boiler), a, nil).decode(t, &d)
	if d.OwnerUserID != 0 || d.OrgID != f.muller {
		t.Errorf("after removal owner %d org %d", d.OwnerUserID, d.OrgID)
	}
	wantNames(t, "R after", f.deviceNames(f.tok["R"]))
	wantNames(t, "W (org view)", f.deviceNames(f.tok["W"]), "Boiler", "Thermostat-W")
}

var tokenRE = regexp.MustCompile(`"token":"(inv_[a-z0-9]+)"`)

func TestScenario10Invites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	r := f.must(400, "POST", o+"/users/invite", a, map[string]any{"email": "m@usbranch.test", "name": "M again", "roleId": 3})
	if !strings.Contains(r.errMsg(t), "already in use") {
		t.Errorf("existing email: %s", r)
	}
	var n struct {
		ID     int64
		Status string
	}
	f.must(201, "POST", o+"/users/invite", a, map[string]any{"email": "new1@warmplus.test", "name": "New", "roleId": 2}).decode(t, &n)
	if n.Status != "PENDING" {
		t.Errorf("invited user status %q", n.Status)
	}
	// The link works within 30 days and makes the user Active.
	f.must(200, "POST", "/api/v1/invitations/accept", "", map[string]string{"token": inviteToken(t, f, "new1@warmplus.test"), "password": "new-password-1"})
	f.login("new1@warmplus.test", "new-password-1")

	// It expires after 30 days.
	f.must(201, "POST", o+"/users/invite", a, map[string]any{"email": "late@warmplus.test", "name": "Late", "roleId": 3})
	f.clock.Advance(30*24*time.Hour + time.Second)
	a = f.login("a@warmplus.test", adminPassword)
	r = f.must(400, "POST", "/api/v1/invitations/accept", "", map[string]string{"token": inviteToken(t, f, "late@warmplus.test"), "password": "late-password-1"})
	if !strings.Contains(r.errMsg(t), "expired") {
		t.Errorf("expired invitation: %s", r)
	}

	// 25 invitations per day; the 26th is refused.
	for i := range 25 {
		f.must(201, "POST", o+"/users/invite", a, map[string]any{"email": fmt.Sprintf("bulk%d@warmplus.test", i), "name": "B", "roleId": 3})
	}
	r = f.must(400, "POST", o+"/users/invite", a, map[string]any{"email": "bulk25@warmplus.test", "name": "B", "roleId": 3})
	if !strings.Contains(r.errMsg(t), "limit") {
		t.Errorf("26th invite: %s", r)
	}
}

func inviteToken(t *testing.T, f *fixture, email string) string {
	t.Helper()
	ms := f.mails(email)
	if len(ms) != 1 {
		t.Fatalf("%s has %d mails", email, len(ms))
	}
	m := tokenRE.FindStringSubmatch(strings.ReplaceAll(ms[0], `\"`, `"`))
	if m == nil {
		t.Fatalf("no token in %q", ms[0])
	}
	return m[1]
}

func TestScenario11LastAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var res struct {
		OrgID   int64
		RoleID  int
		Warning string
	}
	f.must(201, "POST", o+"/users/transfer", f.tok["A"], map[string]any{"userId": f.user["U"], "targetOrgId": f.muller, "roleId": 2}).decode(t, &res)
	if res.OrgID != f.muller || res.RoleID != 2 || res.Warning != "organization has no Admin" {
		t.Errorf("transfer result %+v", res)
	}
	// Moving a non-Admin gives no warning; an Admin may be placed by transfer (§11.4).
	res.Warning = ""
	f.must(201, "POST", o+"/users/transfer", f.tok["A"], map[string]any{"userId": f.user["H"], "targetOrgId": f.uh, "roleId": 1}).decode(t, &res)
	if res.Warning != "" || res.RoleID != 1 {
		t.Errorf("second transfer %+v", res)
	}
}

func TestScenario12OrgDeletion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, u := f.tok["A"], f.tok["U"]
	for name, c := range map[string]struct {
		tok string
		org int64
	}{
		"root": {a, f.root}, "own": {u, f.uh}, "Clients": {a, f.clients}, "Partners": {a, f.partners},
		"has sub-orgs": {a, f.uh}, "has devices": {a, f.us},
	} {
		if r := f.req("DELETE", q(o, "orgId", c.org), c.tok, nil); r.status != 400 {
			t.Errorf("deleting %s: %s", name, r)
		}
	}
	var empty struct{ ID int64 }
	f.must(201, "POST", o+"/create", a, map[string]any{"name": "Empty Leaf", "parentId": f.muller}).decode(t, &empty)
	f.must(204, "DELETE", q(o, "orgId", empty.ID), a, nil)
	f.must(404, "GET", q(o, "orgId", empty.ID), a, nil)
}

func TestScenario13Templates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	u := f.tok["U"]
	var me struct{ Permissions []string }
	f.must(200, "GET", "/api/v1/auth/me", u, nil).decode(t, &me)
	if !slices.Contains(me.Permissions, "PRODUCT_EDIT") {
		t.Fatal("U lacks PRODUCT_EDIT")
	}
	f.must(403, "POST", o+"/template/create", u, map[string]any{"name": "Mine"})
	f.must(403, "PUT", q(o+"/template", "templateId", f.tmpl), u, map[string]any{"name": "T2"})

	a := f.tok["A"]
	var nb struct{ ID int64 }
	f.must(201, "POST", o+"/create", a, map[string]any{"name": "New Branch", "parentId": f.uh}).decode(t, &nb)
	before := f.deviceNames(a, "includeSubOrgDevices", true)
	f.must(204, "PUT", q(o+"/template/enabled", "orgId", nb.ID, "templateId", f.tmpl, "enabled", false), a, nil)
	f.must(204, "PUT", q(o+"/template/enabled", "orgId", nb.ID, "templateId", f.tmpl, "enabled", true), a, nil)
	wantNames(t, "A after enabling", f.deviceNames(a, "includeSubOrgDevices", true), before...)
	wantNames(t, "New Branch", f.deviceNames(a, "orgId", nb.ID))
	var tl struct{ TotalElements int }
	f.must(200, "GET", q(o+"/templates", "orgId", nb.ID), a, nil).decode(t, &tl)
	if tl.TotalElements != 1 {
		t.Errorf("New Branch has %d templates enabled", tl.TotalElements)
	}
}

func TestScenario14PermissionPush(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	mk := func(name string, parent int64) int64 {
		var org struct{ ID int64 }
		f.must(201, "POST", o+"/create", a, map[string]any{"name": name, "parentId": parent}).decode(t, &org)
		return org.ID
	}
	mc := mk("My Clients", f.root)
	ca := mk("Client A", mc)
	cb := mk("Client B", mc)
	f.must(200, "PUT", q(o, "orgId", ca), a, map[string]any{"canCreateSubOrgs": true})
	ca1 := mk("Client A1", ca)
	f.setPerms(cb, 3, []string{"ORG_DEVICES_VIEW"}, false, false)

	set1 := []string{"OWN_DEVICES_CONTROL", "OWN_DEVICES_VIEW"}
	f.setPerms(mc, 3, set1, true, true)
	for _, org := range []int64{mc, ca, cb, ca1} {
		if got := f.rolePerms(org, 3); !slices.Equal(got, set1) {
			t.Errorf("after overwrite org %d User = %v", org, got)
		}
	}
	f.setPerms(cb, 3, []string{"ORG_DEVICES_VIEW"}, false, false)
	set2 := []string{"LOCATIONS_OWN_VIEW", "OWN_DEVICES_VIEW"}
	f.setPerms(mc, 3, set2, false, false)
	if got := f.rolePerms(cb, 3); !slices.Equal(got, []string{"ORG_DEVICES_VIEW"}) {
		t.Errorf("without push Client B's User changed to %v", got)
	}
	if got := f.rolePerms(ca1, 3); !slices.Equal(got, set1) {
		t.Errorf("without push Client A1's User changed to %v", got)
	}
	cc := mk("Client C", mc)
	if got := f.rolePerms(cc, 3); !slices.Equal(got, set2) {
		t.Errorf("new org inherited %v, want %v", got, set2)
	}
}

func TestScenario15Roles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var inst struct{ ID int }
	f.must(201, "POST", o+"/roles/create", a, map[string]string{"name": "Installer"}).decode(t, &inst)
	f.must(200, "PUT", q(o+"/users/role", "userId", f.user["W"], "roleId", inst.ID), a, nil)
	f.must(400, "DELETE", q(o+"/role", "roleId", inst.ID), a, nil)
	var del struct{ MovedUsers int }
	f.must(200, "DELETE", q(o+"/role", "roleId", inst.ID, "replacementRoleId", 2), a, nil).decode(t, &del)
	var w struct{ RoleID int }
	f.must(200, "GET", q(o+"/user", "userId", f.user["W"]), a, nil).decode(t, &w)
	if del.MovedUsers != 1 || w.RoleID != 2 {
		t.Errorf("moved %d, W role %d", del.MovedUsers, w.RoleID)
	}
	f.must(400, "DELETE", q(o+"/role", "roleId", 1, "replacementRoleId", 2), a, nil)

	var last struct{ ID int }
	for i := range 6 { // 3 built-in + 6 custom = 9
		f.must(201, "POST", o+"/roles/create", a, map[string]string{"name": fmt.Sprintf("Custom %d", i)}).decode(t, &last)
	}
	f.must(400, "POST", o+"/roles/create", a, map[string]string{"name": "Tenth"})
	f.must(200, "PUT", q(o+"/role", "roleId", last.ID), a, map[string]string{"name": "Field Tech"})
	var rs []struct {
		ID   int
		Name string
	}
	f.must(200, "GET", q(o+"/roles", "orgId", f.us), a, nil).decode(t, &rs)
	if !slices.ContainsFunc(rs, func(r struct {
		ID   int
		Name string
	}) bool {
		return r.ID == last.ID && r.Name == "Field Tech"
	}) {
		t.Errorf("rename not visible in a sub-org: %+v", rs)
	}
}

func TestScenario16StaticTokenDeletion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, u := f.tok["A"], f.tok["U"]
	var sts []struct {
		ID       int64
		Token    string
		DeviceID int64
	}
	f.must(201, "POST", o+"/static-tokens/create", a, map[string]any{"templateId": f.tmpl, "count": 2}).decode(t, &sts)
	if len(sts) != 2 || !strings.HasPrefix(sts[0].Token, "sqr_") {
		t.Fatalf("static tokens %+v", sts)
	}
	var claimed struct{ ID, OrgID, OwnerUserID int64 }
	f.must(200, "POST", o+"/static-token/claim", u, map[string]any{"qrToken": sts[0].Token, "name": "Claimed"}).decode(t, &claimed)
	if claimed.OrgID != f.uh || claimed.OwnerUserID != f.user["U"] {
		t.Errorf("claimed device %+v", claimed)
	}
	f.must(404, "POST", o+"/static-token/claim", u, map[string]any{"qrToken": sts[0].Token}) // a QR is single use
	f.must(204, "DELETE", q(o+"/static-token", "tokenId", sts[0].ID), a, nil)
	f.must(404, "GET", q(o+"/device", "deviceId", claimed.ID), u, nil)
	f.must(404, "GET", q(o+"/device", "deviceId", claimed.ID), a, nil)
	if slices.Contains(f.deviceNames(u, "includeSubOrgDevices", true), "Claimed") {
		t.Error("deleted device still listed")
	}
	// Unclaimed: the device (and with it its AuthToken) is gone.
	var dev struct{ ID int64 }
	f.must(200, "GET", q(o+"/static-token/device", "tokenId", sts[1].ID), a, nil).decode(t, &dev)
	f.must(204, "DELETE", q(o+"/static-token", "tokenId", sts[1].ID), a, nil)
	f.must(404, "GET", q(o+"/device", "deviceId", dev.ID), a, nil)
}

func TestScenario17OAuthClientScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tok, _, _, _ := f.clientToken(f.tok["A"], f.uh)
	var prof struct {
		ID   int64
		Name string
	}
	f.must(200, "GET", o+"/profile", tok, nil).decode(t, &prof)
	if prof.ID != f.uh || prof.Name != "United Heaters Inc." {
		t.Errorf("profile %+v", prof)
	}
	f.must(200, "GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), tok, nil)
	same404(t, f.req("GET", q(o+"/device", "deviceId", f.dev["Boiler"]), tok, nil),
		f.req("GET", q(o+"/device", "deviceId", missingID), tok, nil))
	wantNames(t, "client", f.deviceNames(tok, "includeSubOrgDevices", true), "AC", "Pool Heater", "Thermostat-H")
}

func TestScenario18SwitchPermission(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var s struct{ ID int64 }
	f.must(201, "POST", o+"/users/create-in-org", a, map[string]any{"email": "s@warmplus.test", "password": userPassword,
		"name": "S", "orgId": f.root, "roleId": 2}).decode(t, &s)
	st := f.login("s@warmplus.test", userPassword)
	staff := f.rolePerms(f.root, 2)
	noSwitch := slices.DeleteFunc(slices.Clone(staff), func(p string) bool { return p == "ORG_SWITCH_SUB" })
	f.setPerms(f.root, 2, noSwitch, false, false)
	wantNames(t, "S without switch", f.deviceNames(st, "includeSubOrgDevices", true))
	f.must(404, "GET", q(o+"/device", "deviceId", f.dev["Boiler"]), st, nil)
	f.must(404, "GET", q(o+"/devices", "orgId", f.muller), st, nil)
	f.setPerms(f.root, 2, staff, false, false)
	f.must(200, "GET", q(o+"/device", "deviceId", f.dev["Boiler"]), st, nil)
	wantNames(t, "S with switch", f.deviceNames(st, "includeSubOrgDevices", true),
		"AC", "Pool Heater", "Thermostat-H", "Boiler", "Thermostat-W")
}

func TestScenario19SessionControl(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	m1, m2 := f.tok["M"], f.login("m@usbranch.test", userPassword)
	f.must(200, "GET", "/api/v1/auth/me", m1, nil)
	f.must(204, "POST", q(o+"/users/logout", "userId", f.user["M"]), a, nil)
	for _, tok := range []string{m1, m2} {
		f.must(401, "GET", "/api/v1/auth/me", tok, nil)
	}
	// Suspended: no login, no tokens.
	m3 := f.login("m@usbranch.test", userPassword)
	var u struct{ Status string }
	f.must(200, "POST", q(o+"/users/suspend", "userId", f.user["M"]), a, nil).decode(t, &u)
	if u.Status != "SUSPENDED" {
		t.Errorf("status %q", u.Status)
	}
	f.must(401, "GET", "/api/v1/auth/me", m3, nil)
	// Told so only with the right password (issue 11 item 12): a wrong
	// one answers exactly like an unknown account.
	sameAnswer(t, "suspended, wrong password vs unknown email",
		f.must(401, "POST", "/api/v1/auth/login", "", map[string]string{"email": "m@usbranch.test", "password": "wrong-password"}),
		f.must(401, "POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@usbranch.test", "password": "wrong-password"}))
	if msg := f.must(403, "POST", "/api/v1/auth/login", "", map[string]string{"email": "m@usbranch.test", "password": userPassword}).errMsg(t); !strings.Contains(msg, "suspended") {
		t.Errorf("suspended login with the right password: %q", msg)
	}
	f.must(200, "POST", q(o+"/users/unsuspend", "userId", f.user["M"]), a, nil)
	f.login("m@usbranch.test", userPassword)

	// Logout revokes only that session.
	h2 := f.login("h@canada.test", userPassword)
	f.must(204, "POST", "/api/v1/auth/logout", h2, nil)
	f.must(401, "GET", "/api/v1/auth/me", h2, nil)
	f.must(200, "GET", "/api/v1/auth/me", f.tok["H"], nil)

	// Idle a month: Inactive, but can still log in.
	f.clock.Advance(31 * 24 * time.Hour)
	a = f.login("a@warmplus.test", adminPassword)
	f.must(200, "GET", q(o+"/user", "userId", f.user["H"]), a, nil).decode(t, &u)
	if u.Status != "INACTIVE" {
		t.Errorf("idle status %q", u.Status)
	}
	f.login("h@canada.test", userPassword)
	f.must(200, "GET", q(o+"/user", "userId", f.user["H"]), a, nil).decode(t, &u)
	if u.Status != "ACTIVE" {
		t.Errorf("status after login %q", u.Status)
	}
}

func TestOAuthTokenLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	access, refresh, id, secret := f.clientToken(f.tok["A"], f.uh)
	token := func(query string, basic bool) resp {
		r, _ := http.NewRequest("POST", f.base+"/oauth2/token?"+query, nil)
		if basic {
			r.SetBasicAuth(id, secret)
		}
		res, err := f.hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return resp{status: res.StatusCode, body: b.Bytes()}
	}
	var tk struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	// Query-parameter credentials work too; expires_in is the lifetime.
	r := token("grant_type=client_credentials&client_id="+id+"&client_secret="+secret, false)
	r.decode(t, &tk)
	if r.status != 200 || tk.TokenType != "Bearer" || tk.ExpiresIn != 86400 {
		t.Fatalf("token: %s", r)
	}
	for _, c := range []struct{ query, wantErr string }{
		{"grant_type=client_credentials&client_id=" + id + "&client_secret=wrong", "invalid_client"},
		{"grant_type=password", "unsupported_grant_type"},
		{"", "invalid_request"},
		{"grant_type=refresh_token&refresh_token=rt_nope", "invalid_grant"},
	} {
		tk.Error = ""
		r := token(c.query, false)
		r.decode(t, &tk)
		if r.status != 400 || tk.Error != c.wantErr {
			t.Errorf("%q: %s, want %s", c.query, r, c.wantErr)
		}
	}
	// Refresh tokens are single use.
	r = token("grant_type=refresh_token&refresh_token="+refresh, false)
	if r.status != 200 {
		t.Fatalf("refresh: %s", r)
	}
	if r := token("grant_type=refresh_token&refresh_token="+refresh, false); r.status != 400 {
		t.Errorf("second refresh: %s", r)
	}
	// Access tokens expire.
	f.must(200, "GET", o+"/profile", access, nil)
	f.clock.Advance(24*time.Hour + time.Second)
	f.must(401, "GET", o+"/profile", access, nil)
	// Deleting the client revokes what it holds.
	fresh := token("grant_type=client_credentials", true)
	fresh.decode(t, &tk)
	a := f.login("a@warmplus.test", adminPassword)
	f.must(204, "DELETE", q(o+"/oauth-client", "clientId", id), a, nil)
	f.must(401, "GET", o+"/profile", tk.AccessToken, nil)
}

func TestScenario20RateLimitErrorsAndPaging(t *testing.T) {
	t.Parallel()
	const quota = 30
	f := newFixture(t, func(c *cloud.Config) { c.API.RateLimit = quota })
	u := f.tok["U"]
	// The fixture spent some of WarmPlus's quota, none of United Heaters'.
	for i := range quota {
		if r := f.req("GET", o+"/profile", u, nil); r.status != 200 {
			t.Fatalf("request %d: %s", i+1, r)
		}
	}
	r := f.must(429, "GET", o+"/profile", u, nil)
	r.errMsg(t)
	f.must(200, "GET", o+"/profile", f.tok["R"], nil) // Muller has its own quota
	f.clock.Advance(time.Minute)
	f.must(200, "GET", o+"/profile", u, nil)
	// Guessing tokens is throttled per client address.
	codes := map[int]int{}
	for range quota + 1 {
		codes[f.req("GET", o+"/profile", "ses_guess", nil).status]++
	}
	if codes[401] == 0 || codes[429] == 0 {
		t.Errorf("bad-token answers %v, want 401s then 429", codes)
	}
	f.clock.Advance(time.Minute)

	// Every error has the same shape.
	for _, c := range []struct {
		method, path, token string
		body                any
		want                int
	}{
		{"GET", o + "/devices?size=1001", f.tok["R"], nil, 400},
		{"GET", o + "/devices?size=0", f.tok["R"], nil, 400},
		{"GET", o + "/devices?page=-1", f.tok["R"], nil, 400},
		{"GET", o + "/device", f.tok["R"], nil, 400},
		{"GET", o + "/device?deviceId=abc", f.tok["R"], nil, 400},
		{"POST", o + "/create", f.tok["R"], "{not json", 400},
		{"POST", o + "/create", f.tok["R"], map[string]any{"name": "X", "bogus": 1}, 400},
		{"GET", o + "/profile", "", nil, 401},
		{"GET", o + "/profile", "ses_forged", nil, 401},
		{"POST", o + "/create", f.tok["R"], map[string]any{"name": "Staff made"}, 403},
		{"GET", q(o+"/device", "deviceId", missingID), f.tok["R"], nil, 404},
		{"GET", "/api/v1/nothing", f.tok["R"], nil, 404},
		{"PATCH", o + "/device", f.tok["R"], nil, 405},
		{"POST", o + "/create", f.tok["R"], strings.Repeat(" ", 3<<20), 413},
	} {
		r := f.req(c.method, c.path, c.token, c.body)
		if r.status != c.want {
			t.Errorf("%s %s: %s, want %d", c.method, c.path, r, c.want)
			continue
		}
		r.errMsg(t)
	}

	// Paging: 0-based pages partition the list.
	a := f.tok["A"]
	var seen []string
	for page := 0; ; page++ {
		var l struct {
			Content       []struct{ Name string }
			TotalElements int
		}
		f.must(200, "GET", q(o+"/devices", "includeSubOrgDevices", true, "page", page, "size", 2), a, nil).decode(t, &l)
		if l.TotalElements != 5 {
			t.Fatalf("totalElements %d", l.TotalElements)
		}
		if len(l.Content) == 0 {
			break
		}
		for _, d := range l.Content {
			seen = append(seen, d.Name)
		}
	}
	wantNames(t, "A paging", seen, "AC", "Pool Heater", "Thermostat-H", "Boiler", "Thermostat-W")
}

// A template's event settings (description, timeline, notifications) and
// system events round-trip through the API in the documented shape; the
// limits of shared/datastream are enforced.
func TestTemplateEventSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	notify := map[string]any{"enabled": true, "email": true, "console": true, "owner": true, "role": 2,
		"users": []string{"ops@example.com"}, "limitS": 300, "everyN": 3}
	body := map[string]any{"name": "Alarmed",
		"events": []map[string]any{{"code": "overheat", "name": "Overheat", "type": "critical", "description": "Too hot",
			"timeline": true, "notify": notify}},
		"systemEvents": map[string]any{"offlineIgnoreS": 60, "offline": map[string]any{"enabled": true, "email": true, "owner": true}}}
	var tm struct {
		ID     string
		Events []struct {
			Code, Description string
			Timeline          bool
			Notify            struct {
				Enabled        bool
				Role, LimitS   int
				EveryN         int
				Users          []string
				Email, Console bool
			}
		}
		SystemEvents struct {
			OfflineIgnoreS int
			Offline        struct{ Enabled bool }
		}
	}
	f.must(201, "POST", o+"/template/create", a, body).decode(t, &tm)
	f.must(200, "GET", q(o+"/template", "templateId", tm.ID), a, nil).decode(t, &tm)
	if len(tm.Events) != 1 || tm.Events[0].Description != "Too hot" || !tm.Events[0].Timeline || !tm.Events[0].Notify.Enabled ||
		tm.Events[0].Notify.EveryN != 3 || tm.Events[0].Notify.LimitS != 300 || tm.Events[0].Notify.Role != 2 ||
		len(tm.Events[0].Notify.Users) != 1 || !tm.SystemEvents.Offline.Enabled || tm.SystemEvents.OfflineIgnoreS != 60 {
		t.Fatalf("template read back: %+v", tm)
	}
	body["events"].([]map[string]any)[0]["description"] = strings.Repeat("d", 251)
	f.must(400, "PUT", q(o+"/template", "templateId", tm.ID), a, body)
	body["events"].([]map[string]any)[0]["description"] = "ok"
	notify["email"], notify["console"] = false, false
	f.must(400, "PUT", q(o+"/template", "templateId", tm.ID), a, body)
}
