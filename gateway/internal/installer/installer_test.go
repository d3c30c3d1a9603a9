package installer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
	"outpost/shared/datastream"
)

// site is the gateway around the hub, as the status page reads it.
type site struct{ st Status }

func (s *site) Status(context.Context) Status { return s.st }

type env struct {
	hub   *hub.Hub
	store *sqlite.Store
	dev   hub.Device
	site  *site
	dir   string
}

func f64(v float64) *float64 { return &v }

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "gw.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	tmpl := datastream.Template{ID: "TMPLhttp0001", Name: "Greenhouse", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: f64(-40), Max: f64(85), Units: "°C"},
		{Pin: 4, Name: "Pump", Type: datastream.Boolean},
	}}
	if err := h.SaveTemplate(ctx, tmpl); err != nil {
		t.Fatal(err)
	}
	dev, err := h.AddDeviceWithToken(ctx, tmpl.ID, "Greenhouse 1", "tokGreenhouse1aaaaaaaaaaaaaaaaaa")
	if err != nil {
		t.Fatal(err)
	}
	return &env{hub: h, store: st, dev: dev, dir: dir, site: &site{st: Status{Version: "test", Started: time.Now(), Ready: true,
		Endpoints: []Endpoint{{"Blynk TCP", "192.0.2.7:8080", true}, {"Blynk TLS", "192.0.2.7:9443", true}}, TLSCA: filepath.Join(dir, "ca.crt")}}}
}

func (e *env) installer(t *testing.T, o Options) *Installer {
	t.Helper()
	o.Hub, o.Site, o.History = e.hub, e.site, storeHistory{e.store}
	if o.PasswordFile == "" {
		o.PasswordFile = filepath.Join(e.dir, "installer-password")
	}
	o.BcryptCost = 4
	in, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return in
}

// call serves one request in process from peer (host:port).
type req struct {
	method, path, peer, auth, ctype, body string
	host                                  string // default: 127.0.0.1:8090 from a loopback peer, else gw.test
	cookie                                *http.Cookie
	header                                map[string]string
}

