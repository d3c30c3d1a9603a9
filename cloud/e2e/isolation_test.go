package e2e

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"outpost/cloud"
)

// The isolation matrix: Platform API routes × where the target lies
// relative to the caller's org × the caller's role. Out of scope answers
// must be byte-identical to a missing id; in scope answers follow the
// caller's permissions (TENANCY.md §11.2, §11.7, §12).

type relation string

const (
	same       relation = "same org"
	ancestor   relation = "ancestor"
	descendant relation = "descendant"
	sibling    relation = "sibling"
	otherTree  relation = "other tree"
)

// target holds one object of each kind in one org.
type target struct {
	org, device, user, location, gateway int64
	template                             string
	// Firmware of the target's template, uploaded in its root, and a
	// live user-controlled shipment of it to every device of the
	// template, of which otaDevice (no owner) is one in org.
	firmware, shipment, otaDevice int64
	// Names a search finds the target's objects by.
	orgName, deviceName, userEmail string
}

type probe struct {
	name string
	perm string // permission the route needs on the target ("" = scope only)
	// sees is a permission needed to see the target at all, checked before
	// perm (reading a device's tags needs the device visible first).
	sees string
	ok   int // status when allowed
	// emptyWhenBlind: in the caller's own org, lacking the view key gives an
	// empty list rather than 404 (devices, users, templates, locations…).
	emptyWhenBlind bool
	// emptyInScope: any org in scope gives an empty list when blind.
	emptyInScope bool
	// onOrg: the route acts on the target org itself (create or list in
	// it). An org in scope is visible, so lacking the key is 403 naming
	// it, never 404 (§11.7 hides objects, not the caller's permissions).
	onOrg bool
	// namesFirstTree: besides the target, the request names an object of
	// the first tree (WarmPlus's template, a United Heaters user…), which
	// a caller from the other tree cannot see.
	namesFirstTree bool
	// okAt overrides ok where an allowed call still fails validation
	// (deleting one's own org is 400, not 204).
	okAt map[relation]int
	// enabledHere: a template is visible where it is enabled in the
	// caller's own org, switch or not. The descendant's template is enabled
	// in the caller's org too (enabling needs the parent's), the ancestor's
	// and sibling's only above or beside it.
	enabledHere bool
	// belowRoot is the status a caller below its root gets where it sees
	// the target: firmware and shipments are managed in the root org only
	// (tenancy.md decision 18). 0: no such rule.
	belowRoot int
	// rootFirst: that refusal comes before anything named is looked up,
	// so below the root every target answers it, in scope or not,
	// byte-identical to a missing one.
	rootFirst bool
	// finds marks a search: it always answers 200, and the listed ids
	// hold finds(target) exactly when the caller may see the target.
	finds func(t target) int64
	req   func(m *matrix, t target) (method, path string, body any)
}

// viewOf is §12's "an edit key implies its view key". Lacking the view key
// hides the object (404); standalone keys (no view counterpart, e.g.
// ORG_SETTINGS_ACCESS, TAGS_MANAGE) act on an org the caller can already
// see, so lacking them is 403.
var viewOf = map[string]string{
	"ORG_DEVICES_EDIT": "ORG_DEVICES_VIEW", "ORG_DEVICES_CREATE": "ORG_DEVICES_VIEW", "ORG_DEVICES_DELETE": "ORG_DEVICES_VIEW",
	"USERS_EDIT": "ORG_USERS_VIEW", "USERS_INVITE": "ORG_USERS_VIEW", "USERS_SUSPEND": "ORG_USERS_VIEW",
	"USERS_FORCE_LOGOUT": "ORG_USERS_VIEW", "ROLES_EDIT": "ROLES_VIEW", "LOCATIONS_ORG_CREATE": "LOCATIONS_ORG_VIEW",
	"LOCATIONS_ORG_DELETE": "LOCATIONS_ORG_VIEW", "LOCATIONS_ORG_EDIT": "LOCATIONS_ORG_VIEW",
	"LOCATIONS_ORG_ASSIGN_USERS": "LOCATIONS_ORG_VIEW", "DEVICES_TRANSFER": "ORG_DEVICES_VIEW",
	"DEVICE_AUTH_TOKEN_EDIT": "ORG_DEVICES_VIEW", "USERS_CHANGE_PASSWORD": "ORG_USERS_VIEW", "USERS_DELETE": "ORG_USERS_VIEW",
	"ORG_DEVICES_CONTROL": "ORG_DEVICES_VIEW", "GATEWAYS_MANAGE": "GATEWAYS_VIEW", "GATEWAYS_CLAIM": "GATEWAYS_VIEW",
	"OAUTH_CLIENTS_CREATE": "OAUTH_CLIENTS_VIEW", "OAUTH_CLIENTS_DELETE": "OAUTH_CLIENTS_VIEW", "USERS_TRANSFER": "ORG_USERS_VIEW",
	"AUTOMATIONS_CREATE": "AUTOMATIONS_VIEW", "AUTOMATIONS_EDIT": "AUTOMATIONS_VIEW", "AUTOMATIONS_DELETE": "AUTOMATIONS_VIEW",
}

