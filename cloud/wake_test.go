package cloud

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// wakeSite is one org with a device and a gateway claimed into it.
type wakeSite struct {
	org    tenancy.Org
	device tenancy.Device
	gw     *fakeGateway
}

// wakeWorld makes n sibling orgs under the root, each with a device and a
// connected gateway (site i connected to at[i%len(at)]), and one gateway
// claimed into the root, connected to at[0], whose view covers them all.
func wakeWorld(t *testing.T, n int, at ...*syncEnv) (sites []wakeSite, root *fakeGateway) {
	t.Helper()
	ctx := context.Background()
	e := at[0]
	svc := e.s.svc
	tm, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}})
	if err != nil {
		t.Fatal(err)
	}
	connect := func(env *syncEnv, org tenancy.OrgID) *fakeGateway {
		t.Helper()
		// Claimed through the instance it connects to: the claim's own
		// wake is over before it connects.
		reg := env.register(fmt.Sprint("Pi ", org))
		if _, err := env.s.svc.ClaimGateway(ctx, env.admin, reg.ClaimCode, org); err != nil {
			t.Fatal(err)
		}
		gw := env.connect(reg, 1)
		gw.must(syncproto.TypeSnapshot)
		return gw
	}
	for i := range n {
		o, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.admin.OrgID, Name: fmt.Sprint("Site ", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetTemplateEnabled(ctx, e.admin, o.ID, tm.ID, true); err != nil {
			t.Fatal(err)
		}
		d, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler", OrgID: o.ID})
		if err != nil {
			t.Fatal(err)
		}
		env := at[i%len(at)]
		poll.Until(t, "the instance to know the org", func() bool { return env.s.svc.Tree().Has(o.ID) })
		sites = append(sites, wakeSite{org: o, device: d, gw: connect(env, o.ID)})
	}
	return sites, connect(e, e.admin.OrgID)
}

// wakes is the connections woken and views read on every instance.
func wakes(envs ...*syncEnv) (woken, reads int64) {
	for _, e := range envs {
		woken += e.s.sync.Wakes()
		reads += e.s.sync.ViewReads()
	}
	return woken, reads
}

// renameAndWait renames site's device through env and waits until the
// site's gateway and the root's got the delta.
func renameAndWait(t *testing.T, env *syncEnv, site wakeSite, root *fakeGateway, name string) {
	t.Helper()
	if _, err := env.s.svc.RenameDevice(context.Background(), env.admin, site.device.ID, name); err != nil {
		t.Fatal(err)
	}
	for _, gw := range []*fakeGateway{site.gw, root} {
		if d := gw.must(syncproto.TypeDelta).Delta; len(d.Devices) != 1 || d.Devices[0].Name != name {
			t.Fatalf("delta %+v, want the device renamed %q", d, name)
		}
	}
}

// checkTargetedWakes: with many gateways connected, a change to one org's
// device wakes only the gateways whose view covers it — the org's and the
// root's — and they alone read their view; the others get nothing.
func checkTargetedWakes(t *testing.T, envs ...*syncEnv) {
	const n = 12
	sites, root := wakeWorld(t, n, envs...)
	w0, r0 := wakes(envs...)
	// Site 7 is on the last instance, site 2 on the first: each change is
	// made on the other one.
	renameAndWait(t, envs[0], sites[7], root, "Boiler 7")
	renameAndWait(t, envs[len(envs)-1], sites[2], root, "Boiler 2")
	w, r := wakes(envs...)
	if w-w0 != 4 {
		t.Errorf("%d gateway connections woken for two one-site changes among %d gateways, want 4", w-w0, n+1)
	}
	// The reads happen before the deltas are sent; any other read
	// would have been started by a wake counted above.
	if r-r0 != 4 {
		t.Errorf("%d views read for two one-site changes, want 4", r-r0)
	}
	checkTemplateWakes(t, envs, sites[7], root)
	// The other sites' gateways got nothing: a change every view covers
	// reaches each of them first.
	if _, err := envs[0].s.svc.UpdateTemplate(context.Background(), envs[0].admin, sites[0].device.TemplateID,
		tenancy.NewTemplate{Def: datastream.Template{Name: "Heater 2", Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}}); err != nil {
		t.Fatal(err)
	}
	for i, s := range sites {
		d := s.gw.must(syncproto.TypeDelta).Delta
		if len(d.Templates) != 1 || len(d.Devices) != 0 {
			t.Fatalf("site %d: first delta after the template change %+v, want the template only", i, d)
		}
	}
	if m := get(t, envs[0].s.URL()+"/metrics"); !slices.Contains(strings.Split(m, "\n"), "outpost_cloud_tenancy_wakes_all_total 0") {
		t.Errorf("a change was not attributed:\n%s", grepLines(m, "outpost_cloud_tenancy"))
	}
}

