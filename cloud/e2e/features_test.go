package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Endpoints Blynk documents no API for (TENANCY.md §10 "not confirmed"):
// org transfer, audit, bulk invitation, password reset, locations.

func TestOrgTransfer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, u := f.tok["A"], f.tok["U"]
	f.must(403, "POST", o+"/transfer", u, map[string]any{"orgId": f.us, "newParentId": f.ca}) // not a root-org Admin
	f.must(400, "POST", o+"/transfer", a, map[string]any{"orgId": f.uh, "newParentId": f.us}) // under itself
	f.must(400, "POST", o+"/transfer", a, map[string]any{"orgId": f.root, "newParentId": f.uh})

	var moved struct{ ParentOrganizationID, Depth int64 }
	f.must(200, "POST", o+"/transfer", a, map[string]any{"orgId": f.us, "newParentId": f.muller}).decode(t, &moved)
	if moved.ParentOrganizationID != f.muller || moved.Depth != 3 {
		t.Fatalf("moved org %+v", moved)
	}
	wantNames(t, "U after", f.deviceNames(u, "includeSubOrgDevices", true), "AC", "Thermostat-H")
	wantNames(t, "R after", f.deviceNames(f.tok["R"], "includeSubOrgDevices", true), "Boiler", "Thermostat-W", "Pool Heater")
	f.must(404, "GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), u, nil)

	f.must(200, "POST", o+"/transfer", a, map[string]any{"orgId": f.us, "newParentId": f.uh})
	wantNames(t, "U back", f.deviceNames(u, "includeSubOrgDevices", true), "AC", "Pool Heater", "Thermostat-H")
	wantNames(t, "R back", f.deviceNames(f.tok["R"], "includeSubOrgDevices", true), "Boiler", "Thermostat-W")
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	f.must(204, "POST", o+"/device/transfer", a, map[string]any{"deviceId": f.dev["Thermostat-H"], "newUserId": f.user["M"]})
	var l struct {
		Content []struct {
			Action, ObjectType, ObjectID string
			UserID, OrgID                int64
			Before, After                map[string]any
		}
		TotalElements int
	}
	f.must(200, "GET", q(o+"/audit", "includeSubOrgs", true, "size", 5), a, nil).decode(t, &l)
	if len(l.Content) == 0 || l.Content[0].Action != "device.transfer" || l.Content[0].UserID != f.user["A"] ||
		l.Content[0].Before == nil || l.Content[0].After == nil || l.TotalElements < 10 {
		t.Fatalf("newest audit entry %+v of %d", l.Content, l.TotalElements)
	}
	for _, e := range l.Content {
		for _, m := range []map[string]any{e.Before, e.After} {
			if _, leaked := m["PasswordHash"]; leaked {
				t.Errorf("audit entry %s carries a password hash", e.Action)
			}
		}
	}
	// Scoped like everything else: U reads United Heaters', not WarmPlus's.
	f.must(200, "GET", q(o+"/audit", "orgId", f.uh), f.tok["U"], nil)
	f.must(404, "GET", q(o+"/audit", "orgId", f.root), f.tok["U"], nil)
	f.must(403, "GET", o+"/audit", f.tok["M"], nil) // default User: its org is visible, the log is not
}

var rowRE = regexp.MustCompile(`"token":"(inv_[a-z0-9]+)"`)

func TestBulkInviteCSV(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	csv := "email,name,role,phone\n" +
		"ann@uh.test,Ann,Staff,+1 555 0100\n" +
		"m@usbranch.test,Existing,User,\n" +
		"bob@uh.test,Bob,Wizard,\n" +
		"not-an-email,Carl,User,\n" +
		"dee@uh.test,Dee,,\n" +
		"\"broken,row\n"
	var rep struct {
		Created, Failed int
		Rows            []struct {
			Line    int
			Email   string
			Created bool
			UserID  int64
			Error   string
		}
	}
	f.must(200, "POST", q(o+"/users/invite/csv", "orgId", f.uh), f.tok["U"], []byte(csv)).decode(t, &rep)
	if rep.Created != 2 || rep.Failed != 4 || len(rep.Rows) != 6 {
		t.Fatalf("report %+v", rep)
	}
	created := map[string]bool{}
	for _, r := range rep.Rows {
		if r.Created {
			created[r.Email] = true
		} else if r.Error == "" {
			t.Errorf("refused row without a reason: %+v", r)
		}
	}
	if !created["ann@uh.test"] || !created["dee@uh.test"] {
		t.Errorf("created %v", created)
	}
	if !strings.Contains(rep.Rows[1].Error, "already in use") || !strings.Contains(rep.Rows[2].Error, "role") {
		t.Errorf("reasons %q, %q", rep.Rows[1].Error, rep.Rows[2].Error)
	}
	var users struct {
		Content []struct {
			Email  string
			RoleID int
			Status string
		}
	}
	f.must(200, "GET", q(o+"/search/users", "query", "@uh.test"), f.tok["U"], nil).decode(t, &users)
	for _, u := range users.Content {
		if u.Email == "ann@uh.test" && (u.RoleID != 2 || u.Status != "PENDING") {
			t.Errorf("ann %+v", u)
		}
		if u.Email == "dee@uh.test" && u.RoleID != 3 {
			t.Errorf("dee got role %d, want User by default", u.RoleID)
		}
	}
	for _, who := range []string{"ann@uh.test", "dee@uh.test"} {
		if ms := f.mails(who); len(ms) != 1 || rowRE.FindString(strings.ReplaceAll(ms[0], `\"`, `"`)) == "" {
			t.Errorf("%s: %d invitation mails", who, len(ms))
		}
	}
	f.must(404, "POST", q(o+"/users/invite/csv", "orgId", f.muller), f.tok["U"], []byte(csv))
}