var standalone = []string{"ORG_SETTINGS_ACCESS", "USERS_ACTIONS_LOG_VIEW", "MANAGE_STATIC_TOKENS", "TAGS_MANAGE", "ORG_CREATE_SUB",
	"ORG_DELETE", "ORG_TRANSFER"}

func view(p string) string {
	if v, ok := viewOf[p]; ok {
		return v
	}
	return p
}

type matrix struct {
	*fixture
	targets   map[relation]target
	n         int
	otherRoot int64
}

func (m *matrix) next() int { m.n++; return m.n }

// freshDevice makes a device to delete in org (by A, or by the other
// tree's admin).
func (m *matrix) freshDevice(org int64, tok string, tmpl string) int64 {
	var d struct{ ID int64 }
	m.must(201, "POST", o+"/device/create", tok, map[string]any{"templateId": tmpl, "orgId": org, "name": fmt.Sprintf("victim %d", m.next())}).decode(m.t, &d)
	return d.ID
}

// creator returns who can make objects in org: the other tree's admin
// there, A everywhere else; and a template usable in org.
func (m *matrix) creator(org int64) (tok, tmpl string) {
	if org == m.targets[otherTree].org {
		return m.tok["X"], m.tok["XT"]
	}
	return m.tok["A"], m.tmpl
}

// fresh makes a new object of kind in t.org (for destructive probes), or
// returns missingID for the missing-id variant.
func (m *matrix) fresh(kind string, t target) int64 {
	if t.org == missingID {
		return missingID
	}
	tok, tmpl := m.creator(t.org)
	var out struct{ ID int64 }
	switch kind {
	case "device":
		return m.freshDevice(t.org, tok, tmpl)
	case "user":
		m.must(201, "POST", o+"/users/create-in-org", tok, map[string]any{"email": fmt.Sprintf("f%d@matrix.test", m.next()),
			"password": userPassword, "name": "F", "orgId": t.org, "roleId": 3}).decode(m.t, &out)
	case "location":
		m.must(201, "POST", o+"/location/create", tok, map[string]any{"name": "Fresh", "orgId": t.org}).decode(m.t, &out)
	case "tag":
		m.must(201, "POST", o+"/tags/create", tok, map[string]any{"name": fmt.Sprintf("fresh %d", m.next()), "orgId": t.org}).decode(m.t, &out)
	case "static token":
		var sts []struct{ ID int64 }
		m.must(201, "POST", o+"/static-tokens/create", tok, map[string]any{"templateId": tmpl, "orgId": t.org}).decode(m.t, &sts)
		return sts[0].ID
	}
	return out.ID
}

// freshClient makes an OAuth client in t.org and returns its id.
func (m *matrix) freshClient(t target) string {
	if t.org == missingID {
		return "oc_missing"
	}
	tok, _ := m.creator(t.org)
	var c struct{ ClientID string }
	m.must(201, "POST", o+"/oauth-clients/create", tok, map[string]any{"name": "fresh", "orgId": t.org}).decode(m.t, &c)
	return c.ClientID
}

