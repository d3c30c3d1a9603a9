package tenancytest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// listFixture is a small fleet with every attribute the console's device
// list filters and sorts on.
type listFixture struct {
	tr         tree
	t1, t2     tenancy.Template
	bob, carol tenancy.User
	loc        tenancy.Location
	tags       [3]tenancy.Tag
	devs       []tenancy.Device
	devTags    map[tenancy.DeviceID][]tenancy.TagID
	orgName    map[tenancy.OrgID]string
	tmplName   map[tenancy.TemplateID]string
	ownerLabel map[tenancy.UserID]string
}

func mkListFixture(t *testing.T, s tenancy.Store) *listFixture {
	ctx := context.Background()
	f := &listFixture{tr: mkTree(t, s), devTags: map[tenancy.DeviceID][]tenancy.TagID{}}
	mkT := func(id, name string) tenancy.Template {
		tm := tenancy.Template{ID: tenancy.TemplateID(id), RootID: f.tr.root.ID, CreatedAt: t0, UpdatedAt: t0,
			Def: datastream.Template{ID: id, Name: name, Datastreams: []datastream.Datastream{{Pin: 1, Name: "v", Type: datastream.Double}}}}
		must(t, s.CreateTemplate(ctx, tm))
		return tm
	}
	f.t1, f.t2 = mkT("TMPLZ", "zeta sensor"), mkT("TMPLA", "Alpha Relay")
	f.bob = mkUser(t, s, f.tr.a1.ID, "bob@example.com", tenancy.RoleUser)
	f.bob.Name = "Bob"
	must(t, s.UpdateUser(ctx, f.bob))
	f.carol = mkUser(t, s, f.tr.b.ID, "carol@example.com", tenancy.RoleUser)
	f.carol.Name = "" // unnamed: listed by email
	must(t, s.UpdateUser(ctx, f.carol))
	f.loc = tenancy.Location{OrgID: f.tr.a.ID, Name: "Plant", CreatedAt: t0}
	must(t, s.CreateLocation(ctx, &f.loc))
	for i, n := range []string{"roof", "cellar", "spare"} {
		f.tags[i] = tenancy.Tag{OrgID: f.tr.root.ID, Name: n}
		must(t, s.CreateTag(ctx, &f.tags[i]))
	}
	orgs := []tenancy.OrgID{f.tr.a.ID, f.tr.a1.ID, f.tr.b.ID, f.tr.root.ID, f.tr.a1.ID}
	names := []string{"Dev %d", "dev %d", "boiler", "Zulu %d", "alpha"} // repeats test the id tie-break
	for i := range 40 {
		org := orgs[i%len(orgs)]
		tm := f.t1
		if i%3 == 0 {
			tm = f.t2
		}
		var owner tenancy.UserID
		switch {
		case org == f.tr.a1.ID && i%2 == 0:
			owner = f.bob.ID
		case org == f.tr.b.ID:
			owner = f.carol.ID
		}
		name := names[i%len(names)]
		if strings.Contains(name, "%d") {
			name = fmt.Sprintf(name, i)
		}
		d := tenancy.Device{OrgID: org, OwnerID: owner, TemplateID: tm.ID, Name: name, Token: fmt.Sprint("tok", i),
			TokenHash: h(fmt.Sprint("tok", i)), CreatedAt: t0, UpdatedAt: t0}
		if i%4 == 1 {
			d.LocationID = f.loc.ID
		}
		must(t, s.CreateDevice(ctx, &d))
		var tags []tenancy.TagID
		if i%2 == 0 {
			tags = append(tags, f.tags[0].ID)
		}
		if i%3 == 0 {
			tags = append(tags, f.tags[1].ID)
		}
		if len(tags) > 0 {
			must(t, s.SetDeviceTags(ctx, d.ID, tags))
		}
		f.devTags[d.ID] = tags
		f.devs = append(f.devs, d)
	}
	f.refreshNames()
	return f
}

func (f *listFixture) refreshNames() {
	f.orgName = map[tenancy.OrgID]string{f.tr.root.ID: f.tr.root.Name, f.tr.a.ID: f.tr.a.Name, f.tr.a1.ID: f.tr.a1.Name, f.tr.b.ID: f.tr.b.Name}
	f.tmplName = map[tenancy.TemplateID]string{f.t1.ID: f.t1.Def.Name, f.t2.ID: f.t2.Def.Name}
	label := func(u tenancy.User) string {
		if u.Name != "" {
			return u.Name
		}
		return u.Email
	}
	f.ownerLabel = map[tenancy.UserID]string{0: "", f.bob.ID: label(f.bob), f.carol.ID: label(f.carol)}
}

// in reports whether org lies in scope in the fixture's tree.
func (f *listFixture) in(sc tenancy.Scope, org tenancy.OrgID) bool {
	if org == sc.OrgID {
		return true
	}
	if !sc.Subtree {
		return false
	}
	switch sc.OrgID {
	case f.tr.root.ID:
		return true
	case f.tr.a.ID:
		return org == f.tr.a1.ID
	}
	return false
}

