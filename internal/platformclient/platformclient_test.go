package platformclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"outpost/cloud"
	"outpost/internal/platformclient"
)

// A real cloud on 127.0.0.1:0: the Admin claims two registered gateways
// into one client org, created by the first claim and found by the second.
func TestClaimGateway(t *testing.T) {
	cfg := cloud.Defaults()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Admin.Email, cfg.Admin.Password = "admin@root.test", "root-password-1"
	cfg.Auth.BcryptCost = 4
	c, err := cloud.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	if _, err := platformclient.Login(ctx, nil, c.URL(), "admin@root.test", "wrong-password"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("login with a wrong password: %v, want a 401 error", err)
	}
	admin, err := platformclient.Login(ctx, nil, c.URL(), "admin@root.test", "root-password-1")
	if err != nil {
		t.Fatal(err)
	}
	if admin.OrgID != c.Bootstrap().OrgID {
		t.Errorf("OrgID %d, want the root %d", admin.OrgID, c.Bootstrap().OrgID)
	}
	var orgs []int64
	for _, name := range []string{"Pi one", "Pi two"} {
		body, _ := json.Marshal(map[string]string{"name": name, "software": "test"})
		resp, err := http.Post(c.URL()+"/api/v1/gateway/register", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var reg struct{ ClaimCode string }
		err = json.NewDecoder(resp.Body).Decode(&reg)
		resp.Body.Close()
		if err != nil || reg.ClaimCode == "" {
			t.Fatalf("register: %v %+v", err, reg)
		}
		org, err := admin.ClaimGateway(ctx, reg.ClaimCode, "Client")
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, org)
		if _, err := admin.ClaimGateway(ctx, reg.ClaimCode, "Client"); err == nil {
			t.Errorf("%s: a spent claim code was accepted again", name)
		}
	}
	if orgs[0] == 0 || orgs[0] != orgs[1] {
		t.Errorf("claimed into orgs %v, want one client org", orgs)
	}
	var gws struct {
		Content []struct {
			Name string `json:"name"`
		} `json:"content"`
	}
	if err := admin.Do(ctx, http.MethodGet, "/api/v1/organization/gateways?orgId="+jsonInt(orgs[0]), nil, &gws); err != nil {
		t.Fatal(err)
	}
	if len(gws.Content) != 2 {
		t.Errorf("gateways of the client org: %+v, want both", gws.Content)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