func do(t *testing.T, h http.Handler, r req) *http.Response {
	t.Helper()
	if r.method == "" {
		r.method = "GET"
	}
	if r.peer == "" {
		r.peer = "127.0.0.1:50000"
	}
	if r.host == "" {
		r.host = "gw.test"
		if strings.HasPrefix(r.peer, "127.") {
			r.host = "127.0.0.1:8090"
		}
	}
	hr := httptest.NewRequest(r.method, "http://"+r.host+r.path, strings.NewReader(r.body))
	hr.RemoteAddr = r.peer
	if r.auth != "" {
		hr.Header.Set("Authorization", r.auth)
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	return rec.Result()
}

func body(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func form(vals ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(vals); i += 2 {
		v.Set(vals[i], vals[i+1])
	}
	return v.Encode()
}

const formType = "application/x-www-form-urlencoded"

// TestAPI: the installer API for scripts, as it was in deviceapi: the token
// when configured, devices listed and added (the token shown once),
// templates and stats.
func TestAPI(t *testing.T) {
	e := newEnv(t)
	h := e.installer(t, Options{Token: "s3cret", Stats: func() any { return map[string]int{"writes": 7} }})
	api := func(method, path, auth, b string) (int, string) {
		ct := ""
		if b != "" {
			ct = "application/json"
		}
		r := do(t, h, req{method: method, path: path, auth: auth, ctype: ct, body: b})
		return r.StatusCode, body(r)
	}
	if st, _ := api("GET", "/installer/api/devices", "", ""); st != 401 {
		t.Errorf("no auth → %d, want 401", st)
	}
	if st, _ := api("GET", "/installer/api/devices", "Bearer wrong", ""); st != 401 {
		t.Errorf("wrong token → %d, want 401", st)
	}
	auth := "Bearer s3cret"
	st, b := api("POST", "/installer/api/devices", auth, `{"template":"TMPLhttp0001","name":"Greenhouse 2"}`)
	if st != 201 {
		t.Fatalf("add → %d %s", st, b)
	}
	var nd NewDevice
	if err := json.Unmarshal([]byte(b), &nd); err != nil {
		t.Fatal(err)
	}
	if nd.Name != "Greenhouse 2" || nd.Template != "TMPLhttp0001" || len(nd.Token) != 32 || nd.UID == "" {
		t.Errorf("new device %+v", nd)
	}
	if d, err := e.hub.Authenticate(nd.Token); err != nil || d.ID != nd.ID {
		t.Errorf("the new token does not log in: %v", err)
	}
	if st, b := api("POST", "/installer/api/devices", auth, `{"template":"TMPLnope","name":"x"}`); st != 400 || b != `{"error":{"message":"Template doesn't exist."}}` {
		t.Errorf("unknown template → %d %s", st, b)
	}
	if st, _ := api("POST", "/installer/api/devices", auth, `{"template":`); st != 400 {
		t.Errorf("bad JSON → %d", st)
	}
	if r := do(t, h, req{method: "POST", path: "/installer/api/devices", auth: auth, ctype: "text/plain", body: "{}"}); r.StatusCode != 415 {
		t.Errorf("a write not declared JSON → %d, want 415", r.StatusCode)
	}
	st, b = api("GET", "/installer/api/devices", auth, "")
	var list []DeviceInfo
	if err := json.Unmarshal([]byte(b), &list); err != nil || st != 200 {
		t.Fatalf("list → %d %s", st, b)
	}
	want := []DeviceInfo{
		{ID: e.dev.ID, UID: e.dev.UID, Name: "Greenhouse 1", Template: "TMPLhttp0001"},
		{ID: nd.ID, UID: nd.UID, Name: "Greenhouse 2", Template: "TMPLhttp0001"},
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	if strings.Contains(b, nd.Token) {
		t.Errorf("device list shows a token")
	}
	if st, b := api("GET", "/installer/api/templates", auth, ""); st != 200 || !strings.Contains(b, `"TMPLhttp0001"`) {
		t.Errorf("templates → %d %s", st, b)
	}
	if st, b := api("GET", "/installer/api/stats", auth, ""); st != 200 || strings.TrimSpace(b) != `{"writes":7}` {
		t.Errorf("stats → %d %s", st, b)
	}
}

// TestAccess: who may reach what, by peer, token, session and whether the
// port listens beyond loopback.
func TestAccess(t *testing.T) {
	const lan, local = "192.0.2.50:40000", "127.0.0.1:40000"
	e := newEnv(t)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "m 1\n") })
	open := e.installer(t, Options{Metrics: metrics})
	exposed := e.installer(t, Options{Exposed: true, Metrics: metrics, PasswordFile: filepath.Join(e.dir, "pw2")})
	withToken := e.installer(t, Options{Exposed: true, Token: "tok", Metrics: metrics, PasswordFile: filepath.Join(e.dir, "pw3")})
	for _, c := range []struct {
		name string
		h    http.Handler
		r    req
		want int
	}{
		{"API without token from loopback", open, req{path: "/installer/api/devices", peer: local}, 200},
		{"API without token from the LAN", open, req{path: "/installer/api/devices", peer: lan}, 401},
		{"API without token, loopback peer, foreign Host (DNS rebinding)", open, req{path: "/installer/api/devices", peer: local, host: "evil.example:8090"}, 401},
		{"metrics, loopback peer, foreign Host", open, req{path: "/metrics", peer: local, host: "evil.example"}, 401},
		{"API without token from localhost", open, req{path: "/installer/api/devices", peer: local, host: "localhost:8090"}, 200},
		{"API without token from [::1]", open, req{path: "/installer/api/devices", peer: "[::1]:4000", host: "[::1]:8090"}, 200},
		{"exposed, nothing set, LAN: API", exposed, req{path: "/installer/api/devices", peer: lan}, 503},
		{"exposed, nothing set, LAN: page", exposed, req{path: "/setup", peer: lan}, 503},
		{"exposed, nothing set, LAN: metrics", exposed, req{path: "/metrics", peer: lan}, 503},
		{"exposed, nothing set, loopback: setup", exposed, req{path: "/setup", peer: local}, 200},
		{"exposed with token, LAN: setup", withToken, req{path: "/setup", peer: lan}, 200},
		{"exposed with token, LAN: API without it", withToken, req{path: "/installer/api/devices", peer: lan}, 401},
		{"exposed with token, LAN: API with it", withToken, req{path: "/installer/api/devices", peer: lan, auth: "Bearer tok"}, 200},
		{"page without password: to setup", open, req{path: "/devices", peer: local}, 303},
		{"metrics from loopback", open, req{path: "/metrics", peer: local}, 200},
		{"healthz from loopback", open, req{path: "/healthz", peer: local}, 200},
		{"readyz from loopback", open, req{path: "/readyz", peer: local}, 200},
		{"metrics from the LAN without token", withToken, req{path: "/metrics", peer: lan}, 401},
		{"metrics from the LAN with token", withToken, req{path: "/metrics", peer: lan, auth: "Bearer tok"}, 200},
		{"healthz from the LAN with token", withToken, req{path: "/healthz", peer: lan, auth: "Bearer tok"}, 200},
		{"static asset", open, req{path: "/static/x/style.css", peer: lan}, 200},
	} {
		r := do(t, c.h, c.r)
		if r.StatusCode != c.want {
			t.Errorf("%s: %s → %d, want %d (%s)", c.name, c.r.path, r.StatusCode, c.want, body(r))
		}
	}
	// Setting the password opens the exposed page to the LAN (sign-in).
	if r := do(t, exposed, req{method: "POST", path: "/setup", peer: lan, ctype: formType,
		body: form("password", "long-enough-pw", "confirm", "long-enough-pw")}); r.StatusCode != 503 {
		t.Errorf("setup from the LAN without token → %d, want 503", r.StatusCode)
	}
	if r := do(t, exposed, req{method: "POST", path: "/setup", peer: local, ctype: formType,
		body: form("password", "long-enough-pw", "confirm", "long-enough-pw")}); r.StatusCode != 303 {
		t.Fatalf("setup from loopback → %d %s", r.StatusCode, body(r))
	}
	if r := do(t, exposed, req{path: "/login", peer: lan}); r.StatusCode != 200 {
		t.Errorf("login page from the LAN once a password exists → %d, want 200", r.StatusCode)
	}
	// A foreign page reaching the box's loopback cannot set the password.
	fresh := e.installer(t, Options{PasswordFile: filepath.Join(e.dir, "pw4")})
	if r := do(t, fresh, req{method: "POST", path: "/setup", peer: local, host: "evil.example:8090", ctype: formType,
		body: form("password", "long-enough-pw", "confirm", "long-enough-pw")}); r.StatusCode != 400 || fresh.hasPassword() {
		t.Errorf("setup under a foreign Host → %d, password set: %v", r.StatusCode, fresh.hasPassword())
	}
	// With a token, the first-start form wants it too.
	if r := do(t, withToken, req{method: "POST", path: "/setup", peer: lan, ctype: formType,
		body: form("password", "long-enough-pw", "confirm", "long-enough-pw", "token", "nope")}); r.StatusCode != 400 {
		t.Errorf("setup with a wrong token → %d, want 400", r.StatusCode)
	}
	if r := do(t, withToken, req{method: "POST", path: "/setup", peer: lan, ctype: formType,
		body: form("password", "long-enough-pw", "confirm", "long-enough-pw", "token", "tok")}); r.StatusCode != 303 {
		t.Errorf("setup with the token → %d, want 303", r.StatusCode)
	}
}

