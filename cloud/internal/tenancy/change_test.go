package tenancy_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/ulid"
)

// siteView is what of a GatewayView reaches the gateway (siteregistry's
// GatewayTenancy), without the version: what a change must be judged by.
func siteView(v tenancy.GatewayView) []string {
	var out []string
	for _, o := range v.Orgs {
		out = append(out, fmt.Sprint("org", o.ID, o.Name, o.ParentID))
	}
	for _, u := range v.Owners {
		out = append(out, fmt.Sprint("owner", u.ID, u.Name, u.Email, u.OrgID))
	}
	for _, t := range v.Templates {
		out = append(out, fmt.Sprintf("template %s %+v", t.ID, t.Def.ForDevices()))
	}
	for _, d := range v.Devices {
		out = append(out, fmt.Sprint("device", d.UID, d.ID, d.Name, d.TemplateID, d.OrgID, d.OwnerID, hex.EncodeToString(d.TokenHash[:]), v.Meta[d.ID]))
	}
	for _, st := range v.StaticTokens {
		out = append(out, fmt.Sprintf("static %+v", st))
	}
	slices.Sort(out)
	return out
}

// ViewsTouched names exactly the gateways whose view covers what a change
// touched: a device change wakes the sites at or above its org, not the
// others; a template change the sites that hold it (enabled in their
// org, or used by a device below), enabling one site's; a role or tag
// change none. And it is never short: every gateway whose view did change is
// among those named.
func TestViewsTouched(t *testing.T) {
	w := newWorld(t)
	var last tenancy.Change
	calls := 0
	svc, err := tenancy.New(w.ctx, tenancy.Deps{Store: w.store, Hasher: plainHasher{}, Now: w.clock.Now,
		OnChange: func(c tenancy.Change) { calls++; last.Add(c) }}, tenancy.Config{})
	w.must(err)
	sites := map[tenancy.GatewayID]string{}
	for name, org := range map[string]tenancy.OrgID{"root": w.warmPlus.ID, "united": w.united.ID, "us": w.us.ID,
		"canada": w.canada.ID, "muller": w.muller.ID} {
		g, code, _, err := svc.RegisterSite(w.ctx, "Pi "+name)
		w.must(err)
		_, err = svc.ClaimGateway(w.ctx, w.A, code, org)
		w.must(err)
		sites[g.ID] = name
	}
	views := func() map[string][]string {
		m := map[string][]string{}
		for id, name := range sites {
			v, err := svc.GatewayView(w.ctx, id)
			w.must(err)
			m[name] = siteView(v)
		}
		return m
	}
	all := []string{"canada", "muller", "root", "united", "us"}
	var fan, spare tenancy.Template
	gatewayOf := func(name string) tenancy.GatewayID {
		for id, n := range sites {
			if n == name {
				return id
			}
		}
		t.Fatalf("no gateway %q", name)
		return 0
	}
	fanDef := func(name string) datastream.Template {
		return datastream.Template{Name: name, Datastreams: []datastream.Datastream{{Pin: 1, Name: "speed", Type: datastream.Integer}}}
	}
	tests := []struct {
		name string
		do   func() error
		want []string
	}{
		{"device renamed in the US branch", func() error {
			_, err := svc.RenameDevice(w.ctx, w.A, w.pool.ID, "Pool 2")
			return err
		}, []string{"root", "united", "us"}},
		{"metadata of Muller's boiler", func() error {
			_, err := svc.SetDeviceMeta(w.ctx, w.A, w.boiler.ID, "Serial", "42")
			if tenancy.CodeOf(err) == tenancy.NotFound { // no such field in the template: a rename instead
				_, err = svc.RenameDevice(w.ctx, w.A, w.boiler.ID, "Boiler 2")
			}
			return err
		}, []string{"muller", "root"}},
		{"device transferred from the US to Canada", func() error {
			_, err := svc.TransferDevice(w.ctx, w.A, w.pool.ID, tenancy.DeviceTransfer{UserID: w.H.UserID})
			return err
		}, []string{"canada", "root", "united", "us"}},
		{"device created in the US branch", func() error {
			_, err := svc.CreateDevice(w.ctx, w.A, tenancy.NewDevice{TemplateID: w.T.ID, Name: "New", OrgID: w.us.ID})
			return err
		}, []string{"root", "united", "us"}},
		{"Canada renamed", func() error {
			n := "Canada"
			_, err := svc.UpdateOrg(w.ctx, w.A, w.canada.ID, tenancy.OrgUpdate{Name: &n})
			return err
		}, []string{"canada", "root", "united"}},
		{"owner of Muller's boiler renamed", func() error {
			n := "Roberta"
			_, err := svc.UpdateUser(w.ctx, w.A, w.R.UserID, tenancy.UserUpdate{Name: &n})
			return err
		}, []string{"muller", "root"}},
		{"template updated", func() error {
			_, err := svc.UpdateTemplate(w.ctx, w.A, w.T.ID, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater 2",
				Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}})
			return err
		}, all},
		// A template is held where it is enabled (each org its own, not
		// inherited) and where its devices are: a change of it wakes
		// those views only, not its whole tree.
		{"template created: enabled in the root only", func() error {
			var err error
			fan, err = svc.CreateTemplate(w.ctx, w.A, tenancy.NewTemplate{Def: fanDef("Fan")})
			return err
		}, []string{"root"}},
		{"template enabled in United", func() error {
			return svc.SetTemplateEnabled(w.ctx, w.A, w.united.ID, fan.ID, true)
		}, []string{"united"}},
		{"template enabled in the US branch and Muller", func() error {
			if err := svc.SetTemplateEnabled(w.ctx, w.A, w.us.ID, fan.ID, true); err != nil {
				return err
			}
			return svc.SetTemplateEnabled(w.ctx, w.A, w.muller.ID, fan.ID, true)
		}, []string{"muller", "us"}},
		{"device of the template created in the US branch", func() error {
			_, err := svc.CreateDevice(w.ctx, w.A, tenancy.NewDevice{TemplateID: fan.ID, Name: "Fan 1", OrgID: w.us.ID})
			return err
		}, []string{"root", "united", "us"}},
		{"template disabled in Muller and United", func() error {
			if err := svc.SetTemplateEnabled(w.ctx, w.A, w.muller.ID, fan.ID, false); err != nil {
				return err
			}
			return svc.SetTemplateEnabled(w.ctx, w.A, w.united.ID, fan.ID, false)
		}, []string{"muller", "united"}},
		{"template used by the US branch only updated: not Canada, not Muller", func() error {
			_, err := svc.UpdateTemplate(w.ctx, w.A, fan.ID, tenancy.NewTemplate{Def: fanDef("Fan 2")})
			return err
		}, []string{"root", "united", "us"}},
		{"unused template created, enabled in Muller", func() error {
			var err error
			if spare, err = svc.CreateTemplate(w.ctx, w.A, tenancy.NewTemplate{Def: fanDef("Spare")}); err != nil {
				return err
			}
			return svc.SetTemplateEnabled(w.ctx, w.A, w.muller.ID, spare.ID, true)
		}, []string{"muller", "root"}},
		{"unused template deleted: where it was enabled", func() error {
			return svc.DeleteTemplate(w.ctx, w.A, spare.ID)
		}, []string{"muller", "root"}},
		{"the US gateway merges up a device of a template made offline", func() error {
			def := fanDef("Local")
			def.ID = "TMPLLOCALUS1"
			uid, err := ulid.New(w.clock.Now(), rand.Reader)
			if err != nil {
				return err
			}
			res, err := svc.MergeGatewayDevices(w.ctx, gatewayOf("us"), []datastream.Template{def},
				[]tenancy.GatewayDevice{{UID: uid, Name: "Local 1", TemplateID: "TMPLLOCALUS1", TokenHash: sha256.Sum256([]byte(uid))}})
			if err == nil && (len(res.Created) != 1 || len(res.Templates) != 1) {
				err = fmt.Errorf("merge %+v, want the device and its template created", res)
			}
			return err
		}, []string{"root", "united", "us"}},
		{"static token created in the US branch, then claimed into Canada", func() error {
			sts, err := svc.CreateStaticTokens(w.ctx, w.A, w.us.ID, w.T.ID, 1)
			if err != nil {
				return err
			}
			_, err = svc.ClaimStaticToken(w.ctx, w.H, sts[0].QR, "Claimed")
			return err
		}, []string{"canada", "root", "united", "us"}},
		{"Canada moved under Muller", func() error {
			_, err := svc.TransferOrg(w.ctx, w.A, w.canada.ID, w.muller.ID)
			return err
		}, []string{"canada", "muller", "root", "united"}},
		{"tag created", func() error {
			_, err := svc.CreateTag(w.ctx, w.A, w.united.ID, "blue")
			return err
		}, nil},
		{"role renamed", func() error {
			_, err := svc.RenameRole(w.ctx, w.A, tenancy.RoleStaff, "Crew")
			return err
		}, nil},
		{"owner of a Muller device deleted", func() error {
			return svc.DeleteUser(w.ctx, w.A, w.W.UserID)
		}, []string{"muller", "root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := views()
			last, calls = tenancy.Change{}, 0
			w.must(tt.do())
			if calls == 0 {
				t.Fatal("OnChange not called")
			}
			ids, everyone, err := svc.ViewsTouched(w.ctx, last)
			w.must(err)
			if everyone {
				t.Fatalf("change %+v not attributed", last)
			}
			var got []string
			for _, id := range ids {
				if n, ok := sites[id]; ok {
					got = append(got, n)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("woken %v, want %v (change %+v)", got, tt.want, last)
			}
			for name, v := range views() {
				if !reflect.DeepEqual(v, before[name]) && !slices.Contains(got, name) {
					t.Errorf("the view of %s changed but it is not woken", name)
				}
			}
		})
	}
}
