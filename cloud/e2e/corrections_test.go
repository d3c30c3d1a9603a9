package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Issue 11's tenancy corrections, each over real HTTP on a real SQLite
// file.

// wantForbidden asserts a 403 in the API's error shape naming perm.
func wantForbidden(t *testing.T, what string, r resp, perm string) {
	t.Helper()
	if r.status != 403 {
		t.Errorf("%s: got %s, want 403 naming %s", what, r, perm)
		return
	}
	if msg := r.errMsg(t); !strings.Contains(msg, perm) {
		t.Errorf("%s: 403 %q does not name %s", what, msg, perm)
	}
}

// A caller who sees an org but lacks the key is told which key; what it
// cannot see stays a 404 identical to a missing id.
func TestForbiddenNamesMissingPermission(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	m, r := f.tok["M"], f.tok["R"]
	wantForbidden(t, "User creates a device in its own org",
		f.req("POST", o+"/device/create", m, map[string]any{"templateId": f.tmpl, "name": "mine"}), "ORG_DEVICES_CREATE")
	wantForbidden(t, "User invites into its own org",
		f.req("POST", o+"/users/invite", m, map[string]any{"email": "n@usbranch.test", "name": "N", "roleId": 3}), "USERS_INVITE")
	wantForbidden(t, "Staff lists roles of its own org", f.req("GET", q(o+"/roles", "orgId", f.muller), r, nil), "ROLES_VIEW")
	wantForbidden(t, "Staff creates an OAuth client", f.req("POST", o+"/oauth-clients/create", r, map[string]any{"name": "c"}), "OAUTH_CLIENTS_CREATE")
	// Objects stay hidden: M cannot view devices, so its own Pool Heater
	// answers like a missing id.
	same404(t, f.req("GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), m, nil),
		f.req("GET", q(o+"/device", "deviceId", 987654), m, nil))
	// Out of scope orgs stay hidden too.
	same404(t, f.req("POST", o+"/device/create", m, map[string]any{"templateId": f.tmpl, "name": "x", "orgId": f.muller}),
		f.req("POST", o+"/device/create", m, map[string]any{"templateId": f.tmpl, "name": "x", "orgId": 987654}))
}

// raw sends body bytes as JSON exactly as given (json.Marshal would turn
// invalid UTF-8 into U+FFFD before it left the client).
func (e *env) raw(method, path, token string, body []byte) resp {
	e.t.Helper()
	r, err := http.NewRequest(method, e.base+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
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

// A NUL in a query used to cut the LIKE pattern short and list everything
// in scope; control characters are refused in queries and names.
func TestSearchAndNamesRefuseControlCharacters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	for _, c := range []struct{ what, path string }{
		{"devices NUL", q(o+"/search/devices", "query", "\x00")},
		{"devices NUL after text", q(o+"/search/devices", "query", "zzz\x00")},
		{"orgs NUL", q(o+"/search", "query", "\x00")},
		{"users NUL", q(o+"/search/users", "query", "\x00")},
		{"users bell", q(o+"/search/users", "query", "m\a")},
		{"devices by owner NUL", q(o+"/device/by-owner", "ownerEmail", "\x00")},
		{"devices invalid UTF-8", q(o+"/search/devices", "query", "\xff")},
	} {
		jsonError(t, c.what, f.req("GET", c.path, a, nil), 400)
	}
	for _, c := range []struct {
		what, method, path string
		body               map[string]any
	}{
		{"device name", "POST", o + "/device/create", map[string]any{"templateId": f.tmpl, "name": "bad\x00name"}},
		{"device rename", "PUT", q(o+"/device", "deviceId", f.dev["AC"]), map[string]any{"name": "tab\tname"}},
		{"org name", "POST", o + "/create", map[string]any{"name": "Bell\a Org", "parentId": f.root}},
		{"org description", "PUT", q(o, "orgId", f.uh), map[string]any{"description": "esc \x1b[31m"}},
		{"location name", "POST", o + "/location/create", map[string]any{"name": "Loc\x00"}},
		{"tag name", "POST", o + "/tags/create", map[string]any{"name": "t\x7f"}},
		{"user name", "POST", o + "/users/invite", map[string]any{"email": "cc@warmplus.test", "name": "C\x00C", "roleId": 3}},
		{"role name", "POST", o + "/roles/create", map[string]any{"name": "R\x00"}},
		{"client name", "POST", o + "/oauth-clients/create", map[string]any{"name": "c\x00"}},
	} {
		jsonError(t, c.what, f.req(c.method, c.path, a, c.body), 400)
	}
	// A description may span lines.
	f.must(200, "PUT", q(o, "orgId", f.uh), a, map[string]any{"description": "line one\nline two"})
}

// Invalid UTF-8 is refused, not stored as U+FFFD.
func TestInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	body := func(s string) []byte { return []byte(s) }
	for _, c := range []struct {
		what, method, path string
		body               []byte
	}{
		{"org name", "POST", o + "/create", body(`{"name":"Bad ` + "\xff" + ` Org","parentId":` + fmt.Sprint(f.root) + `}`)},
		{"org description", "PUT", q(o, "orgId", f.uh), body(`{"description":"caf` + "\xe9" + `"}`)},
		{"device name", "POST", o + "/device/create", body(`{"templateId":"` + f.tmpl + `","name":"` + "\xc3\x28" + `"}`)},
	} {
		jsonError(t, c.what, f.raw(c.method, c.path, a, c.body), 400)
	}
	// A CSV import is not JSON: its names are checked by the service.
	r := f.req("POST", o+"/users/invite/csv", a, []byte("csv@warmplus.test,Bad \xff Name\n"))
	if r.status != 200 || !strings.Contains(string(r.body), "UTF-8") {
		t.Errorf("CSV row with invalid UTF-8: %s", r)
	}
	var org struct{ Description string }
	f.must(200, "GET", q(o, "orgId", f.uh), a, nil).decode(t, &org)
	if strings.ContainsRune(org.Description, '\uFFFD') {
		t.Errorf("description stored with a replacement character: %q", org.Description)
	}
}

// An org transfer is a change to the org: lastModifiedTs moves. And the
// "can create sub-organizations" flag refuses an org arriving by transfer
// as it refuses one being created.
func TestOrgTransferTouchesAndHonoursSubOrgFlag(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var before struct{ LastModifiedTs int64 }
	f.must(200, "GET", q(o, "orgId", f.us), a, nil).decode(t, &before)
	f.clock.Advance(time.Minute)
	var moved struct{ LastModifiedTs int64 }
	f.must(200, "POST", o+"/transfer", a, map[string]any{"orgId": f.us, "newParentId": f.muller}).decode(t, &moved)
	if moved.LastModifiedTs != before.LastModifiedTs+time.Minute.Milliseconds() {
		t.Errorf("lastModifiedTs %d after transfer, was %d", moved.LastModifiedTs, before.LastModifiedTs)
	}
	var got struct{ LastModifiedTs int64 }
	f.must(200, "GET", q(o, "orgId", f.us), a, nil).decode(t, &got)
	if got.LastModifiedTs != moved.LastModifiedTs {
		t.Errorf("stored lastModifiedTs %d, answered %d", got.LastModifiedTs, moved.LastModifiedTs)
	}

	f.must(200, "PUT", q(o, "orgId", f.muller), a, map[string]any{"canCreateSubOrgs": false})
	r := f.req("POST", o+"/transfer", a, map[string]any{"orgId": f.ca, "newParentId": f.muller})
	jsonError(t, "transfer under an org that may not have sub-orgs", r, 403)
	jsonError(t, "create under it", f.req("POST", o+"/create", a, map[string]any{"name": "Nope", "parentId": f.muller}), 403)
	var ca struct{ ParentOrganizationID int64 }
	f.must(200, "GET", q(o, "orgId", f.ca), a, nil).decode(t, &ca)
	if ca.ParentOrganizationID != f.uh {
		t.Errorf("Canada branch moved to %d", ca.ParentOrganizationID)
	}
}

// Static tokens: the QR payload claims, the default User may claim into
// its own org (OWN_DEVICES_CLAIM), and a disclaim shows in the log of the
// org that loses the device as well as the creator's.
func TestStaticTokenClaimByQRPayloadAndDefaultUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, m, h := f.tok["A"], f.tok["M"], f.tok["H"]
	var sts []struct {
		ID        int64
		Token     string
		QRPayload string
	}
	f.must(201, "POST", o+"/static-tokens/create", a, map[string]any{"templateId": f.tmpl, "count": 4}).decode(t, &sts)
	if want := sts[0].Token + "+" + fmt.Sprint(f.root); sts[0].QRPayload != want {
		t.Fatalf("qrPayload %q, want %q", sts[0].QRPayload, want)
	}
	// The payload naming another org than the token's is answered like an
	// unknown token.
	sameAnswer(t, "payload with a wrong org vs an unknown token",
		f.req("POST", o+"/static-token/claim", m, map[string]any{"qrToken": sts[0].Token + "+" + fmt.Sprint(f.us)}),
		f.req("POST", o+"/static-token/claim", m, map[string]any{"qrToken": "sqr_unknown+" + fmt.Sprint(f.root)}))

	// The default User M scans the QR: the device is M's, in US branch.
	var d struct{ ID, OrgID, OwnerUserID int64 }
	f.must(200, "POST", o+"/static-token/claim", m, map[string]any{"qrToken": sts[0].QRPayload, "name": "Scanned"}).decode(t, &d)
	if d.OrgID != f.us || d.OwnerUserID != f.user["M"] {
		t.Fatalf("claimed device %+v", d)
	}
	// The bare token still works.
	f.must(200, "POST", o+"/static-token/claim", m, map[string]any{"qrToken": sts[1].Token})
	// The catalogue says so: every built-in role holds OWN_DEVICES_CLAIM.
	var me struct{ Permissions []string }
	f.must(200, "GET", "/api/v1/auth/me", m, nil).decode(t, &me)
	if !slices.Equal(me.Permissions, []string{"OWN_DEVICES_CLAIM"}) {
		t.Errorf("default User holds %v", me.Permissions)
	}
	var cat []string
	f.must(200, "GET", "/api/v1/permissions", m, nil).decode(t, &cat)
	if !slices.Contains(cat, "OWN_DEVICES_CLAIM") {
		t.Errorf("catalogue lacks OWN_DEVICES_CLAIM: %+v", cat)
	}
	// An Admin takes the key away in Canada branch: H is told which key.
	f.setPerms(f.ca, 3, []string{}, false, false)
	wantForbidden(t, "claim without the key", f.req("POST", o+"/static-token/claim", h, map[string]any{"qrToken": sts[2].QRPayload}), "OWN_DEVICES_CLAIM")

	// Disclaim: both US branch (loses it) and WarmPlus (gets it back) log it.
	f.must(204, "POST", q(o+"/static-token/disclaim", "tokenId", sts[0].ID), a, nil)
	for _, org := range []int64{f.us, f.root} {
		var l struct {
			Content []struct {
				Action   string
				ObjectID string
				OrgID    int64
			}
		}
		f.must(200, "GET", q(o+"/audit", "orgId", org, "size", 3), a, nil).decode(t, &l)
		if len(l.Content) == 0 || l.Content[0].Action != "static_token.disclaim" || l.Content[0].ObjectID != fmt.Sprint(d.ID) || l.Content[0].OrgID != org {
			t.Errorf("org %d's newest audit entries %+v, want the disclaim of device %d", org, l.Content, d.ID)
		}
	}
}

