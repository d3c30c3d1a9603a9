package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"outpost/gateway"
	"outpost/internal/poll"
)

// fakeRegistry is the cloud's side of claim-flow steps 1 and 3 before the
// claim: it registers gateways and refuses their sync until claimed.
type fakeRegistry struct {
	registered atomic.Int32
	dials      atomic.Int32
	lastAuth   atomic.Value // string
	lastName   atomic.Value // string
	// revoked: credentials cred-1..cred-revoked are unknown (released).
	revoked atomic.Int32
	// expiring: registration answers codes that expire at once.
	expiring atomic.Bool
	renewed  atomic.Int32
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/gateway/register":
		var body struct{ Name, Software string }
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil || body.Software == "" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		f.lastName.Store(body.Name)
		n := f.registered.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		expires := time.Now().Add(24 * time.Hour).UnixMilli()
		if f.expiring.Load() {
			expires = time.Now().UnixMilli()
		}
		fmt.Fprintf(w, `{"gatewayId":"%d","claimCode":"CLAIM-%d","claimCodeExpiresAt":%d,"credential":"cred-%d"}`, 16+n, n, expires, n)
	case "/api/v1/gateway/claim-code":
		var n int32
		if _, err := fmt.Sscanf(r.Header.Get("Authorization"), "Bearer cred-%d", &n); err != nil || r.Method != http.MethodPost {
			http.Error(w, `{"error":{"message":"unknown gateway credential"}}`, http.StatusUnauthorized)
			return
		}
		k := f.renewed.Add(1)
		fmt.Fprintf(w, `{"claimCode":"RENEWED-%d-%d-SECRETPART","claimCodeExpiresAt":%d}`, n, k, time.Now().Add(24*time.Hour).UnixMilli())
	case "/api/v1/gateway/sync":
		f.dials.Add(1)
		auth := r.Header.Get("Authorization")
		f.lastAuth.Store(auth)
		w.Header().Set("Content-Type", "application/json")
		var n int32
		if _, err := fmt.Sscanf(auth, "Bearer cred-%d", &n); err == nil && n <= f.revoked.Load() {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"unknown gateway credential"}}`))
			return
		}
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":{"message":"gateway is not claimed yet"}}`))
	default:
		http.NotFound(w, r)
	}
}