var resetRE = regexp.MustCompile(`"token":"(rst_[a-z0-9]+)"`)

func TestPasswordResetAndChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	old := f.tok["M"]
	f.must(204, "POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "m@usbranch.test"})
	f.must(204, "POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "nobody@nowhere.test"}) // same answer
	ms := f.mails("m@usbranch.test")
	if len(ms) != 1 {
		t.Fatalf("%d reset mails", len(ms))
	}
	m := resetRE.FindStringSubmatch(strings.ReplaceAll(ms[0], `\"`, `"`))
	if m == nil {
		t.Fatalf("no reset token in %q", ms[0])
	}
	f.must(204, "POST", "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": m[1], "password": "brand-new-pw"})
	f.must(400, "POST", "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": m[1], "password": "other-new-pw"}) // single use
	f.must(401, "GET", "/api/v1/auth/me", old, nil)
	f.must(401, "POST", "/api/v1/auth/login", "", map[string]string{"email": "m@usbranch.test", "password": userPassword})
	tok := f.login("m@usbranch.test", "brand-new-pw")

	f.must(400, "POST", "/api/v1/auth/password", tok, map[string]string{"oldPassword": "wrong", "newPassword": "third-password"})
	f.must(204, "POST", "/api/v1/auth/password", tok, map[string]string{"oldPassword": "brand-new-pw", "newPassword": "third-password"})
	f.login("m@usbranch.test", "third-password")

	// An admin sets a password; the user's sessions end.
	f.must(204, "POST", q(o+"/users/password", "userId", f.user["M"]), f.tok["A"], map[string]string{"password": "admin-set-pw"})
	f.must(401, "GET", "/api/v1/auth/me", tok, nil)
	f.login("m@usbranch.test", "admin-set-pw")
}

func TestLocationsOwnVersusOrg(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r, w := f.tok["R"], f.tok["W"]
	var orgLoc, own struct{ ID int64 }
	f.must(201, "POST", o+"/location/create", f.tok["A"], map[string]any{"name": "Muller HQ", "orgId": f.muller,
		"address": map[string]string{"city": "Munich"}, "lat": 48.1, "lon": 11.6}).decode(t, &orgLoc)
	f.must(403, "POST", o+"/location/create", r, map[string]any{"name": "R's org site"}) // Staff: no org-location create
	f.must(201, "POST", o+"/location/create", r, map[string]any{"name": "R's van", "owned": true}).decode(t, &own)
	f.must(400, "POST", o+"/location/create", r, map[string]any{"name": "Nowhere", "owned": true, "lat": 95})
	names := func(tok string) []string {
		var l struct{ Content []struct{ Name string } }
		f.must(200, "GET", o+"/locations", tok, nil).decode(t, &l)
		var out []string
		for _, x := range l.Content {
			out = append(out, x.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names(w); !slices.Equal(got, []string{"Muller HQ", "R's van"}) {
		t.Errorf("W (org view) sees %v", got)
	}
	f.must(200, "PUT", q(o+"/location", "locationId", own.ID), r, map[string]any{"name": "R's truck"})
	f.must(403, "PUT", q(o+"/location", "locationId", own.ID), w, map[string]any{"name": "W was here"})
	f.must(200, "PUT", q(o+"/location/users", "locationId", orgLoc.ID), f.tok["A"], map[string]any{"userIds": []int64{f.user["R"], f.user["W"]}})
	var loc struct{ UserIDs []int64 }
	f.must(200, "GET", q(o+"/location", "locationId", orgLoc.ID), w, nil).decode(t, &loc)
	if len(loc.UserIDs) != 2 {
		t.Errorf("assigned users %v", loc.UserIDs)
	}
	f.must(404, "PUT", q(o+"/location/users", "locationId", orgLoc.ID), f.tok["A"], map[string]any{"userIds": []int64{missingID}})
	f.must(204, "DELETE", q(o+"/location", "locationId", own.ID), r, nil)
	f.must(404, "GET", q(o+"/location", "locationId", own.ID), w, nil)
}
