package tenancytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

func testUsers(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "ann@example.com", tenancy.RoleAdmin)
	mkUser(t, s, tr.a1.ID, "bob@example.com", tenancy.RoleUser)
	mkUser(t, s, tr.b.ID, "cid@example.com", tenancy.RoleUser)
	dup := tenancy.User{OrgID: tr.b.ID, RoleID: 3, Email: "ann@example.com", Type: tenancy.UserEndUser, Status: tenancy.StatusPending, CreatedAt: t0, UpdatedAt: t0}
	wantCode(t, s.CreateUser(ctx, &dup), tenancy.Conflict)
	got, err := s.GetUser(ctx, u.ID)
	must(t, err)
	if !equalJSON(got, u) {
		t.Fatalf("GetUser = %+v, want %+v", got, u)
	}
	got, err = s.GetUserByEmail(ctx, "ann@example.com")
	must(t, err)
	if got.ID != u.ID {
		t.Fatalf("GetUserByEmail = %+v", got)
	}
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	wantCode(t, err, tenancy.NotFound)
	u.Name, u.Status, u.IsDev, u.OrgID = "Ann B", tenancy.StatusSuspended, true, tr.a1.ID
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUser(ctx, u.ID)
	must(t, err)
	if !equalJSON(got, u) {
		t.Fatalf("after update = %+v, want %+v", got, u)
	}
	for _, c := range []struct {
		f    tenancy.UserFilter
		want int
	}{
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}}, 2},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}}, 0},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}}, 3},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, RoleID: tenancy.RoleUser}, 2},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "BOB"}, 1},
		{tenancy.UserFilter{Scope: tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, Query: "\x00"}, 0},
	} {
		c.f.Page.Size = 10
		l, err := s.ListUsers(ctx, c.f)
		must(t, err)
		if l.Total != c.want || len(l.Items) != c.want {
			t.Errorf("ListUsers(%+v) = %d/%d, want %d", c.f, l.Total, len(l.Items), c.want)
		}
	}
	must(t, s.DeleteUser(ctx, u.ID))
	_, err = s.GetUser(ctx, u.ID)
	wantCode(t, err, tenancy.NotFound)
	wantCode(t, s.DeleteUser(ctx, u.ID), tenancy.NotFound)
	wantCode(t, s.UpdateUser(ctx, u), tenancy.NotFound)
}

