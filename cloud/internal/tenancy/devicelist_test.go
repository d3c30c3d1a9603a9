package tenancy_test

import (
	"testing"

	"outpost/cloud/internal/tenancy"
)

func (w *world) list(a tenancy.Actor, q tenancy.DeviceListQuery) []string {
	w.t.Helper()
	var out []string
	for pages := 0; ; pages++ {
		p, err := w.svc.DeviceList(w.ctx, a, q)
		w.must(err)
		for _, r := range p.Rows {
			out = append(out, r.Name)
		}
		if p.Next == "" || pages > 20 {
			return out
		}
		q.Cursor = p.Next
	}
}

func TestDeviceList(t *testing.T) {
	w := newWorld(t)
	all := tenancy.DeviceListQuery{DeviceQuery: tenancy.DeviceQuery{IncludeSub: true, Page: tenancy.Page{Size: 2}}}
	if got := w.list(w.A, all); !eq(got, []string{"AC", "Boiler", "Pool Heater", "Thermostat-H", "Thermostat-W"}) {
		t.Fatalf("A by name: %v", got)
	}
	desc := all
	desc.Sort, desc.Desc = tenancy.SortOrg, true
	if got := w.list(w.A, desc); !eq(got, []string{"Pool Heater", "AC", "Thermostat-W", "Boiler", "Thermostat-H"}) {
		t.Fatalf("A by org, descending: %v", got)
	}
	// Scope and permissions are the Service's, as for Devices.
	if got := w.list(w.U, all); !eq(got, []string{"AC", "Pool Heater", "Thermostat-H"}) {
		t.Fatalf("U sees %v", got)
	}
	if got := w.list(w.M, all); len(got) != 0 {
		t.Fatalf("default M sees %v", got)
	}
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.us.ID, tenancy.RoleUser, tenancy.NewPermSet(tenancy.OwnDevicesView), tenancy.PushNone))
	if got := w.list(w.M, all); !eq(got, []string{"Pool Heater"}) {
		t.Fatalf("M with own-view sees %v", got)
	}
	other := all
	other.OrgID = w.muller.ID
	_, err := w.svc.DeviceList(w.ctx, w.U, other)
	wantCode(t, err, tenancy.NotFound)

	// The first page's total holds on later pages.
	p, err := w.svc.DeviceList(w.ctx, w.A, all)
	w.must(err)
	if p.Total != 5 || len(p.Rows) != 2 || p.Next == "" {
		t.Fatalf("first page %+v", p)
	}
	next := all
	next.Cursor = p.Next
	p2, err := w.svc.DeviceList(w.ctx, w.A, next)
	w.must(err)
	if p2.Total != 5 || len(p2.Rows) != 2 || p2.Rows[0].Name != "Pool Heater" {
		t.Fatalf("second page %+v", p2)
	}

	// Tags need TAGS_MANAGE: a Staff member (R) may not filter by them.
	tag, err := w.svc.CreateTag(w.ctx, w.A, w.warmPlus.ID, "roof")
	w.must(err)
	w.must(w.svc.SetDeviceTags(w.ctx, w.A, w.boiler.ID, []tenancy.TagID{tag.ID}))
	tagged := all
	tagged.Tags = []tenancy.TagID{tag.ID}
	if got := w.list(w.A, tagged); !eq(got, []string{"Boiler"}) {
		t.Fatalf("tagged: %v", got)
	}
	tagged.OrgID = w.muller.ID
	_, err = w.svc.DeviceList(w.ctx, w.R, tagged)
	wantCode(t, err, tenancy.Forbidden)

	// Locations: set through the Service, then filtered on.
	loc, err := w.svc.CreateLocation(w.ctx, w.A, tenancy.NewLocation{OrgID: w.united.ID, Name: "Plant"})
	w.must(err)
	_, err = w.svc.SetDeviceLocation(w.ctx, w.A, w.boiler.ID, loc.ID) // Muller is not below United
	wantCode(t, err, tenancy.Invalid)
	d, err := w.svc.SetDeviceLocation(w.ctx, w.A, w.pool.ID, loc.ID)
	w.must(err)
	if d.LocationID != loc.ID {
		t.Fatalf("location = %d", d.LocationID)
	}
	at := all
	at.LocationID = loc.ID
	if got := w.list(w.A, at); !eq(got, []string{"Pool Heater"}) {
		t.Fatalf("at Plant: %v", got)
	}
	_, err = w.svc.SetDeviceLocation(w.ctx, w.H, w.pool.ID, 0) // out of H's scope
	wantCode(t, err, tenancy.NotFound)

	// Bad input is Invalid.
	for name, q := range map[string]tenancy.DeviceListQuery{
		"sort":        {Sort: "colour"},
		"status":      {Status: "asleep"},
		"tags":        {Tags: []tenancy.TagID{1, 2, 3, 4, 5, 6}},
		"cursor":      {Cursor: "not a cursor"},
		"other order": {Sort: tenancy.SortOwner, Cursor: p.Next},
		"page size":   {DeviceQuery: tenancy.DeviceQuery{Page: tenancy.Page{Size: 5000}}},
	} {
		_, err := w.svc.DeviceList(w.ctx, w.A, q)
		if tenancy.CodeOf(err) != tenancy.Invalid {
			t.Errorf("%s: error %v, want Invalid", name, err)
		}
	}
}
