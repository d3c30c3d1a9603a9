package tenancy_test

import (
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