// want computes the list the store must return, in order.
func (f *listFixture) want(fl tenancy.DeviceFilter) []tenancy.DeviceRow {
	var rows []tenancy.DeviceRow
	for _, d := range f.devs {
		if !f.in(fl.Scope, d.OrgID) || (fl.OwnerID != 0 && d.OwnerID != fl.OwnerID) ||
			(fl.TemplateID != "" && d.TemplateID != fl.TemplateID) || (fl.LocationID != 0 && d.LocationID != fl.LocationID) ||
			(fl.Query != "" && !strings.Contains(strings.ToLower(d.Name), strings.ToLower(fl.Query))) ||
			fl.Status == tenancy.OnlyOnline {
			continue
		}
		if len(fl.Tags) > 0 {
			n := 0
			for _, tg := range fl.Tags {
				if slices.Contains(f.devTags[d.ID], tg) {
					n++
				}
			}
			if n == 0 || (fl.AllTags && n < len(fl.Tags)) {
				continue
			}
		}
		rows = append(rows, tenancy.DeviceRow{Device: d, TemplateName: f.tmplName[d.TemplateID],
			OrgName: f.orgName[d.OrgID], OwnerName: f.ownerLabel[d.OwnerID]})
	}
	sort := cmp.Or(fl.Sort, tenancy.SortName)
	slices.SortFunc(rows, func(a, b tenancy.DeviceRow) int {
		ka, kb := a.Key(sort), b.Key(sort)
		c := cmp.Or(cmp.Compare(strings.ToLower(ka.Text), strings.ToLower(kb.Text)), cmp.Compare(ka.Num, kb.Num), cmp.Compare(ka.ID, kb.ID))
		if fl.Desc {
			return -c
		}
		return c
	})
	return rows
}

// listAll pages through ListDeviceRows with size, checking each page's
// total, and returns every row.
func listAll(t *testing.T, s tenancy.Store, fl tenancy.DeviceFilter, size, total int) []tenancy.DeviceRow {
	t.Helper()
	var out []tenancy.DeviceRow
	fl.Page = tenancy.Page{Size: size}
	sort := cmp.Or(fl.Sort, tenancy.SortName)
	for pages := 0; pages <= 100; pages++ {
		p, err := s.ListDeviceRows(context.Background(), fl)
		must(t, err)
		if !fl.SkipTotal && p.Total != total {
			t.Fatalf("total %d, want %d", p.Total, total)
		}
		if len(p.Rows) > size {
			t.Fatalf("%d rows on a page of %d", len(p.Rows), size)
		}
		out = append(out, p.Rows...)
		if !p.More {
			return out
		}
		k := p.Rows[len(p.Rows)-1].Key(sort)
		fl.After, fl.SkipTotal, fl.KnownTotal = &k, true, total
	}
	t.Fatal("more than 100 pages")
	return nil
}

func rowSummary(rs []tenancy.DeviceRow) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%d:%s/%s/%s/%s/loc%d ", r.ID, r.Name, r.OrgName, r.TemplateName, r.OwnerName, r.LocationID)
	}
	return b.String()
}

