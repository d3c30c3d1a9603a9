package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"outpost/cloud"
	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/platformapi"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
)

// The rest of the route table: rows for the routes the first matrix rows
// leave out, exemptions (with the rule that applies instead) for routes
// the five org relations mean nothing to, and a test that fails when a
// route has neither, so a new route cannot go unchecked.

func allProbes() []probe { return slices.Concat(probes, moreProbes, otaProbes) }

func missingTarget() target {
	return target{org: missingID, device: missingID, user: missingID, location: missingID, gateway: missingID,
		firmware: missingID, shipment: missingID, otaDevice: missingID, template: "TMPLMISSING",
		orgName: "no such org", deviceName: "no such device", userEmail: "nobody@missing.test"}
}

// templateIn makes a template in the tree of org's creator and enables it
// in org (a root creates it enabled there already).
func (m *matrix) templateIn(org int64, tok string) string {
	var tm struct{ ID string }
	m.must(201, "POST", o+"/template/create", tok, map[string]any{"name": fmt.Sprintf("Target template %d", m.next())}).decode(m.t, &tm)
	if m.srvRoot(org) {
		return tm.ID
	}
	orgs := []int64{org}
	if org == m.us {
		orgs = []int64{m.uh, m.us} // enabling needs the parent's first
	}
	for _, id := range orgs {
		m.must(204, "PUT", q(o+"/template/enabled", "orgId", id, "templateId", tm.ID, "enabled", true), tok, nil)
	}
	return tm.ID
}

// srvRoot tells whether org is a root (WarmPlus or the other tree's).
func (m *matrix) srvRoot(org int64) bool {
	return org == m.root || org == m.otherRoot
}

// registerGateway registers a new site and returns its id and claim code.
func (m *matrix) registerGateway() (int64, string) {
	var g struct{ GatewayID, ClaimCode string }
	m.must(201, "POST", "/api/v1/gateway/register", "", map[string]string{"name": fmt.Sprintf("site %d", m.next()), "software": "matrix"}).decode(m.t, &g)
	id, err := strconv.ParseInt(g.GatewayID, 10, 64)
	if err != nil {
		m.t.Fatalf("gateway id %q: %v", g.GatewayID, err)
	}
	return id, g.ClaimCode
}

// claimedGateway registers a gateway and claims it into org as tok.
func (m *matrix) claimedGateway(org int64, tok string) int64 {
	id, code := m.registerGateway()
	m.must(200, "POST", o+"/gateway/claim", tok, map[string]any{"claimCode": code, "orgId": org})
	return id
}

// freshGateway is a new gateway claimed into t.org (for release).
func (m *matrix) freshGateway(t target) int64 {
	if t.org == missingID {
		return missingID
	}
	tok, _ := m.creator(t.org)
	return m.claimedGateway(t.org, tok)
}

// freshClaimCode is a new unclaimed gateway's code; the missing variant
// is a code nobody issued.
func (m *matrix) freshClaimCode(t target) string {
	if t.org == missingID {
		return "gw_missingmissingmissing"
	}
	_, code := m.registerGateway()
	return code
}

// freshClaimedToken is a static token made in t.org whose device its
// creator (a root Admin) claimed, ready to be disclaimed.
func (m *matrix) freshClaimedToken(t target) int64 {
	if t.org == missingID {
		return missingID
	}
	tok, tmpl := m.creator(t.org)
	var sts []struct {
		ID    int64
		Token string
	}
	m.must(201, "POST", o+"/static-tokens/create", tok, map[string]any{"templateId": tmpl, "orgId": t.org}).decode(m.t, &sts)
	m.must(200, "POST", o+"/static-token/claim", tok, map[string]any{"qrToken": sts[0].Token})
	return sts[0].ID
}

// orgToChange is the org a delete or transfer acts on: t.org itself, or
// for the descendant a fresh empty leaf below it, so the allowed call can
// succeed without taking the fixture's US branch away from later cells.
func (m *matrix) orgToChange(t target) int64 {
	if t.org != m.targets[descendant].org || t.org == missingID {
		return t.org
	}
	var org struct{ ID int64 }
	m.must(201, "POST", o+"/create", m.tok["A"], map[string]any{"name": fmt.Sprintf("Leaf %d", m.next()), "parentId": t.org}).decode(m.t, &org)
	return org.ID
}

// checkSearch asserts a search answered 200 and listed want exactly when
// visible.
func checkSearch(t *testing.T, name string, got resp, want int64, visible bool) {
	t.Helper()
	if got.status != 200 {
		t.Errorf("%s: got %s, want 200", name, got)
		return
	}
	var l struct{ Content []struct{ ID int64 } }
	got.decode(t, &l)
	found := slices.ContainsFunc(l.Content, func(x struct{ ID int64 }) bool { return x.ID == want })
	switch {
	case found && !visible:
		t.Errorf("%s: LEAK: the search lists %d: %s", name, want, got.body)
	case !found && visible:
		t.Errorf("%s: the search misses %d: %s", name, want, got.body)
	}
}

