package tenancytest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

func testTemplates(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	mkTemplate(t, s, tr.root.ID, "TMPL2")
	wantCode(t, s.CreateTemplate(ctx, tm), tenancy.Conflict)
	got, err := s.GetTemplate(ctx, tm.ID)
	must(t, err)
	if !equalJSON(got, tm) {
		t.Fatalf("GetTemplate = %+v, want %+v", got, tm)
	}
	tm.Def.Datastreams = append(tm.Def.Datastreams, datastream.Datastream{Pin: 2, Name: "on", Type: datastream.Boolean})
	tm.Description = "two pins"
	must(t, s.UpdateTemplate(ctx, tm))
	got, _ = s.GetTemplate(ctx, tm.ID)
	if !equalJSON(got, tm) {
		t.Fatalf("after update = %+v", got)
	}
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, true))
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, true)) // idempotent
	on, err := s.TemplateEnabled(ctx, tr.a.ID, tm.ID)
	must(t, err)
	off, _ := s.TemplateEnabled(ctx, tr.b.ID, tm.ID)
	if !on || off {
		t.Fatalf("enabled a=%v b=%v", on, off)
	}
	l, err := s.ListTemplates(ctx, tenancy.TemplateFilter{RootID: tr.root.ID, EnabledIn: tr.a.ID, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 || l.Items[0].ID != tm.ID {
		t.Fatalf("enabled in a = %+v", l)
	}
	l, _ = s.ListTemplates(ctx, tenancy.TemplateFilter{RootID: tr.root.ID, Page: tenancy.Page{Size: 10}})
	if l.Total != 2 {
		t.Fatalf("all templates = %d", l.Total)
	}
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, false))
	on, _ = s.TemplateEnabled(ctx, tr.a.ID, tm.ID)
	if on {
		t.Fatal("still enabled after disable")
	}
	must(t, s.DeleteTemplate(ctx, "TMPL2"))
	_, err = s.GetTemplate(ctx, "TMPL2")
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.DeleteTemplate(ctx, "TMPL2"), tenancy.NotFound)
}

// TemplateOrgs follows enabling, devices created, moved with their org
// and deleted, and the template's deletion; another template's orgs stay
// apart.
func testTemplateOrgs(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	tm2 := mkTemplate(t, s, tr.root.ID, "TMPL2")
	check := func(step string, id tenancy.TemplateID, enabled, used []tenancy.OrgID) {
		t.Helper()
		got, err := s.TemplateOrgs(ctx, id)
		must(t, err)
		if !sameIDs(got.Enabled, enabled) || !sameIDs(got.Used, used) {
			t.Fatalf("%s: TemplateOrgs(%s) = %+v, want enabled %v used %v", step, id, got, enabled, used)
		}
		if !slices.IsSorted(got.Enabled) || !slices.IsSorted(got.Used) {
			t.Fatalf("%s: TemplateOrgs(%s) = %+v, not in id order", step, id, got)
		}
	}
	check("new", tm.ID, nil, nil)
	must(t, s.SetTemplateEnabled(ctx, tr.root.ID, tm.ID, true))
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, true))
	d := mkDevice(t, s, tr.a1.ID, 0, tm.ID, "Pool Heater")
	mkDevice(t, s, tr.b.ID, 0, tm2.ID, "Boiler")
	check("enabled, a device in a1", tm.ID, []tenancy.OrgID{tr.root.ID, tr.a.ID}, []tenancy.OrgID{tr.root.ID, tr.a.ID, tr.a1.ID})
	check("the other template", tm2.ID, nil, []tenancy.OrgID{tr.root.ID, tr.b.ID})
	must(t, s.MoveOrg(ctx, tr.a1.ID, tr.b.ID))
	check("a1 moved under b", tm.ID, []tenancy.OrgID{tr.root.ID, tr.a.ID}, []tenancy.OrgID{tr.root.ID, tr.a1.ID, tr.b.ID})
	d, err := s.GetDevice(ctx, d.ID)
	must(t, err)
	d.OrgID = tr.a.ID
	must(t, s.UpdateDevice(ctx, d))
	check("device moved to a", tm.ID, []tenancy.OrgID{tr.root.ID, tr.a.ID}, []tenancy.OrgID{tr.root.ID, tr.a.ID})
	must(t, s.DeleteDevice(ctx, d.ID))
	must(t, s.SetTemplateEnabled(ctx, tr.a.ID, tm.ID, false))
	check("device deleted, disabled in a", tm.ID, []tenancy.OrgID{tr.root.ID}, nil)
	must(t, s.DeleteTemplate(ctx, tm.ID))
	check("template deleted", tm.ID, nil, nil)
	check("never existed", "TMPLNONE", nil, nil)
	check("the other template still", tm2.ID, nil, []tenancy.OrgID{tr.root.ID, tr.b.ID})
}

