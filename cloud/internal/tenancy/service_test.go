package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// plainHasher stands in for bcrypt/argon2id, which are slow on purpose.
type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error) { return "plain:" + p, nil }
func (plainHasher) Verify(h, p string) error {
	if h != "plain:"+p {
		return errors.New("mismatch")
	}
	return nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type notes struct {
	mu   sync.Mutex
	list []tenancy.Notification
}

func (n *notes) Notify(_ context.Context, x tenancy.Notification) {
	n.mu.Lock()
	n.list = append(n.list, x)
	n.mu.Unlock()
}

type env struct {
	t     *testing.T
	ctx   context.Context
	svc   *tenancy.Service
	store tenancy.Store
	clock *clock
	notes *notes
}

func newEnv(t *testing.T, cfg tenancy.Config) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: context.Background(), store: st, clock: &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}, notes: &notes{}}
	e.svc, err = tenancy.New(e.ctx, tenancy.Deps{Store: st, Hasher: plainHasher{}, Notifier: e.notes, Now: e.clock.Now}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code tenancy.Code) {
	t.Helper()
	if got := tenancy.CodeOf(err); got != code {
		t.Fatalf("error = %v (code %q), want %q", err, got, code)
	}
}

const pw = "correct horse"

// world is the §13 fixture built through the Service.
type world struct {
	*env
	warmPlus, united, us, canada, muller tenancy.Org
	A, U, M, H, R, W                     tenancy.Actor
	users                                map[string]tenancy.User
	T                                    tenancy.Template
	ac, pool, thermoH, boiler, thermoW   tenancy.Device
}

func (e *env) user(a tenancy.Actor, email string, org tenancy.OrgID, role tenancy.RoleID) (tenancy.User, tenancy.Actor) {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.ctx, a, tenancy.NewUser{Email: email, Name: email, OrgID: org, RoleID: role, Password: pw})
	e.must(err)
	res, err := e.svc.Login(e.ctx, tenancy.Login{Email: email, Password: pw}) // activates
	e.must(err)
	return res.User, tenancy.Actor{UserID: u.ID, OrgID: org, RoleID: role}
}

func newWorld(t *testing.T) *world {
	w := &world{env: newEnv(t, tenancy.Config{}), users: map[string]tenancy.User{}}
	root, admin, err := w.svc.Bootstrap(w.ctx, tenancy.Bootstrap{OrgName: "WarmPlus Corp", AdminEmail: "a@warmplus.test", AdminName: "A", Password: pw})
	w.must(err)
	w.warmPlus = root
	_, err = w.svc.Login(w.ctx, tenancy.Login{Email: "a@warmplus.test", Password: pw})
	w.must(err)
	w.A = tenancy.Actor{UserID: admin.ID, OrgID: root.ID, RoleID: tenancy.RoleAdmin}
	mk := func(parent tenancy.OrgID, name string) tenancy.Org {
		o, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: parent, Name: name})
		w.must(err)
		return o
	}
	w.T, err = w.svc.CreateTemplate(w.ctx, w.A, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}}}})
	w.must(err)
	w.united = mk(root.ID, "United Heaters Inc.")
	w.us = mk(w.united.ID, "US branch")
	w.canada = mk(w.united.ID, "Canada branch")
	w.muller = mk(root.ID, "Muller Boiler Group")
	var u tenancy.User
	u, w.U = w.user(w.A, "u@united.test", w.united.ID, tenancy.RoleAdmin)
	w.users["U"] = u
	u, w.M = w.user(w.A, "m@us.test", w.us.ID, tenancy.RoleUser)
	w.users["M"] = u
	u, w.H = w.user(w.A, "h@canada.test", w.canada.ID, tenancy.RoleUser)
	w.users["H"] = u
	u, w.R = w.user(w.A, "r@muller.test", w.muller.ID, tenancy.RoleStaff)
	w.users["R"] = u
	u, w.W = w.user(w.A, "w@muller.test", w.muller.ID, tenancy.RoleStaff)
	w.users["W"] = u
	dev := func(owner tenancy.Actor, name string) tenancy.Device {
		d, err := w.svc.CreateDevice(w.ctx, w.A, tenancy.NewDevice{TemplateID: w.T.ID, Name: name, OwnerID: owner.UserID})
		w.must(err)
		if d.OrgID != owner.OrgID || len(d.Token) != tenancy.TokenLen {
			t.Fatalf("device %+v not in owner's org or bad token", d)
		}
		return d
	}
	w.ac = dev(w.U, "AC")
	w.pool = dev(w.M, "Pool Heater")
	w.thermoH = dev(w.H, "Thermostat-H")
	w.boiler = dev(w.R, "Boiler")
	w.thermoW = dev(w.W, "Thermostat-W")
	return w
}

func (w *world) names(a tenancy.Actor, q tenancy.DeviceQuery) []string {
	w.t.Helper()
	l, err := w.svc.Devices(w.ctx, a, q)
	w.must(err)
	var out []string
	for _, d := range l.Items {
		out = append(out, d.Name)
	}
	if l.Total != len(out) {
		w.t.Fatalf("total %d but %d items", l.Total, len(out))
	}
	return out
}

