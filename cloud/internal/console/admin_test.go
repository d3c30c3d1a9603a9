package console

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"outpost/cloud/internal/tenancy"
)

// lastAudit is the newest audit entry's id in the whole tree: every
// change of the service writes one, so an unchanged id means nothing
// changed.
func (e *env) lastAudit(t *testing.T) tenancy.AuditID {
	t.Helper()
	l, err := e.svc.Audit(context.Background(), e.admin, tenancy.AuditQuery{IncludeSub: true, Page: tenancy.Page{Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) == 0 {
		return 0
	}
	return l.Items[0].ID
}

// branch is Client A Branch.
func (e *env) branch(t *testing.T) tenancy.Org {
	t.Helper()
	l, err := e.svc.Orgs(context.Background(), e.admin, tenancy.OrgQuery{IncludeSub: true, Query: "Client A Branch"})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("Client A Branch: %v %v", l, err)
	}
	return l.Items[0]
}

var fieldErrorRE = regexp.MustCompile(`<p class="(?:fielderror|notice error)"[^>]*>([^<]*)</p>`)

// fieldErrors are the messages shown next to fields, or at the top of
// the page for a form the page does not offer (a forged request).
func fieldErrors(body string) []string {
	var out []string
	for _, m := range fieldErrorRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// orgRowRE is a row of the organizations table: name, devices, users.
var orgRowRE = regexp.MustCompile(`(?s)<th scope="row" class="d\d">(.*?)</th>\s*<td class="num">([^<]*)</td><td class="num">([^<]*)</td>`)

// orgRows maps an organizations page's rows by name to "devices/users".
func orgRows(body string) map[string]string {
	out := map[string]string{}
	for _, m := range orgRowRE.FindAllStringSubmatch(body, -1) {
		name := strings.TrimSpace(strings.TrimSuffix(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], ""), "current"))
		out[html.UnescapeString(name)] = m[2] + "/" + m[3]
	}
	return out
}

// TestOrgSearchCounts: a search's matches show the counts the tree shows
// for them (the page counts a few matches one by one, many at once),
// also for a user whose role may not see every count.
func TestOrgSearchCounts(t *testing.T) {
	e := newEnv(t)
	for _, who := range []string{"admin@acme.test", "op@a.test", "viewer@a.test"} {
		c := e.signedIn(who)
		tree := orgRows(c.get("/orgs").body)
		if len(tree) == 0 {
			t.Fatalf("%s: the tree shows %v", who, tree)
		}
		for _, q := range []string{"client", "client a", "branch", "acme", "c"} {
			got := orgRows(c.get("/orgs?q=" + url.QueryEscape(q)).body)
			want := map[string]string{}
			for name, n := range tree {
				if strings.Contains(strings.ToLower(name), q) {
					want[name] = n
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s: /orgs?q=%s shows %v, want %v", who, q, got, want)
			}
		}
	}
	if got := orgRows(e.signedIn("admin@acme.test").get("/orgs").body)["Client A"]; got != "1/2" {
		t.Errorf("Client A shows %s devices/users, want 1/2", got)
	}
}

// TestAdminPages renders every administration page for the root Admin:
// each answers 200 with no inline script or style and shows what it must.
func TestAdminPages(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	br := e.branch(t)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/orgs", []string{"4 organizations", "Acme Cloud", "Client A Branch", `class="d2"`, `aria-label="Switch into Client B"`,
			`<td class="num">1</td>`, "New sub-organization"}},
		{"/orgs?q=branch", []string{"1 organization match", "Client A Branch"}},
		{fmt.Sprintf("/orgs/new?parent=%d", e.orgA.ID), []string{"Below Client A", "Thermostat", `name="template"`, "May create sub-organizations"}},
		{fmt.Sprintf("/orgs/%d", e.orgA.ID), []string{"Client A", "Transfer", "New parent", "Client B", "Delete Client A", "Switch into"}},
		{fmt.Sprintf("/orgs/%d", br.ID), []string{"Organizations</a> › Acme Cloud › Client A"}},
		{"/users", []string{"3 users in Acme Cloud and below", "Vera Viewer", "Otto Operator", "Ada Admin", "Invited", "Add users"}},
		{"/users?sub=0", []string{"1 user in Acme Cloud<"}},
		{"/users?role=3", []string{"1 user ", "Vera Viewer"}},
		{"/users/add", []string{"Send invitation", "Create user", "Invite from CSV", "— Client A Branch"}},
		{fmt.Sprintf("/users/%d", e.viewer.ID), []string{"viewer@a.test", "Change role", "Transfer user", "Suspend", "Force logout",
			"Send password reset", "Delete user", "Move the devices they own"}},
		{"/roles", []string{"Roles and permissions", "View users", "ORG_USERS_VIEW", "Organization devices", "Sites", "New custom role"}},
		{"/roles/3", []string{"User", "Apply to sub-organizations", `value="OWN_DEVICES_CLAIM" checked`, "Save permissions"}},
		{"/audit", []string{"Audit log", "org.create", "Ada Admin (you)", "&#34;name&#34;:&#34;Client A&#34;", "Client B"}},
		{"/audit?action=user.create", []string{`<tr data-action="user.create">`, "Otto Operator"}},
	} {
		res := admin.get(tc.path)
		if res.status != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", tc.path, res.status, res.body)
			continue
		}
		if inlineScript.MatchString(res.body) || strings.Contains(res.body, " style=") {
			t.Errorf("GET %s: inline script or style", tc.path)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.body, w) {
				t.Errorf("GET %s: no %q in the page", tc.path, w)
			}
		}
	}
	if res := admin.get("/devices"); !strings.Contains(res.body, `href="/users"`) || !strings.Contains(res.body, `href="/roles"`) ||
		!strings.Contains(res.body, `href="/audit"`) || !strings.Contains(res.body, `href="/orgs"`) {
		t.Errorf("the root Admin's header lacks administration links")
	}
}