func testDevices(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	tm2 := mkTemplate(t, s, tr.root.ID, "TMPL2")
	u := mkUser(t, s, tr.a1.ID, "own@example.com", tenancy.RoleUser)
	d1 := mkDevice(t, s, tr.a1.ID, u.ID, tm.ID, "Pool Heater")
	d2 := mkDevice(t, s, tr.a.ID, 0, tm.ID, "AC")
	d3 := mkDevice(t, s, tr.b.ID, 0, tm2.ID, "Boiler")
	got, err := s.GetDevice(ctx, d1.ID)
	must(t, err)
	if !equalJSON(got, d1) {
		t.Fatalf("GetDevice = %+v, want %+v", got, d1)
	}
	got, err = s.GetDeviceByTokenHash(ctx, h("tok-AC"))
	must(t, err)
	if got.ID != d2.ID {
		t.Fatalf("by token = %+v", got)
	}
	_, err = s.GetDeviceByTokenHash(ctx, h("nope"))
	wantCode(t, err, tenancy.NotFound)
	dup := d3
	dup.ID = 0
	wantCode(t, s.CreateDevice(ctx, &dup), tenancy.Conflict)

	list := func(f tenancy.DeviceFilter) []tenancy.DeviceID {
		t.Helper()
		f.Page.Size = 50
		l, err := s.ListDevices(ctx, f)
		must(t, err)
		var ids []tenancy.DeviceID
		for _, d := range l.Items {
			ids = append(ids, d.ID)
		}
		if l.Total != len(ids) {
			t.Fatalf("ListDevices(%+v): total %d, items %d", f, l.Total, len(ids))
		}
		return ids
	}
	for _, c := range []struct {
		name string
		f    tenancy.DeviceFilter
		want []tenancy.DeviceID
	}{
		{"root subtree", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}, []tenancy.DeviceID{d1.ID, d2.ID, d3.ID}},
		{"root alone", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID}}, nil},
		{"a subtree", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}}, []tenancy.DeviceID{d1.ID, d2.ID}},
		{"a alone", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}}, []tenancy.DeviceID{d2.ID}},
		{"owner in scope", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, OwnerID: u.ID}, []tenancy.DeviceID{d1.ID}},
		{"owner out of scope", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}, OwnerID: u.ID}, nil},
		{"owner single org", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a1.ID}, OwnerID: u.ID}, []tenancy.DeviceID{d1.ID}},
		{"template", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, TemplateID: tm2.ID}, []tenancy.DeviceID{d3.ID}},
		{"query", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "heat"}, []tenancy.DeviceID{d1.ID}},
		{"query NUL", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "\x00"}, nil},
		{"query NUL after text", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "heat\x00zzz"}, nil},
	} {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// Moves keep per-scope counts right.
	d2.OrgID, d2.OwnerID, d2.Name = tr.b.ID, u.ID, "AC moved"
	must(t, s.UpdateDevice(ctx, d2))
	got, _ = s.GetDevice(ctx, d2.ID)
	if !equalJSON(got, d2) {
		t.Fatalf("after update = %+v, want %+v", got, d2)
	}
	if ids := list(tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}}); len(ids) != 2 {
		t.Fatalf("b after move: %v", ids)
	}
	for _, d := range []*tenancy.Device{&d1, &d2} {
		got, err := s.GetDevice(ctx, d.ID)
		must(t, err)
		got.OrgID = tr.a.ID
		must(t, s.UpdateDevice(ctx, got))
	}
	if ids := list(tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}}); !sameIDs(ids, []tenancy.DeviceID{d1.ID, d2.ID}) {
		t.Fatalf("a after owner move: %v", ids)
	}
	n, err := s.ClearOwner(ctx, u.ID)
	must(t, err)
	if n != 2 {
		t.Fatalf("ClearOwner = %d, want 2", n)
	}
	got, _ = s.GetDevice(ctx, d1.ID)
	if got.OwnerID != 0 || got.OrgID != tr.a.ID {
		t.Fatalf("after ClearOwner: %+v", got)
	}
	// Deleting a user clears ownership rather than deleting devices.
	v := mkUser(t, s, tr.b.ID, "v@example.com", tenancy.RoleUser)
	d3.OwnerID = v.ID
	must(t, s.UpdateDevice(ctx, d3))
	must(t, s.DeleteUser(ctx, v.ID))
	got, err = s.GetDevice(ctx, d3.ID)
	must(t, err)
	if got.OwnerID != 0 {
		t.Fatalf("device keeps deleted owner: %+v", got)
	}
	usage, _ := s.OrgUsage(ctx, tr.a.ID)
	if usage.Devices != 2 {
		t.Fatalf("OrgUsage(a).Devices = %d", usage.Devices)
	}
	must(t, s.DeleteDevice(ctx, d1.ID))
	wantCode(t, s.DeleteDevice(ctx, d1.ID), tenancy.NotFound)
	_, err = s.GetDevice(ctx, d1.ID)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.UpdateDevice(ctx, d1), tenancy.NotFound)
	if ids := list(tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}); len(ids) != 2 {
		t.Fatalf("after delete: %v", ids)
	}
}

