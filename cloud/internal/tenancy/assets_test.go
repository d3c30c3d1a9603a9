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

// TestUserTags: administrators tag users (at most MaxTagsPerUser, tags
// of the user's org or an ancestor), filter the users list by a tag and
// find the change in the audit log; others may neither set nor see them.
func TestUserTags(t *testing.T) {
	w := newWorld(t)
	united, err := w.svc.CreateTag(w.ctx, w.A, w.united.ID, "installer")
	w.must(err)
	muller, err := w.svc.CreateTag(w.ctx, w.A, w.muller.ID, "muller")
	w.must(err)
	var many []tenancy.TagID
	for i := range tenancy.MaxTagsPerUser + 1 {
		tg, err := w.svc.CreateTag(w.ctx, w.A, w.us.ID, fmt.Sprintf("us %d", i))
		w.must(err)
		many = append(many, tg.ID)
	}
	m := w.users["M"] // in US branch, below United
	wantCode(t, w.svc.SetUserTags(w.ctx, w.A, m.ID, many), tenancy.LimitReached)
	wantCode(t, w.svc.SetUserTags(w.ctx, w.A, m.ID, []tenancy.TagID{muller.ID}), tenancy.NotFound) // another branch's tag
	wantCode(t, w.svc.SetUserTags(w.ctx, w.M, m.ID, []tenancy.TagID{united.ID}), tenancy.NotFound) // a User may not edit users
	wantCode(t, w.svc.SetUserTags(w.ctx, w.R, m.ID, nil), tenancy.NotFound)                        // outside R's scope
	w.must(w.svc.SetUserTags(w.ctx, w.U, m.ID, []tenancy.TagID{many[0], united.ID, many[0]}))
	tags, err := w.svc.UserTags(w.ctx, w.U, m.ID)
	w.must(err)
	if len(tags) != 2 || tags[0].ID != united.ID || tags[1].ID != many[0] {
		t.Fatalf("user tags %+v", tags)
	}
	_, err = w.svc.UserTags(w.ctx, w.M, m.ID)
	wantCode(t, err, tenancy.NotFound) // a User may not view users
	l, err := w.svc.Users(w.ctx, w.U, tenancy.UserQuery{IncludeSub: true, TagID: united.ID})
	w.must(err)
	if len(l.Items) != 1 || l.Items[0].ID != m.ID {
		t.Fatalf("users tagged %q: %+v", united.Name, l.Items)
	}
	if l, err := w.svc.Users(w.ctx, w.M, tenancy.UserQuery{TagID: united.ID}); err != nil || len(l.Items) != 0 {
		t.Errorf("a User filtering users by tag: %+v, %v", l.Items, err) // may not view users: nothing
	}
	all, err := w.svc.Users(w.ctx, w.A, tenancy.UserQuery{IncludeSub: true, Page: tenancy.Page{Size: 100}})
	w.must(err)
	byUser, err := w.svc.UsersTags(w.ctx, w.A, all.Items)
	w.must(err)
	if len(byUser) != 1 || len(byUser[m.ID]) != 2 {
		t.Errorf("UsersTags = %+v", byUser)
	}
	if got, _ := w.svc.UsersTags(w.ctx, w.M, all.Items); len(got) != 0 {
		t.Errorf("UsersTags for a User = %+v", got)
	}
	a, err := w.svc.Audit(w.ctx, w.A, tenancy.AuditQuery{IncludeSub: true, Action: "user.tags"})
	w.must(err)
	want := fmt.Sprintf(`{"tagIds":[%d,%d]}`, min(united.ID, many[0]), max(united.ID, many[0]))
	if len(a.Items) != 1 || a.Items[0].ObjectID != fmt.Sprint(m.ID) || string(a.Items[0].Before) != `{"tagIds":[]}` || string(a.Items[0].After) != want {
		t.Errorf("audit %+v, want after %s", a.Items, want)
	}
	w.must(w.svc.SetUserTags(w.ctx, w.U, m.ID, nil))
	if tags, _ := w.svc.UserTags(w.ctx, w.U, m.ID); len(tags) != 0 {
		t.Errorf("cleared tags %+v", tags)
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
