package cloud

import (
	"context"
	"net/http"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/internal/poll"
)

// status sends a request to e and returns the answer's status.
func (e *syncEnv) status(method, path, tok string) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.s.URL()+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Two instances on one PostgreSQL hold one quota: an organization's
// requests split across them are limited at the count one allows.
func TestRateLimitAcrossInstances(t *testing.T) {
	dsn := pgtest.Database(t)
	frozen := time.Now()
	edit := func(c *Config) {
		c.Store.Driver, c.Store.DSN, c.Store.MaxConns = "postgres", dsn, 8
		c.API.RateLimit = 4
		c.Now = func() time.Time { return frozen }
	}
	a, b := runEnv(t, edit), runEnv(t, edit)
	var got []int
	for i := range 8 {
		e := []*syncEnv{a, b}[i%2]
		got = append(got, e.status("GET", "/api/v1/auth/me", e.tok))
	}
	want := []int{200, 200, 200, 200, 429, 429, 429, 429}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("8 requests of one org alternating between two instances with a quota of 4/min: %v, want %v", got, want)
		}
	}
}

// Failed logins split across two instances on one PostgreSQL are
// throttled at the same count as on one instance.
func TestLoginThrottleAcrossInstances(t *testing.T) {
	dsn := pgtest.Database(t)
	edit := func(c *Config) {
		c.Store.Driver, c.Store.DSN, c.Store.MaxConns = "postgres", dsn, 8
		c.Auth.LoginAccountFailures, c.Auth.LoginAddressFailures = 3, 100
		c.Auth.LoginDelay, c.Auth.LoginMaxDelay = time.Minute, time.Hour
	}
	a, b := runEnv(t, edit), runEnv(t, edit)
	login := func(e *syncEnv, pw string, want int) {
		t.Helper()
		e.call(want, "POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@root.test", "password": pw}, nil)
	}
	login(a, "wrong-1", 401)
	login(b, "wrong-2", 401)
	login(a, "wrong-3", 401) // the third, on A: the account now waits
	login(b, "root-password-1", 429)
	login(a, "root-password-1", 429)
}

// Revocation on one instance is honoured by the other at once, even with
// a bearer-token cache of a minute: a logout, a suspended user and a
// deleted OAuth client, each done on B, are refused by A, which had just
// cached the token.
func TestRevocationAcrossInstances(t *testing.T) {
	dsn := pgtest.Database(t)
	edit := func(c *Config) {
		c.Store.Driver, c.Store.DSN, c.Store.MaxConns = "postgres", dsn, 8
		c.API.AuthCacheTTL = time.Minute // only the cluster's message can end A's cached token in time
	}
	a, b := runEnv(t, edit), runEnv(t, edit)
	ctx := context.Background()
	refused := func(tok, what string) {
		t.Helper()
		poll.Until(t, "A to refuse "+what, func() bool { return a.status("GET", "/api/v1/auth/me", tok) == http.StatusUnauthorized })
	}
	loginA := func(email, pw string) string {
		t.Helper()
		var sess struct{ Token string }
		a.call(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": pw}, &sess)
		a.call(200, "GET", "/api/v1/auth/me", sess.Token, nil, nil) // cached on A
		return sess.Token
	}

	tok := loginA("admin@root.test", "root-password-1")
	b.call(204, "POST", "/api/v1/auth/logout", tok, nil, nil)
	refused(tok, "a session logged out on B")

	u, err := b.s.svc.CreateUser(ctx, b.admin, tenancy.NewUser{Email: "op@root.test", Name: "Op", OrgID: b.admin.OrgID,
		RoleID: b.admin.RoleID, Password: "op-password-12"})
	if err != nil {
		t.Fatal(err)
	}
	tok = loginA("op@root.test", "op-password-12")
	if _, err := b.s.svc.SetSuspended(ctx, b.admin, u.ID, true); err != nil {
		t.Fatal(err)
	}
	refused(tok, "the session of a user suspended on B")

	c, secret, err := b.s.svc.CreateOAuthClient(ctx, b.admin, tenancy.NewOAuthClient{Name: "integration"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := a.s.svc.IssueClientToken(ctx, c.ID, secret)
	if err != nil {
		t.Fatal(err)
	}
	a.call(200, "GET", "/api/v1/organization/oauth-clients", pair.AccessToken, nil, nil) // cached on A
	if err := b.s.svc.DeleteOAuthClient(ctx, b.admin, c.ID); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "A to refuse the token of an OAuth client deleted on B", func() bool {
		return a.status("GET", "/api/v1/organization/oauth-clients", pair.AccessToken) == http.StatusUnauthorized
	})
}

// A logout or a suspend made outside the Platform API (the console calls
// the service) ends a token the API had just cached, on SQLite too.
func TestRevocationOutsideTheAPI(t *testing.T) {
	e := runEnv(t, func(c *Config) { c.API.AuthCacheTTL = time.Minute })
	ctx := context.Background()
	var sess struct{ Token string }
	e.call(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "admin@root.test", "password": "root-password-1"}, &sess)
	e.call(200, "GET", "/api/v1/auth/me", sess.Token, nil, nil) // cached
	if err := e.s.svc.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if got := e.status("GET", "/api/v1/auth/me", sess.Token); got != http.StatusUnauthorized {
		t.Fatalf("a session logged out through the service: %d, want 401", got)
	}
	u, err := e.s.svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "op@root.test", Name: "Op", OrgID: e.admin.OrgID,
		RoleID: e.admin.RoleID, Password: "op-password-12"})
	if err != nil {
		t.Fatal(err)
	}
	e.call(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "op@root.test", "password": "op-password-12"}, &sess)
	e.call(200, "GET", "/api/v1/auth/me", sess.Token, nil, nil)
	if _, err := e.s.svc.SetSuspended(ctx, e.admin, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := e.status("GET", "/api/v1/auth/me", sess.Token); got != http.StatusUnauthorized {
		t.Fatalf("the session of a user suspended through the service: %d, want 401", got)
	}
}
