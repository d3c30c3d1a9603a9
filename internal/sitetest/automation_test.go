package sitetest

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
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

const (
	tokenA = "sitetest-device-token-00000000aa"
	tokenB = "sitetest-device-token-00000000bb"
	autoID = "01JD5Z8Q3M4N5P6Q7R8S9T0A01"
	coldID = "01JD5Z8Q3M4N5P6Q7R8S9T0A02"
)

// mails reads the .eml files of the cloud's mailbox.
func mails(t *testing.T, dataDir string) []string {
	t.Helper()
	out, err := cloud.Mails(filepath.Join(dataDir, "mailbox"), "")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func stats(g *gateway.Gateway) gateway.Stats { return g.Stats().(gateway.Stats) }

// runCloud starts a cloud on cfg and returns a stop that ends it and waits.
func runCloud(t *testing.T, cfg cloud.Config) (*cloud.Server, func()) {
	t.Helper()
	c, err := cloud.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("cloud: %v", err)
		}
	}
	t.Cleanup(stop)
	return c, stop
}

// TestSiteAutomationWithoutCloud: an automation of two devices on one
// site is sent down with the tenancy; with the cloud stopped, a threshold
// on device A writes device B's pin, which B's Blynk TCP connection
// receives; once the cloud is back, each run reaches it exactly once.
func TestSiteAutomationWithoutCloud(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ccfg := testCloudConfig(t)
	c, stopCloud := runCloud(t, ccfg)
	g := runGateway(t, ctx, testGatewayConfig(t, c.URL(), "Test site", []datastream.Template{{ID: "TMPLSITE", Name: "Site sensor",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}, {Pin: 1, Name: "Fan", Type: datastream.Integer}}}},
		gateway.DeviceConfig{Name: "A", Template: "TMPLSITE", Token: tokenA}, gateway.DeviceConfig{Name: "B", Template: "TMPLSITE", Token: tokenB}))
	uid := claimSite(t, ctx, c, g, "Site client")
	hot := rules.Automation{ID: autoID, Name: "Fan follows heat", Enabled: true,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: uid["A"], Pin: 0, Op: rules.OpGt, Value: "30"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: uid["B"], Pin: 1, Value: "{trigger_value}"}}}
	cold := rules.Automation{ID: coldID, Name: "Fan off when cold", Enabled: true,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: uid["A"], Pin: 0, Op: rules.OpLt, Value: "10"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: uid["B"], Pin: 1, Value: "0"},
			{Kind: rules.ActionNotify, Subject: "Cold at the site", Text: "A reads {trigger_value}"}}}
	// The devices merge up into the cloud first; until then the cloud
	// cannot place the automations.
	for _, a := range []rules.Automation{hot, cold} {
		poll.NoError(t, "automation saved", func() error { return c.SaveAutomation(ctx, a) })
	}
	poll.Within(t, "automations at the site", 30*time.Second, func() bool { return stats(g).Rules.Automations == 2 })

	// The cloud goes away.
	cloudURL := c.URL()
	stopCloud()
	poll.Until(t, "link down", func() bool { st := stats(g).Cloud; return st != nil && !st.Connected })

	dial := func(tok string) *devicesim.Device {
		d, err := devicesim.Dial(ctx, g.Addrs().Blynk, devicesim.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	devA, devB := dial(tokenA), dial(tokenB)
	var got []string
	for _, v := range []float64{25, 35, 20, 5} {
		if _, err := devA.VirtualWrite(0, v); err != nil {
			t.Fatal(err)
		}
		if v >= 10 && v <= 30 {
			continue
		}
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		in, err := devB.Expect(wctx, func(in devicesim.Incoming) bool { return in.Op == blynk.OpVirtualWrite && in.Pin == 1 })
		wcancel()
		if err != nil {
			t.Fatalf("B after A wrote %v: %v (rules %+v, got %q)", v, err, stats(g).Rules, got)
		}
		got = append(got, strings.Join(in.Values, ","))
	}
	if !slices.Equal(got, []string{"35", "0"}) {
		t.Fatalf("B got %q, want [35 0]", got)
	}
	poll.Until(t, "two runs recorded", func() bool { return stats(g).Rules.Runs == 2 })

	// The cloud comes back on the same address and database.
	ccfg.Listen = strings.TrimPrefix(strings.TrimPrefix(cloudURL, "http://"), "https://")
	c2, _ := runCloud(t, ccfg)
	poll.Until(t, "outbox drained", func() bool {
		st := stats(g).Cloud
		return st != nil && st.Connected && st.Backlog == 0
	})
	// The site could not mail: the cloud sends the notification of the
	// site's run when the run arrives, once, to the Admin above the site.
	poll.Until(t, "the notification mailed", func() bool { return len(mails(t, ccfg.DataDir)) > 0 })
	if ms := mails(t, ccfg.DataDir); len(ms) != 1 || !strings.Contains(ms[0], "To: admin@site.test") ||
		!strings.Contains(ms[0], "A reads 5") || !strings.Contains(ms[0], "Sent by automation") {
		t.Fatalf("mails %q, want one to the Admin with the trigger value and why it was sent", ms)
	}
	for id, want := range map[string]string{autoID: "35", coldID: "5"} {
		runs, err := c2.AutomationRuns(ctx, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || !runs[0].OK() || runs[0].Device != uid["A"] || runs[0].Value != want {
			t.Fatalf("the cloud holds runs %+v of %s, want one run triggered by %s", runs, id, want)
		}
	}
}