// TestAdminPermissions: a user whose role allows none of it is offered no
// administration and refused when a request is forged; an org outside
// the scope is 404.
func TestAdminPermissions(t *testing.T) {
	e := newEnv(t)
	viewer := e.signedIn("viewer@a.test")
	op := e.signedIn("op@a.test")
	res := viewer.get("/devices")
	for _, l := range []string{`href="/users"`, `href="/roles"`, `href="/audit"`} {
		if strings.Contains(res.body, l) {
			t.Errorf("the viewer is offered %s", l)
		}
	}
	before := e.lastAudit(t)
	for _, tc := range []struct {
		method, path string
		form         url.Values
		want         int
	}{
		{"GET", "/users", nil, 403},
		{"GET", "/users/add", nil, 403},
		{"GET", "/roles", nil, 403},
		{"GET", "/audit", nil, 403},
		{"GET", fmt.Sprintf("/orgs/new?parent=%d", e.orgA.ID), nil, 403},
		{"POST", "/users/invite", url.Values{"email": {"x@a.test"}, "name": {"X"}, "role": {"3"}, "org": {fmt.Sprint(e.orgA.ID)}}, 403},
		{"POST", "/orgs/new", url.Values{"parent": {fmt.Sprint(e.orgA.ID)}, "name": {"Sneaky"}}, 403},
		{"POST", fmt.Sprintf("/orgs/%d", e.orgA.ID), url.Values{"name": {"Client A"}, "retention": {"1"}}, 403},
		{"POST", fmt.Sprintf("/users/%d/delete", e.operator.ID), nil, 404}, // users are invisible to this role
		{"POST", fmt.Sprintf("/users/%d/suspend", e.operator.ID), url.Values{"suspend": {"1"}}, 404},
		{"POST", "/roles/3", url.Values{"perm": {"ORG_USERS_VIEW"}}, 403},
		{"POST", "/roles", url.Values{"name": {"Sneaky"}}, 404}, // roles live in the root, out of reach
	} {
		var r response
		if tc.method == "GET" {
			r = viewer.get(tc.path)
		} else {
			r = viewer.post(tc.path, tc.form)
		}
		if r.status != tc.want {
			t.Errorf("viewer %s %s: %d, want %d", tc.method, tc.path, r.status, tc.want)
		}
	}
	// Client A's Admin does not reach Client B or the root.
	for _, p := range []string{fmt.Sprintf("/orgs/%d", e.orgB.ID), fmt.Sprintf("/users/%d", e.admin.UserID), fmt.Sprintf("/audit?org=%d", e.orgB.ID)} {
		if r := op.get(p); r.status != http.StatusNotFound {
			t.Errorf("Client A's Admin GET %s: %d, want 404", p, r.status)
		}
	}
	if r := op.post(fmt.Sprintf("/orgs/%d/delete", e.orgB.ID), nil); r.status != http.StatusNotFound {
		t.Errorf("Client A's Admin deletes Client B: %d, want 404", r.status)
	}
	if r := op.get("/orgs"); strings.Contains(r.body, "Client B") || strings.Contains(r.body, "Acme Cloud") || !strings.Contains(r.body, "Client A Branch") {
		t.Errorf("Client A's Admin's tree shows other clients or the root:\n%s", r.body)
	}
	if e.lastAudit(t) != before {
		t.Errorf("a refused request changed something")
	}
}

