package tenancytest

import (
	"context"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

func testStaticTokens(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	st := tenancy.StaticToken{QR: "sqr_1", OrgID: tr.a.ID, TemplateID: tm.ID, Status: tenancy.Unclaimed, CreatedAt: t0}
	must(t, s.CreateStaticToken(ctx, &st))
	if st.ID == 0 {
		t.Fatal("no ID")
	}
	dup := st
	wantCode(t, s.CreateStaticToken(ctx, &dup), tenancy.Conflict)
	d := mkDevice(t, s, tr.a.ID, 0, tm.ID, "static")
	d.StaticToken = st.ID
	must(t, s.UpdateDevice(ctx, d))
	st.DeviceID, st.Status, st.OwnerID, st.ClaimedOrgID, st.ClaimedAt = d.ID, tenancy.Claimed, 7, tr.b.ID, t0.Add(time.Minute)
	must(t, s.UpdateStaticToken(ctx, st))
	got, err := s.GetStaticTokenByQR(ctx, "sqr_1")
	must(t, err)
	if !equalJSON(got, st) {
		t.Fatalf("got %+v, want %+v", got, st)
	}
	got, _ = s.GetStaticToken(ctx, st.ID)
	if !equalJSON(got, st) {
		t.Fatalf("by id %+v", got)
	}
	l, err := s.ListStaticTokens(ctx, tenancy.StaticTokenFilter{OrgID: tr.a.ID, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 {
		t.Fatalf("list = %+v", l)
	}
	// By status: the claimed one, and none unclaimed (Total counts the
	// filtered rows).
	l, err = s.ListStaticTokens(ctx, tenancy.StaticTokenFilter{OrgID: tr.a.ID, Status: tenancy.Claimed, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].ID != st.ID {
		t.Fatalf("claimed list = %+v", l)
	}
	l, err = s.ListStaticTokens(ctx, tenancy.StaticTokenFilter{OrgID: tr.a.ID, Status: tenancy.Unclaimed, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("unclaimed list = %+v", l)
	}
	must(t, s.DeleteStaticToken(ctx, st.ID))
	_, err = s.GetStaticTokenByQR(ctx, "sqr_1")
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.DeleteStaticToken(ctx, st.ID), tenancy.NotFound)
	got2, err := s.GetDevice(ctx, d.ID)
	must(t, err)
	if got2.StaticToken != 0 {
		t.Fatalf("device still points at a deleted static token: %+v", got2)
	}
}

func testLocations(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	l := tenancy.Location{OrgID: tr.a.ID, Name: "Plant", Address: tenancy.Address{City: "Linz"}, Lat: 48.3, Lon: 14.3, CreatedAt: t0}
	must(t, s.CreateLocation(ctx, &l))
	own := tenancy.Location{OrgID: tr.a1.ID, OwnerID: 5, Name: "Home", CreatedAt: t0}
	must(t, s.CreateLocation(ctx, &own))
	l.Users = []tenancy.UserID{3, 4}
	l.Name = "Plant 2"
	must(t, s.UpdateLocation(ctx, l))
	got, err := s.GetLocation(ctx, l.ID)
	must(t, err)
	if !equalJSON(got, l) {
		t.Fatalf("got %+v, want %+v", got, l)
	}
	list, err := s.ListLocations(ctx, tenancy.LocationFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if list.Total != 2 {
		t.Fatalf("subtree = %+v", list)
	}
	list, _ = s.ListLocations(ctx, tenancy.LocationFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, OwnerID: 5, Page: tenancy.Page{Size: 10}})
	if list.Total != 1 || list.Items[0].ID != own.ID {
		t.Fatalf("owned = %+v", list)
	}
	// An owned location moves with its owner to another org (user
	// transfer, issue 11).
	own.OrgID = tr.b.ID
	must(t, s.UpdateLocation(ctx, own))
	if got, _ := s.GetLocation(ctx, own.ID); got.OrgID != tr.b.ID {
		t.Fatalf("moved location is in org %d, want %d", got.OrgID, tr.b.ID)
	}
	must(t, s.DeleteLocation(ctx, l.ID))
	_, err = s.GetLocation(ctx, l.ID)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.UpdateLocation(ctx, l), tenancy.NotFound)
}

func testTags(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	tm := mkTemplate(t, s, tr.root.ID, "TMPL1")
	d := mkDevice(t, s, tr.a.ID, 0, tm.ID, "tagged")
	t1 := tenancy.Tag{OrgID: tr.a.ID, Name: "roof"}
	t2 := tenancy.Tag{OrgID: tr.a.ID, Name: "cellar"}
	must(t, s.CreateTag(ctx, &t1))
	must(t, s.CreateTag(ctx, &t2))
	dup := tenancy.Tag{OrgID: tr.a.ID, Name: "roof"}
	wantCode(t, s.CreateTag(ctx, &dup), tenancy.Conflict)
	other := tenancy.Tag{OrgID: tr.b.ID, Name: "roof"}
	must(t, s.CreateTag(ctx, &other))
	ts, err := s.ListTags(ctx, tr.a.ID)
	must(t, err)
	if len(ts) != 2 {
		t.Fatalf("tags = %+v", ts)
	}
	got, err := s.GetTag(ctx, t2.ID)
	must(t, err)
	if got != t2 {
		t.Fatalf("GetTag = %+v", got)
	}
	wantCode(t, s.RenameTag(ctx, t2.ID, "roof"), tenancy.Conflict) // t1's name in the same org
	wantCode(t, s.RenameTag(ctx, 99999, "attic"), tenancy.NotFound)
	must(t, s.RenameTag(ctx, t2.ID, "basement"))
	t2.Name = "basement"
	if got, _ := s.GetTag(ctx, t2.ID); got != t2 {
		t.Fatalf("after rename GetTag = %+v", got)
	}
	must(t, s.SetDeviceTags(ctx, d.ID, []tenancy.TagID{t1.ID, t2.ID}))
	dt, err := s.DeviceTags(ctx, d.ID)
	must(t, err)
	if len(dt) != 2 {
		t.Fatalf("device tags = %+v", dt)
	}
	must(t, s.SetDeviceTags(ctx, d.ID, []tenancy.TagID{t2.ID})) // replaces
	dt, _ = s.DeviceTags(ctx, d.ID)
	if len(dt) != 1 || dt[0].ID != t2.ID {
		t.Fatalf("after replace = %+v", dt)
	}
	must(t, s.DeleteTag(ctx, t2.ID))
	dt, _ = s.DeviceTags(ctx, d.ID)
	if len(dt) != 0 {
		t.Fatalf("deleted tag still on device: %+v", dt)
	}
	wantCode(t, s.DeleteTag(ctx, t2.ID), tenancy.NotFound)
	wantCode(t, s.SetDeviceTags(ctx, 99999, nil), tenancy.NotFound)
}

func testGateways(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	g := tenancy.Gateway{Name: "Pi", ClaimCodeHash: h("code"), CreatedAt: t0, ClaimExpiresAt: t0.Add(24 * time.Hour)}
	must(t, s.CreateGateway(ctx, &g))
	dup := tenancy.Gateway{Name: "Pi2", ClaimCodeHash: h("code"), CreatedAt: t0}
	wantCode(t, s.CreateGateway(ctx, &dup), tenancy.Conflict)
	got, err := s.GetGatewayByClaimHash(ctx, h("code"))
	must(t, err)
	if !equalJSON(got, g) {
		t.Fatalf("got %+v, want %+v", got, g)
	}
	g.OrgID, g.ClaimedAt, g.ClaimExpiresAt = tr.a1.ID, t0.Add(time.Hour), t0.Add(25*time.Hour)
	must(t, s.UpdateGateway(ctx, g))
	got, _ = s.GetGateway(ctx, g.ID)
	if !equalJSON(got, g) {
		t.Fatalf("after claim %+v", got)
	}
	l, err := s.ListGateways(ctx, tenancy.GatewayFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	must(t, err)
	if l.Total != 1 {
		t.Fatalf("list = %+v", l)
	}
	l, _ = s.ListGateways(ctx, tenancy.GatewayFilter{Scope: tenancy.Scope{OrgID: tr.b.ID, Subtree: true}, Page: tenancy.Page{Size: 10}})
	if l.Total != 0 {
		t.Fatalf("b sees %+v", l)
	}
	// Without the total (a wake walking every page): the same items.
	sk, err := s.ListGateways(ctx, tenancy.GatewayFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 10}, SkipTotal: true})
	must(t, err)
	if len(sk.Items) != 1 || sk.Items[0].ID != g.ID {
		t.Fatalf("list without total = %+v", sk)
	}
	must(t, s.DeleteGateway(ctx, g.ID))
	_, err = s.GetGateway(ctx, g.ID)
	wantCode(t, err, tenancy.NotFound)
}

// testUserTags: users carry tags as devices do; UserTags answers for many
// users at once (users without tags absent), ListUsers filters by a tag,
// deleting a tag or a user drops the assignment.
func testUserTags(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	ann := mkUser(t, s, tr.a.ID, "ann@a.test", tenancy.RoleUser)
	bob := mkUser(t, s, tr.a.ID, "bob@a.test", tenancy.RoleUser)
	cid := mkUser(t, s, tr.a1.ID, "cid@a1.test", tenancy.RoleUser)
	vip := tenancy.Tag{OrgID: tr.a.ID, Name: "vip"}
	night := tenancy.Tag{OrgID: tr.a.ID, Name: "night shift"}
	must(t, s.CreateTag(ctx, &vip))
	must(t, s.CreateTag(ctx, &night))
	must(t, s.SetUserTags(ctx, ann.ID, []tenancy.TagID{night.ID, vip.ID}))
	must(t, s.SetUserTags(ctx, cid.ID, []tenancy.TagID{vip.ID, vip.ID})) // a repeat is one
	got, err := s.UserTags(ctx, []tenancy.UserID{ann.ID, bob.ID, cid.ID})
	must(t, err)
	names := func(ts []tenancy.Tag) string {
		var out []string
		for _, tg := range ts {
			out = append(out, tg.Name)
		}
		return strings.Join(out, ",")
	}
	if len(got) != 2 || names(got[ann.ID]) != "vip,night shift" || names(got[cid.ID]) != "vip" || got[bob.ID] != nil {
		t.Fatalf("UserTags = %+v", got)
	}
	if got[ann.ID][0] != vip {
		t.Errorf("UserTags' tag = %+v, want %+v", got[ann.ID][0], vip)
	}
	if none, err := s.UserTags(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("UserTags(nil) = %v, %v", none, err)
	}
	emails := func(f tenancy.UserFilter) string {
		t.Helper()
		l, err := s.ListUsers(ctx, f)
		must(t, err)
		var out []string
		for _, u := range l.Items {
			out = append(out, u.Email)
		}
		if l.Total != len(l.Items) {
			t.Errorf("ListUsers(%+v): total %d for %d items", f, l.Total, len(l.Items))
		}
		return strings.Join(out, ",")
	}
	if got := emails(tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, TagID: vip.ID}); got != "ann@a.test,cid@a1.test" {
		t.Errorf("users tagged vip in A's subtree: %s", got)
	}
	if got := emails(tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}, TagID: vip.ID}); got != "ann@a.test" {
		t.Errorf("users tagged vip in A: %s", got)
	}
	if got := emails(tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, TagID: night.ID, Query: "bob"}); got != "" {
		t.Errorf("bob tagged night shift: %s", got)
	}
	must(t, s.SetUserTags(ctx, ann.ID, []tenancy.TagID{night.ID})) // replaces
	if got, _ := s.UserTags(ctx, []tenancy.UserID{ann.ID}); names(got[ann.ID]) != "night shift" {
		t.Errorf("after replace: %+v", got)
	}
	must(t, s.DeleteTag(ctx, night.ID))
	if got, _ := s.UserTags(ctx, []tenancy.UserID{ann.ID}); len(got) != 0 {
		t.Errorf("deleted tag still on a user: %+v", got)
	}
	must(t, s.DeleteUser(ctx, cid.ID))
	if got := emails(tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, TagID: vip.ID}); got != "" {
		t.Errorf("users tagged vip after deleting cid: %s", got)
	}
	must(t, s.SetUserTags(ctx, bob.ID, nil))
	wantCode(t, s.SetUserTags(ctx, 99999, nil), tenancy.NotFound)
}