// automationID is a fresh automation id (a ULID) per call.
func (m *matrix) automationID() string {
	n := m.next()
	const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := []byte("01JD5Z8Q3M4N5P6Q7R8S9T0000")
	for i := 25; i >= 20 && n > 0; i, n = i-1, n/32 {
		b[i] = digits[n%32]
	}
	return string(b)
}

// scheduleAutomation is an automation that names no device (a schedule
// that notifies), so only the org and the AUTOMATIONS_* keys decide.
func scheduleAutomation(id string) map[string]any {
	return map[string]any{"id": id, "name": "matrix", "enabled": true,
		"trigger": map[string]any{"kind": "schedule", "schedule": map[string]any{"at": "07:00"}},
		"actions": []map[string]any{{"kind": "notify", "text": "good morning"}}}
}

// freshAutomation makes an automation in t.org (as its creator), or names
// a missing one.
func (m *matrix) freshAutomation(t target) string {
	id := m.automationID()
	if t.org == missingID {
		return id
	}
	tok, _ := m.creator(t.org)
	m.must(201, "PUT", q(o+"/automation", "orgId", t.org), tok, scheduleAutomation(id))
	return id
}

// freshWebhook makes a webhook in t.org (as its creator), or names a
// missing one.
func (m *matrix) freshWebhook(t target) int64 {
	return m.freshWebhookOf(t, matrixWebhook())
}

func (m *matrix) freshWebhookOf(t target, hook map[string]any) int64 {
	if t.org == missingID {
		return missingID
	}
	tok, _ := m.creator(t.org)
	var w struct{ ID int64 }
	m.must(201, "PUT", q(o+"/webhook", "orgId", t.org), tok, hook).decode(m.t, &w)
	return w.ID
}

// refusedWebhook points at loopback, which this cloud's guard refuses (no
// allow-list): its test send answers at once, with the refusal.
func refusedWebhook() map[string]any {
	w := matrixWebhook()
	w["url"] = "http://127.0.0.1:9/in"
	return w
}

func matrixWebhook() map[string]any {
	return map[string]any{"name": "matrix", "enabled": true, "method": "POST", "url": "https://example.com/in",
		"trigger": map[string]any{"kind": "datastream"}}
}