func eq(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") }

func TestScenarioVisibility(t *testing.T) {
	w := newWorld(t)
	// §13.3
	if got := w.names(w.A, tenancy.DeviceQuery{IncludeSub: true}); len(got) != 5 {
		t.Fatalf("A with sub-orgs sees %v", got)
	}
	if got := w.names(w.A, tenancy.DeviceQuery{}); len(got) != 0 {
		t.Fatalf("A without sub-orgs sees %v", got)
	}
	if got := w.names(w.U, tenancy.DeviceQuery{IncludeSub: true}); !eq(got, []string{"AC", "Pool Heater", "Thermostat-H"}) {
		t.Fatalf("U sees %v", got)
	}
	// §13.1: missing and out of scope look the same.
	_, e1 := w.svc.Device(w.ctx, w.H, w.pool.ID)
	_, e2 := w.svc.Device(w.ctx, w.H, 987654)
	wantCode(t, e1, tenancy.NotFound)
	if e1.Error() != e2.Error() {
		t.Fatalf("%q vs %q", e1, e2)
	}
	// §13.4: default User sees nothing; A switched into US enables own-view.
	if got := w.names(w.M, tenancy.DeviceQuery{}); len(got) != 0 {
		t.Fatalf("default M sees %v", got)
	}
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.us.ID, tenancy.RoleUser, tenancy.NewPermSet(tenancy.OwnDevicesView), tenancy.PushNone))
	if got := w.names(w.M, tenancy.DeviceQuery{}); !eq(got, []string{"Pool Heater"}) {
		t.Fatalf("M with own-view sees %v", got)
	}
	if got := w.names(w.H, tenancy.DeviceQuery{}); len(got) != 0 {
		t.Fatalf("Canada's User role changed: H sees %v", got)
	}
	// §13.2: M with every permission still cannot reach AC.
	all := tenancy.NewPermSet(tenancy.AllPermissions()...)
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.us.ID, tenancy.RoleUser, all, tenancy.PushNone))
	_, err := w.svc.Device(w.ctx, w.M, w.ac.ID)
	wantCode(t, err, tenancy.NotFound)
	_, err = w.svc.Devices(w.ctx, w.M, tenancy.DeviceQuery{OrgID: w.united.ID})
	wantCode(t, err, tenancy.NotFound)
	// §13.5: default Staff R sees and controls both Muller devices.
	if got := w.names(w.R, tenancy.DeviceQuery{}); !eq(got, []string{"Boiler", "Thermostat-W"}) {
		t.Fatalf("R sees %v", got)
	}
	_, err = w.svc.CheckDevice(w.ctx, w.R, w.thermoW.ID, tenancy.OrgDevicesControl)
	w.must(err)
}

func TestScenarioDepthLimit(t *testing.T) {
	w := newWorld(t)
	// §13.6: US branch is depth 3; its child is 4; a child of that is refused.
	d4, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: w.us.ID, Name: "Allentown"})
	if tenancy.CodeOf(err) == tenancy.Forbidden {
		// The flag is off below level 2 by default (§11.5): turn it on first.
		on := true
		_, err = w.svc.UpdateOrg(w.ctx, w.A, w.us.ID, tenancy.OrgUpdate{CanCreateSub: &on})
		w.must(err)
		d4, err = w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: w.us.ID, Name: "Allentown"})
	}
	w.must(err)
	if d4.Depth != 4 {
		t.Fatalf("depth %d", d4.Depth)
	}
	on := true
	_, err = w.svc.UpdateOrg(w.ctx, w.A, d4.ID, tenancy.OrgUpdate{CanCreateSub: &on})
	w.must(err)
	_, err = w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: d4.ID, Name: "Too deep"})
	wantCode(t, err, tenancy.LimitReached)
	if !strings.Contains(err.Error(), "depth") {
		t.Fatalf("unclear message %q", err)
	}
	root, err := w.svc.Org(w.ctx, w.A, w.warmPlus.ID)
	w.must(err)
	if root.Depth != 1 {
		t.Fatalf("root depth %d", root.Depth)
	}
	// Transfers keep the limit too: United (height 2 now) cannot go under Muller (depth 2).
	_, err = w.svc.TransferOrg(w.ctx, w.A, w.united.ID, w.muller.ID)
	wantCode(t, err, tenancy.LimitReached)
}

