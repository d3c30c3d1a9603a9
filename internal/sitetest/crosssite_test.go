package sitetest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"outpost/cloud"
	"outpost/gateway"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
	"outpost/shared/rules"
)

// startClaimedGateway runs a claimed gateway with one device and returns it and the
// device's UID.
func startClaimedGateway(t *testing.T, ctx context.Context, c *cloud.Server, org, token string) (*gateway.Gateway, string) {
	t.Helper()
	gcfg := gateway.Defaults()
	gcfg.DataDir = t.TempDir()
	for _, p := range []*string{&gcfg.Blynk.Listen, &gcfg.Blynk.TLSListen, &gcfg.MQTT.Listen, &gcfg.MQTT.TLSListen,
		&gcfg.MQTT.WSListen, &gcfg.HTTP.Listen, &gcfg.Installer.Listen} {
		*p = "127.0.0.1:0"
	}
	tmpl := "TMPL" + strings.ToUpper(org)
	gcfg.Templates = []datastream.Template{{ID: tmpl, Name: org + " sensor", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double}, {Pin: 1, Name: "Fan", Type: datastream.Integer}}}}
	gcfg.Devices = []gateway.DeviceConfig{{Name: org + " device", Template: tmpl, Token: token}}
	gcfg.Cloud.URL, gcfg.Cloud.Name = c.URL(), org
	gctx, cancel := context.WithCancel(ctx)
	g, _, err := gateway.New(gctx, gcfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(gctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	var code string
	poll.Until(t, "claim code", func() bool { st, _ := g.Claim(); code = st.ClaimCode; return code != "" })
	claim(t, ctx, c, code, org)
	resp, err := http.Get("http://" + g.Addrs().Installer + "/installer/api/devices")
	if err != nil {
		t.Fatal(err)
	}
	var devs []struct{ UID string }
	err = json.NewDecoder(resp.Body).Decode(&devs)
	resp.Body.Close()
	if err != nil || len(devs) != 1 {
		t.Fatalf("installer devices %+v, %v", devs, err)
	}
	return g, devs[0].UID
}

// TestCrossSiteAutomationRunsInTheCloud: device A on one site, device B on
// another; the automation joining them runs in the cloud, and its write
// reaches B's Blynk TCP connection through B's gateway as a command.
func TestCrossSiteAutomationRunsInTheCloud(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ccfg := cloud.Defaults()
	ccfg.Listen, ccfg.DataDir = "127.0.0.1:0", t.TempDir()
	ccfg.Admin.Email, ccfg.Admin.Password = "admin@site.test", "site-admin-password"
	ccfg.Auth.BcryptCost = 4
	c, _ := runCloud(t, ccfg)
	gA, uidA := startClaimedGateway(t, ctx, c, "North", tokenA)
	gB, uidB := startClaimedGateway(t, ctx, c, "South", tokenB)

	a := rules.Automation{ID: autoID, Name: "South fan follows North heat", Enabled: true,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: uidA, Pin: 0, Op: rules.OpGt, Value: "30"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: uidB, Pin: 1, Value: "{trigger_value}"}}}
	// Both devices merge up into the cloud first.
	poll.NoError(t, "automation saved", func() error { return c.SaveAutomation(ctx, a) })
	poll.Until(t, "automation in the cloud", func() bool { return c.CloudAutomations() == 1 })
	if stats(gA).Rules.Automations != 0 || stats(gB).Rules.Automations != 0 {
		t.Fatalf("a cross-site automation was sent to a site: %+v %+v", stats(gA).Rules, stats(gB).Rules)
	}

	dial := func(g *gateway.Gateway, tok string) *devicesim.Device {
		d, err := devicesim.Dial(ctx, g.Addrs().Blynk, devicesim.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	devA, devB := dial(gA, tokenA), dial(gB, tokenB)
	// Until the cloud adopted device A, its telemetry is not applied:
	// write fresh crossings until B sees one.
	got := make(chan string, 1)
	go func() {
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		in, err := devB.Expect(wctx, func(in devicesim.Incoming) bool { return in.Op == blynk.OpVirtualWrite && in.Pin == 1 })
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- in.Values[0]
	}()
	for i := 0; ; i++ {
		if _, err := devA.VirtualWrite(0, 20); err != nil {
			t.Fatal(err)
		}
		if _, err := devA.VirtualWrite(0, 31+i%10); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if len(v) != 2 || v[0] != '3' {
				runs, err := c.AutomationRuns(ctx, autoID, 10)
				t.Fatalf("B got %q, want a value A wrote above 30 (runs %+v %v)", v, runs, err)
			}
			poll.Until(t, "the cloud's run recorded", func() bool {
				runs, err := c.AutomationRuns(ctx, autoID, 10)
				return err == nil && len(runs) > 0 && runs[len(runs)-1].OK()
			})
			return
		case <-time.After(1100 * time.Millisecond): // past the loop protection
		}
	}
}