// testUserSearch checks the users list's search and pages against a scan
// of every user, through the changes a search index must follow (names
// and emails changed, users deleted) and at scopes small and large (a
// store may plan them differently).
func testUserSearch(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	orgs := []tenancy.OrgID{tr.a1.ID, tr.a1.ID, tr.a1.ID, tr.a1.ID, tr.a1.ID, tr.a1.ID, tr.b.ID, tr.a.ID, tr.root.ID}
	names := []string{"Ulla User %d", "Max Müller %d", "r_%d percent 100%%", "Zed ZED %d", "user%d"}
	var all []tenancy.User
	for i := range 70 {
		u := mkUser(t, s, orgs[i%len(orgs)], fmt.Sprintf("person%02d@Example.com", i), tenancy.RoleID(1+i%3))
		u.Name = fmt.Sprintf(names[i%len(names)], i)
		must(t, s.UpdateUser(ctx, u))
		all = append(all, u)
	}
	// Renamed and deleted users: an index must not keep the old.
	for i := 0; i < len(all); i += 9 {
		all[i].Name = fmt.Sprintf("Renamed Rita %d", i)
		must(t, s.UpdateUser(ctx, all[i]))
	}
	var kept []tenancy.User
	for i, u := range all {
		if i%11 == 5 {
			must(t, s.DeleteUser(ctx, u.ID))
			continue
		}
		kept = append(kept, u)
	}
	in := map[tenancy.Scope]map[tenancy.OrgID]bool{
		{OrgID: tr.root.ID, Subtree: true}: {tr.root.ID: true, tr.a.ID: true, tr.a1.ID: true, tr.b.ID: true},
		{OrgID: tr.a.ID, Subtree: true}:    {tr.a.ID: true, tr.a1.ID: true},
		{OrgID: tr.b.ID, Subtree: true}:    {tr.b.ID: true},
		{OrgID: tr.a1.ID}:                  {tr.a1.ID: true},
	}
	for scope, orgs := range in {
		for _, q := range []string{"", "us", "USER", "ser 1", "müller", "MAX M", "rita", "Person0", "example.COM", "Ulla User 18", "%", "_", "r_1", "0%", "zed zed", "none such"} {
			for _, role := range []tenancy.RoleID{0, 2} {
				var want []tenancy.UserID
				for _, u := range kept {
					match := strings.Contains(strings.ToLower(u.Name), strings.ToLower(q)) || strings.Contains(strings.ToLower(u.Email), strings.ToLower(q))
					if orgs[u.OrgID] && match && (role == 0 || u.RoleID == role) {
						want = append(want, u.ID)
					}
				}
				for _, p := range []tenancy.Page{{Size: 7}, {Size: 7, Number: 1}, {Size: 7, Number: 3}, {Size: 50}} {
					f := tenancy.UserFilter{Scope: scope, RoleID: role, Query: q, Page: p}
					l, err := s.ListUsers(ctx, f)
					must(t, err)
					lo, hi := min(p.Offset(), len(want)), min(p.Offset()+p.Size, len(want))
					if got := userIDs(l.Items); l.Total != len(want) || !slices.Equal(got, want[lo:hi]) {
						t.Errorf("ListUsers(%+v) = %d total, %v; want %d, %v", f, l.Total, got, len(want), want[lo:hi])
					}
					if len(want) > 7 && p.Number == 0 && p.Size == 7 {
						f.Page = tenancy.Page{Size: 7, After: int64(want[6])}
						l, err := s.ListUsers(ctx, f)
						must(t, err)
						if got := userIDs(l.Items); !slices.Equal(got, want[7:min(14, len(want))]) {
							t.Errorf("ListUsers(%+v) = %v, want %v", f, got, want[7:min(14, len(want))])
						}
					}
				}
			}
		}
	}
	// A second root's users are in no scope of the first (a store may
	// count the whole table while one root holds every user).
	root := tenancy.Scope{OrgID: tr.root.ID, Subtree: true}
	before, err := s.ListUsers(ctx, tenancy.UserFilter{Scope: root, Page: tenancy.Page{Size: 100}})
	must(t, err)
	other := mkOrg(t, s, 0, "Other Root")
	mkUser(t, s, other.ID, "stranger@example.com", tenancy.RoleAdmin)
	for _, size := range []int{7, 100} {
		after, err := s.ListUsers(ctx, tenancy.UserFilter{Scope: root, Page: tenancy.Page{Size: size}})
		must(t, err)
		if want := userIDs(before.Items)[:min(size, len(before.Items))]; after.Total != before.Total || !slices.Equal(userIDs(after.Items), want) {
			t.Errorf("with a second root: %d total, %v; want %d, %v", after.Total, userIDs(after.Items), before.Total, want)
		}
	}
}