// TestAdminRefusals posts every administration form with what the service
// refuses: the page answers the refusal's status with the service's
// message next to the field, and nothing changes.
func TestAdminRefusals(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	op := e.signedIn("op@a.test")
	br := e.branch(t)
	ctx := context.Background()
	// A depth-4 org under the branch: nothing may be created below it.
	on := true
	if _, err := e.svc.UpdateOrg(ctx, e.admin, br.ID, tenancy.OrgUpdate{CanCreateSub: &on}); err != nil {
		t.Fatal(err)
	}
	deep, err := e.svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: br.ID, Name: "Deep Org"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateOrg(ctx, e.admin, deep.ID, tenancy.OrgUpdate{CanCreateSub: &on}); err != nil {
		t.Fatal(err)
	}
	off := false
	closed, err := e.svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.admin.OrgID, Name: "Closed Org", CanCreateSub: &off})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateRole(ctx, e.admin, "Installer"); err != nil {
		t.Fatal(err)
	}
	id := func(v any) string { return fmt.Sprint(v) }
	a, b := id(e.orgA.ID), id(e.orgB.ID)
	for _, tc := range []struct {
		name string
		c    *client
		path string
		form url.Values
		want int
		msg  string
	}{
		{"org name too short", admin, "/orgs/new", url.Values{"parent": {a}, "name": {"ab"}}, 400, "organization name"},
		{"org name taken", admin, "/orgs/new", url.Values{"parent": {id(e.orgA.ID)}, "name": {"Client A Branch"}}, 400, "already in use"},
		{"org description with <", admin, "/orgs/new", url.Values{"parent": {a}, "name": {"Fine Name"}, "description": {"a <b>"}}, 400, "description must"},
		{"org under an org without sub-orgs", admin, "/orgs/new", url.Values{"parent": {id(closed.ID)}, "name": {"Not Here"}}, 403, "cannot create sub-organizations"},
		{"org too deep", admin, "/orgs/new", url.Values{"parent": {id(deep.ID)}, "name": {"Too Deep"}}, 400, "maximum organization depth"},
		{"org edit empty name", admin, "/orgs/" + a, url.Values{"name": {""}}, 400, "organization name"},
		{"org retention not a number", admin, "/orgs/" + a, url.Values{"name": {"Client A"}, "retention": {"ten"}}, 400, "whole number of days"},
		{"org retention past a century", admin, "/orgs/" + a, url.Values{"name": {"Client A"}, "retention": {"99999"}}, 400, "history retention"},
		{"org transfer under itself", admin, "/orgs/" + a + "/transfer", url.Values{"parent": {id(br.ID)}}, 400, "cannot be moved under itself"},
		{"org transfer where it is", admin, "/orgs/" + a + "/transfer", url.Values{"parent": {id(e.admin.OrgID)}}, 400, "already there"},
		{"org transfer too deep", admin, "/orgs/" + b + "/transfer", url.Values{"parent": {id(deep.ID)}}, 400, "maximum organization depth"},
		{"org transfer to an org without sub-orgs", admin, "/orgs/" + b + "/transfer", url.Values{"parent": {id(closed.ID)}}, 403, "cannot have sub-organizations"},
		{"org transfer by a client's Admin", op, "/orgs/" + id(br.ID) + "/transfer", url.Values{"parent": {a}}, 403, "root organization can transfer"},
		{"org delete with sub-orgs", admin, "/orgs/" + a + "/delete", nil, 400, "has sub-organizations"},
		{"org delete with devices", admin, "/orgs/" + b + "/delete", nil, 400, "has devices"},
		{"invite a bad email", admin, "/users/invite", url.Values{"email": {"not-an-email"}, "name": {"X"}, "role": {"3"}, "org": {a}}, 400, "email"},
		{"invite a taken email", admin, "/users/invite", url.Values{"email": {"viewer@a.test"}, "name": {"X"}, "role": {"3"}, "org": {a}}, 400, "already in use"},
		{"invite without a name", admin, "/users/invite", url.Values{"email": {"new@a.test"}, "name": {""}, "role": {"3"}, "org": {a}}, 400, "name"},
		{"invite an unknown role", admin, "/users/invite", url.Values{"email": {"new@a.test"}, "name": {"New"}, "role": {"77"}, "org": {a}}, 400, "role 77"},
		{"create with a short password", admin, "/users/create", url.Values{"email": {"new@a.test"}, "name": {"New"}, "role": {"3"}, "org": {a}, "password": {"short"}}, 400, "password"},
		{"import nothing", admin, "/users/import", url.Values{"org": {a}, "csv": {"  "}}, 400, "CSV"},
		{"own role", admin, "/users/" + id(e.admin.UserID) + "/role", url.Values{"role": {"2"}}, 400, "your own role"},
		{"transfer into the same org", admin, "/users/" + id(e.viewer.ID) + "/transfer", url.Values{"org": {a}, "role": {"3"}}, 400, "already in this organization"},
		{"transfer with an unknown role", admin, "/users/" + id(e.viewer.ID) + "/transfer", url.Values{"org": {b}, "role": {"77"}}, 404, "role"},
		{"suspend oneself", admin, "/users/" + id(e.admin.UserID) + "/suspend", url.Values{"suspend": {"1"}}, 400, "yourself"},
		{"resend to someone who joined", admin, "/users/" + id(e.admin.UserID) + "/resend", nil, 400, "already joined"},
		{"reset for someone out of reach", op, "/users/" + id(e.admin.UserID) + "/reset", nil, 404, ""},
		{"delete oneself", admin, "/users/" + id(e.admin.UserID) + "/delete", nil, 400, "yourself"},
		{"role name taken", admin, "/roles", url.Values{"name": {"staff"}}, 400, "already in use"},
		{"role name empty", admin, "/roles", url.Values{"name": {""}}, 400, "role name"},
		{"own role's permissions", admin, "/roles/1", url.Values{"perm": {"ROLES_VIEW"}}, 403, "your own role"},
		{"unknown permission", admin, "/roles/3", url.Values{"perm": {"FLY"}}, 400, "unknown permission"},
		{"rename to a taken name", admin, "/roles/4/rename", url.Values{"name": {"Admin"}}, 400, "already in use"},
		{"delete a built-in role", admin, "/roles/2/delete", url.Values{"replacement": {"3"}}, 400, "built-in"},
		{"delete a role into itself", admin, "/roles/4/delete", url.Values{"replacement": {"4"}}, 400, "another role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.lastAudit(t)
			res := tc.c.post(tc.path, tc.form)
			if res.status != tc.want {
				t.Fatalf("POST %s: %d, want %d\n%s", tc.path, res.status, tc.want, res.body)
			}
			errs := fieldErrors(res.body)
			if tc.msg == "" {
				errs = []string{""} // the not-found page: nothing to say about the form
			}
			if len(errs) != 1 || !strings.Contains(errs[0], tc.msg) {
				t.Errorf("POST %s: field messages %q, want one with %q", tc.path, errs, tc.msg)
			}
			if e.lastAudit(t) != before {
				t.Errorf("POST %s: the refusal changed something", tc.path)
			}
		})
	}
}

