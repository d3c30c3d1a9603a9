package sitetest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"outpost/cloud"
	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

// TestDatastreamWebhook: a device's write at a site reaches the cloud as
// telemetry and calls its organization's webhook on a receiver at
// 127.0.0.1 (allow-listed), with the placeholders filled in; the delivery
// is logged as ok.
func TestDatastreamWebhook(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer recv.Close()

	ccfg := testCloudConfig(t)
	ccfg.Webhooks.Allow = []string{"127.0.0.1/32"}
	c, _ := runCloud(t, ccfg)
	g, uid := startClaimedGateway(t, ctx, c, "North", tokenA)

	w := hookFor(recv.URL, uid)
	// The webhook belongs to the site's organization: the device's, once
	// the device merged up.
	poll.NoError(t, "webhook saved", func() error { return c.SaveWebhookForDevice(ctx, uid, w) })

	dev, err := devicesim.Dial(ctx, g.Addrs().Blynk, devicesim.Options{Token: tokenA, Handler: func(devicesim.Incoming) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if _, err := dev.VirtualWrite(0, 42.5); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-got:
		if want := `{"device":"North device","value":42.5}`; body != want {
			t.Fatalf("receiver got %q, want %q", body, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook call within 20 s")
	}
	poll.Until(t, "delivery logged ok", func() bool {
		ds, err := c.WebhookDeliveries(ctx, w.ID, 10)
		return err == nil && len(ds) == 1 && ds[0].State == "ok" && strings.Contains(ds[0].Event.DeviceName, "North")
	})
}

func hookFor(url, device string) *cloud.Webhook {
	w := &cloud.Webhook{Name: "to receiver", Enabled: true, Method: "POST", URL: url,
		Body: `{"device":"{device_name}","value":{datastream_value}}`}
	w.Trigger.Kind, w.Trigger.Device = "datastream", device
	return w
}