func userIDs(us []tenancy.User) []tenancy.UserID {
	out := []tenancy.UserID{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func testRoles(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	for _, r := range []tenancy.Role{{ID: 3, Name: "User", BuiltIn: true}, {ID: 1, Name: "Admin", BuiltIn: true}, {ID: 4, Name: "Installer"}} {
		r.RootID = tr.root.ID
		must(t, s.CreateRole(ctx, r))
	}
	wantCode(t, s.CreateRole(ctx, tenancy.Role{RootID: tr.root.ID, ID: 4, Name: "Again"}), tenancy.Conflict)
	roles, err := s.ListRoles(ctx, tr.root.ID)
	must(t, err)
	if len(roles) != 3 || roles[0].ID != 1 || roles[2].ID != 4 || !roles[0].BuiltIn || roles[2].BuiltIn {
		t.Fatalf("ListRoles = %+v", roles)
	}
	must(t, s.UpdateRole(ctx, tenancy.Role{RootID: tr.root.ID, ID: 4, Name: "Fitter"}))
	roles, _ = s.ListRoles(ctx, tr.root.ID)
	if roles[2].Name != "Fitter" {
		t.Fatalf("rename lost: %+v", roles)
	}
	wantCode(t, s.UpdateRole(ctx, tenancy.Role{RootID: tr.root.ID, ID: 7, Name: "x"}), tenancy.NotFound)

	p1 := tenancy.NewPermSet(tenancy.OrgDevicesView, tenancy.GatewaysManage)
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a.ID, RoleID: 4, Perms: p1}))
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a1.ID, RoleID: 4, Perms: p1}))
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a.ID, RoleID: 1, Perms: tenancy.DefaultPermissions(1)}))
	p2 := tenancy.NewPermSet(tenancy.OwnDevicesView)
	must(t, s.SetRolePerms(ctx, tenancy.RolePerms{OrgID: tr.a.ID, RoleID: 4, Perms: p2})) // upsert
	rp, err := s.ListRolePerms(ctx, tr.a.ID)
	must(t, err)
	if len(rp) != 2 || rp[0].RoleID != 1 || rp[0].Perms != tenancy.DefaultPermissions(1) || rp[1].Perms != p2 {
		t.Fatalf("ListRolePerms = %+v", rp)
	}
	all, err := s.AllRolePerms(ctx)
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("AllRolePerms = %d rows, want 3", len(all))
	}
	u1 := mkUser(t, s, tr.a.ID, "x@example.com", 4)
	u2 := mkUser(t, s, tr.a1.ID, "y@example.com", 4)
	u3 := mkUser(t, s, tr.a1.ID, "z@example.com", 3)
	n, err := s.ReassignRole(ctx, tr.root.ID, 4, 3)
	must(t, err)
	if n != 2 {
		t.Fatalf("ReassignRole moved %d, want 2", n)
	}
	for _, id := range []tenancy.UserID{u1.ID, u2.ID, u3.ID} {
		u, _ := s.GetUser(ctx, id)
		if u.RoleID != 3 {
			t.Fatalf("user %d role %d after reassign", id, u.RoleID)
		}
	}
	must(t, s.DeleteRole(ctx, tr.root.ID, 4))
	rp, _ = s.ListRolePerms(ctx, tr.a1.ID)
	if len(rp) != 0 {
		t.Fatalf("perms of a deleted role remain: %+v", rp)
	}
	wantCode(t, s.DeleteRole(ctx, tr.root.ID, 4), tenancy.NotFound)
}

