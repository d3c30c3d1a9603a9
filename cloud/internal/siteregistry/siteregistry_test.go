package siteregistry_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/ratelimit"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
)

// newRegistry is a registry on a real SQLite store, with no sync
// endpoint attached (the tests here do not reach a gateway).
func newRegistry(t *testing.T) (*siteregistry.Registry, *tenancy.Service) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := tenancy.New(t.Context(), tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return siteregistry.New(svc, st, time.Second, slog.New(slog.DiscardHandler)), svc
}

func post(h http.HandlerFunc, body, bearer string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	h(w, r)
	return w
}

func TestRegisterAndRenew(t *testing.T) {
	reg, _ := newRegistry(t)
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"not JSON", "name=Pi", 400},
		{"wrong shape", `["Pi"]`, 400},
		{"registered", `{"name":"Pi","software":"outpost-gateway/test"}`, 201},
	} {
		w := post(reg.Register, c.body, "")
		if w.Code != c.status {
			t.Fatalf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.status)
		}
	}
	var id struct {
		GatewayID, ClaimCode, Credential string
		ClaimCodeExpiresAt               int64
	}
	w := post(reg.Register, `{"name":"Pi two"}`, "")
	if err := json.Unmarshal(w.Body.Bytes(), &id); err != nil || id.GatewayID == "" || id.ClaimCode == "" || id.Credential == "" || id.ClaimCodeExpiresAt == 0 {
		t.Fatalf("registration answer %s: %v", w.Body, err)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q: the answer holds a credential", cc)
	}

	if w := post(reg.RenewClaimCode, "", "not-a-credential"); w.Code != 401 {
		t.Errorf("renewal with an unknown credential: %d %s, want 401", w.Code, w.Body)
	}
	w = post(reg.RenewClaimCode, "", id.Credential)
	var renewed struct{ ClaimCode string }
	if err := json.Unmarshal(w.Body.Bytes(), &renewed); w.Code != 200 || err != nil || renewed.ClaimCode == "" || renewed.ClaimCode == id.ClaimCode {
		t.Errorf("renewal: %d %s, want 200 and a new code", w.Code, w.Body)
	}

	// Unclaimed, the credential is known but may not sync yet.
	if _, err := reg.AuthenticateGateway(t.Context(), id.Credential); !errors.Is(err, gatewaysync.ErrNotClaimed) {
		t.Errorf("unclaimed gateway: %v, want ErrNotClaimed", err)
	}
	if _, err := reg.AuthenticateGateway(t.Context(), "not-a-credential"); !errors.Is(err, gatewaysync.ErrUnauthorized) {
		t.Errorf("unknown credential: %v, want ErrUnauthorized", err)
	}
}

// The quota is per client address; the answer past it is 429 with a
// Retry-After, and the handler behind it is not called.
func TestLimitPerAddr(t *testing.T) {
	calls := 0
	h := siteregistry.LimitPerAddr(ratelimit.NewKeyed(2, time.Now), func(r *http.Request) string { return r.Header.Get("X-Addr") },
		func(w http.ResponseWriter, r *http.Request) { calls++ })
	for i, c := range []struct {
		addr   string
		status int
	}{{"a", 200}, {"a", 200}, {"a", 429}, {"b", 200}} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("X-Addr", c.addr)
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != c.status {
			t.Errorf("request %d from %s: %d, want %d", i, c.addr, w.Code, c.status)
		}
		if c.status == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if calls != 3 {
		t.Errorf("handler called %d times, want 3", calls)
	}
}

func TestKeys(t *testing.T) {
	for _, id := range []tenancy.GatewayID{1, 42, 1 << 40} {
		if got := siteregistry.GatewayOf(siteregistry.Key(id)); got != id {
			t.Errorf("GatewayOf(Key(%d)) = %d", id, got)
		}
	}
	for _, key := range []string{"", "x", "1.5"} {
		if got := siteregistry.GatewayOf(key); got != 0 {
			t.Errorf("GatewayOf(%q) = %d, want 0", key, got)
		}
	}
}