var linkRE = regexp.MustCompile(`(/accept-invitation|/reset-password)\?token=([a-z0-9_]+)`)

// mailedToken is the token of the link in the newest mail to to.
func (e *env) mailedToken(t *testing.T, to string) string {
	t.Helper()
	m := e.mails.last()
	if m.To != to {
		t.Fatalf("the last mail went to %q, want %q", m.To, to)
	}
	sub := linkRE.FindStringSubmatch(m.Body)
	if sub == nil || !strings.HasPrefix(m.Body, "Hello") || !strings.Contains(m.Body, "http://console.example.test"+sub[1]) {
		t.Fatalf("no link in the mail:\n%s", m.Body)
	}
	tok, _ := url.QueryUnescape(sub[2])
	return tok
}

// TestAdminWorkflows does by forms what the seeds' admins do: create an
// org with a template left out, invite a person who accepts, invite from
// CSV, push a role's permissions down, transfer a user with their device,
// transfer an org and back, suspend, reset, delete, read the audit log.
func TestAdminWorkflows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signedIn("admin@acme.test")
	root := fmt.Sprint(e.admin.OrgID)
	see := func(res response, status int, want ...string) {
		t.Helper()
		if res.status != status {
			t.Fatalf("%d, want %d\n%s", res.status, status, res.body)
		}
		for _, w := range want {
			if !strings.Contains(res.body, w) {
				t.Errorf("no %q in\n%s", w, res.body)
			}
		}
	}

	// A client org without the Thermostat template.
	res := admin.post("/orgs/new", url.Values{"parent": {root}, "name": {"Client C"}, "description": {"third client"}, "type": {"DISTRIBUTOR"}})
	see(res, http.StatusSeeOther)
	loc := res.header.Get("Location")
	see(admin.get(loc), http.StatusOK, "Organization created.", "Client C", "DISTRIBUTOR", "third client")
	cl, err := e.svc.Orgs(ctx, e.admin, tenancy.OrgQuery{IncludeSub: true, Query: "Client C"})
	if err != nil || len(cl.Items) != 1 {
		t.Fatal(cl, err)
	}
	orgC := cl.Items[0]
	if tl, _ := e.svc.Templates(ctx, e.admin, orgC.ID, tenancy.Page{}); len(tl.Items) != 0 {
		t.Errorf("the unticked template is enabled in the new org: %v", tl.Items)
	}
	see(admin.post(fmt.Sprintf("/orgs/%d", orgC.ID), url.Values{"name": {"Client C Ltd"}, "description": {""}}), http.StatusSeeOther)
	if o, _ := e.svc.Org(ctx, e.admin, orgC.ID); o.Name != "Client C Ltd" || o.CanCreateSub {
		t.Errorf("edited org: %+v", o)
	}

	// Invite a customer into Client A; they accept and sign in.
	res = admin.post("/users/invite", url.Values{"email": {"Cus@A.test"}, "name": {"Cu Stomer"}, "role": {"3"}, "org": {fmt.Sprint(e.orgA.ID)}})
	see(res, http.StatusSeeOther)
	see(admin.get(res.header.Get("Location")), http.StatusOK, "Invitation sent.", "Cu Stomer", "Invited")
	tok := e.mailedToken(t, "cus@a.test")
	cus := e.client()
	see(cus.post("/accept-invitation", url.Values{"token": {tok}, "password": {pw}, "confirm": {pw}}), http.StatusSeeOther)
	see(cus.get("/devices"), http.StatusOK, "Boiler &lt;script")
	ul, err := e.svc.Users(ctx, e.admin, tenancy.UserQuery{IncludeSub: true, Query: "cus@a.test"})
	if err != nil || len(ul.Items) != 1 {
		t.Fatalf("the customer: %v %v", ul, err)
	}
	cusID := ul.Items[0].ID
	if r := cus.get("/users"); r.status != http.StatusForbidden {
		t.Errorf("the customer (User role) opens the users page: %d", r.status)
	}

	// Bulk invitation with a per-row report.
	csv := "email,name,role\nann@a.test,Ann,Staff\nbad-email,Bob,User\nviewer@a.test,Dup,User\ncid@a.test,Cid,NoSuchRole\ndee@a.test,Dee,\n"
	see(admin.post("/users/import", url.Values{"org": {fmt.Sprint(e.orgA.ID)}, "csv": {csv}}), http.StatusOK,
		"Report: 2 invited, 3 refused", "ann@a.test", "already in use", "unknown role", "dee@a.test")
	if m := e.mails.last(); m.To != "dee@a.test" || !strings.Contains(m.Body, "Hello Dee") {
		t.Errorf("the last CSV invitation: %+v", m)
	}
	first := e.mailedToken(t, "dee@a.test")
	dl, err := e.svc.Users(ctx, e.admin, tenancy.UserQuery{IncludeSub: true, Query: "dee@a.test"})
	if err != nil || len(dl.Items) != 1 {
		t.Fatal(dl, err)
	}
	dee := fmt.Sprintf("/users/%d", dl.Items[0].ID)
	see(admin.get(dee), http.StatusOK, "Invited", "Resend invitation")
	see(admin.post(dee+"/resend", nil), http.StatusSeeOther)
	if again := e.mailedToken(t, "dee@a.test"); again == first {
		t.Errorf("the resent invitation has the old token")
	}
	if r := admin.get(fmt.Sprintf("/users/%d", cusID)); strings.Contains(r.body, "Resend invitation") {
		t.Errorf("a user who joined is offered a new invitation")
	}

	// The User role on Client A may view users there, pushed down to the branch.
	br := e.branch(t)
	see(admin.post("/org", url.Values{"org": {fmt.Sprint(e.orgA.ID)}, "back": {"/roles"}}), http.StatusSeeOther)
	see(admin.get("/roles/3"), http.StatusOK, "permissions in Client A", `value="ORG_DEVICES_VIEW" checked`)
	see(admin.post("/roles/3", url.Values{"perm": {"ORG_DEVICES_VIEW", "ORG_USERS_VIEW", "OWN_DEVICES_CLAIM"}, "push": {"overwrite"}}), http.StatusSeeOther)
	tr := e.svc.Tree()
	for _, o := range []tenancy.OrgID{e.orgA.ID, br.ID} {
		if p := tr.Perms(o, tenancy.RoleUser); !p.Has(tenancy.OrgUsersView) || !p.Has(tenancy.OrgDevicesView) {
			t.Errorf("User role in org %d after the push: %v", o, p.Strings())
		}
	}
	if tr.Perms(e.orgB.ID, tenancy.RoleUser).Has(tenancy.OrgUsersView) {
		t.Errorf("the push reached Client B")
	}
	see(cus.get("/users"), http.StatusOK, "Vera Viewer", "Cu Stomer")

	// Transfer the customer with their device to Client B as Staff.
	if _, err := e.svc.TransferDevice(ctx, e.admin, e.devA.ID, tenancy.DeviceTransfer{UserID: cusID}); err != nil {
		t.Fatal(err)
	}
	see(admin.get(fmt.Sprintf("/users/%d", cusID)), http.StatusOK, "Transfer user", "Client B")
	res = admin.post(fmt.Sprintf("/users/%d/transfer", cusID), url.Values{"org": {fmt.Sprint(e.orgB.ID)}, "role": {"2"}, "devices": {"on"}})
	see(res, http.StatusSeeOther)
	see(admin.get(res.header.Get("Location")), http.StatusOK, "User transferred.")
	// The last Admin of Client A leaves: the page warns (§13.11).
	res = admin.post(fmt.Sprintf("/users/%d/transfer", e.operator.ID), url.Values{"org": {fmt.Sprint(e.orgB.ID)}, "role": {"1"}})
	see(res, http.StatusSeeOther)
	see(admin.get(res.header.Get("Location")), http.StatusOK, "has no Admin any more")
	if d, _ := e.svc.Device(ctx, e.admin, e.devA.ID); d.OrgID != e.orgB.ID {
		t.Errorf("the customer's device stayed in org %d", d.OrgID)
	}
	see(cus.get("/devices"), http.StatusOK, "Other Boiler", "Boiler &lt;script")
	if r := cus.get("/devices"); strings.Contains(r.body, "Client A<") {
		t.Errorf("after the transfer the customer still sees Client A")
	}

	// Transfer Client A (with its branch) under Client B and back.
	see(admin.post(fmt.Sprintf("/orgs/%d/transfer", e.orgA.ID), url.Values{"parent": {fmt.Sprint(e.orgB.ID)}}), http.StatusSeeOther)
	if e.svc.Tree().Parent(e.orgA.ID) != e.orgB.ID || e.svc.Tree().Depth(br.ID) != 4 {
		t.Errorf("Client A did not move under Client B")
	}
	see(cus.get("/orgs"), http.StatusOK, "Client A Branch") // Staff of Client B now reaches Client A
	see(admin.post(fmt.Sprintf("/orgs/%d/transfer", e.orgA.ID), url.Values{"parent": {root}}), http.StatusSeeOther)
	if e.svc.Tree().Parent(e.orgA.ID) != e.admin.OrgID {
		t.Errorf("Client A did not move back")
	}
	if r := cus.get("/orgs"); strings.Contains(r.body, "Client A Branch") {
		t.Errorf("after the transfer back Client B's Staff still sees Client A")
	}

	// Suspend: the customer's session ends; reactivate; a reset mail; force logout; delete.
	u := fmt.Sprintf("/users/%d", cusID)
	see(admin.post(u+"/suspend", url.Values{"suspend": {"1"}}), http.StatusSeeOther)
	if r := cus.get("/devices"); r.status != http.StatusSeeOther {
		t.Errorf("a suspended user's session still works: %d", r.status)
	}
	see(admin.get(u), http.StatusOK, "Suspended", "Reactivate")
	see(admin.post(u+"/reset", nil), http.StatusBadRequest, "reactivate them first")
	see(admin.post(u+"/suspend", url.Values{"suspend": {"0"}}), http.StatusSeeOther)
	see(admin.post(u+"/reset", nil), http.StatusSeeOther)
	rt := e.mailedToken(t, "cus@a.test")
	see(e.client().post("/reset-password", url.Values{"token": {rt}, "password": {"another-pass-9"}, "confirm": {"another-pass-9"}}), http.StatusSeeOther)
	see(admin.post(u+"/logout", nil), http.StatusSeeOther)
	see(admin.post(u+"/role", url.Values{"role": {"3"}}), http.StatusSeeOther)
	see(admin.post(u+"/delete", nil), http.StatusSeeOther)
	if _, err := e.svc.User(ctx, e.admin, cusID); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Errorf("the deleted user is still there: %v", err)
	}

	// The audit log tells the story, filtered.
	see(admin.post("/org", url.Values{"org": {root}, "back": {"/audit"}}), http.StatusSeeOther)
	entries := func(path string, want int, show ...string) {
		t.Helper()
		res := admin.get(path)
		see(res, http.StatusOK, show...)
		if n := strings.Count(res.body, "<tr data-action="); n != want {
			t.Errorf("GET %s: %d entries, want %d", path, n, want)
		}
	}
	entries("/audit?action=org.transfer", 2, "<code>parentOrganizationId</code>: <code class=\"before\">4</code> → <code class=\"after\">1</code>")
	entries(fmt.Sprintf("/audit?device=%d", e.devA.ID), 4, "device.transfer", "device.create") // created, given an owner, moved with them (logged in both orgs)
	entries(fmt.Sprintf("/audit?org=%d&sub=0&action=user.invite", e.orgA.ID), 3)
	see(admin.get("/audit?user=cus@a.test"), http.StatusBadRequest, "no user with this email") // deleted
	entries("/audit?user=admin@acme.test&action=user.invite", 3, "Ada Admin (you)")
	entries(fmt.Sprintf("/audit?user=%d&action=user.invite.accept", e.admin.UserID), 0)
	entries("/audit?from=2000-01-01T00:00&to=2000-01-02T00:00", 0)
	see(admin.get("/audit?from=yesterday"), http.StatusBadRequest, "YYYY-MM-DD")
}