// testDevicePaging checks that keyset and offset pages cover a scope
// exactly once, in id order, for dense and sparse scopes alike (a store
// may use different plans for them).
func testDevicePaging(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	u := mkUser(t, s, tr.a1.ID, "p@example.com", tenancy.RoleUser)
	want := map[tenancy.OrgID][]tenancy.DeviceID{}
	var owned []tenancy.DeviceID
	orgs := []tenancy.OrgID{tr.b.ID, tr.b.ID, tr.b.ID, tr.a1.ID, tr.b.ID, tr.a.ID, tr.b.ID}
	for i := range 140 {
		org := orgs[i%len(orgs)]
		var owner tenancy.UserID
		if org == tr.a1.ID && i%2 == 0 {
			owner = u.ID
		}
		d := mkDevice(t, s, org, owner, tm.ID, fmt.Sprintf("dev%03d", i))
		want[org] = append(want[org], d.ID)
		if owner != 0 {
			owned = append(owned, d.ID)
		}
	}
	all := slices.Concat(want[tr.b.ID], want[tr.a1.ID], want[tr.a.ID])
	slices.Sort(all)
	aSub := slices.Concat(want[tr.a1.ID], want[tr.a.ID])
	slices.Sort(aSub)
	for _, c := range []struct {
		name string
		f    tenancy.DeviceFilter
		want []tenancy.DeviceID
	}{
		{"dense", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}, all},
		{"sparse", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}}, aSub},
		{"single", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.b.ID}}, want[tr.b.ID]},
		{"owner", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, OwnerID: u.ID}, owned},
	} {
		for _, size := range []int{1, 7, 50, 1000} {
			var keyset, offset []tenancy.DeviceID
			f := c.f
			f.Page = tenancy.Page{Size: size}
			for pages := 0; ; pages++ {
				l, err := s.ListDevices(ctx, f)
				must(t, err)
				if l.Total != len(c.want) {
					t.Fatalf("%s size %d: total %d, want %d", c.name, size, l.Total, len(c.want))
				}
				for _, d := range l.Items {
					keyset = append(keyset, d.ID)
				}
				if l.Next == 0 || pages > 200 {
					break
				}
				f.Page.After = l.Next
			}
			for n := 0; n < 200; n++ {
				f := c.f
				f.Page = tenancy.Page{Number: n, Size: size}
				l, err := s.ListDevices(ctx, f)
				must(t, err)
				if len(l.Items) == 0 {
					break
				}
				for _, d := range l.Items {
					offset = append(offset, d.ID)
				}
			}
			if !slices.Equal(keyset, c.want) || !slices.Equal(offset, c.want) {
				t.Fatalf("%s size %d:\nkeyset %v\noffset %v\nwant   %v", c.name, size, keyset, offset, c.want)
			}
		}
	}
}

