package sitetest

import (
	"context"
	"strings"
	"testing"

	"outpost/gateway"
	"outpost/internal/platformclient"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

// TestEventNotifiesThroughSite: the cloud's Admin gives a site template's
// critical event notification settings; the real gateway takes the
// tenancy change without reconnecting (that the change travels without
// the settings, which an older gateway's decoder would refuse, is checked
// in cloud's TestEventNotifiesOwnerThroughGateway); a device logging the
// event over Blynk TCP gets the Admin a mail saying why.
func TestEventNotifiesThroughSite(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ccfg := testCloudConfig(t)
	c, _ := runCloud(t, ccfg)
	tmpl := datastream.Template{ID: "TMPLEVENTS", Name: "Boiler",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}},
		Events:      []datastream.Event{{Code: "overheat", Name: "Overheat", Type: "critical"}}}
	g := runGateway(t, ctx, testGatewayConfig(t, c.URL(), "Boiler room", []datastream.Template{tmpl},
		gateway.DeviceConfig{Name: "A", Template: tmpl.ID, Token: tokenA}))
	claimSite(t, ctx, c, g, "Boiler client")
	poll.Until(t, "link up", func() bool { st := stats(g).Cloud; return st != nil && st.Connected && st.TenancyVersion > 0 })
	before := *stats(g).Cloud

	admin, err := platformclient.Login(ctx, nil, c.URL(), adminEmail, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"name": tmpl.Name, "datastreams": tmpl.Datastreams,
		"events": []map[string]any{{"code": "overheat", "name": "Overheat", "type": "critical", "description": "Boiler too hot",
			"notify": map[string]any{"enabled": true, "email": true, "console": true, "users": []string{adminEmail}}}}}
	poll.NoError(t, "template saved", func() error {
		return admin.Do(ctx, "PUT", "/api/v1/organization/template?templateId="+tmpl.ID, body, nil)
	})
	poll.Until(t, "the tenancy change at the site", func() bool { return stats(g).Cloud.TenancyVersion > before.TenancyVersion })
	if st := stats(g).Cloud; !st.Connected || st.Connects != before.Connects {
		t.Fatalf("the gateway's link after the change: %+v (before %+v)", st, before)
	}

	dev, err := devicesim.Dial(ctx, g.Addrs().Blynk, devicesim.Options{Token: tokenA})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if _, err := dev.SendCmd(blynk.CmdEventLog, []byte("overheat\x0092 °C")); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the event's mail", func() bool { return len(mails(t, ccfg.DataDir)) > 0 })
	ms := mails(t, ccfg.DataDir)
	if len(ms) != 1 || !strings.Contains(ms[0], "To: "+adminEmail) || !strings.Contains(ms[0], "Critical: Overheat on A") ||
		!strings.Contains(ms[0], `logged critical event "overheat"`) || !strings.Contains(ms[0], "the event's settings name you") {
		t.Fatalf("mails %q", ms)
	}
}