func TestScenarioDeviceTransfer(t *testing.T) {
	w := newWorld(t)
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.us.ID, tenancy.RoleUser, tenancy.NewPermSet(tenancy.OwnDevicesView), tenancy.PushNone))
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.canada.ID, tenancy.RoleUser, tenancy.NewPermSet(tenancy.OwnDevicesView), tenancy.PushNone))
	// §13.7
	d, err := w.svc.TransferDevice(w.ctx, w.A, w.thermoH.ID, tenancy.DeviceTransfer{UserID: w.M.UserID})
	w.must(err)
	if d.OwnerID != w.M.UserID || d.OrgID != w.us.ID {
		t.Fatalf("after transfer %+v", d)
	}
	if got := w.names(w.H, tenancy.DeviceQuery{}); len(got) != 0 {
		t.Fatalf("H still sees %v", got)
	}
	if got := w.names(w.M, tenancy.DeviceQuery{}); !eq(got, []string{"Pool Heater", "Thermostat-H"}) {
		t.Fatalf("M sees %v", got)
	}
	kinds := map[tenancy.UserID]string{}
	for _, n := range w.notes.list {
		kinds[n.UserID] = n.Kind
	}
	if kinds[w.H.UserID] != "device.transferred.out" || kinds[w.M.UserID] != "device.transferred.in" {
		t.Fatalf("notifications %+v", w.notes.list)
	}
	// §13.8 preconditions.
	_, err = w.svc.TransferDevice(w.ctx, w.A, w.thermoH.ID, tenancy.DeviceTransfer{UserID: w.M.UserID})
	wantCode(t, err, tenancy.Invalid) // same owner
	pending, err := w.svc.InviteUser(w.ctx, w.A, tenancy.Invite{Email: "p@us.test", Name: "P", RoleID: tenancy.RoleUser, OrgID: w.us.ID})
	w.must(err)
	_, err = w.svc.TransferDevice(w.ctx, w.A, w.pool.ID, tenancy.DeviceTransfer{UserID: pending.User.ID})
	wantCode(t, err, tenancy.Invalid)
	_, other, err := w.svc.Bootstrap(w.ctx, tenancy.Bootstrap{OrgName: "Other Tree", AdminEmail: "x@other.test", Password: pw})
	w.must(err)
	_, err = w.svc.TransferDevice(w.ctx, w.A, w.pool.ID, tenancy.DeviceTransfer{UserID: other.ID})
	wantCode(t, err, tenancy.NotFound)
	w.must(w.svc.SetTemplateEnabled(w.ctx, w.A, w.muller.ID, w.T.ID, false))
	_, err = w.svc.TransferDevice(w.ctx, w.A, w.pool.ID, tenancy.DeviceTransfer{OrgID: w.muller.ID})
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.TransferDevice(w.ctx, w.A, w.pool.ID, tenancy.DeviceTransfer{UserID: w.R.UserID})
	wantCode(t, err, tenancy.Invalid)
	// U may not move devices out of its subtree.
	_, err = w.svc.TransferDevice(w.ctx, w.U, w.pool.ID, tenancy.DeviceTransfer{OrgID: w.muller.ID})
	wantCode(t, err, tenancy.NotFound)
	// §13.9 remove owner.
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.muller.ID, tenancy.RoleStaff, tenancy.NewPermSet(tenancy.OwnDevicesView), tenancy.PushNone))
	if got := w.names(w.R, tenancy.DeviceQuery{}); !eq(got, []string{"Boiler"}) {
		t.Fatalf("R own-view sees %v", got)
	}
	b, err := w.svc.RemoveDeviceOwner(w.ctx, w.A, w.boiler.ID)
	w.must(err)
	if b.OwnerID != 0 || b.OrgID != w.muller.ID {
		t.Fatalf("boiler %+v", b)
	}
	if got := w.names(w.R, tenancy.DeviceQuery{}); len(got) != 0 {
		t.Fatalf("R still sees %v", got)
	}
	if got := w.names(w.A, tenancy.DeviceQuery{OrgID: w.muller.ID}); !eq(got, []string{"Boiler", "Thermostat-W"}) {
		t.Fatalf("org-view holder sees %v", got)
	}
}

func TestScenarioInvites(t *testing.T) {
	w := newWorld(t)
	_, err := w.svc.InviteUser(w.ctx, w.A, tenancy.Invite{Email: "U@united.test", Name: "dup", RoleID: tenancy.RoleUser})
	wantCode(t, err, tenancy.Conflict)
	if !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("message %q", err)
	}
	inv, err := w.svc.InviteUser(w.ctx, w.A, tenancy.Invite{Email: "new@x.test", Name: "New", RoleID: tenancy.RoleStaff, OrgID: w.united.ID})
	w.must(err)
	if inv.User.Status != tenancy.StatusPending || inv.Token == "" {
		t.Fatalf("invite %+v", inv)
	}
	if _, err := w.svc.Login(w.ctx, tenancy.Login{Email: "new@x.test", Password: ""}); tenancy.CodeOf(err) != tenancy.Unauthenticated {
		t.Fatalf("pending login: %v", err)
	}
	inv2, err := w.svc.InviteUser(w.ctx, w.A, tenancy.Invite{Email: "late@x.test", Name: "Late", RoleID: tenancy.RoleUser})
	w.must(err)
	u, err := w.svc.AcceptInvitation(w.ctx, inv.Token, pw)
	w.must(err)
	if u.Status != tenancy.StatusActive {
		t.Fatalf("accepted %+v", u)
	}
	_, err = w.svc.AcceptInvitation(w.ctx, inv.Token, pw)
	wantCode(t, err, tenancy.Invalid) // single use
	w.clock.Add(30*24*time.Hour + time.Second)
	_, err = w.svc.AcceptInvitation(w.ctx, inv2.Token, pw)
	wantCode(t, err, tenancy.Invalid) // expired
	_, err = w.svc.ResendInvitation(w.ctx, w.A, u.ID)
	wantCode(t, err, tenancy.Invalid) // already joined
	again, err := w.svc.ResendInvitation(w.ctx, w.A, inv2.User.ID)
	w.must(err)
	if _, err := w.svc.AcceptInvitation(w.ctx, again.Token, pw); err != nil {
		t.Fatalf("resent invitation: %v", err)
	}
	// The day's limit (25 by default) counts per inviting org; the resend
	// above was the first of this day.
	for i := 0; i < 24; i++ {
		_, err := w.svc.InviteUser(w.ctx, w.A, tenancy.Invite{Email: "bulk" + string(rune('a'+i)) + "@x.test", Name: "B", RoleID: tenancy.RoleUser})
		w.must(err)
	}
	_, err = w.svc.InviteUser(w.ctx, w.A, tenancy.Invite{Email: "one-too-many@x.test", Name: "B", RoleID: tenancy.RoleUser})
	wantCode(t, err, tenancy.LimitReached)
	_, err = w.svc.InviteUser(w.ctx, w.U, tenancy.Invite{Email: "other-org@x.test", Name: "B", RoleID: tenancy.RoleUser})
	w.must(err) // another org's quota
}