// User transfer: refused to the user's own org; the user and the
// destination's Admins get a mail naming both orgs and the role; both
// orgs log it, each moved device on its own; owned locations move along.
func TestUserTransferNotifiesAuditsAndMovesLocations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, m := f.tok["A"], f.tok["M"]
	// Canada branch gets an Admin to be notified; M may own locations.
	f.must(201, "POST", o+"/users/create-in-org", a, map[string]any{"email": "v@canada.test", "password": userPassword,
		"name": "V", "orgId": f.ca, "roleId": 1})
	f.setPerms(f.us, 3, []string{"LOCATIONS_OWN_CREATE", "LOCATIONS_OWN_VIEW"}, false, false)
	var loc struct{ ID int64 }
	f.must(201, "POST", o+"/location/create", m, map[string]any{"name": "M's cabin", "owned": true}).decode(t, &loc)

	jsonError(t, "transfer to the user's own org",
		f.req("POST", o+"/users/transfer", a, map[string]any{"userId": f.user["M"], "targetOrgId": f.us, "roleId": 2}), 400)

	var res struct {
		FromOrgID    int64
		MovedDevices int
	}
	f.must(201, "POST", o+"/users/transfer", a, map[string]any{"userId": f.user["M"], "targetOrgId": f.ca, "roleId": 2,
		"moveDevices": true}).decode(t, &res)
	if res.FromOrgID != f.us || res.MovedDevices != 1 {
		t.Fatalf("transfer result %+v", res)
	}
	for _, to := range []string{"m@usbranch.test", "v@canada.test"} {
		ms := f.mails(to)
		if !slices.ContainsFunc(ms, func(s string) bool {
			return strings.Contains(s, "US branch") && strings.Contains(s, "Canada branch") && strings.Contains(s, "Staff")
		}) {
			t.Errorf("no mail to %s naming both orgs and the role: %q", to, ms)
		}
	}
	if ms := f.mails("u@unitedheaters.test"); len(ms) != 0 {
		t.Errorf("United Heaters' Admin was mailed: %q", ms)
	}
	// Both orgs' logs have the user's move and the device's own entry.
	for _, org := range []int64{f.us, f.ca} {
		var l struct {
			Content []struct{ Action, ObjectID string }
		}
		f.must(200, "GET", q(o+"/audit", "orgId", org, "size", 10), a, nil).decode(t, &l)
		var got []string
		for _, e := range l.Content {
			got = append(got, e.Action+" "+e.ObjectID)
		}
		for _, want := range []string{"user.transfer " + fmt.Sprint(f.user["M"]), "device.transfer " + fmt.Sprint(f.dev["Pool Heater"]),
			"location.transfer " + fmt.Sprint(loc.ID)} {
			if !slices.Contains(got, want) {
				t.Errorf("org %d's log %v lacks %q", org, got, want)
			}
		}
	}
	// M (now Staff in Canada branch) still has the cabin.
	var l struct{ OrgID int64 }
	f.must(200, "GET", q(o+"/location", "locationId", loc.ID), m, nil).decode(t, &l)
	if l.OrgID != f.ca {
		t.Errorf("M's location is in org %d, want Canada branch %d", l.OrgID, f.ca)
	}
}