// checkTemplateWakes: a template enabled in site's org and used by its
// device only — not enabled in the company's other sites — is held by
// site's view and the root's: its edit, made on the first instance,
// wakes those two gateways among all, wherever they are connected.
func checkTemplateWakes(t *testing.T, envs []*syncEnv, site wakeSite, root *fakeGateway) {
	t.Helper()
	ctx := context.Background()
	svc, admin := envs[0].s.svc, envs[0].admin
	def := func(name string) datastream.Template {
		return datastream.Template{Name: name, Datastreams: []datastream.Datastream{{Pin: 2, Name: "speed", Type: datastream.Integer}}}
	}
	delta := func(gw *fakeGateway, step string, templates, devices int) {
		t.Helper()
		if d := gw.must(syncproto.TypeDelta).Delta; len(d.Templates) != templates || len(d.Devices) != devices {
			t.Fatalf("%s: delta %+v, want %d templates and %d devices", step, d, templates, devices)
		}
	}
	fan, err := svc.CreateTemplate(ctx, admin, tenancy.NewTemplate{Def: def("Fan")})
	if err != nil {
		t.Fatal(err)
	}
	delta(root, "created in the root", 1, 0)
	if err := svc.SetTemplateEnabled(ctx, admin, site.org.ID, fan.ID, true); err != nil {
		t.Fatal(err)
	}
	delta(site.gw, "enabled in the site", 1, 0)
	if _, err := svc.CreateDevice(ctx, admin, tenancy.NewDevice{TemplateID: fan.ID, Name: "Fan", OrgID: site.org.ID}); err != nil {
		t.Fatal(err)
	}
	delta(site.gw, "device created", 0, 1)
	delta(root, "device created", 0, 1)
	w0, r0 := wakes(envs...)
	if _, err := svc.UpdateTemplate(ctx, admin, fan.ID, tenancy.NewTemplate{Def: def("Fan 2")}); err != nil {
		t.Fatal(err)
	}
	delta(site.gw, "template updated", 1, 0)
	delta(root, "template updated", 1, 0)
	if w, r := wakes(envs...); w-w0 != 2 || r-r0 != 2 {
		t.Errorf("an edit of a template one site holds woke %d gateways and read %d views, want 2 and 2 (the site's and the root's)", w-w0, r-r0)
	}
}

// manySites lets one address register many gateways.
func manySites(c *Config) { c.Gateways.RegisterPerMinute = -1 }

func TestTenancyChangeWakesOnlyCoveringGateways(t *testing.T) {
	checkTargetedWakes(t, runEnv(t, manySites))
}

// Across two instances on PostgreSQL: the gateways are spread over both;
// a change made on either wakes the covering gateways wherever they are
// connected, and no other.
func TestTenancyChangeWakesOnlyCoveringGatewaysAcrossInstances(t *testing.T) {
	dsn := pgtest.Database(t)
	pg := func(c *Config) { manySites(c); c.Store.Driver, c.Store.DSN, c.Store.MaxConns = "postgres", dsn, 8 }
	checkTargetedWakes(t, runEnv(t, pg), runEnv(t, pg))
}
