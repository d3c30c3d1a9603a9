package tenancy_test

import (
	"fmt"
	"testing"

	"outpost/cloud/internal/tenancy"
)

func TestLocations(t *testing.T) {
	w := newWorld(t)
	orgLoc, err := w.svc.CreateLocation(w.ctx, w.R, tenancy.NewLocation{Name: "Plant", Lat: 48.1, Lon: 11.5})
	wantCode(t, err, tenancy.Forbidden) // Staff: org locations are view-only by default
	orgLoc, err = w.svc.CreateLocation(w.ctx, w.A, tenancy.NewLocation{OrgID: w.muller.ID, Name: "Plant"})
	w.must(err)
	own, err := w.svc.CreateLocation(w.ctx, w.R, tenancy.NewLocation{Owned: true, Name: "R's van"})
	w.must(err)
	wOwn, err := w.svc.CreateLocation(w.ctx, w.W, tenancy.NewLocation{Owned: true, Name: "W's van"})
	w.must(err)
	// Staff has org view: sees all three; edits only its own.
	l, err := w.svc.Locations(w.ctx, w.R, tenancy.LocationQuery{})
	w.must(err)
	if l.Total != 3 {
		t.Fatalf("R sees %d locations", l.Total)
	}
	name := "R's truck"
	_, err = w.svc.UpdateLocation(w.ctx, w.R, own.ID, tenancy.LocationUpdate{Name: &name})
	w.must(err)
	_, err = w.svc.UpdateLocation(w.ctx, w.R, wOwn.ID, tenancy.LocationUpdate{Name: &name})
	wantCode(t, err, tenancy.Forbidden)
	_, err = w.svc.AssignLocationUsers(w.ctx, w.A, orgLoc.ID, []tenancy.UserID{w.R.UserID, w.W.UserID})
	w.must(err)
	_, err = w.svc.AssignLocationUsers(w.ctx, w.A, orgLoc.ID, []tenancy.UserID{w.M.UserID})
	w.must(err) // M is in A's scope too
	_, err = w.svc.AssignLocationUsers(w.ctx, w.U, orgLoc.ID, nil)
	wantCode(t, err, tenancy.NotFound) // Muller is outside U's scope
	_, err = w.svc.Location(w.ctx, w.H, orgLoc.ID)
	wantCode(t, err, tenancy.NotFound)
	w.must(w.svc.DeleteLocation(w.ctx, w.R, own.ID))
	wantCode(t, w.svc.DeleteLocation(w.ctx, w.R, orgLoc.ID), tenancy.Forbidden)
}

func TestTags(t *testing.T) {
	w := newWorld(t)
	_, err := w.svc.CreateTag(w.ctx, w.R, 0, "roof")
	wantCode(t, err, tenancy.Forbidden) // tags are for administrators
	var ids []tenancy.TagID
	for i := 0; i < tenancy.MaxTagsPerOrg; i++ {
		tg, err := w.svc.CreateTag(w.ctx, w.A, w.muller.ID, fmt.Sprintf("tag %d", i))
		w.must(err)
		ids = append(ids, tg.ID)
	}
	_, err = w.svc.CreateTag(w.ctx, w.A, w.muller.ID, "one more")
	wantCode(t, err, tenancy.LimitReached)
	_, err = w.svc.CreateTag(w.ctx, w.A, w.united.ID, "tag 0")
	w.must(err) // names are per org
	wantCode(t, w.svc.SetDeviceTags(w.ctx, w.A, w.boiler.ID, ids[:6]), tenancy.LimitReached)
	w.must(w.svc.SetDeviceTags(w.ctx, w.A, w.boiler.ID, ids[:2]))
	tags, err := w.svc.DeviceTags(w.ctx, w.A, w.boiler.ID)
	w.must(err)
	if len(tags) != 2 {
		t.Fatalf("device tags %+v", tags)
	}
	// A Muller tag cannot label a United device.
	wantCode(t, w.svc.SetDeviceTags(w.ctx, w.A, w.ac.ID, ids[:1]), tenancy.NotFound)
	w.must(w.svc.DeleteTag(w.ctx, w.A, ids[0]))
	tags, _ = w.svc.DeviceTags(w.ctx, w.A, w.boiler.ID)
	if len(tags) != 1 {
		t.Fatalf("after delete %+v", tags)
	}
}

func TestGateways(t *testing.T) {
	w := newWorld(t)
	g, code, err := w.svc.RegisterGateway(w.ctx, "Pi at US branch")
	w.must(err)
	_, err = w.svc.Gateway(w.ctx, w.A, g.ID)
	wantCode(t, err, tenancy.NotFound) // unclaimed gateways belong to nobody
	_, err = w.svc.ClaimGateway(w.ctx, w.M, code, 0)
	wantCode(t, err, tenancy.Forbidden) // default User sees its org but may not claim into it
	_, err = w.svc.ClaimGateway(w.ctx, w.U, "gw_wrong", w.us.ID)
	wantCode(t, err, tenancy.NotFound)
	g, err = w.svc.ClaimGateway(w.ctx, w.U, code, w.us.ID)
	w.must(err)
	if g.OrgID != w.us.ID {
		t.Fatalf("claimed %+v", g)
	}
	_, err = w.svc.ClaimGateway(w.ctx, w.A, code, w.muller.ID)
	wantCode(t, err, tenancy.NotFound) // a code works once
	for _, c := range []struct {
		name string
		a    tenancy.Actor
		code tenancy.Code
	}{{"U above", w.U, ""}, {"A above", w.A, ""}, {"H sibling", w.H, tenancy.NotFound}, {"R other branch", w.R, tenancy.NotFound}} {
		_, err := w.svc.Gateway(w.ctx, c.a, g.ID)
		if tenancy.CodeOf(err) != c.code {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	l, err := w.svc.Gateways(w.ctx, w.U, 0, true, tenancy.Page{})
	w.must(err)
	if l.Total != 1 {
		t.Fatalf("U lists %+v", l)
	}
	_, err = w.svc.ReleaseGateway(w.ctx, w.R, g.ID)
	wantCode(t, err, tenancy.NotFound)
	code2, err := w.svc.ReleaseGateway(w.ctx, w.U, g.ID)
	w.must(err)
	if _, err := w.svc.ClaimGateway(w.ctx, w.A, code, w.muller.ID); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Fatalf("old code after release: %v", err)
	}
	g, err = w.svc.ClaimGateway(w.ctx, w.A, code2, w.muller.ID)
	w.must(err)
	if g.OrgID != w.muller.ID {
		t.Fatalf("reclaimed %+v", g)
	}
}