func testDeviceList(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	f := mkListFixture(t, s)
	root := tenancy.Scope{OrgID: f.tr.root.ID, Subtree: true}
	cases := []struct {
		name string
		f    tenancy.DeviceFilter
	}{
		{"all", tenancy.DeviceFilter{Scope: root}},
		{"subtree", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: f.tr.a.ID, Subtree: true}}},
		{"single org", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: f.tr.a1.ID}}},
		{"owner", tenancy.DeviceFilter{Scope: root, OwnerID: f.bob.ID}},
		{"template", tenancy.DeviceFilter{Scope: root, TemplateID: f.t2.ID}},
		{"location", tenancy.DeviceFilter{Scope: root, LocationID: f.loc.ID}},
		{"search", tenancy.DeviceFilter{Scope: root, Query: "DEV 1"}},
		{"search literal %", tenancy.DeviceFilter{Scope: root, Query: "%"}},
		{"online", tenancy.DeviceFilter{Scope: root, Status: tenancy.OnlyOnline}},
		{"offline", tenancy.DeviceFilter{Scope: root, Status: tenancy.OnlyOffline}},
		{"any tag", tenancy.DeviceFilter{Scope: root, Tags: []tenancy.TagID{f.tags[0].ID, f.tags[1].ID}}},
		{"all tags", tenancy.DeviceFilter{Scope: root, Tags: []tenancy.TagID{f.tags[0].ID, f.tags[1].ID}, AllTags: true}},
		{"all tags, one repeated", tenancy.DeviceFilter{Scope: root, Tags: []tenancy.TagID{f.tags[1].ID, f.tags[1].ID}, AllTags: true}},
		{"unused tag", tenancy.DeviceFilter{Scope: root, Tags: []tenancy.TagID{f.tags[2].ID}}},
		{"all tags, rarer last", tenancy.DeviceFilter{Scope: root, Tags: []tenancy.TagID{f.tags[1].ID, f.tags[0].ID}, AllTags: true}},
		{"all tags, one unused", tenancy.DeviceFilter{Scope: root, Tags: []tenancy.TagID{f.tags[0].ID, f.tags[2].ID}, AllTags: true}},
		{"combined", tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: f.tr.a.ID, Subtree: true}, TemplateID: f.t1.ID,
			Tags: []tenancy.TagID{f.tags[0].ID}, Status: tenancy.OnlyOffline}},
	}
	sorts := []tenancy.DeviceSort{"", tenancy.SortName, tenancy.SortStatus, tenancy.SortLastReported, tenancy.SortTemplate, tenancy.SortOrg, tenancy.SortOwner}
	for i, c := range cases {
		sorts := sorts
		if i >= 3 { // filters: the sort matrix is covered above
			sorts = []tenancy.DeviceSort{tenancy.SortName, tenancy.SortOwner}
		}
		for _, sort := range sorts {
			for _, desc := range []bool{false, true} {
				fl := c.f
				fl.Sort, fl.Desc = sort, desc
				want := f.want(fl)
				sizes := []int{4, 100}
				if c.name == "all" {
					sizes = append(sizes, 1)
				}
				for _, size := range sizes {
					got := listAll(t, s, fl, size, len(want))
					// Rows carry the device as stored and the list's columns.
					if rowSummary(got) != rowSummary(want) {
						t.Fatalf("%s sort %q desc %v size %d:\ngot  %s\nwant %s", c.name, sort, desc, size, rowSummary(got), rowSummary(want))
					}
					for i := range got {
						if got[i].Online || !got[i].LastReported.IsZero() || !equalJSON(got[i].Device, want[i].Device) {
							t.Fatalf("%s: row %+v, want %+v", c.name, got[i], want[i])
						}
					}
				}
			}
		}
	}

	// Renames and owner changes reach the list's columns and order.
	f.tr.b.Name = "AAA first"
	must(t, s.UpdateOrg(ctx, f.tr.b))
	f.t1.Def.Name = "Beta sensor"
	must(t, s.UpdateTemplate(ctx, f.t1))
	f.carol.Name = "Carol"
	must(t, s.UpdateUser(ctx, f.carol))
	moved := f.devs[0]
	moved.OwnerID, moved.OrgID = f.carol.ID, f.tr.b.ID
	must(t, s.UpdateDevice(ctx, moved))
	f.devs[0] = moved
	f.refreshNames()
	for _, sort := range []tenancy.DeviceSort{tenancy.SortOrg, tenancy.SortTemplate, tenancy.SortOwner} {
		fl := tenancy.DeviceFilter{Scope: root, Sort: sort}
		want := f.want(fl)
		if got := listAll(t, s, fl, 100, len(want)); rowSummary(got) != rowSummary(want) {
			t.Fatalf("after renames, sort %q:\ngot  %s\nwant %s", sort, rowSummary(got), rowSummary(want))
		}
	}

	// A second root, empty and then with a device: its devices are in no
	// scope of the first, even with the first root's tags on them (a
	// store may skip the scope test while one root holds every device).
	other := mkOrg(t, s, 0, "Other Root")
	for _, withDevice := range []bool{false, true} {
		if withDevice {
			od := tenancy.Device{OrgID: other.ID, TemplateID: f.t1.ID, Name: "Dev 1 other", Token: "tok-other", TokenHash: h("tok-other"),
				CreatedAt: t0, UpdatedAt: t0}
			must(t, s.CreateDevice(ctx, &od))
			must(t, s.SetDeviceTags(ctx, od.ID, []tenancy.TagID{f.tags[0].ID, f.tags[1].ID}))
		}
		for _, c := range cases {
			for _, sort := range []tenancy.DeviceSort{tenancy.SortName, tenancy.SortStatus} {
				fl := c.f
				fl.Sort = sort
				want := f.want(fl)
				for _, size := range []int{4, 100} {
					if got := listAll(t, s, fl, size, len(want)); rowSummary(got) != rowSummary(want) {
						t.Fatalf("with a second root (device %v), %s sort %s size %d:\ngot  %s\nwant %s", withDevice, c.name, sort, size,
							rowSummary(got), rowSummary(want))
					}
				}
			}
		}
	}

	// A deleted location leaves its devices without one.
	must(t, s.DeleteLocation(ctx, f.loc.ID))
	p, err := s.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: root, LocationID: f.loc.ID})
	must(t, err)
	if p.Total != 0 || len(p.Rows) != 0 {
		t.Fatalf("devices still at a deleted location: %+v", p)
	}
	d, err := s.GetDevice(ctx, f.devs[1].ID)
	must(t, err)
	if d.LocationID != 0 {
		t.Fatalf("location %d survived its deletion", d.LocationID)
	}
}
