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
	log := slog.New(slog.DiscardHandler)

	ccfg := cloud.Defaults()
	ccfg.Listen, ccfg.DataDir = "127.0.0.1:0", t.TempDir()
	ccfg.Admin.Email, ccfg.Admin.Password = "admin@site.test", "site-admin-password"
	ccfg.Auth.BcryptCost = 4
	c, err := cloud.New(ccfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	gcfg := gateway.Defaults()
	gcfg.DataDir = t.TempDir()
	for _, p := range []*string{&gcfg.Blynk.Listen, &gcfg.Blynk.TLSListen, &gcfg.MQTT.Listen, &gcfg.MQTT.TLSListen,
		&gcfg.MQTT.WSListen, &gcfg.HTTP.Listen, &gcfg.Installer.Listen} {
		*p = "127.0.0.1:0"
	}
	gcfg.Templates = []datastream.Template{tmpl}
	gcfg.Devices = []gateway.DeviceConfig{{Name: "Sensor", Template: tmpl.ID, Token: token}}
	gcfg.Cloud.URL, gcfg.Cloud.Name = c.URL(), "Test site"
	g, _, err := gateway.New(ctx, gcfg, log)
	if err != nil {
		c.Close()
		cancel()
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- c.Run(ctx) }()
	go func() { errs <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
	s := &site{ctx: ctx, c: c, g: g}
	var code string
	poll.Within(t, "claim code", 20*time.Second, func() bool { st, _ := g.Claim(); code = st.ClaimCode; return code != "" })
	claim(t, ctx, c, code, "Site client")
	resp, err := http.Get("http://" + g.Addrs().Installer + "/installer/api/devices")
	if err != nil {
		t.Fatal(err)
	}
	var devs []struct{ UID, Name string }
	err = json.NewDecoder(resp.Body).Decode(&devs)
	resp.Body.Close()
	if err != nil || len(devs) != 1 {
		t.Fatalf("installer devices %+v, %v", devs, err)
	}
	s.uid = devs[0].UID
	return s
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