// A gateway with cloud.url registers once, keeps its identity across
// restarts, shows the claim code on the installer API and keeps dialing the
// sync endpoint with its credential until claimed.
func TestCloudRegistrationAndClaimCode(t *testing.T) {
	reg := &fakeRegistry{}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Cloud.URL = srv.URL
	cfg.Cloud.Name = "greenhouse"

	claim := func(g *gateway.Gateway) gateway.ClaimStatus {
		code, body := httpGet(t, "http://"+g.Addrs().Installer+"/installer/api/claim")
		if code != http.StatusOK {
			t.Fatalf("GET /installer/api/claim = %d %s", code, body)
		}
		var st gateway.ClaimStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	g, stop := start(t, cfg)
	poll.NoError(t, "registration", func() error {
		if st := claim(g); st.ClaimCode != "CLAIM-1" || st.GatewayID != "17" || st.Claimed || st.Connected {
			return fmt.Errorf("claim status %+v", st)
		}
		return nil
	})
	if got := reg.lastName.Load(); got != "greenhouse" {
		t.Errorf("registered name %v, want cloud.name", got)
	}
	poll.NoError(t, "a sync dial", func() error {
		if reg.dials.Load() == 0 {
			return fmt.Errorf("no dial yet")
		}
		return nil
	})
	if got := reg.lastAuth.Load(); got != "Bearer cred-1" {
		t.Errorf("sync Authorization = %v, want the credential", got)
	}
	fi, err := os.Stat(filepath.Join(dir, gateway.CloudFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600 (it holds the credential)", gateway.CloudFile, fi.Mode().Perm())
	}
	_, body := httpGet(t, "http://"+g.Addrs().Installer+"/installer/api/stats")
	var stats struct {
		Cloud *gateway.CloudStats `json:"cloud"`
	}
	if err := json.Unmarshal([]byte(body), &stats); err != nil || stats.Cloud == nil {
		t.Fatalf("stats without cloud: %v %s", err, body)
	}
	stop()

	// Restarted: same identity, no second registration, code shown at once.
	g, _ = start(t, cfg)
	if st := claim(g); st.ClaimCode != "CLAIM-1" || st.GatewayID != "17" {
		t.Errorf("after restart: %+v, want the saved identity", st)
	}
	id, err := gateway.ReadCloudIdentity(dir)
	if err != nil || id.Credential != "cred-1" || id.CloudURL != srv.URL {
		t.Errorf("cloud.json = %+v, %v", id, err)
	}
	if n := reg.registered.Load(); n != 1 {
		t.Errorf("registered %d times, want once", n)
	}
}

// A site released in the cloud (its credential answered 401 again and
// again) drops its identity, registers again and shows the new claim code.
func TestReleasedGatewayRegistersAgain(t *testing.T) {
	reg := &fakeRegistry{}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Cloud.URL = srv.URL
	g, _ := start(t, cfg)
	claim := func() gateway.ClaimStatus {
		_, body := httpGet(t, "http://"+g.Addrs().Installer+"/installer/api/claim")
		var st gateway.ClaimStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return st
	}
	poll.NoError(t, "registration", func() error {
		if st := claim(); st.ClaimCode != "CLAIM-1" {
			return fmt.Errorf("claim status %+v", st)
		}
		return nil
	})
	reg.revoked.Store(1) // released: the cloud forgets cred-1
	poll.NoError(t, "a new registration", func() error {
		if st := claim(); st.ClaimCode != "CLAIM-2" || st.GatewayID != "18" || st.Claimed {
			return fmt.Errorf("claim status %+v", st)
		}
		return nil
	})
	id, err := gateway.ReadCloudIdentity(dir)
	if err != nil || id.Credential != "cred-2" || id.ClaimCode != "CLAIM-2" {
		t.Errorf("cloud.json = %+v, %v; want the new identity", id, err)
	}
	if n := reg.registered.Load(); n != 2 {
		t.Errorf("registered %d times, want twice", n)
	}
	poll.NoError(t, "a dial with the new credential", func() error {
		if got := reg.lastAuth.Load(); got != "Bearer cred-2" {
			return fmt.Errorf("last sync Authorization %v", got)
		}
		return nil
	})
}

// A claim code expires in the cloud: the unclaimed gateway fetches a new
// one with its credential and shows it (installer API, cloud.json for the
// claim-code command); the log names codes and device tokens by a prefix
// only.
func TestExpiredClaimCodeIsReplaced(t *testing.T) {
	reg := &fakeRegistry{}
	reg.expiring.Store(true)
	srv := httptest.NewServer(reg)
	defer srv.Close()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Cloud.URL = srv.URL
	cfg.Devices = append(cfg.Devices, gateway.DeviceConfig{Name: "C", Template: "TMPLTEST"}) // token generated
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	g, created, err := gateway.New(ctx, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	poll.NoError(t, "a renewed claim code", func() error {
		_, body := httpGet(t, "http://"+g.Addrs().Installer+"/installer/api/claim")
		var st gateway.ClaimStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			return err
		}
		if st.ClaimCode != "RENEWED-1-1-SECRETPART" {
			return fmt.Errorf("claim status %+v", st)
		}
		return nil
	})
	id, err := gateway.ReadCloudIdentity(dir)
	if err != nil || id.ClaimCode != "RENEWED-1-1-SECRETPART" || time.UnixMilli(id.ClaimCodeExpiresAt).Before(time.Now()) {
		t.Errorf("cloud.json = %+v, %v; want the renewed code and its expiry", id, err)
	}
	if n := reg.renewed.Load(); n != 1 {
		t.Errorf("renewed %d times, want once (the new code is valid for a day)", n)
	}
	poll.NoError(t, "the renewal logged", func() error {
		if !strings.Contains(logs.String(), "new claim code issued") {
			return fmt.Errorf("logs: %s", logs.String())
		}
		return nil
	})
	if len(created) != 1 {
		t.Fatalf("created %+v, want device C", created)
	}
	for _, s := range []string{"CLAIM-1", "SECRETPART", created[0].Token} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds the secret %q:\n%s", s, logs.String())
		}
	}
}

func TestClaimWithoutCloud(t *testing.T) {
	g, _ := start(t, testConfig(t.TempDir()))
	if code, _ := httpGet(t, "http://"+g.Addrs().Installer+"/installer/api/claim"); code != http.StatusNotFound {
		t.Errorf("claim without cloud.url = %d, want 404", code)
	}
}
