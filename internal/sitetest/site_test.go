package sitetest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"outpost/cloud"
	"outpost/gateway"
	"outpost/internal/platformclient"
	"outpost/internal/poll"
	"outpost/shared/datastream"
)

const token = "sitetest-device-token-0000000001"

// The cloud's first Admin in every test of this package.
const adminEmail, adminPassword = "admin@site.test", "site-admin-password"

// site is a real cloud and a real gateway on 127.0.0.1, the gateway
// claimed into a client org, serving one device ("Sensor", token) of the
// template given.
type site struct {
	ctx context.Context
	c   *cloud.Server
	g   *gateway.Gateway
	uid string // the device's UID, as the gateway created it
}

func startSite(t *testing.T, tmpl datastream.Template) *site {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, _ := runCloud(t, testCloudConfig(t))
	g := runGateway(t, ctx, testGatewayConfig(t, c.URL(), "Test site", []datastream.Template{tmpl},
		gateway.DeviceConfig{Name: "Sensor", Template: tmpl.ID, Token: token}))
	uids := claimSite(t, ctx, c, g, "Site client")
	return &site{ctx: ctx, c: c, g: g, uid: uids["Sensor"]}
}

// testCloudConfig is a cloud on 127.0.0.1 and a fresh SQLite file, with
// the package's Admin.
func testCloudConfig(t *testing.T) cloud.Config {
	cfg := cloud.Defaults()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Admin.Email, cfg.Admin.Password = adminEmail, adminPassword
	cfg.Auth.BcryptCost = 4
	return cfg
}

// testGatewayConfig is a gateway named name on 127.0.0.1 (every port
// from :0) and a fresh data dir, linked to the cloud at cloudURL.
func testGatewayConfig(t *testing.T, cloudURL, name string, tmpls []datastream.Template, devs ...gateway.DeviceConfig) gateway.Config {
	cfg := gateway.Defaults()
	cfg.DataDir = t.TempDir()
	for _, p := range []*string{&cfg.Blynk.Listen, &cfg.Blynk.TLSListen, &cfg.MQTT.Listen, &cfg.MQTT.TLSListen,
		&cfg.MQTT.WSListen, &cfg.HTTP.Listen, &cfg.Installer.Listen} {
		*p = "127.0.0.1:0"
	}
	cfg.Templates, cfg.Devices = tmpls, devs
	cfg.Cloud.URL, cfg.Cloud.Name = cloudURL, name
	return cfg
}

// runGateway runs a gateway on cfg until ctx ends or the test does.
func runGateway(t *testing.T, ctx context.Context, cfg gateway.Config) *gateway.Gateway {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	g, _, err := gateway.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return g
}

// claimSite claims the gateway into a client org named org once it shows
// a claim code, and returns its devices' UIDs by name, as the gateway
// created them (the cloud adopts them under those).
func claimSite(t *testing.T, ctx context.Context, c *cloud.Server, g *gateway.Gateway, org string) map[string]string {
	t.Helper()
	var code string
	poll.Within(t, "claim code", 20*time.Second, func() bool { st, _ := g.Claim(); code = st.ClaimCode; return code != "" })
	claim(t, ctx, c, code, org)
	resp, err := http.Get("http://" + g.Addrs().Installer + "/installer/api/devices")
	if err != nil {
		t.Fatal(err)
	}
	var devs []struct{ UID, Name string }
	err = json.NewDecoder(resp.Body).Decode(&devs)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("installer devices: %v", err)
	}
	uids := map[string]string{}
	for _, d := range devs {
		uids[d.Name] = d.UID
	}
	return uids
}

// claim claims the gateway with code into a client org named org, as an
// installer does: the cloud's Admin logs in through the Platform API.
func claim(t *testing.T, ctx context.Context, c *cloud.Server, code, org string) {
	t.Helper()
	admin, err := platformclient.Login(ctx, nil, c.URL(), adminEmail, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ClaimGateway(ctx, code, org); err != nil {
		t.Fatal(err)
	}
}
