package sitetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"outpost/cloud"
	"outpost/gateway"
	"outpost/internal/platformclient"
	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
	"outpost/shared/syncproto"
)

const token = "sitetest-device-token-0000000001"

// TestDeviceWriteReachesLiveFeed: a device connected to a gateway writes a
// value; the gateway syncs it to the cloud, which publishes it to the live
// feed's subscribers of that device.
func TestDeviceWriteReachesLiveFeed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)

	ccfg := cloud.Defaults()
	ccfg.Listen, ccfg.DataDir = "127.0.0.1:0", t.TempDir()
	ccfg.Admin.Email, ccfg.Admin.Password = "admin@site.test", "site-admin-password"
	ccfg.Auth.BcryptCost = 4
	c, err := cloud.New(ccfg, log)
	if err != nil {
		t.Fatal(err)
	}
	gcfg := gateway.Defaults()
	gcfg.DataDir = t.TempDir()
	for _, p := range []*string{&gcfg.Blynk.Listen, &gcfg.Blynk.TLSListen, &gcfg.MQTT.Listen, &gcfg.MQTT.TLSListen,
		&gcfg.MQTT.WSListen, &gcfg.HTTP.Listen, &gcfg.Installer.Listen} {
		*p = "127.0.0.1:0"
	}
	gcfg.Templates = []datastream.Template{{ID: "TMPLSITE", Name: "Site sensor",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}}}}
	gcfg.Devices = []gateway.DeviceConfig{{Name: "Sensor", Template: "TMPLSITE", Token: token}}
	gcfg.Cloud.URL, gcfg.Cloud.Name = c.URL(), "Test site"
	g, _, err := gateway.New(ctx, gcfg, log)
	if err != nil {
		c.Close()
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

	var code string
	poll.Within(t, "claim code", 20*time.Second, func() bool { st, _ := g.Claim(); code = st.ClaimCode; return code != "" })
	admin, err := platformclient.Login(ctx, nil, c.URL(), "admin@site.test", "site-admin-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ClaimGateway(ctx, code, "Site client"); err != nil {
		t.Fatal(err)
	}
	// The device's UID, as the gateway created it (it merges up under it).
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
	sub := c.LiveFeed().Subscribe(devs[0].UID)
	defer sub.Close()

	dev, err := devicesim.Dial(ctx, g.Addrs().Blynk, devicesim.Options{Token: token, Handler: func(devicesim.Incoming) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	// Until the cloud has adopted the device, its telemetry is not the
	// gateway's to report: keep writing fresh values until one arrives.
	var got string
	for i := 0; got == ""; i++ {
		if i == 500 {
			t.Fatal("no live update within 500 writes")
		}
		if _, err := dev.VirtualWrite(0, fmt.Sprintf("21.%d", i)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sub.Ready():
			us, _ := sub.Take(nil)
			for _, u := range us {
				if u.Kind == syncproto.KindWrite && u.Pin == 0 {
					got = u.Value
				}
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
	if len(got) < 4 || got[:3] != "21." {
		t.Fatalf("live value %q, want one the device wrote", got)
	}
}
