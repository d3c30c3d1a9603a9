package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/mail"

	"outpost/cloud"
	"outpost/internal/pgtest"
)

// clock is a manual clock shared by the server and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is one running cloud and an HTTP client for it.
type env struct {
	t       testing.TB
	srv     *cloud.Server
	base    string
	clock   *clock
	mailbox string
	hc      *http.Client
}

const adminPassword = "warmplus-admin-pw"

// start runs a cloud whose root org is WarmPlus with Admin a@warmplus.test.
func start(t testing.TB, tweak func(*cloud.Config)) *env {
	t.Helper()
	return startLogged(t, tweak, nil)
}

// startLogged is start with the cloud logging to logger.
func startLogged(t testing.TB, tweak func(*cloud.Config), logger *slog.Logger) *env {
	t.Helper()
	dir := t.TempDir()
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := cloud.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Auth.BcryptCost = 4
	cfg.Admin = cloud.AdminConfig{OrgName: "WarmPlus", Email: "a@warmplus.test", Name: "A", Password: adminPassword, SpecialOrgs: true}
	cfg.Now = clk.Now
	if os.Getenv(storeEnv) == "postgres" {
		cfg.Store.Driver, cfg.Store.DSN = "postgres", pgtest.Database(t)
	}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := cloud.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	var transport http.RoundTripper // nil: the default
	if cfg.TLSCert != "" {
		transport = tlsTransport(t, cfg.TLSCert)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &env{t: t, srv: srv, base: srv.URL(), clock: clk, mailbox: filepath.Join(dir, "mailbox"),
		hc: &http.Client{Timeout: 30 * time.Second, Transport: transport}}
}

// resp is one HTTP answer.
type resp struct {
	status int
	body   []byte
	header http.Header
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// decode unmarshals the body into v, failing the test on error.
func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
}

// errMsg returns the message of an {"error":{"message":…}} body, failing
// if the body has any other shape.
func (r resp) errMsg(t testing.TB) string {
	t.Helper()
	var b struct {
		Error *struct {
			Message *string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Error == nil || b.Error.Message == nil || *b.Error.Message == "" {
		t.Fatalf("error body has the wrong shape: %s", r)
	}
	return *b.Error.Message
}

// req sends a request. body is JSON-encoded unless it is a string or []byte.
func (e *env) req(method, path, token string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "text/plain"
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/csv"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	r, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.hc.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := resp{status: res.StatusCode, body: data, header: res.Header}
	for _, m := range checkResponse(method, path, out) {
		e.t.Errorf("%s %s → %d: openapi.json: %s", method, path, out.status, m)
	}
	return out
}

// must sends a request and fails unless the status is want.
func (e *env) must(want int, method, path, token string, body any) resp {
	e.t.Helper()
	r := e.req(method, path, token, body)
	if r.status != want {
		e.t.Fatalf("%s %s: got %s, want %d", method, path, r, want)
	}
	return r
}

func (e *env) login(email, password string) string {
	e.t.Helper()
	var s struct{ Token string }
	e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}).decode(e.t, &s)
	return s.Token
}

// clientToken creates an OAuth client in org (as admin) and returns an
// access token and its refresh token.
func (e *env) clientToken(adminTok string, org int64) (access, refresh string, id, secret string) {
	e.t.Helper()
	var c struct{ ClientID, ClientSecret string }
	e.must(201, "POST", "/api/v1/organization/oauth-clients/create", adminTok, map[string]any{"name": "integration", "orgId": org}).decode(e.t, &c)
	var tk struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	r, _ := http.NewRequest("POST", e.base+"/oauth2/token?grant_type=client_credentials", nil)
	r.SetBasicAuth(c.ClientID, c.ClientSecret)
	res, err := e.hc.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range checkResponse("POST", "/oauth2/token", resp{status: res.StatusCode, body: data, header: res.Header}) {
		e.t.Errorf("POST /oauth2/token → %d: openapi.json: %s", res.StatusCode, m)
	}
	if err := json.Unmarshal(data, &tk); err != nil || res.StatusCode != 200 {
		e.t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	return tk.AccessToken, tk.RefreshToken, c.ClientID, c.ClientSecret
}

// mails returns the mailbox messages sent to addr.
func (e *env) mails(addr string) []string {
	e.t.Helper()
	out, err := mail.Delivered(e.mailbox, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func q(path string, kv ...any) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(fmt.Sprint(kv[i]), fmt.Sprint(kv[i+1]))
	}
	return path + "?" + v.Encode()
}

const o = "/api/v1/organization"

// fixture is TENANCY.md §13's example tree, built through the API.
type fixture struct {
	*env
	root, uh, us, ca, muller, clients, partners int64
	tmpl                                        string
	tok                                         map[string]string // person → session token
	user                                        map[string]int64  // person → user id
	dev                                         map[string]int64  // device name → id
}

var people = []struct {
	key, email, org string
	role            int
}{
	{"U", "u@unitedheaters.test", "uh", 1},
	{"M", "m@usbranch.test", "us", 3},
	{"H", "h@canada.test", "ca", 3},
	{"R", "r@muller.test", "muller", 2},
	{"W", "w@muller.test", "muller", 2},
}

const userPassword = "fixture-pw-123"

func newFixture(t testing.TB, tweak func(*cloud.Config)) *fixture {
	t.Helper()
	e := start(t, tweak)
	f := &fixture{env: e, tok: map[string]string{}, user: map[string]int64{}, dev: map[string]int64{}}
	a := e.login("a@warmplus.test", adminPassword)
	f.tok["A"] = a
	var me struct {
		ID    int64
		OrgID int64
	}
	e.must(200, "GET", "/api/v1/auth/me", a, nil).decode(t, &me)
	f.root, f.user["A"] = me.OrgID, me.ID

	var tm struct{ ID string }
	e.must(201, "POST", o+"/template/create", a, map[string]any{"name": "T",
		"datastreams": []map[string]any{{"pin": 1, "name": "Temperature", "type": "double"}},
		"metaFields":  []map[string]any{{"id": 1, "name": "Serial Number"}}}).decode(t, &tm)
	f.tmpl = tm.ID

	mk := func(name string, parent int64) int64 {
		var org struct{ ID int64 }
		e.must(201, "POST", o+"/create", a, map[string]any{"name": name, "parentId": parent}).decode(t, &org)
		return org.ID
	}
	f.uh = mk("United Heaters Inc.", f.root)
	f.us = mk("US branch", f.uh)
	f.ca = mk("Canada branch", f.uh)
	f.muller = mk("Muller Boiler Group", f.root)
	var subs struct {
		Content []struct {
			ID   int64
			Name string
		}
	}
	e.must(200, "GET", q(o+"/sub-organizations", "orgId", f.root), a, nil).decode(t, &subs)
	for _, s := range subs.Content {
		switch s.Name {
		case "Clients":
			f.clients = s.ID
		case "Partners":
			f.partners = s.ID
		}
	}
	orgOf := map[string]int64{"uh": f.uh, "us": f.us, "ca": f.ca, "muller": f.muller}
	for _, p := range people {
		var u struct{ ID int64 }
		e.must(201, "POST", o+"/users/create-in-org", a, map[string]any{"email": p.email, "password": userPassword,
			"name": p.key, "orgId": orgOf[p.org], "roleId": p.role}).decode(t, &u)
		f.user[p.key] = u.ID
		f.tok[p.key] = e.login(p.email, userPassword) // first login: Active
	}
	for _, d := range []struct{ name, owner string }{
		{"AC", "U"}, {"Pool Heater", "M"}, {"Thermostat-H", "H"}, {"Boiler", "R"}, {"Thermostat-W", "W"},
	} {
		var dv struct{ ID int64 }
		e.must(201, "POST", o+"/device/create", a, map[string]any{"templateId": f.tmpl, "name": d.name,
			"ownerId": f.user[d.owner]}).decode(t, &dv)
		f.dev[d.name] = dv.ID
	}
	return f
}

// deviceNames lists the names of the devices a caller sees.
func (f *fixture) deviceNames(tok string, params ...any) []string {
	f.t.Helper()
	var l struct {
		Content []struct{ Name string }
		Total   int `json:"totalElements"`
	}
	f.must(200, "GET", q(o+"/devices", params...), tok, nil).decode(f.t, &l)
	var out []string
	for _, d := range l.Content {
		out = append(out, d.Name)
	}
	if l.Total != len(out) {
		f.t.Fatalf("totalElements %d but %d items", l.Total, len(out))
	}
	return out
}

// setPerms sets role's permissions in org as the root Admin.
func (f *fixture) setPerms(org int64, role int, perms []string, applySub, overwrite bool) {
	f.t.Helper()
	if perms == nil {
		perms = []string{}
	}
	f.must(204, "PUT", q(o+"/role/permissions", "orgId", org, "roleId", role), f.tok["A"],
		map[string]any{"permissions": perms, "applyToSubOrgs": applySub, "overwrite": overwrite})
}

func (f *fixture) rolePerms(org int64, role int) []string {
	f.t.Helper()
	var rs []struct {
		ID          int
		Permissions []string
	}
	f.must(200, "GET", q(o+"/roles", "orgId", org), f.tok["A"], nil).decode(f.t, &rs)
	for _, r := range rs {
		if r.ID == role {
			return r.Permissions
		}
	}
	f.t.Fatalf("role %d not in org %d", role, org)
	return nil
}
