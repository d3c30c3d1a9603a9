package sitetest

import (
	"context"
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

// startClaimedGateway runs a gateway named org with one device ("<org>
// device", token), claimed into the client org org, and returns it and
// the device's UID.
func startClaimedGateway(t *testing.T, ctx context.Context, c *cloud.Server, org, token string) (*gateway.Gateway, string) {
	t.Helper()
	tmpl := "TMPL" + strings.ToUpper(org)
	g := runGateway(t, ctx, testGatewayConfig(t, c.URL(), org, []datastream.Template{{ID: tmpl, Name: org + " sensor",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}, {Pin: 1, Name: "Fan", Type: datastream.Integer}}}},
		gateway.DeviceConfig{Name: org + " device", Template: tmpl, Token: token}))
	return g, claimSite(t, ctx, c, g, org)[org+" device"]
}

// TestCrossSiteAutomationRunsInTheCloud: device A on one site, device B on
// another; the automation joining them runs in the cloud, and its write
// reaches B's Blynk TCP connection through B's gateway as a command.
func TestCrossSiteAutomationRunsInTheCloud(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ccfg := testCloudConfig(t)
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
