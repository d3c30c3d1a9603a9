package tenancy_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

func TestGatewayCredentialAndView(t *testing.T) {
	w := newWorld(t)
	g, code, cred, err := w.svc.RegisterSite(w.ctx, "Pi at United")
	w.must(err)
	_, err = w.svc.AuthenticateGateway(w.ctx, cred)
	wantCode(t, err, tenancy.Forbidden) // known, not claimed yet
	_, err = w.svc.AuthenticateGateway(w.ctx, "gwc_wrong")
	wantCode(t, err, tenancy.Unauthenticated)
	_, err = w.svc.GatewayView(w.ctx, g.ID)
	wantCode(t, err, tenancy.Forbidden)

	_, err = w.svc.ClaimGateway(w.ctx, w.U, code, w.united.ID)
	w.must(err)
	got, err := w.svc.AuthenticateGateway(w.ctx, cred)
	w.must(err)
	if got.ID != g.ID || got.OrgID != w.united.ID {
		t.Fatalf("authenticated %+v", got)
	}
	v, err := w.svc.GatewayView(w.ctx, g.ID)
	w.must(err)
	var names []string
	for _, d := range v.Devices {
		if len(d.UID) != 26 || d.TokenHash != tenancy.HashToken(d.Token) {
			t.Fatalf("device %q: uid %q, token hash not the token's", d.Name, d.UID)
		}
		names = append(names, d.Name)
	}
	slices.Sort(names)
	// United's subtree: its own AC, the US pool heater, Canada's thermostat;
	// never Muller's devices.
	if want := []string{"AC", "Pool Heater", "Thermostat-H"}; !slices.Equal(names, want) {
		t.Fatalf("devices %v, want %v", names, want)
	}
	if len(v.Orgs) != 3 || len(v.Owners) != 3 || len(v.Templates) != 1 {
		t.Fatalf("orgs %d owners %d templates %d", len(v.Orgs), len(v.Owners), len(v.Templates))
	}

	// Any change grows the version.
	_, err = w.svc.RenameDevice(w.ctx, w.A, w.ac.ID, "AC 2")
	w.must(err)
	v2, err := w.svc.GatewayView(w.ctx, g.ID)
	w.must(err)
	if v2.Version <= v.Version {
		t.Fatalf("version %d after a change, was %d", v2.Version, v.Version)
	}

	// Release revokes the credential.
	_, err = w.svc.ReleaseGateway(w.ctx, w.U, g.ID)
	w.must(err)
	_, err = w.svc.AuthenticateGateway(w.ctx, cred)
	wantCode(t, err, tenancy.Unauthenticated)
}

func TestOnChangeFollowsCommits(t *testing.T) {
	e := newEnv(t, tenancy.Config{})
	n := 0
	svc, err := tenancy.New(e.ctx, tenancy.Deps{Store: e.store, Hasher: plainHasher{}, OnChange: func(tenancy.Change) { n++ }}, tenancy.Config{})
	e.must(err)
	_, _, err = svc.Bootstrap(e.ctx, tenancy.Bootstrap{OrgName: "Root org", AdminEmail: "a@r.test", AdminName: "A", Password: pw})
	e.must(err)
	if n == 0 {
		t.Fatal("OnChange not called after a committed change")
	}
	// A login commits (last login, status) but changes no gateway view:
	// gateways are not woken for it.
	n = 0
	_, err = svc.Login(e.ctx, tenancy.Login{Email: "a@r.test", Password: pw})
	e.must(err)
	if n != 0 {
		t.Errorf("OnChange called %d times for a login", n)
	}
}