func TestInviteCSV(t *testing.T) {
	e := newWorld(t)
	csv := "email,name,role\n" +
		"ok1@x.test,One,User\n" +
		"not-an-email,Two,User\n" +
		"u@united.test,Dup,Staff\n" +
		"ok2@x.test,Two,2\n" +
		"ok3@x.test,Three,Wizard\n" +
		"ok4@x.test,,User\n" +
		"\"broken,quote\n"
	rep, err := e.svc.InviteCSV(e.ctx, e.A, e.united.ID, []byte(csv))
	e.must(err)
	type row struct {
		line    int
		created bool
		code    tenancy.Code
	}
	want := []row{{2, true, ""}, {3, false, tenancy.Invalid}, {4, false, tenancy.Conflict}, {5, true, ""},
		{6, false, tenancy.Invalid}, {7, false, tenancy.Invalid}, {8, false, tenancy.Invalid}}
	if len(rep.Rows) != len(want) || rep.Created != 2 || rep.Failed != 5 {
		t.Fatalf("report %+v", rep)
	}
	for i, r := range rep.Rows {
		if r.Line != want[i].line || r.Created != want[i].created || r.Code != want[i].code || (r.Created && r.Token == "") || (!r.Created && r.Error == "") {
			t.Errorf("row %d: %+v, want %+v", i, r, want[i])
		}
	}
	l, err := e.svc.Users(e.ctx, e.A, tenancy.UserQuery{OrgID: e.united.ID, Query: "ok"})
	e.must(err)
	if l.Total != 2 {
		t.Fatalf("created users %d", l.Total)
	}
}

func TestScenarioUserTransferLastAdmin(t *testing.T) {
	w := newWorld(t)
	res, err := w.svc.TransferUser(w.ctx, w.A, w.U.UserID, tenancy.UserTransfer{OrgID: w.muller.ID, RoleID: tenancy.RoleAdmin, MoveDevices: true})
	w.must(err)
	if !res.NoAdminLeft || res.User.OrgID != w.muller.ID || res.MovedDevices != 1 {
		t.Fatalf("result %+v", res)
	}
	d, err := w.svc.Device(w.ctx, w.A, w.ac.ID)
	w.must(err)
	if d.OrgID != w.muller.ID {
		t.Fatalf("AC did not follow: %+v", d)
	}
	// Transferring a non-admin does not warn; moving to another tree is NotFound.
	res, err = w.svc.TransferUser(w.ctx, w.A, w.M.UserID, tenancy.UserTransfer{OrgID: w.canada.ID, RoleID: tenancy.RoleUser})
	w.must(err)
	if res.NoAdminLeft {
		t.Fatal("warned for a User")
	}
	other, _, err := w.svc.Bootstrap(w.ctx, tenancy.Bootstrap{OrgName: "Elsewhere", AdminEmail: "e@else.test", Password: pw})
	w.must(err)
	_, err = w.svc.TransferUser(w.ctx, w.A, w.M.UserID, tenancy.UserTransfer{OrgID: other.ID, RoleID: tenancy.RoleUser})
	wantCode(t, err, tenancy.NotFound)
}

func TestScenarioOrgDeletion(t *testing.T) {
	w := newWorld(t)
	empty, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: w.muller.ID, Name: "Empty leaf"})
	if tenancy.CodeOf(err) == tenancy.Forbidden {
		t.Fatal("Muller (created by root) should allow sub-orgs")
	}
	w.must(err)
	for _, c := range []struct {
		name  string
		actor tenancy.Actor
		org   tenancy.OrgID
		code  tenancy.Code
	}{
		{"root", w.A, w.warmPlus.ID, tenancy.Invalid},
		{"own org", w.U, w.united.ID, tenancy.Invalid},
		{"has sub-orgs", w.A, w.united.ID, tenancy.Invalid},
		{"has devices", w.A, w.us.ID, tenancy.Invalid},
		{"out of scope", w.U, w.muller.ID, tenancy.NotFound},
		{"no permission", w.R, empty.ID, tenancy.Forbidden},
	} {
		wantCode(t, w.svc.DeleteOrg(w.ctx, c.actor, c.org), c.code)
	}
	w.must(w.svc.DeleteOrg(w.ctx, w.A, empty.ID))
	_, err = w.svc.Org(w.ctx, w.A, empty.ID)
	wantCode(t, err, tenancy.NotFound)

	e := newEnv(t, tenancy.Config{})
	root, admin, err := e.svc.Bootstrap(e.ctx, tenancy.Bootstrap{OrgName: "Ent", AdminEmail: "a@ent.test", Password: pw, SpecialOrgs: true})
	e.must(err)
	a := tenancy.Actor{UserID: admin.ID, OrgID: root.ID, RoleID: tenancy.RoleAdmin}
	kids, err := e.svc.Orgs(e.ctx, a, tenancy.OrgQuery{Parent: root.ID})
	e.must(err)
	if kids.Total != 2 {
		t.Fatalf("special orgs %+v", kids)
	}
	for _, k := range kids.Items {
		wantCode(t, e.svc.DeleteOrg(e.ctx, a, k.ID), tenancy.Invalid)
	}
}

func TestScenarioTemplates(t *testing.T) {
	w := newWorld(t)
	_, err := w.svc.CreateTemplate(w.ctx, w.U, tenancy.NewTemplate{Def: datastream.Template{Name: "U's"}})
	wantCode(t, err, tenancy.Forbidden)
	_, err = w.svc.UpdateTemplate(w.ctx, w.U, w.T.ID, tenancy.NewTemplate{Def: datastream.Template{Name: "U's"}})
	wantCode(t, err, tenancy.Forbidden)
	before := w.names(w.A, tenancy.DeviceQuery{IncludeSub: true})
	sub, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: w.muller.ID, Name: "Muller Sub"})
	w.must(err)
	l, err := w.svc.Templates(w.ctx, w.A, sub.ID, tenancy.Page{})
	w.must(err)
	if l.Total != 1 {
		t.Fatalf("new org should inherit enabled templates: %+v", l)
	}
	w.must(w.svc.SetTemplateEnabled(w.ctx, w.A, sub.ID, w.T.ID, false))
	w.must(w.svc.SetTemplateEnabled(w.ctx, w.A, sub.ID, w.T.ID, true))
	if after := w.names(w.A, tenancy.DeviceQuery{IncludeSub: true}); !eq(before, after) {
		t.Fatalf("enabling moved devices: %v → %v", before, after)
	}
	// Muller's Staff see the template; a User role (no PRODUCT_VIEW) does not.
	_, err = w.svc.Template(w.ctx, w.R, w.T.ID)
	w.must(err)
	// Definitions are validated: a pin used twice is refused.
	bad := datastream.Template{Name: "Bad", Datastreams: []datastream.Datastream{
		{Pin: 1, Name: "a", Type: datastream.Integer}, {Pin: 1, Name: "b", Type: datastream.Integer}}}
	_, err = w.svc.CreateTemplate(w.ctx, w.A, tenancy.NewTemplate{Def: bad})
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.UpdateTemplate(w.ctx, w.A, w.T.ID, tenancy.NewTemplate{Def: bad})
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.Template(w.ctx, w.M, w.T.ID)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, w.svc.DeleteTemplate(w.ctx, w.A, w.T.ID), tenancy.Invalid) // in use
}