func testInvitations(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "inv@example.com", tenancy.RoleUser)
	for i := range 3 {
		inv := tenancy.Invitation{UserID: u.ID, OrgID: tr.a.ID, ByOrgID: tr.root.ID, ByUserID: 1, TokenHash: h(fmt.Sprint("inv", i)),
			CreatedAt: t0.Add(time.Duration(i) * 12 * time.Hour), ExpiresAt: t0.Add(30 * 24 * time.Hour)}
		must(t, s.CreateInvitation(ctx, &inv))
		if inv.ID == 0 {
			t.Fatal("no ID")
		}
	}
	n, err := s.CountInvitations(ctx, tr.root.ID, t0.Add(12*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("CountInvitations = %d, want 2", n)
	}
	n, _ = s.CountInvitations(ctx, tr.a.ID, t0)
	if n != 0 {
		t.Fatalf("other org counted %d", n)
	}
	inv, err := s.GetInvitationByHash(ctx, h("inv1"))
	must(t, err)
	if inv.UserID != u.ID || inv.TokenHash != h("inv1") || !inv.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) || !inv.UsedAt.IsZero() {
		t.Fatalf("invitation = %+v", inv)
	}
	must(t, s.MarkInvitationUsed(ctx, inv.ID, t0.Add(time.Hour)))
	wantCode(t, s.MarkInvitationUsed(ctx, inv.ID, t0.Add(time.Hour)), tenancy.NotFound)
	inv, _ = s.GetInvitationByHash(ctx, h("inv1"))
	if !inv.UsedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("used at %v", inv.UsedAt)
	}
	_, err = s.GetInvitationByHash(ctx, h("nope"))
	wantCode(t, err, tenancy.NotFound)

	must(t, s.CreatePasswordReset(ctx, tenancy.PasswordReset{TokenHash: h("r1"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.CreatePasswordReset(ctx, tenancy.PasswordReset{TokenHash: h("r2"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	_, err = s.UsePasswordReset(ctx, h("r2"), t0.Add(2*time.Hour))
	wantCode(t, err, tenancy.NotFound) // expired
	r, err := s.UsePasswordReset(ctx, h("r1"), t0.Add(time.Minute))
	must(t, err)
	if r.UserID != u.ID {
		t.Fatalf("reset = %+v", r)
	}
	_, err = s.UsePasswordReset(ctx, h("r1"), t0.Add(time.Minute))
	wantCode(t, err, tenancy.NotFound) // single use
}

func testSessions(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "ses@example.com", tenancy.RoleUser)
	s1 := tenancy.Session{TokenHash: h("s1"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), RemoteAddr: "127.0.0.1", UserAgent: "test"}
	s2 := tenancy.Session{TokenHash: h("s2"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateSession(ctx, &s1))
	must(t, s.CreateSession(ctx, &s2))
	s3 := tenancy.Session{TokenHash: h("s3"), UserID: u.ID, CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)} // expired
	must(t, s.CreateSession(ctx, &s3))
	live, err := s.ListUserSessions(ctx, u.ID, t0)
	must(t, err)
	if len(live) != 2 || live[0].ID != s2.ID || live[1].ID != s1.ID || live[1].UserAgent != "test" {
		t.Fatalf("live sessions %+v, want s2 then s1 (newest first, the expired one left out)", live)
	}
	got, err := s.GetSessionByHash(ctx, h("s1"))
	must(t, err)
	if !equalJSON(got, s1) {
		t.Fatalf("got %+v, want %+v", got, s1)
	}
	must(t, s.RevokeSession(ctx, s1.ID, t0.Add(time.Minute)))
	must(t, s.RevokeSession(ctx, s1.ID, t0.Add(2*time.Minute))) // twice is fine
	wantCode(t, s.RevokeSession(ctx, 99999, t0), tenancy.NotFound)
	got, _ = s.GetSessionByHash(ctx, h("s1"))
	if !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("revoked at %v", got.RevokedAt)
	}
	n, err := s.RevokeUserSessions(ctx, u.ID, t0.Add(time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("RevokeUserSessions = %d, want 2 (s2 and the expired s3; s1 was already revoked)", n)
	}
	got, _ = s.GetSessionByHash(ctx, h("s2"))
	if got.RevokedAt.IsZero() {
		t.Fatal("s2 not revoked")
	}
	if live, err := s.ListUserSessions(ctx, u.ID, t0); err != nil || len(live) != 0 {
		t.Fatalf("live sessions after revoking all: %+v %v", live, err)
	}
	_, err = s.GetSessionByHash(ctx, h("nope"))
	wantCode(t, err, tenancy.NotFound)
}

func testOAuth(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	c := tenancy.OAuthClient{ID: "oc_1", OrgID: tr.a.ID, Name: "ERP", SecretHash: h("secret"), RedirectURLs: []string{"https://x"}, CreatedBy: 1, CreatedAt: t0}
	must(t, s.CreateOAuthClient(ctx, c))
	wantCode(t, s.CreateOAuthClient(ctx, c), tenancy.Conflict)
	got, err := s.GetOAuthClient(ctx, "oc_1")
	must(t, err)
	if !equalJSON(got, c) {
		t.Fatalf("got %+v, want %+v", got, c)
	}
	cs, err := s.ListOAuthClients(ctx, tr.a.ID)
	must(t, err)
	if len(cs) != 1 {
		t.Fatalf("clients = %+v", cs)
	}
	at := tenancy.AccessToken{TokenHash: h("at"), ClientID: c.ID, OrgID: c.OrgID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateAccessToken(ctx, at))
	gotAT, err := s.GetAccessTokenByHash(ctx, h("at"))
	must(t, err)
	if !equalJSON(gotAT, at) {
		t.Fatalf("access token %+v", gotAT)
	}
	for _, k := range []string{"rt1", "rt2", "rt3"} {
		must(t, s.CreateRefreshToken(ctx, tenancy.RefreshToken{TokenHash: h(k), ClientID: c.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	_, err = s.UseRefreshToken(ctx, h("rt1"), t0.Add(2*time.Hour))
	wantCode(t, err, tenancy.NotFound) // expired
	// Single use under concurrency: exactly one of several redeemers wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt, err := s.UseRefreshToken(ctx, h("rt2"), t0.Add(time.Minute))
			if err == nil && rt.ClientID == c.ID {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if tenancy.CodeOf(err) != tenancy.NotFound {
				t.Errorf("UseRefreshToken: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("refresh token redeemed %d times", wins)
	}
	must(t, s.RevokeClientTokens(ctx, c.ID, t0.Add(time.Minute)))
	gotAT, _ = s.GetAccessTokenByHash(ctx, h("at"))
	if gotAT.RevokedAt.IsZero() {
		t.Fatal("access token not revoked")
	}
	_, err = s.UseRefreshToken(ctx, h("rt3"), t0.Add(2*time.Minute))
	wantCode(t, err, tenancy.NotFound)
	must(t, s.DeleteOAuthClient(ctx, c.ID))
	_, err = s.GetOAuthClient(ctx, c.ID)
	wantCode(t, err, tenancy.NotFound)
	_, err = s.GetAccessTokenByHash(ctx, h("at"))
	wantCode(t, err, tenancy.NotFound) // tokens go with their client
	wantCode(t, s.DeleteOAuthClient(ctx, c.ID), tenancy.NotFound)
}

// testRevokeCredentials: what a password change ends. RevokeOtherSessions
// keeps one session; RevokeCreatorTokens ends the access and refresh
// tokens of the clients the user created, and no one else's.
func testRevokeCredentials(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	u := mkUser(t, s, tr.a.ID, "me@example.com", tenancy.RoleAdmin)
	other := mkUser(t, s, tr.a.ID, "other@example.com", tenancy.RoleAdmin)
	var mine [3]tenancy.Session
	for i := range mine {
		mine[i] = tenancy.Session{TokenHash: h(fmt.Sprint("mine", i)), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		must(t, s.CreateSession(ctx, &mine[i]))
	}
	theirs := tenancy.Session{TokenHash: h("theirs"), UserID: other.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateSession(ctx, &theirs))
	at := t0.Add(time.Minute)
	n, err := s.RevokeOtherSessions(ctx, u.ID, mine[1].ID, at)
	must(t, err)
	if n != 2 {
		t.Errorf("RevokeOtherSessions = %d, want 2", n)
	}
	for i, want := range []bool{true, false, true} {
		got, _ := s.GetSessionByHash(ctx, mine[i].TokenHash)
		if revoked := !got.RevokedAt.IsZero(); revoked != want {
			t.Errorf("session %d revoked = %v, want %v", i, revoked, want)
		}
	}
	if got, _ := s.GetSessionByHash(ctx, h("theirs")); !got.RevokedAt.IsZero() {
		t.Error("another user's session was revoked")
	}
	if n, err := s.RevokeOtherSessions(ctx, u.ID, 0, at); err != nil || n != 1 {
		t.Errorf("RevokeOtherSessions keeping none = %d, %v; want 1", n, err)
	}

	for _, c := range []tenancy.OAuthClient{{ID: "oc_mine", CreatedBy: u.ID}, {ID: "oc_theirs", CreatedBy: other.ID}} {
		c.OrgID, c.Name, c.SecretHash, c.CreatedAt = tr.a.ID, c.ID, h(c.ID), t0
		must(t, s.CreateOAuthClient(ctx, c))
		must(t, s.CreateAccessToken(ctx, tenancy.AccessToken{TokenHash: h("at" + c.ID), ClientID: c.ID, OrgID: c.OrgID,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		must(t, s.CreateRefreshToken(ctx, tenancy.RefreshToken{TokenHash: h("rt" + c.ID), ClientID: c.ID,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	must(t, s.RevokeCreatorTokens(ctx, u.ID, at))
	if got, _ := s.GetAccessTokenByHash(ctx, h("atoc_mine")); !got.RevokedAt.Equal(at) {
		t.Errorf("the user's client's access token: revoked at %v, want %v", got.RevokedAt, at)
	}
	_, err = s.UseRefreshToken(ctx, h("rtoc_mine"), at)
	wantCode(t, err, tenancy.NotFound)
	if got, _ := s.GetAccessTokenByHash(ctx, h("atoc_theirs")); !got.RevokedAt.IsZero() {
		t.Error("another user's client's access token was revoked")
	}
	_, err = s.UseRefreshToken(ctx, h("rtoc_theirs"), at)
	must(t, err)
}