// The view carries the static tokens a site needs: those created in its
// subtree (claimed or not) and those claimed into it from elsewhere, each
// with its device; never another tree's.
func TestGatewayViewStaticTokens(t *testing.T) {
	w := newWorld(t)
	g, code, _, err := w.svc.RegisterSite(w.ctx, "Pi at United")
	w.must(err)
	_, err = w.svc.ClaimGateway(w.ctx, w.U, code, w.united.ID)
	w.must(err)
	root, err := w.svc.CreateStaticTokens(w.ctx, w.A, w.warmPlus.ID, w.T.ID, 2)
	w.must(err)
	local, err := w.svc.CreateStaticTokens(w.ctx, w.A, w.us.ID, w.T.ID, 1)
	w.must(err)
	_, err = w.svc.CreateStaticTokens(w.ctx, w.A, w.muller.ID, w.T.ID, 1)
	w.must(err)

	ids := func() map[tenancy.StaticTokenID]tenancy.GatewayStaticToken {
		v, err := w.svc.GatewayView(w.ctx, g.ID)
		w.must(err)
		m := map[tenancy.StaticTokenID]tenancy.GatewayStaticToken{}
		for _, st := range v.StaticTokens {
			m[st.ID] = st
		}
		return m
	}
	got := ids()
	if len(got) != 1 {
		t.Fatalf("view has %d static tokens, want only the one created in the US branch", len(got))
	}
	st, ok := got[local[0].ID]
	if !ok || st.Status != tenancy.Unclaimed {
		t.Fatalf("US branch token missing or claimed: %+v", got)
	}
	dev, err := w.svc.StaticTokenDevice(w.ctx, w.A, local[0].ID)
	w.must(err)
	if st.DeviceUID != dev.UID || st.TokenHash != tenancy.HashToken(dev.Token) {
		t.Fatalf("token's device %q hash %x, want %q (the flashed token's hash)", st.DeviceUID, st.TokenHash, dev.UID)
	}

	d, err := w.svc.ClaimStaticToken(w.ctx, w.U, root[0].QR, "Claimed")
	w.must(err)
	got = ids()
	st, ok = got[root[0].ID]
	if len(got) != 2 || !ok {
		t.Fatalf("after a claim into United the view has %+v", got)
	}
	if st.Status != tenancy.Claimed || st.OwnerID != w.U.UserID || st.ClaimedOrgID != w.united.ID || st.DeviceUID != d.UID {
		t.Fatalf("claimed token %+v, want claimed by U into United for device %s", st, d.UID)
	}
}

// Audited gets a committed change's entries after the commit (a device
// created, with the device in After), and nothing for a refused one.
func TestAuditedFollowsCommits(t *testing.T) {
	e := newEnv(t, tenancy.Config{})
	var got []tenancy.AuditEntry
	svc, err := tenancy.New(e.ctx, tenancy.Deps{Store: e.store, Hasher: plainHasher{},
		Audited: func(_ context.Context, es []tenancy.AuditEntry) { got = append(got, es...) }}, tenancy.Config{})
	e.must(err)
	root, admin, err := svc.Bootstrap(e.ctx, tenancy.Bootstrap{OrgName: "Root org", AdminEmail: "a@r.test", AdminName: "A", Password: pw})
	e.must(err)
	a := tenancy.Actor{UserID: admin.ID, OrgID: root.ID, RoleID: tenancy.RoleAdmin}
	tm, err := svc.CreateTemplate(e.ctx, a, tenancy.NewTemplate{Def: datastream.Template{Name: "T"}})
	e.must(err)
	got = nil
	d, err := svc.CreateDevice(e.ctx, a, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler"})
	e.must(err)
	if len(got) != 1 || got[0].Action != "device.create" || got[0].ObjectType != "device" || !strings.Contains(string(got[0].After), d.UID) {
		t.Fatalf("after a device creation: %+v", got)
	}
	got = nil
	if _, err := svc.CreateDevice(e.ctx, a, tenancy.NewDevice{TemplateID: "TMPLmissing", Name: "Ghost"}); err == nil {
		t.Fatal("a device of a missing template was created")
	}
	if len(got) != 0 {
		t.Fatalf("a refused change was passed on: %+v", got)
	}
}
