package console

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

func TestSignInRequiredAndCookie(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	res := c.get("/devices/1?x=1")
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/login?next=%2Fdevices%2F1%3Fx%3D1" {
		t.Fatalf("signed-out page: %d %q", res.status, res.header.Get("Location"))
	}
	if res := c.post("/devices/1/write", url.Values{"pin": {"1"}, "value": {"1"}}); res.status != http.StatusUnauthorized {
		t.Fatalf("signed-out write: %d", res.status)
	}
	res = c.post("/login", url.Values{"email": {"admin@acme.test"}, "password": {"wrong password"}, "next": {"/sites"}})
	if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "wrong email or password") {
		t.Fatalf("bad password: %d", res.status)
	}
	res = c.post("/login", url.Values{"email": {"admin@acme.test"}, "password": {pw}, "next": {"//evil.test/x"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/devices" {
		t.Fatalf("sign in: %d %q (an off-site next must not be followed)", res.status, res.header.Get("Location"))
	}
	ck := res.header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=ses_", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %q", ck, want)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("plain-HTTP cookie marked Secure: %q", ck)
	}
	if res := c.get("/devices"); res.status != http.StatusOK {
		t.Fatalf("devices after sign in: %d", res.status)
	}
	// Over TLS the cookie is Secure.
	req := httptest.NewRequest(http.MethodPost, "https://console.example.test/login",
		strings.NewReader(url.Values{"email": {"admin@acme.test"}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.c.ServeHTTP(w, req)
	if ck := w.Header().Get("Set-Cookie"); w.Code != http.StatusSeeOther || !strings.Contains(ck, "Secure") {
		t.Errorf("sign in over TLS: %d, cookie %q is not Secure", w.Code, ck)
	}
	if res := c.post("/logout", nil); res.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.status)
	}
	if res := c.get("/devices"); res.status != http.StatusSeeOther {
		t.Fatalf("devices after sign out: %d (the session must be revoked)", res.status)
	}
}

var inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`)

// TestPages renders every page: each answers 200 with the security
// headers, no inline script, and what it must show.
func TestPages(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	dev := fmt.Sprintf("/devices/%d", e.devA.ID)
	gw := e.claimedGateway(t)
	tests := []struct {
		c    *client
		path string
		want []string
	}{
		{e.client(), "/login", []string{"Sign in to Outpost", `name="password"`}},
		{e.client(), "/forgot-password", []string{"Reset your password"}},
		{e.client(), "/reset-password?token=rst_x", []string{"Choose a new password", `value="rst_x"`}},
		{e.client(), "/accept-invitation?token=inv_x", []string{"Welcome to Outpost"}},
		{admin, "/devices", []string{"2 devices", "Other Boiler", "Client B", "Thermostat", "Online"}},
		{admin, "/devices?q=other", []string{"1 device matches", "Other Boiler"}},
		{admin, "/devices?status=online&sort=lastReported&dir=desc", []string{"1 device matches", "Boiler &lt;script", `aria-sort="descending"`}},
		{admin, "/devices?status=offline", []string{"1 device matches", "Other Boiler"}},
		{admin, dev, []string{"Boiler &lt;script&gt;", "Temperature", "21.5", `data-control="switch"`, `data-control="slider"`,
			`data-control="select"`, `data-control="text"`, "openstreetmap.org", "Client A", "Heat"}},
		{admin, dev + "/charts", []string{`class="chart"`, "Export CSV", `data-range="3mo"`}},
		{admin, dev + "/timeline", []string{"overheat", "too hot", "online"}},
		{admin, dev + "/timeline?kind=online", []string{"online"}},
		{admin, dev + "/info", []string{"Firmware version", "1.2.3", "Serial Number", "SN-42", e.devA.UID}},
		{admin, dev + "/actions", []string{"device.create", "Ada Admin (you)"}},
		{admin, "/profile", []string{"admin@acme.test", "Sign out everywhere", "Role Admin", "this browser", "Go program"}},
		{admin, "/orgs?q=client+a", []string{"2 organizations match", "Client A Branch"}},
		{admin, "/sites", []string{"Claim a gateway", "Site One", "Connected"}},
		{admin, fmt.Sprintf("/sites/%d", gw), []string{"Site One", "Release gateway", "Boiler"}},
	}
	for _, tc := range tests {
		res := tc.c.get(tc.path)
		if res.status != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", tc.path, res.status, res.body)
			continue
		}
		if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
		if inlineScript.MatchString(res.body) || strings.Contains(res.body, " style=") {
			t.Errorf("GET %s: inline script or style in the page", tc.path)
		}
		if strings.Contains(res.body, "<script>alert") {
			t.Errorf("GET %s: a device name was not escaped", tc.path)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.body, w) {
				t.Errorf("GET %s: no %q in the page", tc.path, w)
			}
		}
	}
	if res := admin.get(dev + "/timeline?kind=online"); strings.Contains(res.body, "overheat") || strings.Contains(res.body, ">offline<") {
		t.Errorf("the timeline filtered to online shows other kinds")
	}
	if res := admin.get(dev + "/nosuchtab"); res.status != http.StatusNotFound {
		t.Errorf("unknown tab: %d", res.status)
	}
	if res := admin.get("/no/such/page"); res.status != http.StatusNotFound || !strings.Contains(res.body, "Not found") {
		t.Errorf("unknown page: %d", res.status)
	}
	if res := admin.get("/"); res.status != http.StatusSeeOther || res.header.Get("Location") != "/devices" {
		t.Errorf("/: %d %q", res.status, res.header.Get("Location"))
	}
	if res := admin.get("/devices?cursor=garbage"); res.status != http.StatusBadRequest {
		t.Errorf("a forged cursor: %d, want 400", res.status)
	}
}

// claimedGateway registers a site and claims it into Client A.
func (e *env) claimedGateway(t *testing.T) tenancy.GatewayID {
	g, code, err := e.svc.RegisterGateway(t.Context(), "Site One")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ClaimGateway(t.Context(), e.admin, code, e.orgA.ID); err != nil {
		t.Fatal(err)
	}
	return g.ID
}

// TestScopeAndPermissions: another org's device is 404 (page, write, data),
// a viewer sees no control and a forged write gets 403, cross-origin
// writes are refused.
func TestScopeAndPermissions(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op@a.test")
	viewer := e.signedIn("viewer@a.test")
	other := fmt.Sprintf("/devices/%d", e.devB.ID)
	mine := fmt.Sprintf("/devices/%d", e.devA.ID)
	for _, p := range []string{other, other + "/charts", other + "/series?pin=0&range=1h", other + "/export.csv?pin=0&range=1h", other + "/live"} {
		if res := op.get(p); res.status != http.StatusNotFound {
			t.Errorf("GET %s from Client A: %d, want 404", p, res.status)
		}
	}
	if res := op.post(other+"/write", url.Values{"pin": {"2"}, "value": {"1"}}, "Accept", "application/json"); res.status != http.StatusNotFound {
		t.Errorf("write to another org's device: %d, want 404", res.status)
	}
	if res := op.get("/devices"); strings.Contains(res.body, "Other Boiler") || !strings.Contains(res.body, "1 device<") {
		t.Errorf("Client A's list shows Client B's device or a wrong count")
	}
	res := viewer.get(mine)
	if res.status != http.StatusOK || strings.Contains(res.body, "data-control") || !strings.Contains(res.body, "does not allow changing") {
		t.Errorf("viewer's device page: %d, controls offered: %v", res.status, strings.Contains(res.body, "data-control"))
	}
	if res := viewer.post(mine+"/write", url.Values{"pin": {"2"}, "value": {"1"}}, "Accept", "application/json"); res.status != http.StatusForbidden ||
		!strings.Contains(res.body, `"forbidden"`) {
		t.Errorf("viewer's forged write: %d %s, want 403", res.status, res.body)
	}
	if res := viewer.post(mine+"/write", url.Values{"pin": {"2"}, "value": {"1"}}); res.status != http.StatusForbidden {
		t.Errorf("viewer's forged form write: %d, want 403", res.status)
	}
	if res := viewer.get("/sites"); res.status != http.StatusForbidden {
		t.Errorf("viewer's sites page: %d, want 403", res.status)
	}
	if res := viewer.get("/devices"); strings.Contains(res.body, `href="/sites"`) {
		t.Errorf("the viewer is offered Sites")
	}
	if res := op.post(mine+"/write", url.Values{"pin": {"2"}, "value": {"1"}}, "Sec-Fetch-Site", "cross-site"); res.status != http.StatusForbidden {
		t.Errorf("cross-site write: %d, want 403", res.status)
	}
	if res := op.post(mine+"/write", url.Values{"pin": {"2"}, "value": {"1"}}, "Origin", "http://evil.test"); res.status != http.StatusForbidden {
		t.Errorf("cross-origin write: %d, want 403", res.status)
	}
	if len(e.live.writes) != 0 {
		t.Errorf("refused writes reached the gateway: %v", e.live.writes)
	}
	if res := op.post("/org", url.Values{"org": {fmt.Sprint(e.orgB.ID)}}); res.status != http.StatusNotFound {
		t.Errorf("switch into another client's org: %d, want 404", res.status)
	}
}

func TestWriteResults(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op@a.test")
	path := fmt.Sprintf("/devices/%d/write", e.devA.ID)
	tests := []struct {
		err    error
		pin    string
		status int
		result string
	}{
		{nil, "2", http.StatusOK, "applied"},
		{errStale, "2", http.StatusConflict, "stale"},
		{tenancy.Errorf(tenancy.Unavailable, "the device's gateway did not answer in time"), "2", http.StatusServiceUnavailable, "offline"},
		{tenancy.Errorf(tenancy.Invalid, "refused by the template"), "2", http.StatusBadRequest, "invalid"},
		{nil, "256", http.StatusBadRequest, "invalid"},
		{nil, "x", http.StatusBadRequest, "invalid"},
	}
	for _, tc := range tests {
		e.live.mu.Lock()
		e.live.writeErr = tc.err
		e.live.mu.Unlock()
		res := op.post(path, url.Values{"pin": {tc.pin}, "value": {"1"}}, "Accept", "application/json")
		if res.status != tc.status || !strings.Contains(res.body, `"result":"`+tc.result+`"`) {
			t.Errorf("write with %v: %d %s, want %d %s", tc.err, res.status, res.body, tc.status, tc.result)
		}
	}
	if len(e.live.writes) != 1 || !strings.HasSuffix(e.live.writes[0], "/2=1") {
		t.Errorf("writes at the gateway: %v", e.live.writes)
	}
	e.live.writeErr = nil
	res := op.post(path, url.Values{"pin": {"1"}, "value": {"22"}}) // a form post without JavaScript
	if res.status != http.StatusSeeOther || !strings.HasSuffix(res.header.Get("Location"), "?write=applied") {
		t.Errorf("form write: %d %q", res.status, res.header.Get("Location"))
	}
}

// TestFormErrors drives every form's error path.
func TestFormErrors(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	anon := e.client()
	tests := []struct {
		name   string
		c      *client
		path   string
		form   url.Values
		status int
		want   string
	}{
		{"forgot without email", anon, "/forgot-password", url.Values{}, 400, "Enter your email"},
		{"forgot unknown email", anon, "/forgot-password", url.Values{"email": {"nobody@x.test"}}, 200, "If an account uses that address"},
		{"reset mismatch", anon, "/reset-password", url.Values{"token": {"rst_x"}, "password": {"aaaaaaaaa"}, "confirm": {"b"}}, 400, "differ"},
		{"reset bad token", anon, "/reset-password", url.Values{"token": {"rst_x"}, "password": {"aaaaaaaaa"}, "confirm": {"aaaaaaaaa"}}, 400, "invalid or has expired"},
		{"reset short", anon, "/reset-password", url.Values{"token": {"rst_x"}, "password": {"a"}, "confirm": {"a"}}, 400, "password must be"},
		{"invite mismatch", anon, "/accept-invitation", url.Values{"token": {"x"}, "password": {"aaaaaaaaa"}, "confirm": {"b"}}, 400, "differ"},
		{"invite bad token", anon, "/accept-invitation", url.Values{"token": {"x"}, "password": {"aaaaaaaaa"}, "confirm": {"aaaaaaaaa"}}, 400, "invitation"},
		{"login empty", anon, "/login", url.Values{}, 401, "wrong email or password"},
		{"profile empty name", admin, "/profile", url.Values{"name": {"  "}}, 400, "1 to 100"},
		{"password mismatch", admin, "/profile/password", url.Values{"old": {pw}, "new": {"abcdefghij"}, "confirm": {"x"}}, 400, "differ"},
		{"password wrong old", admin, "/profile/password", url.Values{"old": {"nope"}, "new": {"abcdefghij"}, "confirm": {"abcdefghij"}}, 400, "current password is wrong"},
		{"password too short", admin, "/profile/password", url.Values{"old": {pw}, "new": {"a"}, "confirm": {"a"}}, 400, "password must be"},
		{"claim without code", admin, "/sites/claim", url.Values{"org": {"1"}}, 400, "Enter the claim code"},
		{"claim unknown code", admin, "/sites/claim", url.Values{"code": {"gw_nope"}, "org": {"1"}}, 404, "No unclaimed gateway"},
		{"switch to a bad org", admin, "/org", url.Values{"org": {"x"}}, 404, "Not found"},
		{"release unknown", admin, "/sites/999/release", url.Values{}, 404, "Not found"},
		{"huge form", admin, "/profile", url.Values{"name": {strings.Repeat("x", maxForm)}}, 400, "1 to 100"},
	}
	for _, tc := range tests {
		res := tc.c.post(tc.path, tc.form)
		if res.status != tc.status || !strings.Contains(res.body, tc.want) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.name, res.status, tc.status, tc.want, res.body)
		}
	}
	for _, p := range []string{"/reset-password", "/accept-invitation"} {
		if res := anon.get(p); res.status != http.StatusBadRequest {
			t.Errorf("GET %s without token: %d", p, res.status)
		}
	}
}

// TestAccountFlows: reset by mail, invitation, profile edits, switching
// org, sign out everywhere.
func TestAccountFlows(t *testing.T) {
	e := newEnv(t)
	anon := e.client()
	if res := anon.post("/forgot-password", url.Values{"email": {"viewer@a.test"}}); res.status != http.StatusOK {
		t.Fatalf("forgot: %d", res.status)
	}
	m := regexp.MustCompile(`http://console\.example\.test/reset-password\?token=(\S+)`).FindStringSubmatch(e.mails.last().Body)
	if m == nil {
		t.Fatalf("no reset link in %q", e.mails.last().Body)
	}
	tok, _ := url.QueryUnescape(m[1])
	res := anon.post("/reset-password", url.Values{"token": {tok}, "password": {"new-password-9"}, "confirm": {"new-password-9"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/login?done=reset" {
		t.Fatalf("reset: %d %q", res.status, res.header.Get("Location"))
	}
	if res := anon.post("/login", url.Values{"email": {"viewer@a.test"}, "password": {"new-password-9"}}); res.status != http.StatusSeeOther {
		t.Fatalf("sign in with the new password: %d", res.status)
	}

	inv, err := e.svc.InviteUser(t.Context(), e.admin, tenancy.Invite{Email: "new@a.test", Name: "Nina New", RoleID: tenancy.RoleUser, OrgID: e.orgA.ID})
	if err != nil {
		t.Fatal(err)
	}
	invitee := e.client()
	res = invitee.post("/accept-invitation", url.Values{"token": {inv.Token}, "password": {"nina-password"}, "confirm": {"nina-password"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/devices" {
		t.Fatalf("accept invitation: %d %q", res.status, res.header.Get("Location"))
	}
	if res := invitee.get("/profile"); res.status != http.StatusOK || !strings.Contains(res.body, "new@a.test") {
		t.Fatalf("the invitee is not signed in: %d", res.status)
	}

	admin := e.signedIn("admin@acme.test")
	if res := admin.post("/profile", url.Values{"name": {"Ada Lovelace"}}); res.status != http.StatusSeeOther {
		t.Fatalf("rename: %d", res.status)
	}
	if res := admin.get("/profile?done=name"); !strings.Contains(res.body, "Ada Lovelace") || !strings.Contains(res.body, "was saved") {
		t.Errorf("the new name is not shown")
	}
	if res := admin.post("/profile/password", url.Values{"old": {pw}, "new": {"another-pass-1"}, "confirm": {"another-pass-1"}}); res.status != http.StatusSeeOther {
		t.Fatalf("change password: %d", res.status)
	}
	if res := admin.post("/org", url.Values{"org": {fmt.Sprint(e.orgB.ID)}, "back": {"/devices"}}); res.status != http.StatusSeeOther {
		t.Fatalf("switch org: %d", res.status)
	}
	if res := admin.get("/devices"); !strings.Contains(res.body, "Other Boiler") || strings.Contains(res.body, "Boiler &lt;script") {
		t.Errorf("after switching into Client B the list shows other orgs' devices")
	}
	second := e.client()
	second.post("/login", url.Values{"email": {"admin@acme.test"}, "password": {"another-pass-1"}})
	if res := admin.get("/profile"); strings.Count(res.body, "Go program") != 2 || strings.Count(res.body, "this browser") != 1 {
		t.Errorf("the profile does not list both sessions, this one marked")
	}
	if res := admin.post("/profile/sign-out-everywhere", nil); res.status != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d", res.status)
	}
	for i, c := range []*client{admin, second} {
		if res := c.get("/devices"); res.status != http.StatusSeeOther {
			t.Errorf("session %d still valid after sign out everywhere: %d", i, res.status)
		}
	}
}

func TestSites(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	g, code, err := e.svc.RegisterGateway(t.Context(), "Shed")
	if err != nil {
		t.Fatal(err)
	}
	res := admin.post("/sites/claim", url.Values{"code": {code}, "org": {fmt.Sprint(e.orgB.ID)}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("claim: %d %s", res.status, res.body)
	}
	if res := admin.get("/sites?done=claimed"); !strings.Contains(res.body, "Shed") || !strings.Contains(res.body, "was claimed") {
		t.Errorf("claimed site not listed")
	}
	op := e.signedIn("op@a.test")
	if res := op.get(fmt.Sprintf("/sites/%d", g.ID)); res.status != http.StatusNotFound {
		t.Errorf("Client A sees Client B's site: %d", res.status)
	}
	if res := op.post(fmt.Sprintf("/sites/%d/release", g.ID), nil); res.status != http.StatusNotFound {
		t.Errorf("Client A releases Client B's site: %d", res.status)
	}
	if res := admin.post(fmt.Sprintf("/sites/%d/release", g.ID), nil); res.status != http.StatusSeeOther {
		t.Fatalf("release: %d", res.status)
	}
	if len(e.live.released) != 1 || e.live.released[0] != g.ID {
		t.Errorf("the link of the released site was not ended: %v", e.live.released)
	}
}

func TestSeriesExportAndLive(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op@a.test")
	dev := fmt.Sprintf("/devices/%d", e.devA.ID)
	res := op.get(dev + "/series?pin=0&range=1h")
	if res.status != http.StatusOK || !strings.Contains(res.body, `"avg":20`) || !strings.Contains(res.body, `"width":3600`) {
		t.Errorf("series: %d %s", res.status, res.body)
	}
	for _, q := range []string{"pin=0&range=2y", "pin=0&from=5&to=4", "pin=300&range=1h", "range=1h"} {
		if res := op.get(dev + "/series?" + q); res.status != http.StatusBadRequest {
			t.Errorf("series?%s: %d, want 400", q, res.status)
		}
	}
	res = op.get(dev + "/export.csv?pin=0&from=1000&to=2000")
	if res.status != http.StatusOK || res.body != "time,ts_ms,value\n1970-01-01T00:00:01Z,1000,20.5\n1970-01-01T00:00:02Z,2000,21\n" {
		t.Errorf("export: %d %q", res.status, res.body)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+dev+"/live", nil)
	resp, err := op.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("live content type %q", ct)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.feed.Subscribers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the live stream never subscribed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.feed.Publish([]livefeed.Update{{Device: e.devB.UID, Kind: syncproto.KindWrite, Pin: 0, Value: "99", TS: 1000},
		{Device: e.devA.UID, Kind: syncproto.KindWrite, Pin: 0, Value: "23.25", TS: 1234}})
	e.feed.Publish([]livefeed.Update{{Device: e.devA.UID, Kind: syncproto.KindOffline, TS: 1300}})
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() && len(got) < 2 {
		if l := sc.Text(); strings.HasPrefix(l, "data: ") {
			got = append(got, l)
		}
	}
	want := []string{`data: {"pin":0,"value":"23.25","ts":1234}`, `data: {"online":false,"ts":1300}`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("live events %q, want %q", got, want)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{"21.5": "21.5", "-3": "-3", "-1e3": "-1e3", "=1+1": "'=1+1", "+cmd": "'+cmd",
		"-x": "'-x", "@SUM(A1)": "'@SUM(A1)", "hello": "hello", "": "", "\tx": "'\tx"} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAssetsCached(t *testing.T) {
	e := newEnv(t)
	res := e.client().get("/login")
	m := regexp.MustCompile(`href="(/static/[0-9a-f]+/style.css)"`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatal("no hashed stylesheet link")
	}
	c := e.client()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+m[1], nil)
	req.Header.Set("Accept-Encoding", "gzip")
	a := c.do(req)
	if a.status != http.StatusOK || a.header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		a.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("asset: %d %v", a.status, a.header)
	}
	if res := c.get(strings.Replace(m[1], "style.css", "nope.css", 1)); res.status != http.StatusNotFound {
		t.Errorf("missing asset: %d", res.status)
	}
}

// TestPageWeight: all JavaScript and CSS of the heaviest page (the device
// page) stays within 50 KB gzipped.
func TestPageWeight(t *testing.T) {
	c, err := New(Options{Service: newEnv(t).svc})
	if err != nil {
		t.Fatal(err)
	}
	n := c.PageWeight()
	t.Logf("device page JS + CSS: %d bytes gzipped (%v)", n, devicePageAssets)
	if n == 0 || n > 50<<10 {
		t.Errorf("device page JS + CSS is %d bytes gzipped, want at most 50 KB", n)
	}
}

// TestLiveOutlivesServerTimeouts: a live stream stays open past the
// server's read and write timeouts (the cloud sets both to a minute).
func TestLiveOutlivesServerTimeouts(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewUnstartedServer(e.c)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("%s/devices/%d/live", srv.URL, e.devA.ID), nil)
	req.AddCookie(e.sessionCookie(t, "op@a.test"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(time.Second) // past both timeouts: the scenario, not synchronisation
	e.feed.Publish([]livefeed.Update{{Device: e.devA.UID, Kind: syncproto.KindWrite, Pin: 1, Value: "7", TS: 5}})
	for l := range lines {
		if l == `data: {"pin":1,"value":"7","ts":5}` {
			return
		}
	}
	t.Fatal("the stream ended before the update")
}

// TestDeviceFilterChoices: the filters' choices (rendered once and kept
// per choice) mark what the URL chose, and only that.
func TestDeviceFilterChoices(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	op := fmt.Sprintf(`<option value="%d"`, e.operator.ID)
	tm := fmt.Sprintf(`<option value="%s"`, e.devA.TemplateID)
	for _, tc := range []struct {
		path           string
		owner, tmplSel bool
	}{
		{"/devices", false, false},
		{fmt.Sprintf("/devices?owner=%d", e.operator.ID), true, false},
		{"/devices?template=" + string(e.devA.TemplateID), false, true},
		{fmt.Sprintf("/devices?owner=%d&template=%s", e.operator.ID, e.devA.TemplateID), true, true},
		{"/devices", false, false}, // the kept choices of the first request again
	} {
		res := admin.get(tc.path)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d", tc.path, res.status)
		}
		for _, c := range []struct {
			opt  string
			want bool
		}{{op, tc.owner}, {tm, tc.tmplSel}} {
			if !strings.Contains(res.body, c.opt) {
				t.Fatalf("GET %s: no %s…> choice", tc.path, c.opt)
			}
			if got := strings.Contains(res.body, c.opt+" selected>"); got != c.want {
				t.Errorf("GET %s: %s…> selected %v, want %v", tc.path, c.opt, got, c.want)
			}
		}
		if n := strings.Count(res.body, " selected>"); n > 2+2 { // status and organizations selects hold one each
			t.Errorf("GET %s: %d options selected", tc.path, n)
		}
	}
}
