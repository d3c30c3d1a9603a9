package sitetest

import (
	"fmt"
	"testing"
	"time"

	"outpost/shared/datastream"
	"outpost/shared/devicesim"
	"outpost/shared/syncproto"
)

// TestDeviceWriteReachesLiveFeed: a device connected to a gateway writes a
// value; the gateway syncs it to the cloud, which publishes it to the live
// feed's subscribers of that device.
func TestDeviceWriteReachesLiveFeed(t *testing.T) {
	s := startSite(t, datastream.Template{ID: "TMPLSITE", Name: "Site sensor",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}}})
	ctx, c, g := s.ctx, s.c, s.g
	sub := c.LiveFeed().Subscribe(s.uid)
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
		if _, err := dev.VirtualWrite(0, fmt.Sprintf("21.%d5", i)); err != nil { // no trailing zero for normalising to drop
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