func TestScenarioPermissionPush(t *testing.T) {
	w := newWorld(t)
	clients, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: w.warmPlus.ID, Name: "My Clients"})
	w.must(err)
	var kids []tenancy.Org
	for _, n := range []string{"Client 1", "Client 2"} {
		o, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: clients.ID, Name: n})
		w.must(err)
		kids = append(kids, o)
	}
	custom := tenancy.NewPermSet(tenancy.OwnDevicesView, tenancy.OwnDevicesControl)
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, kids[1].ID, tenancy.RoleUser, tenancy.NewPermSet(tenancy.AnalyticsView), tenancy.PushNone))
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, clients.ID, tenancy.RoleUser, custom, tenancy.PushNone))
	tr := w.svc.Tree()
	if tr.Perms(kids[0].ID, tenancy.RoleUser) != tenancy.DefaultPermissions(tenancy.RoleUser) {
		t.Fatal("no push changed a descendant")
	}
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, clients.ID, tenancy.RoleUser, custom, tenancy.PushMerge))
	tr = w.svc.Tree()
	if p := tr.Perms(kids[1].ID, tenancy.RoleUser); !p.Has(tenancy.AnalyticsView) || !p.Has(tenancy.OwnDevicesControl) {
		t.Fatalf("merge lost keys: %v", p.Strings())
	}
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, clients.ID, tenancy.RoleUser, custom, tenancy.PushOverwrite))
	tr = w.svc.Tree()
	for _, k := range kids {
		if tr.Perms(k.ID, tenancy.RoleUser) != custom {
			t.Fatalf("overwrite missed %s: %v", k.Name, tr.Perms(k.ID, tenancy.RoleUser).Strings())
		}
	}
	late, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: clients.ID, Name: "Client 3"})
	w.must(err)
	if w.svc.Tree().Perms(late.ID, tenancy.RoleUser) != custom {
		t.Fatal("new org did not inherit at creation")
	}
	// Nobody grants what they do not hold: U (Admin of United) loses
	// ORG_DELETE, then cannot give it to US branch's Admin role.
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.united.ID, tenancy.RoleAdmin,
		tenancy.NewPermSet(tenancy.AllPermissions()...).Without(tenancy.OrgDelete), tenancy.PushNone))
	err = w.svc.SetRolePermissions(w.ctx, w.U, w.us.ID, tenancy.RoleAdmin, tenancy.NewPermSet(tenancy.AllPermissions()...), tenancy.PushNone)
	wantCode(t, err, tenancy.Forbidden)
	// …nor hand out a role richer than their own: Staff may invite Staff, not Admin.
	_, err = w.svc.InviteUser(w.ctx, w.R, tenancy.Invite{Email: "boss@x.test", Name: "Boss", RoleID: tenancy.RoleAdmin})
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.InviteUser(w.ctx, w.R, tenancy.Invite{Email: "peer@x.test", Name: "Peer", RoleID: tenancy.RoleStaff})
	w.must(err)
	// Nobody edits their own role in their own org.
	err = w.svc.SetRolePermissions(w.ctx, w.A, w.warmPlus.ID, tenancy.RoleAdmin, tenancy.PermSet{}, tenancy.PushNone)
	wantCode(t, err, tenancy.Forbidden)
}

func TestScenarioRoles(t *testing.T) {
	w := newWorld(t)
	inst, err := w.svc.CreateRole(w.ctx, w.A, "Installer")
	w.must(err)
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.us.ID, inst.ID, tenancy.NewPermSet(tenancy.OrgDevicesView), tenancy.PushNone))
	_, err = w.svc.SetUserRole(w.ctx, w.A, w.M.UserID, inst.ID)
	w.must(err)
	_, err = w.svc.DeleteRole(w.ctx, w.A, inst.ID, 0)
	wantCode(t, err, tenancy.Invalid) // replacement required
	_, err = w.svc.DeleteRole(w.ctx, w.A, tenancy.RoleAdmin, tenancy.RoleStaff)
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.RenameRole(w.ctx, w.A, inst.ID, "Fitter")
	w.must(err)
	roles, err := w.svc.Roles(w.ctx, w.U, w.canada.ID) // seen from another org of the tree
	w.must(err)
	if roles[3].Name != "Fitter" {
		t.Fatalf("rename not tree-wide: %+v", roles)
	}
	moved, err := w.svc.DeleteRole(w.ctx, w.A, inst.ID, tenancy.RoleUser)
	w.must(err)
	m, err := w.svc.User(w.ctx, w.A, w.M.UserID)
	w.must(err)
	if moved != 1 || m.RoleID != tenancy.RoleUser {
		t.Fatalf("moved %d, M role %d", moved, m.RoleID)
	}
	for i := 4; i <= 9; i++ {
		_, err := w.svc.CreateRole(w.ctx, w.A, "Role "+string(rune('0'+i)))
		w.must(err)
	}
	_, err = w.svc.CreateRole(w.ctx, w.A, "Tenth")
	wantCode(t, err, tenancy.LimitReached)
	_, err = w.svc.CreateRole(w.ctx, w.U, "Not root")
	wantCode(t, err, tenancy.NotFound) // the root is outside U's scope
}