// TestPermGroupsCoverCatalogue: the matrix shows every key of the
// catalogue exactly once, so a new key cannot be left off the page.
func TestPermGroupsCoverCatalogue(t *testing.T) {
	seen := map[tenancy.Permission]int{}
	for _, g := range permGroups {
		for _, p := range g.Perms {
			seen[p.Key]++
		}
	}
	for _, p := range tenancy.AllPermissions() {
		if seen[p] != 1 {
			t.Errorf("%s is in %d groups of the matrix, want 1", p, seen[p])
		}
	}
	if len(seen) != len(tenancy.AllPermissions()) {
		t.Errorf("the matrix has %d keys, the catalogue %d", len(seen), len(tenancy.AllPermissions()))
	}
}

// TestAuditChanges: an entry with both shapes shows the fields that
// differ, not the whole objects.
func TestAuditChanges(t *testing.T) {
	for _, tc := range []struct {
		before, after string
		want          []fieldChange
		diffed        bool
	}{
		{`{"id":1,"name":"A","depth":2,"lastModifiedTs":1}`, `{"id":1,"name":"B","depth":2,"lastModifiedTs":2}`, []fieldChange{{"name", `"A"`, `"B"`}}, true},
		{`{"id":1,"tz":"x"}`, `{"id":1,"phone":"1"}`, []fieldChange{{"phone", "—", `"1"`}, {"tz", `"x"`, "—"}}, true},
		{`{"id":1}`, `{"id":1}`, nil, true},
		{`"text"`, `{"id":1}`, nil, false},
	} {
		got, diffed := changes(json.RawMessage(tc.before), json.RawMessage(tc.after))
		if diffed != tc.diffed || !slices.Equal(got, tc.want) {
			t.Errorf("changes(%s, %s) = %v %v, want %v %v", tc.before, tc.after, got, diffed, tc.want, tc.diffed)
		}
	}
}

