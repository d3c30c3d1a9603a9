package tenancy_test

import (
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

// Service rules from issue 11's tenancy corrections.

func TestQueriesAndNamesRefuseControlsAndBadUTF8(t *testing.T) {
	w := newWorld(t)
	for _, q := range []string{"\x00", "Pool\x00", "\x1b", "\xff"} {
		_, err := w.svc.Devices(w.ctx, w.A, tenancy.DeviceQuery{IncludeSub: true, Query: q})
		wantCode(t, err, tenancy.Invalid)
		_, err = w.svc.Orgs(w.ctx, w.A, tenancy.OrgQuery{IncludeSub: true, Query: q})
		wantCode(t, err, tenancy.Invalid)
		_, err = w.svc.Users(w.ctx, w.A, tenancy.UserQuery{IncludeSub: true, Query: q})
		wantCode(t, err, tenancy.Invalid)
	}
	for _, name := range []string{"Bad\x00Org", "Bad \xff Org", "Tab\tOrg"} {
		_, err := w.svc.CreateOrg(w.ctx, w.A, tenancy.NewOrg{ParentID: w.warmPlus.ID, Name: name})
		wantCode(t, err, tenancy.Invalid)
	}
	bad := "caf\xe9"
	_, err := w.svc.UpdateOrg(w.ctx, w.A, w.united.ID, tenancy.OrgUpdate{Description: &bad})
	wantCode(t, err, tenancy.Invalid)
	multi := "first line\nsecond line"
	_, err = w.svc.UpdateOrg(w.ctx, w.A, w.united.ID, tenancy.OrgUpdate{Description: &multi})
	w.must(err)
	_, err = w.svc.CreateDevice(w.ctx, w.A, tenancy.NewDevice{TemplateID: w.T.ID, Name: "dev\x00"})
	wantCode(t, err, tenancy.Invalid)
	_, err = w.svc.UpdateUser(w.ctx, w.A, w.M.UserID, tenancy.UserUpdate{Name: &bad})
	wantCode(t, err, tenancy.Invalid)
}

func TestOrgTransferTouchesAndHonoursSubOrgFlag(t *testing.T) {
	w := newWorld(t)
	w.clock.Add(time.Hour)
	o, err := w.svc.TransferOrg(w.ctx, w.A, w.us.ID, w.muller.ID)
	w.must(err)
	if !o.UpdatedAt.Equal(w.clock.Now()) {
		t.Fatalf("UpdatedAt %v after transfer at %v", o.UpdatedAt, w.clock.Now())
	}
	off := false
	_, err = w.svc.UpdateOrg(w.ctx, w.A, w.muller.ID, tenancy.OrgUpdate{CanCreateSub: &off})
	w.must(err)
	_, err = w.svc.TransferOrg(w.ctx, w.A, w.canada.ID, w.muller.ID)
	wantCode(t, err, tenancy.Forbidden)
}

func TestClaimStaticTokenByPayloadAsDefaultUser(t *testing.T) {
	w := newWorld(t)
	sts, err := w.svc.CreateStaticTokens(w.ctx, w.A, 0, w.T.ID, 2)
	w.must(err)
	_, err = w.svc.ClaimStaticToken(w.ctx, w.M, sts[0].QR+"+999", "")
	wantCode(t, err, tenancy.NotFound) // a payload naming another org
	d, err := w.svc.ClaimStaticToken(w.ctx, w.M, tenancy.QRPayload(sts[0]), "")
	w.must(err)
	if d.OrgID != w.us.ID || d.OwnerID != w.M.UserID {
		t.Fatalf("claimed %+v", d)
	}
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.canada.ID, tenancy.RoleUser, tenancy.PermSet{}, tenancy.PushNone))
	_, err = w.svc.ClaimStaticToken(w.ctx, w.H, sts[1].QR, "")
	wantCode(t, err, tenancy.Forbidden)
	w.must(w.svc.DisclaimStaticToken(w.ctx, w.A, sts[0].ID))
	for _, org := range []tenancy.OrgID{w.us.ID, w.warmPlus.ID} {
		l, err := w.svc.Audit(w.ctx, w.A, tenancy.AuditQuery{OrgID: org, Page: tenancy.Page{Size: 1}})
		w.must(err)
		if len(l.Items) != 1 || l.Items[0].Action != "static_token.disclaim" {
			t.Fatalf("org %d audit %+v", org, l.Items)
		}
	}
}