func TestScenarioStaticTokens(t *testing.T) {
	w := newWorld(t)
	sts, err := w.svc.CreateStaticTokens(w.ctx, w.A, w.warmPlus.ID, w.T.ID, 2)
	w.must(err)
	devs := make([]tenancy.Device, 2)
	for i, st := range sts {
		devs[i], err = w.svc.StaticTokenDevice(w.ctx, w.A, st.ID)
		w.must(err)
		if _, err := w.svc.DeviceByToken(w.ctx, devs[i].Token); err != nil {
			t.Fatalf("unclaimed device cannot connect: %v", err)
		}
	}
	d, err := w.svc.ClaimStaticToken(w.ctx, w.U, sts[0].QR, "Claimed")
	w.must(err)
	if d.OrgID != w.united.ID || d.OwnerID != w.U.UserID {
		t.Fatalf("claimed %+v", d)
	}
	_, err = w.svc.ClaimStaticToken(w.ctx, w.R, sts[0].QR, "Again")
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, w.svc.DisclaimStaticToken(w.ctx, w.U, sts[0].ID), tenancy.NotFound) // only the creating org
	// §13.16
	w.must(w.svc.DeleteStaticToken(w.ctx, w.A, sts[0].ID))
	_, err = w.svc.Device(w.ctx, w.A, d.ID)
	wantCode(t, err, tenancy.NotFound)
	w.must(w.svc.DeleteStaticToken(w.ctx, w.A, sts[1].ID))
	_, err = w.svc.DeviceByToken(w.ctx, devs[1].Token)
	wantCode(t, err, tenancy.Unauthenticated)
}

func TestScenarioOAuthClientScope(t *testing.T) {
	w := newWorld(t)
	c, secret, err := w.svc.CreateOAuthClient(w.ctx, w.A, tenancy.NewOAuthClient{OrgID: w.united.ID, Name: "ERP"})
	w.must(err)
	_, err = w.svc.IssueClientToken(w.ctx, c.ID, "wrong")
	wantCode(t, err, tenancy.Unauthenticated)
	pair, err := w.svc.IssueClientToken(w.ctx, c.ID, secret)
	w.must(err)
	a, err := w.svc.TokenActor(w.ctx, pair.AccessToken)
	w.must(err)
	if a.OrgID != w.united.ID || !a.IsClient() {
		t.Fatalf("actor %+v", a)
	}
	_, err = w.svc.Device(w.ctx, a, w.pool.ID)
	w.must(err)
	_, err = w.svc.Device(w.ctx, a, w.boiler.ID)
	wantCode(t, err, tenancy.NotFound)
	p2, err := w.svc.RefreshClientToken(w.ctx, pair.RefreshToken)
	w.must(err)
	_, err = w.svc.RefreshClientToken(w.ctx, pair.RefreshToken)
	wantCode(t, err, tenancy.Unauthenticated) // single use
	w.clock.Add(24*time.Hour + time.Second)
	_, err = w.svc.TokenActor(w.ctx, p2.AccessToken)
	wantCode(t, err, tenancy.Unauthenticated) // expired
}

// TestRotateOAuthClientSecret: the new secret works, the old one and the
// tokens issued with it do not; only who may edit clients there rotates.
func TestRotateOAuthClientSecret(t *testing.T) {
	w := newWorld(t)
	c, old, err := w.svc.CreateOAuthClient(w.ctx, w.A, tenancy.NewOAuthClient{OrgID: w.united.ID, Name: "ERP"})
	w.must(err)
	pair, err := w.svc.IssueClientToken(w.ctx, c.ID, old)
	w.must(err)
	_, _, err = w.svc.RotateOAuthClientSecret(w.ctx, w.R, c.ID)
	wantCode(t, err, tenancy.NotFound) // R may not edit clients there: nothing changed
	_, err = w.svc.IssueClientToken(w.ctx, c.ID, old)
	w.must(err)
	_, _, err = w.svc.RotateOAuthClientSecret(w.ctx, w.A, "oc_nosuch")
	wantCode(t, err, tenancy.NotFound)
	got, secret, err := w.svc.RotateOAuthClientSecret(w.ctx, w.A, c.ID)
	w.must(err)
	if got.ID != c.ID || got.Name != "ERP" || got.OrgID != c.OrgID || secret == "" || secret == old {
		t.Fatalf("rotated %+v, secret changed %v", got, secret != old)
	}
	_, err = w.svc.IssueClientToken(w.ctx, c.ID, old)
	wantCode(t, err, tenancy.Unauthenticated)
	_, err = w.svc.TokenActor(w.ctx, pair.AccessToken)
	wantCode(t, err, tenancy.Unauthenticated)
	_, err = w.svc.IssueClientToken(w.ctx, c.ID, secret)
	w.must(err)
}

