package cloud

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// Devices that move with a transferred organization call the
// device_transferred webhooks of the organizations above them before and
// after the move (each once); a device claimed by its static token calls
// the device_created webhooks of its claimer's organization.
func TestOrgTransferAndStaticClaimCallDeviceWebhooks(t *testing.T) {
	got := make(chan string, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer recv.Close()
	e := runEnv(t, func(c *Config) { c.Webhooks.Allow = []string{"127.0.0.0/8"} })
	ctx, svc := context.Background(), e.s.svc
	tm, org := heaterOrgs(t, e)
	a, b := org(e.admin.OrgID, "Dealer A"), org(e.admin.OrgID, "Dealer B")
	c := org(a.ID, "Client C")
	leaf := org(c.ID, "Client C branch")
	for _, name := range []string{"Boiler", "Pump"} {
		if _, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: name, OrgID: leaf.ID}); err != nil {
			t.Fatal(err)
		}
	}
	hook := func(o tenancy.Org, kind, body string) {
		w := &Webhook{OrgID: int64(o.ID), Name: o.Name + " " + kind, Enabled: true, Method: "POST", URL: recv.URL, Body: body}
		w.Trigger.Kind = kind
		if err := e.s.SaveWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	hook(a, "device_transferred", "left A: {device_name}")
	hook(b, "device_transferred", "joined B: {device_name}")
	hook(c, "device_transferred", "in C: {device_name}") // moves with it: above the devices before and after

	if _, err := svc.TransferOrg(ctx, e.admin, c.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	want := []string{"in C: Boiler", "in C: Pump", "joined B: Boiler", "joined B: Pump", "left A: Boiler", "left A: Pump"}
	if bodies := receive(t, got, len(want)); !slices.Equal(bodies, want) {
		t.Fatalf("deliveries %q, want %q", bodies, want)
	}

	// A static-token device claimed into another organization.
	hook(a, "device_created", "created in A: {device_name}")
	sts, err := svc.CreateStaticTokens(ctx, e.admin, e.admin.OrgID, tm.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "installer@a.test", Name: "I", OrgID: a.ID, RoleID: tenancy.RoleUser,
		Password: "installer-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ClaimStaticToken(ctx, tenancy.Actor{UserID: u.ID, OrgID: a.ID, RoleID: tenancy.RoleUser}, sts[0].QR, "Claimed heater"); err != nil {
		t.Fatal(err)
	}
	if bodies := receive(t, got, 1); bodies[0] != "created in A: Claimed heater" {
		t.Fatalf("claim delivery %q", bodies)
	}
	select {
	case b := <-got:
		t.Fatalf("an extra delivery: %q", b)
	case <-time.After(300 * time.Millisecond):
	}
}

// receive takes n bodies from got, sorted (deliveries run concurrently).
func receive(t *testing.T, got <-chan string, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		select {
		case b := <-got:
			out = append(out, b)
		case <-time.After(20 * time.Second):
			t.Fatalf("%d deliveries of %d: %q", len(out), n, out)
		}
	}
	slices.Sort(out)
	return out
}

// heaterOrgs creates a "Heater" template in e's root and returns it with
// a function that creates an org (which may have sub-orgs) with the
// template enabled.
func heaterOrgs(t *testing.T, e *syncEnv) (tenancy.Template, func(parent tenancy.OrgID, name string) tenancy.Org) {
	t.Helper()
	ctx, svc := context.Background(), e.s.svc
	tm, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater"}})
	if err != nil {
		t.Fatal(err)
	}
	return tm, func(parent tenancy.OrgID, name string) tenancy.Org {
		t.Helper()
		o, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: parent, Name: name, CanCreateSub: new(true)})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetTemplateEnabled(ctx, e.admin, o.ID, tm.ID, true); err != nil {
			t.Fatal(err)
		}
		return o
	}
}