var moreProbes = []probe{
	{name: "list webhooks", onOrg: true, perm: "ORG_SETTINGS_ACCESS", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/webhooks", "orgId", t.org), nil
	}},
	{name: "save webhook", onOrg: true, perm: "ORG_SETTINGS_ACCESS", ok: 201, req: func(_ *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/webhook", "orgId", t.org), matrixWebhook()
	}},
	{name: "delete webhook", perm: "ORG_SETTINGS_ACCESS", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/webhook", "id", m.freshWebhook(t)), nil
	}},
	{name: "webhook deliveries", perm: "ORG_SETTINGS_ACCESS", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "GET", q(o+"/webhook/deliveries", "id", m.freshWebhook(t)), nil
	}},
	{name: "test webhook", perm: "ORG_SETTINGS_ACCESS", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "POST", q(o+"/webhook/test", "id", m.freshWebhookOf(t, refusedWebhook())), nil
	}},
	{name: "list automations", onOrg: true, perm: "AUTOMATIONS_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/automations", "orgId", t.org), nil
	}},
	{name: "save automation", onOrg: true, perm: "AUTOMATIONS_CREATE", ok: 201, req: func(m *matrix, t target) (string, string, any) {
		return "PUT", q(o+"/automation", "orgId", t.org), scheduleAutomation(m.automationID())
	}},
	{name: "get automation", perm: "AUTOMATIONS_VIEW", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "GET", q(o+"/automation", "id", m.freshAutomation(t)), nil
	}},
	{name: "automation runs", perm: "AUTOMATIONS_VIEW", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "GET", q(o+"/automation/runs", "id", m.freshAutomation(t)), nil
	}},
	{name: "run automation", perm: "AUTOMATIONS_EXECUTE", ok: 202, req: func(m *matrix, t target) (string, string, any) {
		return "POST", q(o+"/automation/run", "id", m.freshAutomation(t)), nil
	}},
	{name: "delete automation", perm: "AUTOMATIONS_DELETE", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o+"/automation", "id", m.freshAutomation(t)), nil
	}},
	// Searches: always 200; only what is in scope (and viewable) is listed.
	{name: "search orgs", ok: 200, finds: func(t target) int64 { return t.org }, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/search", "query", t.orgName), nil
	}},
	{name: "search devices", perm: "ORG_DEVICES_VIEW", ok: 200, finds: func(t target) int64 { return t.device }, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/search/devices", "query", t.deviceName), nil
	}},
	{name: "search users", perm: "ORG_USERS_VIEW", ok: 200, finds: func(t target) int64 { return t.user }, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/search/users", "query", t.userEmail), nil
	}},
	{name: "devices by owner", perm: "ORG_USERS_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/by-owner", "ownerEmail", t.userEmail), nil
	}},

	// Organizations.
	{name: "delete org", perm: "ORG_DELETE", ok: 204, okAt: map[relation]int{same: 400}, req: func(m *matrix, t target) (string, string, any) {
		return "DELETE", q(o, "orgId", m.orgToChange(t)), nil
	}},
	// Only a root-org Admin may transfer: every caller here is refused
	// in scope, and out of scope the org stays hidden.
	{name: "transfer org", namesFirstTree: true, perm: "ORG_TRANSFER", ok: 403, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/transfer", map[string]any{"orgId": m.orgToChange(t), "newParentId": m.ca}
	}},

	// Device live state and control.
	{name: "device online", perm: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/online", "deviceId", t.device), nil
	}},
	{name: "device values", perm: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/datastreams", "deviceId", t.device), nil
	}},
	{name: "device history", perm: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/datastream/history", "deviceId", t.device, "pin", "v1"), nil
	}},
	{name: "device timeline", perm: "ORG_DEVICES_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/device/timeline", "deviceId", t.device), nil
	}},
	// Allowed writes to a device no gateway serves cannot be delivered
	// (the command times out: 503).
	{name: "write datastream", perm: "ORG_DEVICES_CONTROL", ok: 503, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", o + "/device/datastream", map[string]any{"deviceId": t.device, "dataStreamId": "v1", "value": 21}
	}},
	{name: "write datastreams", perm: "ORG_DEVICES_CONTROL", ok: 503, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", o + "/device/datastreams", map[string]any{"deviceId": t.device, "values": map[string]any{"v1": 21}}
	}},

	// Templates: visible where enabled (the caller's own org).
	{name: "get template", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/template", "templateId", t.template), nil
	}},
	{name: "template datastreams", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/template/datastreams", "templateId", t.template), nil
	}},
	{name: "template events", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/template/events", "templateId", t.template), nil
	}},
	{name: "template metafields", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/template/metafields", "templateId", t.template), nil
	}},

	// Static tokens: disclaiming is for the org that made the token.
	{name: "disclaim static token", perm: "MANAGE_STATIC_TOKENS", ok: 204, req: func(m *matrix, t target) (string, string, any) {
		return "POST", q(o+"/static-token/disclaim", "tokenId", m.freshClaimedToken(t)), nil
	}},

	// Gateways.
	{name: "get gateway", perm: "GATEWAYS_VIEW", ok: 200, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/gateway", "gatewayId", t.gateway), nil
	}},
	{name: "claim gateway into org", onOrg: true, perm: "GATEWAYS_CLAIM", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/gateway/claim", map[string]any{"claimCode": m.freshClaimCode(t), "orgId": t.org}
	}},
	{name: "release gateway", perm: "GATEWAYS_MANAGE", ok: 200, req: func(m *matrix, t target) (string, string, any) {
		return "POST", q(o+"/gateway/release", "gatewayId", m.freshGateway(t)), nil
	}},
}

// routeKey is "METHOD /path" without the query.
func routeKey(method, path string) string {
	p, _, _ := strings.Cut(path, "?")
	return method + " " + p
}

// cloudRoutes are mounted by package cloud beside the Platform API.
var cloudRoutes = []string{"POST /api/v1/gateway/register", "GET /api/v1/gateway/sync", "POST /api/v1/gateway/claim-code",
	"GET /api/v1/gateway/firmware/{sha256}"}

// registeredRoutes is the platformapi route table, read from a real API.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "routes.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := tenancy.New(t.Context(), tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	api, err := platformapi.New(platformapi.Options{Service: svc, RateLimit: -1, MaxBodyBytes: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range api.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// probeRoute is the route a matrix row calls, found by building its
// request for a missing target (which touches no server).
func probeRoute(pr probe) string {
	m := &matrix{fixture: &fixture{}, targets: map[relation]target{}}
	for _, rel := range []relation{same, ancestor, descendant, sibling, otherTree} {
		m.targets[rel] = missingTarget()
	}
	method, path, _ := pr.req(m, missingTarget())
	return routeKey(method, path)
}