var probes = []probe{
	{name: "get org", ok: 200, req: func(_ *matrix, t target) (string, string, any) { return "GET", q(o, "orgId", t.org), nil }},
	{name: "sub-orgs", ok: 200, emptyInScope: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/sub-organizations", "orgId", t.org), nil
	}},
	{name: "list devices", perm: "ORG_DEVICES_VIEW", ok: 200, emptyInScope: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/devices", "orgId", t.org), nil
	}},
	{name: "get device", perm: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device", "deviceId", t.device), nil
	}},
	{name: "device base info", perm: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/baseInfo", "deviceId", t.device), nil
	}},
	{name: "set device tags", perm: "TAGS_MANAGE", sees: "ORG_DEVICES_VIEW", ok: 204, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/device/tags", "deviceId", t.device), map[string]any{"tagIds": []int64{}}
	}},
	{name: "delete tag", perm: "TAGS_MANAGE", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/tag", "tagId", m.fresh("tag", t)), nil
	}},
	{name: "static token device", perm: "MANAGE_STATIC_TOKENS", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "GET", q(o+"/static-token/device", "tokenId", m.fresh("static token", t)), nil
	}},
	{name: "delete static token", perm: "MANAGE_STATIC_TOKENS", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/static-token", "tokenId", m.fresh("static token", t)), nil
	}},
	{name: "delete oauth client", perm: "OAUTH_CLIENTS_DELETE", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/oauth-client", "clientId", m.freshClient(t)), nil
	}},
	{name: "create user in org", onOrg: true, perm: "USERS_INVITE", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/users/create-in-org", map[string]any{"email": fmt.Sprintf("c%d@matrix.test", m.next()),
			"password": userPassword, "name": "C", "orgId": t.org, "roleId": 3}
	}},
	{name: "invite csv", onOrg: true, perm: "USERS_INVITE", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "POST", q(o+"/users/invite/csv", "orgId", t.org), []byte(fmt.Sprintf("csv%d@matrix.test,Csv\n", m.next()))
	}},
	{name: "transfer user to org", namesFirstTree: true, onOrg: true, perm: "USERS_TRANSFER", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		// A fresh user of United Heaters moves to the target org; for the
		// same-org cell (a transfer to one's own org is refused) it comes
		// from US branch instead.
		from := m.targets[same]
		if t.org == from.org {
			from = m.targets[descendant]
		}
		return "POST", o + "/users/transfer", map[string]any{"userId": m.fresh("user", from), "targetOrgId": t.org, "roleId": 3}
	}},
	{name: "rename device", perm: "ORG_DEVICES_EDIT", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		// Renamed to its own name, so searches in later cells still find it.
		return "PUT", q(o+"/device", "deviceId", t.device), map[string]string{"name": t.deviceName}
	}},
	{name: "create device", namesFirstTree: true, onOrg: true, perm: "ORG_DEVICES_CREATE", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/device/create", map[string]any{"templateId": m.tmpl, "orgId": t.org, "name": "made"}
	}},
	{name: "delete device", perm: "ORG_DEVICES_DELETE", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/device", "deviceId", m.fresh("device", t)), nil
	}},
	{name: "remove device owner", perm: "DEVICES_TRANSFER", ok: 204, req: func(_ *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/device/owner", "deviceId", t.device), nil
	}},
	{name: "regenerate device token", perm: "DEVICE_AUTH_TOKEN_EDIT", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/device/token", "deviceId", t.device), nil
	}},
	{name: "device metadata", perm: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/metafield", "deviceId", t.device), nil
	}},
	{name: "set device metadata", perm: "ORG_DEVICES_EDIT", sees: "ORG_DEVICES_VIEW", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/device/metafield", map[string]any{"deviceId": t.device, "metaFieldId": 1, "newValue": fmt.Sprintf("SN-%d", m.next())}
	}},
	{name: "device tags", perm: "TAGS_MANAGE", sees: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/tags", "deviceId", t.device), nil
	}},
	{name: "transfer device to org", namesFirstTree: true, perm: "DEVICES_TRANSFER", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		// A fresh device in United Heaters moves to the target org; for
		// the same-org cell it comes from US branch instead.
		from := m.targets[same]
		if t.org == from.org {
			from = m.targets[descendant]
		}
		return "POST", o + "/device/transfer", map[string]any{"deviceId": m.fresh("device", from), "newOrgId": t.org}
	}},
	{name: "list users", onOrg: true, perm: "ORG_USERS_VIEW", ok: 200, emptyWhenBlind: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/users", "orgId", t.org), nil
	}},
	{name: "get user", perm: "ORG_USERS_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/user", "userId", t.user), nil
	}},
	{name: "user tags", perm: "TAGS_MANAGE", sees: "ORG_USERS_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/user/tags", "userId", t.user), nil
	}},
	{name: "set user tags", perm: "TAGS_MANAGE", sees: "ORG_USERS_VIEW", ok: 204, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/user/tags", "userId", t.user), map[string]any{"tagIds": []int64{}}
	}},
	{name: "edit user", perm: "USERS_EDIT", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/user", "userId", t.user), map[string]string{"title": "Eng"}
	}},
	{name: "invite user", onOrg: true, perm: "USERS_INVITE", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/users/invite", map[string]any{"email": fmt.Sprintf("inv%d@matrix.test", m.next()), "name": "I", "roleId": 3, "orgId": t.org}
	}},
	{name: "suspend user", perm: "USERS_SUSPEND", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/users/suspend", "userId", t.user), nil
	}},
	{name: "unsuspend user", perm: "USERS_SUSPEND", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/users/unsuspend", "userId", t.user), nil
	}},
	{name: "set user role", perm: "USERS_EDIT", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/users/role", "userId", t.user, "roleId", 3), nil
	}},
	{name: "set user password", perm: "USERS_CHANGE_PASSWORD", ok: 204, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/users/password", "userId", t.user), map[string]string{"password": "another-password"}
	}},
	{name: "delete user", perm: "USERS_DELETE", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/user", "userId", m.fresh("user", t)), nil
	}},
	{name: "force logout", perm: "USERS_FORCE_LOGOUT", ok: 204, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/users/logout", "userId", t.user), nil
	}},
	{name: "list roles", onOrg: true, perm: "ROLES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/roles", "orgId", t.org), nil
	}},
	{name: "set role permissions", onOrg: true, perm: "ROLES_EDIT", ok: 204, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/role/permissions", "orgId", t.org, "roleId", 3), map[string]any{"permissions": []string{}}
	}},
	{name: "list templates", onOrg: true, perm: "PRODUCT_VIEW", ok: 200, emptyWhenBlind: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/templates", "orgId", t.org), nil
	}},
	{name: "edit org", perm: "ORG_SETTINGS_ACCESS", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o, "orgId", t.org), map[string]string{"description": "edited"}
	}},
	{name: "audit", perm: "USERS_ACTIONS_LOG_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/audit", "orgId", t.org), nil
	}},
	{name: "oauth clients", onOrg: true, perm: "OAUTH_CLIENTS_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/oauth-clients", "orgId", t.org), nil
	}},
	{name: "static tokens", perm: "MANAGE_STATIC_TOKENS", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/static-tokens", "orgId", t.org), nil
	}},
	{name: "tags", perm: "TAGS_MANAGE", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/tags", "orgId", t.org), nil
	}},
	{name: "list locations", perm: "LOCATIONS_ORG_VIEW", ok: 200, emptyInScope: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/locations", "orgId", t.org), nil
	}},
	{name: "get location", perm: "LOCATIONS_ORG_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/location", "locationId", t.location), nil
	}},
	{name: "edit location", perm: "LOCATIONS_ORG_EDIT", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/location", "locationId", t.location), map[string]string{"name": "Renamed"}
	}},
	{name: "assign location users", perm: "LOCATIONS_ORG_ASSIGN_USERS", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/location/users", "locationId", t.location), map[string]any{"userIds": []int64{}}
	}},
	{name: "delete location", perm: "LOCATIONS_ORG_DELETE", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/location", "locationId", m.fresh("location", t)), nil
	}},
	{name: "create sub-org", perm: "ORG_CREATE_SUB", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/create", map[string]any{"name": fmt.Sprintf("Sub %d", m.next()), "parentId": t.org}
	}},
	{name: "enable template", namesFirstTree: true, perm: "ORG_SETTINGS_ACCESS", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/template/enabled", "orgId", t.org, "templateId", m.tmpl, "enabled", true), nil
	}},
	{name: "create static tokens", namesFirstTree: true, perm: "MANAGE_STATIC_TOKENS", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/static-tokens/create", map[string]any{"templateId": m.tmpl, "orgId": t.org, "count": 1}
	}},
	{name: "create tag", perm: "TAGS_MANAGE", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/tags/create", map[string]any{"name": fmt.Sprintf("tag %d", m.next()), "orgId": t.org}
	}},
	{name: "create oauth client", onOrg: true, perm: "OAUTH_CLIENTS_CREATE", ok: 201, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", o + "/oauth-clients/create", map[string]any{"name": "matrix", "orgId": t.org}
	}},
	{name: "list gateways", onOrg: true, perm: "GATEWAYS_VIEW", ok: 200, emptyWhenBlind: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/gateways", "orgId", t.org), nil
	}},
	{name: "create location", onOrg: true, perm: "LOCATIONS_ORG_CREATE", ok: 201, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", o + "/location/create", map[string]any{"name": "Site", "orgId": t.org}
	}},
}

