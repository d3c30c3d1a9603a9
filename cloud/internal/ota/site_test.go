package ota_test

import (
	"context"
	"encoding/hex"
	"slices"
	"testing"

	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
)

// SiteShipments: a gateway is sent the live and paused shipments that
// target its devices, named by UID, with the approvals so far; cancelled
// shipments and shipments of devices elsewhere are left out; the image may
// be fetched only while a shipment sent to the gateway names it.
func TestSiteShipments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	site, err := f.ten.CreateOrg(ctx, f.admin, tenancy.NewOrg{ParentID: f.admin.OrgID, Name: "Site"})
	if err != nil {
		t.Fatal(err)
	}
	var here, away []tenancy.Device
	for i := range 3 {
		d, err := f.ten.CreateDevice(ctx, f.admin, tenancy.NewDevice{TemplateID: f.tmpl.ID, OrgID: site.ID, Name: "here" + string(rune('A'+i))})
		if err != nil {
			t.Fatal(err)
		}
		here = append(here, d)
	}
	d, err := f.ten.CreateDevice(ctx, f.admin, tenancy.NewDevice{TemplateID: f.tmpl.ID, Name: "away"})
	if err != nil {
		t.Fatal(err)
	}
	away = append(away, d)
	g, code, _, err := f.ten.RegisterSite(ctx, "gw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ten.ClaimGateway(ctx, f.admin, code, site.ID); err != nil {
		t.Fatal(err)
	}
	view, err := f.ten.GatewayView(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := f.svc.Upload(ctx, f.admin, f.tmpl.ID, "fw.bin", Image(string(f.tmpl.ID), "3.0.0", "b3", 8192))
	if err != nil {
		t.Fatal(err)
	}
	if active, err := f.svc.AnyActive(ctx); err != nil || active {
		t.Fatalf("before any shipment: active %v, %v", active, err)
	}
	all, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "all", FirmwareID: fw.ID, UserControlled: true})
	if err != nil {
		t.Fatal(err)
	}
	one, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "one", FirmwareID: fw.ID, Devices: []tenancy.DeviceID{here[1].ID, away[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "elsewhere", FirmwareID: fw.ID, Devices: []tenancy.DeviceID{away[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "cancelled", FirmwareID: fw.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Change(ctx, f.admin, cancelled.ID, ota.Cancel); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Change(ctx, f.admin, one.ID, ota.Pause); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Approve(ctx, f.admin, all.ID, here[2].ID); err != nil {
		t.Fatal(err)
	}
	if active, err := f.svc.AnyActive(ctx); err != nil || !active {
		t.Fatalf("with shipments: active %v, %v", active, err)
	}
	l, err := f.svc.SiteShipments(ctx, view)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 2 {
		t.Fatalf("%d shipments sent (%+v), want all and one (not %d elsewhere, not cancelled)", len(l.Items), l.Items, elsewhere.ID)
	}
	a, o := l.Items[0], l.Items[1]
	if a.Name != "all" || len(a.Devices) != 0 || !a.UserControlled || len(a.Approved) != 1 || a.Approved[0] != here[2].UID {
		t.Errorf("all: %+v", a)
	}
	if o.Name != "one" || !o.Paused || len(o.Devices) != 1 || o.Devices[0] != here[1].UID {
		t.Errorf("one: %+v", o)
	}
	if a.Firmware.SHA256 != hex.EncodeToString(fw.SHA256[:]) || a.Firmware.Version != "3.0.0" || a.Firmware.Size != 8192 {
		t.Errorf("firmware %+v", a.Firmware)
	}
	if ok, err := f.svc.GatewayMayFetch(ctx, view, fw.SHA256); err != nil || !ok {
		t.Errorf("may fetch the shipped image: %v, %v", ok, err)
	}
	if ok, _ := f.svc.GatewayMayFetch(ctx, view, [32]byte{1}); ok {
		t.Error("may fetch an image no shipment names")
	}
}

// A shipment reaches the views with a device of its template: creating,
// pausing or cancelling one wakes the gateways of those sites (and the
// root's, whose view covers them), not a site where the template is only
// enabled.
func TestShipmentWakesTheSitesWithItsDevices(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gateways := map[tenancy.GatewayID]string{}
	claim := func(name string, org tenancy.OrgID) {
		t.Helper()
		g, code, _, err := f.ten.RegisterSite(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.ten.ClaimGateway(ctx, f.admin, code, org); err != nil {
			t.Fatal(err)
		}
		gateways[g.ID] = name
	}
	claim("root", f.admin.OrgID)
	for _, name := range []string{"with devices", "template only"} {
		site, err := f.ten.CreateOrg(ctx, f.admin, tenancy.NewOrg{ParentID: f.admin.OrgID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if on, err := f.ten.Templates(ctx, f.admin, site.ID, tenancy.Page{}); err != nil || on.Total != 1 {
			t.Fatalf("%s: templates enabled %+v, %v; want the fixture's", name, on, err)
		}
		if name == "with devices" {
			if _, err := f.ten.CreateDevice(ctx, f.admin, tenancy.NewDevice{TemplateID: f.tmpl.ID, OrgID: site.ID, Name: "Boiler"}); err != nil {
				t.Fatal(err)
			}
		}
		claim(name, site.ID)
	}
	fw, err := f.svc.Upload(ctx, f.admin, f.tmpl.ID, "fw.bin", Image(string(f.tmpl.ID), "3.0.0", "b3", 8192))
	if err != nil {
		t.Fatal(err)
	}
	f.changes = nil
	sh, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "all", FirmwareID: fw.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Change(ctx, f.admin, sh.ID, ota.Pause); err != nil {
		t.Fatal(err)
	}
	if len(f.changes) != 2 {
		t.Fatalf("%d changes for a creation and a pause, want 2", len(f.changes))
	}
	for i, c := range f.changes {
		ids, all, err := f.ten.ViewsTouched(ctx, c)
		if err != nil || all {
			t.Fatalf("change %d: ViewsTouched %v (all %v)", i, err, all)
		}
		var got []string
		for _, id := range ids {
			got = append(got, gateways[id])
		}
		slices.Sort(got)
		if want := []string{"root", "with devices"}; !slices.Equal(got, want) {
			t.Errorf("change %d (%+v) wakes %q, want %q", i, c, got, want)
		}
	}
}