// Every route in the table has matrix rows or an exemption with a reason,
// never both, and every row and exemption names a real route.
func TestEveryRouteCovered(t *testing.T) {
	t.Parallel()
	table := registeredRoutes(t)
	known := slices.Concat(table, cloudRoutes)
	rows := map[string][]string{}
	for _, pr := range allProbes() {
		r := probeRoute(pr)
		rows[r] = append(rows[r], pr.name)
		if !slices.Contains(known, r) {
			t.Errorf("matrix row %q calls %s, which is not a registered route", pr.name, r)
		}
	}
	ex := map[string]bool{}
	for _, e := range exemptions {
		if ex[e.route] {
			t.Errorf("exemption for %s listed twice", e.route)
		}
		ex[e.route] = true
		if strings.TrimSpace(e.why) == "" || e.check == nil {
			t.Errorf("exemption for %s needs a reason and a check of the rule that applies", e.route)
		}
		if !slices.Contains(known, e.route) {
			t.Errorf("exemption for %s names no registered route", e.route)
		}
		if len(rows[e.route]) > 0 {
			t.Errorf("%s is both exempt and in the matrix (%v)", e.route, rows[e.route])
		}
	}
	covered := 0
	for _, r := range known {
		switch {
		case len(rows[r]) > 0:
			covered++
		case ex[r]:
		default:
			t.Errorf("route %s has no isolation matrix row and no exemption", r)
		}
	}
	t.Logf("%d routes (%d in the platformapi table): %d in the matrix, %d exempt", len(known), len(table), covered, len(ex))
}

// jsonError asserts r is status with the API's error shape.
func jsonError(t *testing.T, what string, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: got %s, want %d", what, r, status)
		return
	}
	r.errMsg(t)
}

// sameAnswer asserts two answers cannot be told apart.
func sameAnswer(t *testing.T, what string, a, b resp) {
	t.Helper()
	if a.status != b.status || string(a.body) != string(b.body) {
		t.Errorf("%s: %s differs from %s", what, a, b)
	}
}

// exemptWorld is what the exemption checks run against: the fixture,
// an OAuth client of United Heaters and a second tree.
type exemptWorld struct {
	*fixture
	client, x, xTmpl string
	rootClient       string // an OAuth client of WarmPlus
}

type exemption struct {
	route, why string
	check      func(t *testing.T, w *exemptWorld)
}

// unauthenticated asserts a route refuses a missing and a forged token
// with 401 in the API's error shape.
func unauthenticated(t *testing.T, w *exemptWorld, method, path string, body any) {
	t.Helper()
	jsonError(t, "no token", w.req(method, path, "", body), 401)
	jsonError(t, "forged session", w.req(method, path, "ses_forged", body), 401)
	jsonError(t, "forged client token", w.req(method, path, "forged", body), 401)
}

// peopleOnly asserts an OAuth client is refused with 403.
func peopleOnlyRoute(t *testing.T, w *exemptWorld, method, path string, body any) {
	t.Helper()
	unauthenticated(t, w, method, path, body)
	jsonError(t, "OAuth client", w.req(method, path, w.client, body), 403)
}