// TestRenameTag: a rename keeps the tag on its devices; a taken name and
// a stranger's rename are refused and change nothing.
func TestRenameTag(t *testing.T) {
	w := newWorld(t)
	roof, err := w.svc.CreateTag(w.ctx, w.A, w.united.ID, "roof")
	w.must(err)
	_, err = w.svc.CreateTag(w.ctx, w.A, w.united.ID, "cellar")
	w.must(err)
	_, err = w.svc.RenameTag(w.ctx, w.A, roof.ID, "cellar")
	wantCode(t, err, tenancy.Conflict)
	_, err = w.svc.RenameTag(w.ctx, w.A, roof.ID, "")
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.RenameTag(w.ctx, w.R, roof.ID, "attic")
	if c := tenancy.CodeOf(err); c != tenancy.NotFound && c != tenancy.Forbidden {
		t.Fatalf("a stranger's rename: %v", err)
	}
	got, err := w.svc.RenameTag(w.ctx, w.A, roof.ID, "attic")
	w.must(err)
	ts, err := w.svc.Tags(w.ctx, w.A, w.united.ID)
	w.must(err)
	if got.Name != "attic" || len(ts) != 2 || ts[0].Name != "attic" || ts[1].Name != "cellar" {
		t.Fatalf("renamed %+v, tags %+v", got, ts)
	}
}

func TestScenarioSessions(t *testing.T) {
	w := newWorld(t)
	s1, err := w.svc.Login(w.ctx, tenancy.Login{Email: "r@muller.test", Password: pw})
	w.must(err)
	_, _, err = w.svc.SessionActor(w.ctx, s1.Token)
	w.must(err)
	s0, err := w.svc.Login(w.ctx, tenancy.Login{Email: "r@muller.test", Password: pw})
	w.must(err)
	w.must(w.svc.Logout(w.ctx, s0.Token))
	_, _, err = w.svc.SessionActor(w.ctx, s0.Token)
	wantCode(t, err, tenancy.Unauthenticated)
	w.must(w.svc.Logout(w.ctx, "no such token"))
	w.must(w.svc.ForceLogout(w.ctx, w.A, w.R.UserID))
	_, _, err = w.svc.SessionActor(w.ctx, s1.Token)
	wantCode(t, err, tenancy.Unauthenticated)
	s2, err := w.svc.Login(w.ctx, tenancy.Login{Email: "r@muller.test", Password: pw})
	w.must(err)
	_, err = w.svc.SetSuspended(w.ctx, w.A, w.R.UserID, true)
	w.must(err)
	_, _, err = w.svc.SessionActor(w.ctx, s2.Token)
	wantCode(t, err, tenancy.Unauthenticated)
	_, err = w.svc.Login(w.ctx, tenancy.Login{Email: "r@muller.test", Password: "wrong password"})
	wantCode(t, err, tenancy.Unauthenticated) // a stranger learns nothing
	_, err = w.svc.Login(w.ctx, tenancy.Login{Email: "r@muller.test", Password: pw})
	wantCode(t, err, tenancy.Forbidden) // the owner of the password is told
	if !strings.Contains(err.Error(), "suspended") {
		t.Fatalf("suspended login: %v", err)
	}
	_, err = w.svc.SetSuspended(w.ctx, w.A, w.R.UserID, false)
	w.must(err)
	// Idle a month: shows Inactive, can still log in, then Active again.
	w.clock.Add(31 * 24 * time.Hour)
	h, err := w.svc.User(w.ctx, w.A, w.H.UserID)
	w.must(err)
	if h.Status != tenancy.StatusInactive {
		t.Fatalf("idle user status %q", h.Status)
	}
	res, err := w.svc.Login(w.ctx, tenancy.Login{Email: "h@canada.test", Password: pw})
	w.must(err)
	if w.svc.WithStatus(res.User).Status != tenancy.StatusActive {
		t.Fatalf("after login %q", res.User.Status)
	}
	// Staff may force logout (default) but not suspend.
	wantCode(t, w.svc.ForceLogout(w.ctx, w.R, w.W.UserID), "")
	_, err = w.svc.SetSuspended(w.ctx, w.R, w.W.UserID, true)
	wantCode(t, err, tenancy.Forbidden)
}

func TestPasswordFlows(t *testing.T) {
	w := newWorld(t)
	tok, u, err := w.svc.RequestPasswordReset(w.ctx, "H@canada.test", "192.0.2.1")
	w.must(err)
	if tok == "" || u.ID != w.H.UserID {
		t.Fatalf("reset for %+v", u)
	}
	none, _, err := w.svc.RequestPasswordReset(w.ctx, "nobody@x.test", "192.0.2.1")
	if err != nil || none != "" {
		t.Fatalf("unknown email: %q %v", none, err)
	}
	w.must(w.svc.ResetPassword(w.ctx, tok, "a new password", "192.0.2.1"))
	wantCode(t, w.svc.ResetPassword(w.ctx, tok, "another one!", "192.0.2.1"), tenancy.Invalid)
	_, err = w.svc.Login(w.ctx, tenancy.Login{Email: "h@canada.test", Password: "a new password"})
	w.must(err)
	wantCode(t, w.svc.ChangePassword(w.ctx, w.H, "wrong", "whatever12"), tenancy.Invalid)
	w.must(w.svc.ChangePassword(w.ctx, w.H, "a new password", "third password"))
	wantCode(t, w.svc.SetPassword(w.ctx, w.R, w.H.UserID, "by staff!!"), tenancy.NotFound) // sibling branch
	w.must(w.svc.SetPassword(w.ctx, w.U, w.H.UserID, "by admin!!"))
}

