package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"outpost/gateway"
)

// fakeRegistry is the cloud's side of claim-flow steps 1 and 3 before the
// claim: it registers gateways and refuses their sync until claimed.
type fakeRegistry struct {
	registered atomic.Int32
	dials      atomic.Int32
	lastAuth   atomic.Value // string
	lastName   atomic.Value // string
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
		fmt.Fprintf(w, `{"gatewayId":"%d","claimCode":"CLAIM-%d","credential":"cred-%d"}`, 16+n, n, n)
	case "/api/v1/gateway/sync":
		f.dials.Add(1)
		f.lastAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
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
	eventually(t, "registration", func() error {
		if st := claim(g); st.ClaimCode != "CLAIM-1" || st.GatewayID != "17" || st.Claimed || st.Connected {
			return fmt.Errorf("claim status %+v", st)
		}
		return nil
	})
	if got := reg.lastName.Load(); got != "greenhouse" {
		t.Errorf("registered name %v, want cloud.name", got)
	}
	eventually(t, "a sync dial", func() error {
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

func TestClaimWithoutCloud(t *testing.T) {
	g, _ := start(t, testConfig(t.TempDir()))
	if code, _ := httpGet(t, "http://"+g.Addrs().Installer+"/installer/api/claim"); code != http.StatusNotFound {
		t.Errorf("claim without cloud.url = %d, want 404", code)
	}
}