// Audit entries hold the objects as the API shows them: the API's field
// names, never Go's, never a hash or a secret (even zeroed).
func TestAuditEntriesUseAPIShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	f.must(201, "POST", o+"/static-tokens/create", a, map[string]any{"templateId": f.tmpl})
	f.must(201, "POST", o+"/location/create", a, map[string]any{"name": "Plant"})
	f.must(200, "PUT", q(o+"/device", "deviceId", f.dev["AC"]), a, map[string]any{"name": "AC 2"})
	var l struct {
		Content []struct {
			Action, ObjectType, ObjectID string
			Before, After                map[string]any
		}
	}
	f.must(200, "GET", q(o+"/audit", "includeSubOrgs", true, "size", 1000), a, nil).decode(t, &l)
	// The keys the API answers with, per object type.
	apiKeys := map[string]map[string]bool{}
	keysOf := func(kind string, r resp) {
		var m map[string]any
		r.decode(t, &m)
		if apiKeys[kind] == nil {
			apiKeys[kind] = map[string]bool{}
		}
		for k := range m {
			apiKeys[kind][k] = true
		}
	}
	keysOf("device", f.must(200, "GET", q(o+"/device/baseInfo", "deviceId", f.dev["AC"]), a, nil))
	keysOf("user", f.must(200, "GET", q(o+"/user", "userId", f.user["M"]), a, nil))
	keysOf("org", f.must(200, "GET", q(o, "orgId", f.uh), a, nil))
	var locs struct{ Content []map[string]any }
	f.must(200, "GET", q(o+"/locations"), a, nil).decode(t, &locs)
	apiKeys["location"] = map[string]bool{}
	for k := range locs.Content[0] {
		apiKeys["location"][k] = true
	}
	checked := 0
	for _, e := range l.Content {
		for _, side := range []map[string]any{e.Before, e.After} {
			for k := range side {
				if strings.Contains(strings.ToLower(k), "hash") || k == "PasswordHash" || k == "token" || k == "Token" {
					t.Errorf("%s entry carries %q: %v", e.Action, k, side)
				}
				if k != "" && k[0] >= 'A' && k[0] <= 'Z' {
					t.Errorf("%s entry has a Go field name %q", e.Action, k)
				}
				if want, ok := apiKeys[e.ObjectType]; ok && !want[k] {
					t.Errorf("%s entry has %q, which the API's %s shape lacks", e.Action, k, e.ObjectType)
				}
			}
			if len(side) > 0 {
				checked++
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d audit sides checked", checked)
	}
}