func TestIsolationMatrix(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *cloud.Config) {
		c.Tenancy.InvitesPerDay = 1000
		c.Gateways.RegisterPerMinute = 1 << 20 // every cell registers its own gateway
		// A write to a device no gateway serves waits this long for an
		// answer that cannot come.
		c.Gateways.CommandTimeout = time.Millisecond
	})
	m := &matrix{fixture: f, targets: map[relation]target{}}
	a := f.tok["A"]

	// The second root tree is made as a super admin makes one: A (Admin of
	// the first root) through the API.
	var other struct {
		Organization  struct{ ID int64 }
		AdminPassword string
	}
	f.must(201, "POST", "/api/v1/trees/create", a, map[string]any{"name": "Other Corp", "adminEmail": "x@other.test", "adminName": "X"}).decode(t, &other)
	m.otherRoot = other.Organization.ID
	x := f.login("x@other.test", other.AdminPassword)
	f.tok["X"] = x
	var xt struct{ ID string }
	f.must(201, "POST", o+"/template/create", x, map[string]any{"name": "XT",
		"metaFields": []map[string]any{{"id": 1, "name": "Serial Number"}}}).decode(t, &xt)
	f.tok["XT"] = xt.ID

	mkTarget := func(org int64, name, tok, tmpl string) target {
		n := m.next()
		tg := target{org: org, orgName: name, deviceName: fmt.Sprintf("Target device %d", n), userEmail: fmt.Sprintf("t%d@matrix.test", n)}
		var d, u, l struct{ ID int64 }
		f.must(201, "POST", o+"/device/create", tok, map[string]any{"templateId": tmpl, "orgId": org, "name": tg.deviceName}).decode(t, &d)
		f.must(201, "POST", o+"/users/create-in-org", tok, map[string]any{"email": tg.userEmail,
			"password": userPassword, "name": "T", "orgId": org, "roleId": 3}).decode(t, &u)
		f.must(201, "POST", o+"/location/create", tok, map[string]any{"name": "Loc", "orgId": org}).decode(t, &l)
		tg.device, tg.user, tg.location = d.ID, u.ID, l.ID
		tg.template = m.templateIn(org, tok)
		tg.gateway = m.claimedGateway(org, tok)
		m.shipTo(&tg, tok)
		return tg
	}
	// US branch may create sub-orgs, so "create sub-org" is decided by
	// permissions alone in every cell.
	f.must(200, "PUT", q(o, "orgId", f.us), a, map[string]any{"canCreateSubOrgs": true})
	m.targets[same] = mkTarget(f.uh, "United Heaters Inc.", a, f.tmpl)
	m.targets[ancestor] = mkTarget(f.root, "WarmPlus", a, f.tmpl)
	m.targets[descendant] = mkTarget(f.us, "US branch", a, f.tmpl)
	m.targets[sibling] = mkTarget(f.muller, "Muller Boiler Group", a, f.tmpl)
	m.targets[otherTree] = mkTarget(other.Organization.ID, "Other Corp", x, xt.ID)
	missing := missingTarget()

	// Callers, all at home in United Heaters.
	for _, p := range []struct {
		key, email string
		role       int
	}{{"Staff", "staff@uh.test", 2}, {"User", "user@uh.test", 3}} {
		f.must(201, "POST", o+"/users/create-in-org", a, map[string]any{"email": p.email, "password": userPassword,
			"name": p.key, "orgId": f.uh, "roleId": p.role})
		f.tok[p.key] = f.login(p.email, userPassword)
	}
	client, _, _, _ := f.clientToken(a, f.uh)
	var all, staff, user []string
	f.must(200, "GET", "/api/v1/auth/me", f.tok["U"], nil).decode(t, &struct{ Permissions *[]string }{&all})
	f.must(200, "GET", "/api/v1/auth/me", f.tok["Staff"], nil).decode(t, &struct{ Permissions *[]string }{&staff})
	f.must(200, "GET", "/api/v1/auth/me", f.tok["User"], nil).decode(t, &struct{ Permissions *[]string }{&user})
	clientPerms := slices.DeleteFunc(slices.Clone(all), func(p string) bool {
		return slices.Contains([]string{"ROLES_CREATE", "ROLES_EDIT", "ROLES_DELETE", "ORG_TRANSFER"}, p)
	})
	// The second tree's Admin calls too: its home is the other tree's
	// root, so every relation of the first tree is out of its reach.
	var xAll []string
	f.must(200, "GET", "/api/v1/auth/me", x, nil).decode(t, &struct{ Permissions *[]string }{&xAll})
	callers := []struct {
		name    string
		tok     string
		perms   []string
		switch_ bool
		home    relation
		atRoot  bool // home is a root org
	}{
		{"Admin", f.tok["U"], all, true, same, false},
		{"Staff", f.tok["Staff"], staff, true, same, false},
		{"User", f.tok["User"], user, false, same, false},
		{"OAuth client", client, clientPerms, true, same, false},
		{"other tree's Admin", x, xAll, true, otherTree, true},
	}

	cells := 0
	for _, pr := range allProbes() {
		for _, c := range callers {
			for _, rel := range []relation{same, ancestor, descendant, sibling, otherTree} {
				cells++
				// eff is where the target lies relative to this caller.
				eff := rel
				if c.home != same {
					eff = otherTree
					if rel == c.home {
						eff = same
					}
				}
				inScope := eff == same || (eff == descendant && c.switch_)
				if pr.enabledHere {
					inScope = eff == same || eff == descendant
				}
				// A request that also names a first-tree object (a user,
				// device, template or org of WarmPlus) reaches across trees:
				// that object is hidden, so the answer is 404 even at home.
				crossing := c.home != same && eff == same && pr.namesFirstTree
				method, path, body := pr.req(m, m.targets[rel])
				got := f.req(method, path, c.tok, body)
				mMethod, mPath, mBody := pr.req(m, missing)
				miss := f.req(mMethod, mPath, c.tok, mBody)
				name := fmt.Sprintf("%s as %s on %s", pr.name, c.name, rel)

				okStatus := pr.ok
				if st, ok := pr.okAt[eff]; ok {
					okStatus = st
				}
				want := okStatus
				blind := false
				below := pr.belowRoot != 0 && !c.atRoot
				switch {
				case below && pr.rootFirst:
					want = pr.belowRoot
				case !inScope || crossing:
					want = 404
				case pr.sees != "" && !slices.Contains(c.perms, pr.sees):
					blind, want = true, 404
				case below:
					want = pr.belowRoot
				case pr.perm == "" || slices.Contains(c.perms, pr.perm):
				case !slices.Contains(standalone, pr.perm) && !slices.Contains(c.perms, view(pr.perm)):
					blind, want = true, 404
					if pr.onOrg {
						want = 403
					}
				default:
					want = 403
				}
				if pr.finds != nil {
					checkSearch(t, name, got, pr.finds(m.targets[rel]), want == okStatus)
					continue
				}
				if blind && (pr.emptyInScope || (pr.emptyWhenBlind && rel == same)) {
					want = 200
					var l struct{ TotalElements int }
					if got.status == 200 {
						got.decode(t, &l)
						if l.TotalElements != 0 {
							t.Errorf("%s: a caller without %s sees %s", name, pr.perm, got.body)
						}
					}
				}
				if got.status != want {
					t.Errorf("%s: got %s, want %d", name, got, want)
					continue
				}
				if (want == 404 || below && pr.rootFirst) && !crossing && (got.status != miss.status || !bytes.Equal(got.body, miss.body)) {
					t.Errorf("%s: %d body %s differs from a missing id's %s", name, want, got.body, miss)
				}
				if want >= 400 {
					msg := got.errMsg(t)
					if want == 403 && !below && pr.perm != "" && !slices.Contains(c.perms, pr.perm) && !strings.Contains(msg, pr.perm) {
						t.Errorf("%s: 403 %q does not name the missing %s", name, msg, pr.perm)
					}
				}
			}
		}
	}
	t.Logf("%d cells (%d rows × %d callers × 5 relations)", cells, len(allProbes()), len(callers))
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	r := e.must(200, "GET", "/api/v1/openapi.json", "", nil)
	var doc struct {
		OpenAPI string
		Paths   map[string]any
	}
	r.decode(t, &doc)
	if doc.OpenAPI == "" || doc.Paths["/api/v1/organization/device"] == nil || doc.Paths["/oauth2/token"] == nil {
		t.Errorf("served document lacks routes: openapi=%q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
}