// TestFirstStartAndSignIn: the first password (rules, 0600 file with a
// bcrypt hash), the session it opens, sign-out, sign-in, and a restart
// that keeps the password.
func TestFirstStartAndSignIn(t *testing.T) {
	e := newEnv(t)
	pwFile := filepath.Join(e.dir, "installer-password")
	in := e.installer(t, Options{PasswordFile: pwFile})
	r := do(t, in, req{path: "/"})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/setup" {
		t.Fatalf("/ before a password → %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	for _, c := range []struct{ pw, again, want string }{
		{"short", "short", "at least 10"},
		{"long-enough-1", "long-enough-2", "differ"},
	} {
		r := do(t, in, req{method: "POST", path: "/setup", ctype: formType, body: form("password", c.pw, "confirm", c.again)})
		if b := body(r); r.StatusCode != 400 || !strings.Contains(b, c.want) {
			t.Errorf("setup %q/%q → %d, want 400 with %q", c.pw, c.again, r.StatusCode, c.want)
		}
	}
	if _, err := os.Stat(pwFile); err == nil {
		t.Fatal("a refused password was written")
	}
	r = do(t, in, req{method: "POST", path: "/setup", ctype: formType, body: form("password", "correct horse", "confirm", "correct horse")})
	if r.StatusCode != 303 {
		t.Fatalf("setup → %d %s", r.StatusCode, body(r))
	}
	var ck *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", ck)
	}
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(pwFile); !strings.HasPrefix(string(b), "$2") || strings.Contains(string(b), "correct horse") {
		t.Errorf("password file holds %q, want a bcrypt hash", b)
	}
	if r := do(t, in, req{path: "/", cookie: ck}); r.StatusCode != 200 {
		t.Errorf("status page with the session → %d", r.StatusCode)
	}
	// A second first-start cannot replace the password.
	if r := do(t, in, req{method: "POST", path: "/setup", ctype: formType, body: form("password", "attacker-pass", "confirm", "attacker-pass")}); r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Errorf("second setup → %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	do(t, in, req{method: "POST", path: "/logout", cookie: ck})
	if r := do(t, in, req{path: "/", cookie: ck}); r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Errorf("after sign-out → %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// A restart reads the password file.
	in2 := e.installer(t, Options{PasswordFile: pwFile})
	if r := do(t, in2, req{method: "POST", path: "/login", ctype: formType, body: form("password", "attacker-pass")}); r.StatusCode != 401 {
		t.Errorf("wrong password → %d", r.StatusCode)
	}
	r = do(t, in2, req{method: "POST", path: "/login", ctype: formType, body: form("password", "correct horse")})
	if r.StatusCode != 303 || len(r.Cookies()) == 0 {
		t.Fatalf("sign-in → %d", r.StatusCode)
	}
	if r := do(t, in2, req{path: "/devices", cookie: r.Cookies()[0]}); r.StatusCode != 200 {
		t.Errorf("devices with the new session → %d", r.StatusCode)
	}
}

// signedIn returns a session cookie of a fresh installer.
func signedIn(t *testing.T, in *Installer) *http.Cookie {
	t.Helper()
	r := do(t, in, req{method: "POST", path: "/setup", ctype: formType, body: form("password", "correct horse", "confirm", "correct horse")})
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no session after setup: %d", r.StatusCode)
	return nil
}

// TestSecurityHeaders: strict CSP on every page; a cross-site write is
// refused (CSRF) even with the session cookie.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	in := e.installer(t, Options{})
	ck := signedIn(t, in)
	r := do(t, in, req{path: "/devices", cookie: ck})
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if b := body(r); strings.Contains(b, "<script>") || strings.Contains(b, "style=") {
		t.Errorf("inline script or style on the page")
	}
	r = do(t, in, req{method: "POST", path: "/devices", cookie: ck, ctype: formType, body: form("name", "Evil", "template", "TMPLhttp0001"),
		header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	if r.StatusCode != 403 {
		t.Errorf("cross-site add → %d, want 403", r.StatusCode)
	}
	for _, d := range e.hub.Devices() {
		if d.Name == "Evil" {
			t.Error("the cross-site write added a device")
		}
	}
}

// TestAddDeviceAndWrite: the page adds a device (token once, QR, sketch
// headers with this box's address, port and template id); a control
// write reaches the hub; the chart's series is aggregated from history.
func TestAddDeviceAndWrite(t *testing.T) {
	e := newEnv(t)
	in := e.installer(t, Options{})
	ck := signedIn(t, in)
	r := do(t, in, req{method: "POST", path: "/devices", cookie: ck, ctype: formType, host: "gw.test:8090", body: form("name", "Pump house", "template", "TMPLhttp0001")})
	b := body(r)
	if r.StatusCode != 201 {
		t.Fatalf("add → %d %s", r.StatusCode, b)
	}
	var added hub.Device
	for _, d := range e.hub.Devices() {
		if d.Name == "Pump house" {
			added = d
		}
	}
	if added.ID == 0 {
		t.Fatal("no device added")
	}
	for _, want := range []string{`#define BLYNK_TEMPLATE_ID   &#34;TMPLhttp0001&#34;`, `&#34;gw.test&#34;, 8080);`, `&#34;gw.test&#34;, 9443, root_ca);`,
		`src="data:image/png;base64,`, `href="/ca.crt"`} {
		if !strings.Contains(b, want) {
			t.Errorf("answer lacks %s", want)
		}
	}
	i := strings.Index(b, `<output id="token">`)
	if i < 0 {
		t.Fatal("no token on the page")
	}
	token := b[i+len(`<output id="token">`):]
	token = token[:strings.IndexByte(token, '<')]
	if d, err := e.hub.Authenticate(token); err != nil || d.ID != added.ID {
		t.Errorf("the token on the page (%q) does not log in: %v", token, err)
	}
	if r := do(t, in, req{path: "/devices", cookie: ck}); strings.Contains(body(r), token) {
		t.Error("the device list shows the token again")
	}
	r = do(t, in, req{method: "POST", path: "/devices/" + itoa(added.ID) + "/write", cookie: ck, ctype: formType,
		body: form("pin", "4", "value", "1"), header: map[string]string{"Accept": "application/json"}})
	if b := body(r); r.StatusCode != 200 || !strings.Contains(b, `"applied"`) {
		t.Errorf("write → %d %s", r.StatusCode, b)
	}
	if v, ok := e.hub.Value(added.ID, 4); !ok || v.Value != "1" {
		t.Errorf("V4 = %+v, want 1", v)
	}
	r = do(t, in, req{method: "POST", path: "/devices/" + itoa(added.ID) + "/write", cookie: ck, ctype: formType,
		body: form("pin", "0", "value", "hot"), header: map[string]string{"Accept": "application/json"}})
	if b := body(r); r.StatusCode != 400 || !strings.Contains(b, `"invalid"`) {
		t.Errorf("a value of the wrong type → %d %s", r.StatusCode, b)
	}
	if err := e.hub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = do(t, in, req{path: "/devices/" + itoa(added.ID) + "/series?pin=4&range=1h", cookie: ck})
	var series struct {
		Buckets []struct {
			Last float64 `json:"last"`
			N    int64   `json:"n"`
		} `json:"buckets"`
	}
	if err := json.NewDecoder(r.Body).Decode(&series); err != nil || len(series.Buckets) != 1 || series.Buckets[0].Last != 1 {
		t.Errorf("series → %d %+v %v", r.StatusCode, series, err)
	}
	if r := do(t, in, req{path: "/devices/" + itoa(added.ID), cookie: ck}); r.StatusCode != 200 || !strings.Contains(body(r), `data-control="switch"`) {
		t.Errorf("device page → %d", r.StatusCode)
	}
	r = do(t, in, req{method: "POST", path: "/devices/" + itoa(added.ID) + "/rename", cookie: ck, ctype: formType, body: form("name", "Pump shed")})
	if d, _ := e.hub.Device(added.ID); r.StatusCode != 303 || d.Name != "Pump shed" {
		t.Errorf("rename → %d, name %q", r.StatusCode, d.Name)
	}
	r = do(t, in, req{method: "POST", path: "/devices/" + itoa(added.ID) + "/delete", cookie: ck})
	if _, ok := e.hub.Device(added.ID); r.StatusCode != 303 || ok {
		t.Errorf("delete → %d, device still there: %v", r.StatusCode, ok)
	}
	if r := do(t, in, req{path: "/devices/" + itoa(added.ID), cookie: ck}); r.StatusCode != 404 {
		t.Errorf("deleted device's page → %d", r.StatusCode)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestStatusPage: the cloud's states, the claim code large with its QR,
// and the banner only while the cloud is unreachable.
func TestStatusPage(t *testing.T) {
	e := newEnv(t)
	in := e.installer(t, Options{})
	ck := signedIn(t, in)
	for _, c := range []struct {
		name   string
		cloud  Cloud
		want   []string
		banner bool
	}{
		{"no cloud", Cloud{}, []string{"Not configured"}, false},
		{"waiting", Cloud{Configured: true, URL: "https://c.test", GatewayID: "gw1", ClaimCode: "gw_CLAIM123"},
			[]string{"Waiting to be claimed", `<output id="claimcode" data-field="claimCode">gw_CLAIM123</output>`, `alt="QR code of the claim code"`}, false},
		{"connected", Cloud{Configured: true, URL: "https://c.test", Claimed: true, Connected: true}, []string{"Connected"}, false},
		{"unreachable", Cloud{Configured: true, URL: "https://c.test", Claimed: true}, []string{"Unreachable", "since"}, true},
	} {
		e.site.st.Cloud = c.cloud
		r := do(t, in, req{path: "/", cookie: ck})
		b := body(r)
		for _, w := range c.want {
			if !strings.Contains(b, w) {
				t.Errorf("%s: page lacks %s", c.name, w)
			}
		}
		if shown := !strings.Contains(b, `id="banner" role="alert" hidden`); shown != c.banner {
			t.Errorf("%s: banner shown = %v, want %v", c.name, shown, c.banner)
		}
	}
}

// storeHistory reads the real store, as the gateway's adapter does.
type storeHistory struct{ s *sqlite.Store }

func (h storeHistory) Aggregate(ctx context.Context, id int64, pin int, from, to time.Time, n int) ([]Bucket, time.Duration, error) {
	bs, w, err := h.s.Aggregate(ctx, id, pin, from, to, n)
	out := make([]Bucket, len(bs))
	for i, b := range bs {
		out[i] = Bucket(b)
	}
	return out, w, err
}

func (h storeHistory) Events(ctx context.Context, id int64, limit int) ([]Event, error) {
	return nil, nil
}

// TestSignInThrottle: five wrong passwords from one address within a
// minute make it wait, even with the right one; another address may try.
func TestSignInThrottle(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	in := e.installer(t, Options{Now: func() time.Time { return now }})
	signedIn(t, in)
	login := func(peer, pw string) int {
		return do(t, in, req{method: "POST", path: "/login", peer: peer, ctype: formType, body: form("password", pw)}).StatusCode
	}
	for range maxFailures {
		if c := login("192.0.2.9:1000", "wrong-password"); c != 401 {
			t.Fatalf("wrong password → %d", c)
		}
	}
	if c := login("192.0.2.9:1001", "correct horse"); c != 429 {
		t.Errorf("right password after %d failures → %d, want 429", maxFailures, c)
	}
	if c := login("192.0.2.10:1000", "correct horse"); c != 303 {
		t.Errorf("another address → %d, want 303", c)
	}
	now = now.Add(failWindow)
	if c := login("192.0.2.9:1002", "correct horse"); c != 303 {
		t.Errorf("after the window → %d, want 303", c)
	}
}
