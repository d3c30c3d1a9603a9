package tenancy_test

import (
	"slices"
	"testing"

	"outpost/cloud/internal/tenancy"
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
	svc, err := tenancy.New(e.ctx, tenancy.Deps{Store: e.store, Hasher: plainHasher{}, OnChange: func() { n++ }}, tenancy.Config{})
	e.must(err)
	_, _, err = svc.Bootstrap(e.ctx, tenancy.Bootstrap{OrgName: "Root org", AdminEmail: "a@r.test", AdminName: "A", Password: pw})
	e.must(err)
	if n == 0 {
		t.Fatal("OnChange not called after a committed change")
	}
}
