package platformapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
)

// testAPI is the API on a real SQLite store, served without a socket so
// fuzzing runs many requests per second; the e2e package covers the wire.
type testAPI struct {
	api   *API
	token string // root Admin session
}

func newTestAPI(t testing.TB) *testAPI {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := tenancy.New(ctx, tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: "Root Org", AdminEmail: "admin@example.com", Password: "admin-password"}); err != nil {
		t.Fatal(err)
	}
	api, err := New(Options{Service: svc, RateLimit: -1, MaxBodyBytes: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAPI{api: api}
	var s struct{ Token string }
	ta.do(t, "POST", "/api/v1/auth/login", "text/json", `{"email":"admin@example.com","password":"admin-password"}`).decode(t, &s)
	ta.token = s.Token
	if s.Token == "" {
		t.Fatal("login failed")
	}
	return ta
}

type recorded struct {
	status int
	body   []byte
}

func (r recorded) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
}

func (ta *testAPI) do(t testing.TB, method, target, ctype, body string) recorded {
	req := httptest.NewRequest(method, "http://cloud.test"+target, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if ta.token != "" {
		req.Header.Set("Authorization", "Bearer "+ta.token)
	}
	w := httptest.NewRecorder()
	ta.api.ServeHTTP(w, req)
	return recorded{status: w.Code, body: w.Body.Bytes()}
}

// checkAnswer enforces what every answer must satisfy: no 5xx, a JSON
// body (or none for 204), and the error shape on 4xx.
func checkAnswer(t *testing.T, what string, r recorded) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
	if r.status == http.StatusNoContent {
		return
	}
	if !json.Valid(r.body) {
		t.Fatalf("%s: invalid JSON %q", what, r.body)
	}
	if r.status >= 400 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(r.body, &e) != nil || e.Error.Message == "" {
			t.Fatalf("%s: error shape %s", what, r.body)
		}
	}
}

var queryRoutes = []string{
	"/api/v1/organization/devices", "/api/v1/organization/device", "/api/v1/organization/users",
	"/api/v1/organization/user", "/api/v1/organization", "/api/v1/organization/search",
	"/api/v1/organization/search/devices", "/api/v1/organization/sub-organizations",
	"/api/v1/organization/templates", "/api/v1/organization/locations", "/api/v1/organization/audit",
	"/api/v1/organization/roles", "/api/v1/organization/static-tokens", "/api/v1/organization/device/by-owner",
}

func FuzzQueryParameters(f *testing.F) {
	for _, s := range []string{"", "page=0&size=50", "size=1001", "size=0", "page=-1", "page=99999999999",
		"deviceId=1", "deviceId=abc", "deviceId=-5", "orgId=1&includeSubOrgDevices=true", "includeSubOrgDevices=maybe",
		"query=%00%ff", "query=" + strings.Repeat("x", 300), "orgId=1&orgId=2", "userId=1", "%zz", "page=1&size=1000"} {
		for i := range queryRoutes {
			f.Add(uint8(i), s)
		}
	}
	ta := newTestAPI(f)
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		path := queryRoutes[int(route)%len(queryRoutes)]
		target := path + "?" + query
		if _, err := url.ParseRequestURI(target); err != nil || strings.ContainsAny(query, " #") {
			return // not a valid request line; the server never sees it
		}
		checkAnswer(t, target, ta.do(t, "GET", target, "", ""))
	})
}

var bodyRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/organization/create"},
	{"POST", "/api/v1/organization/users/invite"},
	{"POST", "/api/v1/organization/users/create-in-org"},
	{"POST", "/api/v1/organization/device/create"},
	{"POST", "/api/v1/organization/device/transfer"},
	{"PUT", "/api/v1/organization/role/permissions?roleId=2"},
	{"POST", "/api/v1/organization/location/create"},
	{"POST", "/api/v1/organization/template/create"},
	{"POST", "/api/v1/organization/transfer"},
	{"POST", "/api/v1/auth/login"},
	{"POST", "/api/v1/invitations/accept"},
	{"POST", "/api/v1/organization/oauth-clients/create"},
}

func FuzzJSONBodies(f *testing.F) {
	for _, s := range []string{"", "{}", "[]", "null", `{"name":"Acme Branch"}`, `{"name":"Ab"}`, `{"name":1}`,
		`{"email":"x@example.com","name":"X","roleId":3}`, `{"email":"bad","name":"X","roleId":99}`,
		`{"templateId":"TMPL1","name":"d","ownerId":-1}`, `{"deviceId":1,"newUserId":1}`,
		`{"permissions":["ORG_DEVICES_VIEW","NOPE"]}`, `{"permissions":[],"applyToSubOrgs":true,"overwrite":true}`,
		`{"name":"L","lat":91}`, `{"name":"T","datastreams":[{"pin":300,"type":"double"}]}`,
		`{"orgId":1,"newParentId":1}`, `{"token":"inv_x","password":"p"}`, `{"a":1} {"b":2}`, `{"name":"x","unknown":1}`,
		`{"name":"` + strings.Repeat("n", 200) + `"}`, "\xff\xfe"} {
		for i := range bodyRoutes {
			f.Add(uint8(i), s)
		}
	}
	ta := newTestAPI(f)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := bodyRoutes[int(route)%len(bodyRoutes)]
		checkAnswer(t, r.method+" "+r.path+" "+body, ta.do(t, r.method, r.path, "application/json", body))
	})
}

func FuzzInviteCSV(f *testing.F) {
	for _, s := range []string{"", "email,name\n", "email,name,role\na@example.com,A,User\n",
		"b@example.com,B\nc@example.com,C,Staff,+1 555\n", "\"unterminated,x\n", "d@example.com,D,NoSuchRole\n",
		"name,email\nE,e@example.com\n", "role\nUser\n", "x\n\n\ny@example.com,Y\n", "f@example.com,F,1\nf@example.com,F,1\n",
		"\xff,\xfe\n", strings.Repeat("g@example.com,G\n", 3)} {
		f.Add(s)
	}
	ta := newTestAPI(f)
	f.Fuzz(func(t *testing.T, csv string) {
		r := ta.do(t, "POST", "/api/v1/organization/users/invite/csv", "text/csv", csv)
		checkAnswer(t, "csv "+csv, r)
		if r.status != http.StatusOK {
			t.Fatalf("csv import answered %d %s", r.status, r.body)
		}
		var rep struct {
			Created, Failed int
			Rows            []struct {
				Line    int
				Created bool
				Error   string
			}
		}
		r.decode(t, &rep)
		if rep.Created+rep.Failed != len(rep.Rows) {
			t.Fatalf("created %d + failed %d != %d rows", rep.Created, rep.Failed, len(rep.Rows))
		}
		for i, row := range rep.Rows {
			if row.Created == (row.Error != "") {
				t.Fatalf("row %+v: created and error disagree", row)
			}
			if i > 0 && row.Line < rep.Rows[i-1].Line {
				t.Fatalf("rows out of file order: %+v", rep.Rows)
			}
		}
		if bytes.Count([]byte(csv), []byte("\n")) == 0 && len(rep.Rows) > 1 {
			t.Fatalf("one line produced %d rows", len(rep.Rows))
		}
	})
}