func TestOrgTransfer(t *testing.T) {
	w := newWorld(t)
	_, err := w.svc.TransferOrg(w.ctx, w.U, w.canada.ID, w.us.ID)
	wantCode(t, err, tenancy.Forbidden) // not the root org's Admin
	o, err := w.svc.TransferOrg(w.ctx, w.A, w.canada.ID, w.muller.ID)
	w.must(err)
	if o.ParentID != w.muller.ID || o.Depth != 3 {
		t.Fatalf("moved %+v", o)
	}
	if got := w.names(w.U, tenancy.DeviceQuery{IncludeSub: true}); !eq(got, []string{"AC", "Pool Heater"}) {
		t.Fatalf("U after move sees %v", got)
	}
	if got := w.names(w.R, tenancy.DeviceQuery{IncludeSub: true}); !eq(got, []string{"Thermostat-H", "Boiler", "Thermostat-W"}) {
		t.Fatalf("R after move sees %v", got)
	}
	_, err = w.svc.TransferOrg(w.ctx, w.A, w.canada.ID, w.united.ID) // reversible
	w.must(err)
	if got := w.names(w.U, tenancy.DeviceQuery{IncludeSub: true}); !eq(got, []string{"AC", "Pool Heater", "Thermostat-H"}) {
		t.Fatalf("U after move back sees %v", got)
	}
	_, err = w.svc.TransferOrg(w.ctx, w.A, w.united.ID, w.us.ID)
	wantCode(t, err, tenancy.Invalid) // cycle
	_, err = w.svc.TransferOrg(w.ctx, w.A, w.warmPlus.ID, w.muller.ID)
	wantCode(t, err, tenancy.Invalid) // root
	l, err := w.svc.Audit(w.ctx, w.A, tenancy.AuditQuery{OrgID: w.canada.ID, Page: tenancy.Page{Size: 1}})
	w.must(err)
	if len(l.Items) != 1 || l.Items[0].Action != "org.transfer" || l.Items[0].UserID != w.A.UserID || l.Items[0].Before == nil {
		t.Fatalf("audit %+v", l.Items)
	}
}

func TestAuditVisibility(t *testing.T) {
	w := newWorld(t)
	l, err := w.svc.Audit(w.ctx, w.A, tenancy.AuditQuery{IncludeSub: true, Page: tenancy.Page{Size: 1000}})
	w.must(err)
	actions := map[string]int{}
	for _, e := range l.Items {
		actions[e.Action]++
		if strings.Contains(string(e.After), "plain:") {
			t.Fatalf("password hash in audit: %s", e.After)
		}
		// API shapes only (issue 11): no Go field names, no hashes.
		for _, side := range []string{string(e.Before), string(e.After)} {
			if strings.Contains(side, "unshaped") || strings.Contains(side, `"PasswordHash"`) || strings.Contains(strings.ToLower(side), `hash"`) ||
				strings.Contains(side, `"OrgID"`) {
				t.Fatalf("%s entry is not in an API shape: %s", e.Action, side)
			}
		}
	}
	if actions["device.create"] != 5 || actions["org.create"] != 4 || actions["user.create"] != 5 {
		t.Fatalf("audit actions %v", actions)
	}
	_, err = w.svc.Audit(w.ctx, w.M, tenancy.AuditQuery{})
	wantCode(t, err, tenancy.Forbidden)
	// Staff (USERS_ACTIONS_LOG_VIEW by default) reads its own org's log only.
	l, err = w.svc.Audit(w.ctx, w.R, tenancy.AuditQuery{IncludeSub: true})
	w.must(err)
	for _, e := range l.Items {
		if e.OrgID != w.muller.ID {
			t.Fatalf("R reads %+v", e)
		}
	}
}

func TestPageRules(t *testing.T) {
	w := newWorld(t)
	_, err := w.svc.Devices(w.ctx, w.A, tenancy.DeviceQuery{Page: tenancy.Page{Size: 1001}})
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.Devices(w.ctx, w.A, tenancy.DeviceQuery{Page: tenancy.Page{Number: -1}})
	wantCode(t, err, tenancy.Invalid)
	var got []string
	for p := 0; p < 5; p++ {
		l, err := w.svc.Devices(w.ctx, w.A, tenancy.DeviceQuery{IncludeSub: true, Page: tenancy.Page{Number: p, Size: 2}})
		w.must(err)
		if l.Total != 5 {
			t.Fatalf("total %d", l.Total)
		}
		for _, d := range l.Items {
			got = append(got, d.Name)
		}
	}
	if !eq(got, []string{"AC", "Pool Heater", "Thermostat-H", "Boiler", "Thermostat-W"}) {
		t.Fatalf("pages %v", got)
	}
}

// TestNewOrgInheritsEveryTemplate: a new org gets every template enabled
// in its parent, past one page of them.
func TestNewOrgInheritsEveryTemplate(t *testing.T) {
	e := newEnv(t, tenancy.Config{})
	root, admin, err := e.svc.Bootstrap(e.ctx, tenancy.Bootstrap{OrgName: "Root", AdminEmail: "a@root.test", AdminName: "A", Password: pw})
	e.must(err)
	a := tenancy.Actor{UserID: admin.ID, OrgID: root.ID, RoleID: tenancy.RoleAdmin}
	n := tenancy.MaxPageSize + 2
	e.must(e.store.Atomic(e.ctx, func(tx tenancy.Tx) error {
		for i := range n {
			id := tenancy.TemplateID(fmt.Sprintf("TMPL%05d", i))
			if err := tx.CreateTemplate(e.ctx, tenancy.Template{ID: id, RootID: root.ID, Def: datastream.Template{ID: string(id), Name: string(id)}}); err != nil {
				return err
			}
			if err := tx.SetTemplateEnabled(e.ctx, root.ID, id, true); err != nil {
				return err
			}
		}
		return nil
	}))
	child, err := e.svc.CreateOrg(e.ctx, a, tenancy.NewOrg{ParentID: root.ID, Name: "Child"})
	e.must(err)
	got := 0
	for page := (tenancy.Page{Size: tenancy.MaxPageSize}); ; page.Number++ {
		l, err := e.store.ListTemplates(e.ctx, tenancy.TemplateFilter{RootID: root.ID, EnabledIn: child.ID, Page: page})
		e.must(err)
		got += len(l.Items)
		if len(l.Items) < page.Size {
			break
		}
	}
	if got != n {
		t.Fatalf("the new org has %d templates enabled, its parent %d", got, n)
	}
}