// TestStaffSeesWhatStaffMay: a Staff member of Client A (Blynk's default
// Staff keys) is offered the users page, invitations and force logout,
// not role changes, transfers, suspension or deletion; forged, those are
// refused with the missing permission named, and nothing changes.
func TestStaffSeesWhatStaffMay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "staff@a.test", Name: "Stan Staff", OrgID: e.orgA.ID,
		RoleID: tenancy.RoleStaff, Password: pw}); err != nil {
		t.Fatal(err)
	}
	staff := e.signedIn("staff@a.test")
	res := staff.get("/devices")
	for link, want := range map[string]bool{`href="/users"`: true, `href="/audit"`: true, `href="/roles"`: false} {
		if strings.Contains(res.body, link) != want {
			t.Errorf("Staff's header offers %s: %v, want %v", link, !want, want)
		}
	}
	page := fmt.Sprintf("/users/%d", e.viewer.ID)
	res = staff.get(page)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s: %d", page, res.status)
	}
	for text, want := range map[string]bool{"Force logout": true, "Resend invitation": true, "Change role": false,
		"Transfer user": false, "Suspend": false, "Delete user": false, "Send password reset": false} {
		if strings.Contains(res.body, text) != want {
			t.Errorf("Staff's user page offers %q: %v, want %v", text, !want, want)
		}
	}
	if r := staff.get("/roles"); r.status != http.StatusForbidden {
		t.Errorf("Staff opens the roles page: %d", r.status)
	}
	before := e.lastAudit(t)
	for _, tc := range []struct {
		path string
		form url.Values
		key  string
	}{
		{page + "/delete", nil, "USERS_DELETE"},
		{page + "/suspend", url.Values{"suspend": {"1"}}, "USERS_SUSPEND"},
		{page + "/role", url.Values{"role": {"2"}}, "USERS_EDIT"},
		{page + "/reset", nil, "USERS_CHANGE_PASSWORD"},
		{page + "/transfer", url.Values{"org": {fmt.Sprint(e.branch(t).ID)}, "role": {"3"}}, "USERS_TRANSFER"},
		{"/users/invite", url.Values{"email": {"boss@a.test"}, "name": {"Boss"}, "role": {"1"}, "org": {fmt.Sprint(e.orgA.ID)}}, "permissions you do not have"},
	} {
		r := staff.post(tc.path, tc.form)
		if errs := fieldErrors(r.body); r.status/100 != 4 || len(errs) != 1 || !strings.Contains(errs[0], tc.key) {
			t.Errorf("Staff's forged POST %s: %d %q, want a refusal naming %s", tc.path, r.status, errs, tc.key)
		}
	}
	if e.lastAudit(t) != before {
		t.Errorf("a refused request changed something")
	}
}