func (w *exemptWorld) roleNames() []string {
	w.t.Helper()
	var rs []struct{ Name string }
	w.must(200, "GET", q(o+"/roles", "orgId", w.root), w.tok["A"], nil).decode(w.t, &rs)
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// nonRootCallers are the matrix callers of United Heaters.
func (w *exemptWorld) nonRootCallers() map[string]string {
	return map[string]string{"Admin": w.tok["U"], "Staff": w.tok["R"], "User": w.tok["M"], "OAuth client": w.client}
}

var exemptions = []exemption{
	{route: "POST /api/v1/organization/device/event/resolve", why: "resolving needs an open critical or warning event, which only a device (through its site) or a cloud automation logs, so the matrix cannot make one per cell; the device routes' rule applies (out of scope the device is hidden like a missing one, then ORG_DEVICES_CONTROL, OWN_DEVICES_CONTROL for one's own device), checked here; cloud's TestAutomationLogsEventInTheCloud resolves real events",
		check: func(t *testing.T, w *exemptWorld) {
			path := func(dev int64) string { return q(o+"/device/event/resolve", "deviceId", dev, "eventId", 1) }
			body := map[string]string{"comment": "checked"}
			hidden := w.req("POST", path(w.dev["AC"]), w.x, body)
			jsonError(t, "other tree resolves", hidden, 404)
			sameAnswer(t, "other tree's resolve vs a missing device", hidden, w.req("POST", path(missingID), w.x, body))
			// A default User (no device keys) does not see even their own
			// device: hidden, as out of scope.
			sameAnswer(t, "a User's resolve on their own device vs a missing device",
				w.req("POST", path(w.dev["Thermostat-H"]), w.tok["H"], body), w.req("POST", path(missingID), w.tok["H"], body))
			// The root Admin gets as far as the event: none with that id.
			got := w.req("POST", path(w.dev["AC"]), w.tok["A"], body)
			jsonError(t, "the Admin resolves a missing event", got, 404)
			if !strings.Contains(string(got.body), "no critical or warning event") {
				t.Errorf("the Admin's resolve of a missing event: %s", got)
			}
		}},
	{route: "POST /oauth2/token", why: "client credentials name no org: the token is scoped to the client's org, which the matrix's OAuth client column covers; errors follow RFC 6749 §5.2, not the API shape",
		check: func(t *testing.T, w *exemptWorld) {
			_, _, id, _ := w.clientToken(w.tok["A"], w.uh)
			wrong := w.basic("/oauth2/token?grant_type=client_credentials", id, "wrong-secret")
			unknown := w.basic("/oauth2/token?grant_type=client_credentials", "oc_unknown", "wrong-secret")
			sameAnswer(t, "wrong secret vs unknown client", wrong, unknown)
			if wrong.status != 400 && wrong.status != 401 || !strings.Contains(string(wrong.body), `"invalid_client"`) {
				t.Errorf("bad client credentials: %s", wrong)
			}
		}},
	{route: "POST /api/v1/auth/login", why: "public: a person names no org, only their own credentials",
		check: func(t *testing.T, w *exemptWorld) {
			bad := w.req("POST", "/api/v1/auth/login", "", map[string]string{"email": "u@unitedheaters.test", "password": "wrong"})
			jsonError(t, "wrong password", bad, 401)
			sameAnswer(t, "wrong password vs unknown email", bad,
				w.req("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@unitedheaters.test", "password": "wrong"}))
		}},
	{route: "POST /api/v1/auth/logout", why: "acts on the caller's own session only; people only",
		check: func(t *testing.T, w *exemptWorld) {
			peopleOnlyRoute(t, w, "POST", "/api/v1/auth/logout", nil)
			other := w.login("h@canada.test", userPassword)
			w.must(204, "POST", "/api/v1/auth/logout", other, nil)
			w.must(200, "GET", "/api/v1/auth/me", w.tok["H"], nil) // H's other session lives on
		}},
	{route: "GET /api/v1/auth/me", why: "answers the caller's own profile; people only",
		check: func(t *testing.T, w *exemptWorld) {
			peopleOnlyRoute(t, w, "GET", "/api/v1/auth/me", nil)
			var me struct{ ID, OrgID int64 }
			w.must(200, "GET", "/api/v1/auth/me", w.tok["M"], nil).decode(t, &me)
			if me.ID != w.user["M"] || me.OrgID != w.us {
				t.Errorf("M's me is %+v", me)
			}
		}},
	{route: "POST /api/v1/auth/password", why: "changes the caller's own password (the old one is required); people only",
		check: func(t *testing.T, w *exemptWorld) {
			body := map[string]string{"oldPassword": userPassword, "newPassword": "a-new-password"}
			peopleOnlyRoute(t, w, "POST", "/api/v1/auth/password", body)
		}},
	{route: "POST /api/v1/auth/password-reset", why: "public: takes an email and must not tell whether it exists",
		check: func(t *testing.T, w *exemptWorld) {
			sameAnswer(t, "reset known vs unknown email",
				w.req("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "w@muller.test"}),
				w.req("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "nobody@muller.test"}))
		}},
	{route: "POST /api/v1/auth/password-reset/confirm", why: "public: the mailed token is the only credential",
		check: func(t *testing.T, w *exemptWorld) {
			r := w.req("POST", "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": "rst_forged", "password": "forged-password"})
			if r.status < 400 || r.status >= 500 {
				t.Errorf("forged reset token: %s", r)
			}
			r.errMsg(t)
		}},
	{route: "POST /api/v1/invitations/accept", why: "public: the mailed token is the only credential",
		check: func(t *testing.T, w *exemptWorld) {
			r := w.req("POST", "/api/v1/invitations/accept", "", map[string]string{"token": "inv_forged", "password": "forged-password"})
			if r.status < 400 || r.status >= 500 {
				t.Errorf("forged invitation token: %s", r)
			}
			r.errMsg(t)
		}},
	{route: "GET /api/v1/openapi.json", why: "public document, no tenant data",
		check: func(t *testing.T, w *exemptWorld) {
			w.must(200, "GET", "/api/v1/openapi.json", "", nil)
		}},
	{route: "GET /api/v1/permissions", why: "the permission catalogue is the same for every tree; no org data",
		check: func(t *testing.T, w *exemptWorld) {
			unauthenticated(t, w, "GET", "/api/v1/permissions", nil)
			a := w.must(200, "GET", "/api/v1/permissions", w.tok["A"], nil)
			sameAnswer(t, "catalogue for another tree", a, w.must(200, "GET", "/api/v1/permissions", w.x, nil))
			sameAnswer(t, "catalogue for a client", a, w.must(200, "GET", "/api/v1/permissions", w.client, nil))
		}},
	{route: "GET /api/v1/organization/shipments", why: "takes no id: always the caller's own root's shipments, refused below the root (tenancy.md decision 18)",
		check: checkShipmentList},
	{route: "GET /api/v1/organization/profile", why: "takes no id: always the caller's own org",
		check: func(t *testing.T, w *exemptWorld) {
			unauthenticated(t, w, "GET", o+"/profile", nil)
			for who, tok := range w.nonRootCallers() {
				var org struct{ ID int64 }
				w.must(200, "GET", o+"/profile", tok, nil).decode(t, &org)
				want := w.uh
				if who == "Staff" {
					want = w.muller
				} else if who == "User" {
					want = w.us
				}
				if org.ID != want {
					t.Errorf("%s's profile is org %d, want %d", who, org.ID, want)
				}
			}
		}},
	{route: "POST /api/v1/organization/roles/create", why: "the role structure is tree-wide and edited in the root org only; an org relation does not apply, the tree does",
		check: func(t *testing.T, w *exemptWorld) {
			before := w.roleNames()
			for who, tok := range w.nonRootCallers() {
				r := w.req("POST", o+"/roles/create", tok, map[string]string{"name": "Sneaky " + who})
				if r.status != 403 && r.status != 404 {
					t.Errorf("%s creates a role: %s", who, r)
				}
				r.errMsg(t)
			}
			w.must(201, "POST", o+"/roles/create", w.x, map[string]string{"name": "Other tree role"})
			if got := w.roleNames(); !slices.Equal(got, before) {
				t.Errorf("WarmPlus roles changed from %v to %v", before, got)
			}
		}},
	{route: "PUT /api/v1/organization/role", why: "tree-wide role structure (see roles/create); another tree's role ids are its own",
		check: func(t *testing.T, w *exemptWorld) {
			// Two custom roles, so the second id is one X's tree (one custom
			// role) lacks.
			var r struct{ ID int }
			w.must(201, "POST", o+"/roles/create", w.tok["A"], map[string]string{"name": "Fitter"})
			w.must(201, "POST", o+"/roles/create", w.tok["A"], map[string]string{"name": "Installer"}).decode(t, &r)
			for who, tok := range w.nonRootCallers() {
				got := w.req("PUT", q(o+"/role", "roleId", r.ID), tok, map[string]string{"name": "Hijacked"})
				if got.status != 403 && got.status != 404 {
					t.Errorf("%s renames a role: %s", who, got)
				}
			}
			// X's tree has no role with that id: 404 like any missing role.
			got := w.req("PUT", q(o+"/role", "roleId", r.ID), w.x, map[string]string{"name": "Hijacked"})
			jsonError(t, "other tree renames", got, 404)
			sameAnswer(t, "other tree's rename vs a missing role", got, w.req("PUT", q(o+"/role", "roleId", 9), w.x, map[string]string{"name": "Hijacked"}))
			if roles := w.roleNames(); !slices.Contains(roles, "Installer") || slices.Contains(roles, "Hijacked") {
				t.Errorf("WarmPlus roles now %v", roles)
			}
			if !slices.Contains(w.roleNames(), "Installer") {
				t.Errorf("roles now %v", w.roleNames())
			}
		}},
	{route: "DELETE /api/v1/organization/role", why: "tree-wide role structure (see roles/create); another tree's role ids are its own",
		check: func(t *testing.T, w *exemptWorld) {
			var r struct{ ID int }
			w.must(201, "POST", o+"/roles/create", w.tok["A"], map[string]string{"name": "Temp"}).decode(t, &r)
			for who, tok := range w.nonRootCallers() {
				got := w.req("DELETE", q(o+"/role", "roleId", r.ID, "replacementRoleId", 3), tok, nil)
				if got.status != 403 && got.status != 404 {
					t.Errorf("%s deletes a role: %s", who, got)
				}
			}
			got := w.req("DELETE", q(o+"/role", "roleId", r.ID, "replacementRoleId", 3), w.x, nil)
			jsonError(t, "other tree deletes", got, 404)
			sameAnswer(t, "other tree's delete vs a missing role", got, w.req("DELETE", q(o+"/role", "roleId", 9, "replacementRoleId", 3), w.x, nil))
			if !slices.Contains(w.roleNames(), "Temp") {
				t.Errorf("roles now %v", w.roleNames())
			}
		}},
	{route: "POST /api/v1/organization/template/create", why: "templates are created in the root org for the whole tree; an org relation does not apply, the tree does",
		check: func(t *testing.T, w *exemptWorld) {
			for who, tok := range w.nonRootCallers() {
				r := w.req("POST", o+"/template/create", tok, map[string]any{"name": "Sneaky"})
				if r.status != 403 && r.status != 404 {
					t.Errorf("%s creates a template: %s", who, r)
				}
				r.errMsg(t)
			}
			var l struct{ TotalElements int }
			w.must(200, "GET", q(o+"/templates", "orgId", w.root), w.tok["A"], nil).decode(t, &l)
			if l.TotalElements != 1 {
				t.Errorf("WarmPlus has %d templates, want the fixture's 1", l.TotalElements)
			}
		}},
	{route: "PUT /api/v1/organization/template", why: "tree-wide template (see template/create); another tree sees none of ours",
		check: func(t *testing.T, w *exemptWorld) {
			body := map[string]any{"name": "Hijacked"}
			for who, tok := range w.nonRootCallers() {
				r := w.req("PUT", q(o+"/template", "templateId", w.tmpl), tok, body)
				if r.status != 403 && r.status != 404 {
					t.Errorf("%s edits the template: %s", who, r)
				}
			}
			got := w.req("PUT", q(o+"/template", "templateId", w.tmpl), w.x, body)
			jsonError(t, "other tree edits", got, 404)
			sameAnswer(t, "other tree's edit vs a missing template", got, w.req("PUT", q(o+"/template", "templateId", "TMPLMISSING"), w.x, body))
			var tm struct{ Name string }
			w.must(200, "GET", q(o+"/template", "templateId", w.tmpl), w.tok["A"], nil).decode(t, &tm)
			if tm.Name != "T" {
				t.Errorf("template renamed to %q", tm.Name)
			}
		}},
	{route: "DELETE /api/v1/organization/template", why: "tree-wide template (see template/create); another tree sees none of ours",
		check: func(t *testing.T, w *exemptWorld) {
			var tm struct{ ID string }
			w.must(201, "POST", o+"/template/create", w.tok["A"], map[string]any{"name": "Unused"}).decode(t, &tm)
			for who, tok := range w.nonRootCallers() {
				r := w.req("DELETE", q(o+"/template", "templateId", tm.ID), tok, nil)
				if r.status != 403 && r.status != 404 {
					t.Errorf("%s deletes the template: %s", who, r)
				}
			}
			got := w.req("DELETE", q(o+"/template", "templateId", tm.ID), w.x, nil)
			jsonError(t, "other tree deletes", got, 404)
			sameAnswer(t, "other tree's delete vs a missing template", got, w.req("DELETE", q(o+"/template", "templateId", "TMPLMISSING"), w.x, nil))
			w.must(200, "GET", q(o+"/template", "templateId", tm.ID), w.tok["A"], nil)
		}},
	{route: "POST /api/v1/organization/static-token/claim", why: "the printed QR is the capability and the device always lands in the claimer's own org; people only. Another tree's QR must stay unclaimable",
		check: func(t *testing.T, w *exemptWorld) {
			peopleOnlyRoute(t, w, "POST", o+"/static-token/claim", map[string]string{"qrToken": "forged"})
			var sts []struct{ Token string }
			w.must(201, "POST", o+"/static-tokens/create", w.x, map[string]any{"templateId": w.xTmpl}).decode(t, &sts)
			jsonError(t, "unknown QR", w.req("POST", o+"/static-token/claim", w.tok["U"], map[string]string{"qrToken": "forged"}), 404)
			// The device must not change trees (that the refusal differs
			// from an unknown QR is TestLeakStaticTokenClaimOtherTree).
			got := w.req("POST", o+"/static-token/claim", w.tok["U"], map[string]string{"qrToken": sts[0].Token})
			if got.status < 400 || got.status >= 500 {
				t.Errorf("claim another tree's QR: %s", got)
			}
			got.errMsg(t)
		}},
	{route: "POST /api/v1/trees/create", why: "creates a root tree: no org relation applies; the rule is who may (a person holding Admin in the first root org) and that trees stay apart",
		check: func(t *testing.T, w *exemptWorld) {
			body := func(n int) map[string]any {
				return map[string]any{"name": fmt.Sprintf("Tenant %d", n), "adminEmail": fmt.Sprintf("boss%d@tenant.test", n), "adminName": "Boss"}
			}
			unauthenticated(t, w, "POST", "/api/v1/trees/create", body(0))
			for who, tok := range map[string]string{"U (Admin below the root)": w.tok["U"], "R (Staff)": w.tok["R"],
				"X (Admin of another root)": w.x, "client of the first root": w.rootClient} {
				r := w.req("POST", "/api/v1/trees/create", tok, body(1))
				if r.status != 403 {
					t.Errorf("%s creates a tree: %s", who, r)
				}
				r.errMsg(t)
			}
			var made struct {
				Organization  struct{ ID int64 }
				AdminPassword string
			}
			w.must(201, "POST", "/api/v1/trees/create", w.tok["A"], body(2)).decode(t, &made)
			boss := w.login("boss2@tenant.test", made.AdminPassword)
			// Neither tree sees the other, nor moves or invites users into it.
			sameAnswer(t, "A reads the new tree vs a missing org", w.req("GET", q(o, "orgId", made.Organization.ID), w.tok["A"], nil),
				w.req("GET", q(o, "orgId", missingID), w.tok["A"], nil))
			sameAnswer(t, "the new Admin reads WarmPlus vs a missing org", w.req("GET", q(o, "orgId", w.root), boss, nil),
				w.req("GET", q(o, "orgId", missingID), boss, nil))
			jsonError(t, "A moves M into the new tree",
				w.req("POST", o+"/users/transfer", w.tok["A"], map[string]any{"userId": w.user["M"], "targetOrgId": made.Organization.ID, "roleId": 3}), 404)
			jsonError(t, "the new Admin takes M",
				w.req("POST", o+"/users/transfer", boss, map[string]any{"userId": w.user["M"], "targetOrgId": made.Organization.ID, "roleId": 3}), 404)
			jsonError(t, "the new Admin invites M's email",
				w.req("POST", o+"/users/invite", boss, map[string]any{"email": "m@usbranch.test", "name": "M", "roleId": 3}), 400)
			var me struct{ OrgID int64 }
			w.must(200, "GET", "/api/v1/auth/me", w.tok["M"], nil).decode(t, &me)
			if me.OrgID != w.us {
				t.Errorf("M is now in org %d", me.OrgID)
			}
		}},
	{route: "POST /api/v1/gateway/register", why: "public: a new site names no org until an org claims it (the matrix covers claim)",
		check: func(t *testing.T, w *exemptWorld) {
			w.must(201, "POST", "/api/v1/gateway/register", "", map[string]string{"name": "site", "software": "t"})
			jsonError(t, "malformed registration", w.req("POST", "/api/v1/gateway/register", "", "not json"), 400)
		}},
	{route: "GET /api/v1/gateway/sync", why: "a gateway's websocket, authenticated by its own credential, not a person's or client's token",
		check: func(t *testing.T, w *exemptWorld) {
			jsonError(t, "sync without a credential", w.req("GET", "/api/v1/gateway/sync", "", nil), 401)
			jsonError(t, "sync with a person's session", w.req("GET", "/api/v1/gateway/sync", w.tok["A"], nil), 401)
		}},
	{route: "POST /api/v1/gateway/claim-code", why: "an unclaimed gateway renews its claim code with its own credential (TestClaimCodesExpire)",
		check: func(t *testing.T, w *exemptWorld) {
			jsonError(t, "renew without a credential", w.req("POST", "/api/v1/gateway/claim-code", "", nil), 401)
			jsonError(t, "renew with a person's session", w.req("POST", "/api/v1/gateway/claim-code", w.tok["A"], nil), 401)
		}},
	{route: "GET /api/v1/gateway/firmware/{sha256}", why: "a gateway's image download, authenticated by its own credential and limited to the images its shipments name",
		check: checkFirmwareDownload},
}

// basic posts with HTTP basic client credentials.
func (e *env) basic(path, user, pass string) resp {
	e.t.Helper()
	r, err := http.NewRequest("POST", e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	r.SetBasicAuth(user, pass)
	res, err := e.hc.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, body: data, header: res.Header}
}

func TestExemptRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	w := &exemptWorld{fixture: f}
	w.client, _, _, _ = f.clientToken(f.tok["A"], f.uh)
	w.rootClient, _, _, _ = f.clientToken(f.tok["A"], f.root)
	if _, err := f.srv.CreateTree(t.Context(), cloud.TreeSpec{OrgName: "Other Corp", AdminEmail: "x@other.test", AdminName: "X", Password: "other-admin-pw"}); err != nil {
		t.Fatal(err)
	}
	w.x = f.login("x@other.test", "other-admin-pw")
	var xt struct{ ID string }
	f.must(201, "POST", o+"/template/create", w.x, map[string]any{"name": "XT"}).decode(t, &xt)
	w.xTmpl = xt.ID
	for _, e := range exemptions {
		t.Run(strings.ReplaceAll(e.route, "/", "_"), func(t *testing.T) {
			w.env.t = t
			e.check(t, w)
		})
	}
	w.env.t = t
}

// A person who holds another tree's QR token must learn nothing: the
// refusal is the 404 an unknown QR gets, not a 400 naming its template.
func TestStaticTokenClaimOtherTreeIsNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	if _, err := f.srv.CreateTree(t.Context(), cloud.TreeSpec{OrgName: "Other Corp", AdminEmail: "x@other.test", AdminName: "X", Password: "other-admin-pw"}); err != nil {
		t.Fatal(err)
	}
	x := f.login("x@other.test", "other-admin-pw")
	var xt struct{ ID string }
	f.must(201, "POST", o+"/template/create", x, map[string]any{"name": "XT"}).decode(t, &xt)
	var sts []struct{ Token string }
	f.must(201, "POST", o+"/static-tokens/create", x, map[string]any{"templateId": xt.ID}).decode(t, &sts)
	got := f.req("POST", o+"/static-token/claim", f.tok["U"], map[string]string{"qrToken": sts[0].Token})
	unknown := f.req("POST", o+"/static-token/claim", f.tok["U"], map[string]string{"qrToken": "forged"})
	sameAnswer(t, "another tree's QR vs an unknown one", got, unknown)
}