func testDeviceMeta(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	d := mkDevice(t, s, tr.a1.ID, 0, tm.ID, "in a1")
	other := mkDevice(t, s, tr.b.ID, 0, tm.ID, "in b")
	bare := mkDevice(t, s, tr.a.ID, 0, tm.ID, "no metadata")
	t1 := t0.Add(time.Minute + 123*time.Millisecond)
	serial := tenancy.DeviceMeta{Name: "Serial", Value: "SN-1", UpdatedAt: t0, UpdatedBy: 7}
	contact := tenancy.DeviceMeta{Name: "Contact", Value: "ops@example.com", UpdatedAt: t0}
	must(t, s.SetDeviceMeta(ctx, d.ID, serial))
	must(t, s.SetDeviceMeta(ctx, d.ID, contact))
	must(t, s.SetDeviceMeta(ctx, other.ID, serial))
	serial.Value, serial.UpdatedAt, serial.UpdatedBy = "SN-2", t1, 0
	must(t, s.SetDeviceMeta(ctx, d.ID, serial)) // replaces
	got, err := s.DeviceMeta(ctx, d.ID)
	must(t, err)
	if want := []tenancy.DeviceMeta{contact, serial}; !slices.EqualFunc(got, want, func(a, b tenancy.DeviceMeta) bool {
		return a.Name == b.Name && a.Value == b.Value && a.UpdatedAt.Equal(b.UpdatedAt) && a.UpdatedBy == b.UpdatedBy
	}) {
		t.Fatalf("DeviceMeta = %+v, want %+v (by name)", got, want)
	}
	if got, err := s.DeviceMeta(ctx, bare.ID); err != nil || len(got) != 0 {
		t.Fatalf("DeviceMeta of a device without = %+v, %v", got, err)
	}
	sub, err := s.SubtreeDeviceMeta(ctx, tr.a.ID)
	must(t, err)
	if len(sub) != 1 || len(sub[d.ID]) != 2 || sub[d.ID][1].Value != "SN-2" {
		t.Fatalf("SubtreeDeviceMeta(a) = %+v", sub)
	}
	sub, err = s.SubtreeDeviceMeta(ctx, tr.root.ID)
	must(t, err)
	if len(sub) != 2 || len(sub[other.ID]) != 1 {
		t.Fatalf("SubtreeDeviceMeta(root) = %+v", sub)
	}
	wantCode(t, s.SetDeviceMeta(ctx, 99999, serial), tenancy.NotFound)
	must(t, s.DeleteDevice(ctx, d.ID))
	if sub, _ := s.SubtreeDeviceMeta(ctx, tr.a.ID); len(sub) != 0 {
		t.Fatalf("a deleted device's metadata remains: %+v", sub)
	}
}