// TestUserTagsPage: an Admin tags a user on the user's page (tags of the
// user's org and of the orgs above it), sees the tags in the users list
// and filters it by one; the refusals (too many, another branch's tag)
// are shown next to the form and change nothing; a user who may not
// manage tags is offered neither the form, the column nor the filter.
func TestUserTagsPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signedIn("admin@acme.test")
	var tags []tenancy.Tag
	for _, x := range []struct {
		org  tenancy.OrgID
		name string
	}{{e.admin.OrgID, "vip"}, {e.orgA.ID, "night shift"}, {e.orgA.ID, "installer"}, {e.orgA.ID, "a3"}, {e.orgA.ID, "a4"}, {e.orgA.ID, "a5"}, {e.orgB.ID, "b only"}} {
		tg, err := e.svc.CreateTag(ctx, e.admin, x.org, x.name)
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tg)
	}
	id := func(tg tenancy.Tag) string { return fmt.Sprint(tg.ID) }
	page := fmt.Sprintf("/users/%d", e.viewer.ID)
	res := admin.get(page)
	checkPage(t, "user page", res, http.StatusOK, `action="/users/`+fmt.Sprint(e.viewer.ID)+`/tags"`, "> vip</label>", "> night shift</label>")
	if strings.Contains(res.body, "b only") {
		t.Error("Client B's tag offered for a Client A user")
	}
	before := e.lastAudit(t)
	for _, tc := range []struct {
		name string
		ids  []string
		msg  string
	}{
		{"six tags", []string{id(tags[0]), id(tags[1]), id(tags[2]), id(tags[3]), id(tags[4]), id(tags[5])}, "at most 5 tags per user"},
		{"another branch's tag", []string{id(tags[6])}, "tag not found"},
	} {
		res := admin.post(page+"/tags", url.Values{"tag": tc.ids})
		if res.status == http.StatusSeeOther || !slices.ContainsFunc(fieldErrors(res.body), func(m string) bool { return strings.Contains(m, tc.msg) }) {
			t.Errorf("%s: %d, messages %q, want %q", tc.name, res.status, fieldErrors(res.body), tc.msg)
		}
	}
	if e.lastAudit(t) != before {
		t.Error("a refused tagging changed something")
	}
	if res := admin.post(page+"/tags", url.Values{"tag": {id(tags[0]), id(tags[1])}}); res.status != http.StatusSeeOther {
		t.Fatalf("tag the user: %d %.1000s", res.status, res.body)
	}
	checkPage(t, "user page after", admin.get(page), http.StatusOK, `value="`+id(tags[0])+`" checked> vip`, `value="`+id(tags[1])+`" checked> night shift`)
	list := admin.get("/users")
	checkPage(t, "users list", list, http.StatusOK, `<label for="tag">Tag</label>`, `data-tag="`+id(tags[1])+`">night shift</span>`)
	// The filter offers the tags of the current org and above.
	filtered := admin.get("/users?tag=" + id(tags[0]))
	checkPage(t, "users filtered", filtered, http.StatusOK, `<option value="`+id(tags[0])+`" selected>vip</option>`,
		fmt.Sprintf(`data-user="%d"`, e.viewer.ID))
	for _, other := range []tenancy.UserID{e.operator.ID, e.admin.UserID} {
		if strings.Contains(filtered.body, fmt.Sprintf(`data-user="%d"`, other)) {
			t.Errorf("the vip filter lists user %d", other)
		}
	}
	a, err := e.svc.Audit(ctx, e.admin, tenancy.AuditQuery{IncludeSub: true, Action: "user.tags"})
	if err != nil || len(a.Items) != 1 || a.Items[0].ObjectID != fmt.Sprint(e.viewer.ID) {
		t.Fatalf("audit %+v %v", a.Items, err)
	}
	checkPage(t, "audit page", admin.get("/audit?action=user.tags"), http.StatusOK, `<option value="user.tags" selected>`,
		fmt.Sprintf(`<code>tagIds</code>: <code class="before">[]</code> → <code class="after">[%d,%d]</code>`, tags[0].ID, tags[1].ID))
	// Bulk "Apply tag" from the list: added to what each user has.
	checkPage(t, "bulk bar", admin.get("/users"), http.StatusOK, `action="/users/bulk-tag"`,
		fmt.Sprintf(`form="ubulk" name="id" value="%d"`, e.viewer.ID))
	if res := admin.post("/users/bulk-tag", url.Values{"tag": {id(tags[2])}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "Select the users first.") {
		t.Errorf("bulk tag without a selection: %d", res.status)
	}
	res = admin.post("/users/bulk-tag", url.Values{"tag": {id(tags[2])}, "id": {fmt.Sprint(e.viewer.ID), fmt.Sprint(e.operator.ID)}})
	checkPage(t, "bulk tag", res, http.StatusOK, "2 of 2 done", "viewer@a.test", "op@a.test")
	for _, u := range []tenancy.UserID{e.viewer.ID, e.operator.ID} {
		ts, err := e.svc.UserTags(ctx, e.admin, u)
		if err != nil || !slices.ContainsFunc(ts, func(tg tenancy.Tag) bool { return tg.ID == tags[2].ID }) {
			t.Errorf("user %d after the bulk tag: %+v %v", u, ts, err)
		}
	}
	if ts, _ := e.svc.UserTags(ctx, e.admin, e.viewer.ID); len(ts) != 3 {
		t.Errorf("the viewer's tags after the bulk tag: %+v, want vip, night shift and installer", ts)
	}
	// Client A's Admin may tag too, but not with the root's tag it
	// cannot see; a viewer is offered nothing.
	if err := e.svc.SetRolePermissions(ctx, e.admin, e.orgA.ID, tenancy.RoleUser, tenancy.NewPermSet(tenancy.OrgDevicesView, tenancy.OrgUsersView), tenancy.PushNone); err != nil {
		t.Fatal(err)
	}
	viewer := e.signedIn("viewer@a.test")
	for _, path := range []string{"/users", fmt.Sprintf("/users/%d", e.operator.ID)} {
		res := viewer.get(path)
		if res.status != http.StatusOK || strings.Contains(res.body, `name="tag"`) || strings.Contains(res.body, "night shift") {
			t.Errorf("%s for a viewer: %d, offers tags", path, res.status)
		}
	}
	if res := viewer.post(fmt.Sprintf("/users/%d/tags", e.operator.ID), url.Values{"tag": {id(tags[1])}}); res.status == http.StatusSeeOther {
		t.Error("a viewer tagged a user")
	}
	before = e.lastAudit(t)
	if res := viewer.post("/users/bulk-tag", url.Values{"tag": {id(tags[3])}, "id": {fmt.Sprint(e.operator.ID)}}); !strings.Contains(res.body, "0 of 1 done") {
		t.Errorf("a viewer's bulk tag: %d %.300s", res.status, res.body)
	}
	if e.lastAudit(t) != before {
		t.Error("a viewer's bulk tag changed something")
	}
}