func TestTransferUserRules(t *testing.T) {
	w := newWorld(t)
	_, err := w.svc.TransferUser(w.ctx, w.A, w.M.UserID, tenancy.UserTransfer{OrgID: w.us.ID, RoleID: tenancy.RoleStaff})
	wantCode(t, err, tenancy.Invalid) // already there
	own := tenancy.NewPermSet(tenancy.LocationsOwnCreate)
	w.must(w.svc.SetRolePermissions(w.ctx, w.A, w.us.ID, tenancy.RoleUser, own, tenancy.PushNone))
	loc, err := w.svc.CreateLocation(w.ctx, w.M, tenancy.NewLocation{Owned: true, Name: "Cabin"})
	w.must(err)
	_, vAdmin := w.user(w.A, "v@canada.test", w.canada.ID, tenancy.RoleAdmin)
	w.notes.list = nil
	res, err := w.svc.TransferUser(w.ctx, w.A, w.M.UserID, tenancy.UserTransfer{OrgID: w.canada.ID, RoleID: tenancy.RoleStaff, MoveDevices: true})
	w.must(err)
	if res.MovedDevices != 1 {
		t.Fatalf("moved %d devices", res.MovedDevices)
	}
	l, err := w.svc.Location(w.ctx, w.A, loc.ID)
	w.must(err)
	if l.OrgID != w.canada.ID {
		t.Fatalf("location stayed in %d", l.OrgID)
	}
	got := map[tenancy.UserID]string{}
	for _, n := range w.notes.list {
		got[n.UserID] = n.Message
	}
	for _, u := range []tenancy.UserID{w.M.UserID, vAdmin.UserID} {
		if m := got[u]; !strings.Contains(m, "US branch") || !strings.Contains(m, "Canada branch") || !strings.Contains(m, "Staff") {
			t.Fatalf("notification to %d: %q (all: %+v)", u, m, w.notes.list)
		}
	}
	if _, ok := got[w.U.UserID]; ok {
		t.Fatal("an Admin of another org was notified")
	}
}

func TestCreateTreeIsForTheSuperAdmin(t *testing.T) {
	w := newWorld(t)
	for _, a := range []tenancy.Actor{w.U, w.R, w.M, {ClientID: "oc", OrgID: w.warmPlus.ID}} {
		_, _, _, err := w.svc.CreateTree(w.ctx, a, tenancy.Bootstrap{OrgName: "Tenant", AdminEmail: "t@tenant.test"})
		wantCode(t, err, tenancy.Forbidden)
	}
	o, u, pw, err := w.svc.CreateTree(w.ctx, w.A, tenancy.Bootstrap{OrgName: "Tenant", AdminEmail: "t@tenant.test"})
	w.must(err)
	if o.ParentID != 0 || u.OrgID != o.ID || u.RoleID != tenancy.RoleAdmin || pw == "" {
		t.Fatalf("tree %+v admin %+v password %q", o, u, pw)
	}
	x := tenancy.Actor{UserID: u.ID, OrgID: o.ID, RoleID: tenancy.RoleAdmin}
	_, _, _, err = w.svc.CreateTree(w.ctx, x, tenancy.Bootstrap{OrgName: "Tenant 2", AdminEmail: "t2@tenant.test"})
	wantCode(t, err, tenancy.Forbidden) // an Admin of a later root is not
	_, err = w.svc.TransferUser(w.ctx, w.A, w.M.UserID, tenancy.UserTransfer{OrgID: o.ID, RoleID: tenancy.RoleUser})
	wantCode(t, err, tenancy.NotFound)
	_, err = w.svc.TransferUser(w.ctx, x, w.M.UserID, tenancy.UserTransfer{OrgID: o.ID, RoleID: tenancy.RoleUser})
	wantCode(t, err, tenancy.NotFound)
	// Another tree's template answers like a missing one, not "not
	// enabled here" (found by the matrix's second-tree caller).
	_, err = w.svc.CreateDevice(w.ctx, x, tenancy.NewDevice{TemplateID: w.T.ID, Name: "d"})
	wantCode(t, err, tenancy.NotFound)
	_, err = w.svc.CreateStaticTokens(w.ctx, x, 0, w.T.ID, 1)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, w.svc.SetTemplateEnabled(w.ctx, x, o.ID, w.T.ID, true), tenancy.NotFound)
}
