package ota_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/ota"
	"outpost/internal/poll"
	"outpost/shared/syncproto"
)

// offerCounter counts the offers a connection receives.
type offerCounter struct{ n atomic.Int32 }

func (c *offerCounter) Transport() string { return "test" }
func (c *offerCounter) Close()            {}
func (c *offerCounter) Deliver(dl hub.Delivery) {
	if dl.Kind == hub.DeliverOTA {
		c.n.Add(1)
	}
}

// Which devices are offered the update, and which status each gets: the
// rule, the firmware type, user control and approval, pause, the window.
func TestWhoIsOffered(t *testing.T) {
	img := image("2.0.0", "new", 4096)
	fw := firmwareOf(img, "2.0.0", "new")
	// 03:00 UTC: night in UTC, evening in Los Angeles (19:00 the day before).
	at := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		sh      func(*syncproto.Shipment, string)
		info    []string
		zone    string
		offered bool
		status  string
	}{
		{"lower version", func(*syncproto.Shipment, string) {}, []string{"mcu", "1.9.9", "fw-type", tmplID, "build", "b"}, "", true, ota.StRequestSent},
		{"same version", func(*syncproto.Shipment, string) {}, []string{"mcu", "2.0.0", "fw-type", tmplID, "build", "b"}, "", false, ota.StUpToDate},
		{"newer version", func(*syncproto.Shipment, string) {}, []string{"mcu", "2.1.0", "fw-type", tmplID, "build", "b"}, "", false, ota.StUpToDate},
		{"other build rule", func(s *syncproto.Shipment, _ string) { s.Rule = "other_build" }, []string{"mcu", "2.1.0", "fw-type", tmplID, "build", "b"}, "", true, ota.StRequestSent},
		{"type mismatch", func(*syncproto.Shipment, string) {}, []string{"mcu", "1.0.0", "fw-type", "TMPLelse", "build", "b"}, "", false, ota.StTypeMismatch},
		{"user controlled", func(s *syncproto.Shipment, _ string) { s.UserControlled = true }, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "b"}, "", false, ota.StAwaitingUser},
		{"approved", func(s *syncproto.Shipment, uid string) {
			s.UserControlled, s.Approved, s.Window = true, []string{uid}, "morning"
		}, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "b"}, "", true, ota.StRequestSent},
		{"paused", func(s *syncproto.Shipment, _ string) { s.Paused = true }, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "b"}, "", false, ""},
		{"window open", func(s *syncproto.Shipment, _ string) { s.Window = "night" }, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "b"}, "", true, ota.StRequestSent},
		{"window closed", func(s *syncproto.Shipment, _ string) { s.Window = "morning" }, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "b"}, "", false, ""},
		{"window in the device's zone", func(s *syncproto.Shipment, _ string) { s.Window = "evening" }, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "b"}, "America/Los_Angeles", true, ota.StRequestSent},
		{"MQTT info", func(*syncproto.Shipment, string) {}, []string{"tmpl", tmplID, "ver", "1.0.0", "build", "b", "type", tmplID}, "", true, ota.StRequestSent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, img, 0, func(o *ota.Options) { o.Now = func() time.Time { return at } })
			ctx := context.Background()
			d := e.d
			dev := e.addDevices(t, 1, flashOK)[0]
			if tc.zone != "" {
				if err := e.hub.SetMeta(dev.id, "Time Zone", tc.zone, "test"); err != nil {
					t.Fatal(err)
				}
			}
			sh := syncproto.Shipment{ID: "1", Name: "v2", TemplateID: tmplID, Window: "any", Rule: "lower_version", Attempts: 3, Firmware: fw}
			tc.sh(&sh, dev.uid)
			// A control shipment that always offers: once its device got
			// the offer, the step that judged ours has run too.
			ctl := syncproto.Shipment{ID: "2", Name: "ctl", TemplateID: ctlTmplID, Window: "any", Rule: "lower_version", Attempts: 3, Firmware: fw}
			ctlDev := e.addDevicesOf(t, ctlTmplID, 1, flashOK)[0]
			if err := d.ApplyShipments(ctx, syncproto.Shipments{Items: []syncproto.Shipment{sh, ctl}}); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, "the image cached", d.Fetched)
			c := &offerCounter{}
			e.hub.Attach(dev.id, c)
			e.hub.SetInfo(dev.id, tc.info, "test")
			cc := &offerCounter{}
			e.hub.Attach(ctlDev.id, cc)
			e.hub.SetInfo(ctlDev.id, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "b"}, "test")
			poll.Until(t, "the control device's offer", func() bool { return cc.n.Load() > 0 })
			if got := d.Status("1", dev.uid); got != tc.status {
				t.Errorf("status %q, want %q", got, tc.status)
			}
			if got := c.n.Load() > 0; got != tc.offered {
				t.Errorf("offered = %v, want %v (status %q)", got, tc.offered, d.Status("1", dev.uid))
			}
		})
	}
}