// An organization's history retention is set on its page, shown back,
// and cleared by emptying the field.
func TestOrgHistoryRetention(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	path := fmt.Sprintf("/orgs/%d", e.orgA.ID)
	if r := admin.get(path); r.status != 200 || !strings.Contains(r.body, `name="retention"`) || !strings.Contains(r.body, "Keep datastream history (days)") {
		t.Fatalf("the org page lacks the retention field: %d", r.status)
	}
	if r := admin.post(path, url.Values{"name": {"Client A"}, "retention": {"30"}}); r.status != http.StatusSeeOther {
		t.Fatalf("saving a retention of 30 days: %d\n%s", r.status, r.body)
	}
	o, err := e.svc.Org(context.Background(), e.admin, e.orgA.ID)
	if err != nil || o.HistoryRetentionDays != 30 {
		t.Fatalf("after saving: %d days (%v), want 30", o.HistoryRetentionDays, err)
	}
	if r := admin.get(path); !strings.Contains(r.body, `value="30"`) {
		t.Fatalf("the page does not show the saved retention")
	}
	if r := admin.post(path, url.Values{"name": {"Client A"}, "retention": {""}}); r.status != http.StatusSeeOther {
		t.Fatalf("clearing the retention: %d", r.status)
	}
	if o, _ := e.svc.Org(context.Background(), e.admin, e.orgA.ID); o.HistoryRetentionDays != 0 {
		t.Fatalf("after clearing: %d days, want 0", o.HistoryRetentionDays)
	}
}
