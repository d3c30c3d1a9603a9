package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

// manyOrgs adds the 1,110 orgs of the 1,111-org fixture below the root
// (10 "Fleet 2-i", 100 "Fleet 3-i", 1,000 "Fleet 4-i", the template
// enabled in each), written through the store in one transaction, and
// returns them by name.
func (e *env) manyOrgs(t *testing.T) map[string]tenancy.Org {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	byName := map[string]tenancy.Org{}
	err := e.store.Atomic(ctx, func(tx tenancy.Tx) error {
		parents := []tenancy.OrgID{e.admin.OrgID}
		for depth := 2; depth <= 4; depth++ {
			var level []tenancy.OrgID
			for i := 0; i < len(parents)*10; i++ {
				o := tenancy.Org{ParentID: parents[i/10], Name: fmt.Sprintf("Fleet %d-%d", depth, i), Type: tenancy.OrgBusiness,
					Active: true, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateOrg(ctx, &o); err != nil {
					return err
				}
				for _, r := range []tenancy.RoleID{tenancy.RoleAdmin, tenancy.RoleStaff, tenancy.RoleUser} {
					if err := tx.SetRolePerms(ctx, tenancy.RolePerms{OrgID: o.ID, RoleID: r, Perms: tenancy.DefaultPermissions(r)}); err != nil {
						return err
					}
				}
				if err := tx.SetTemplateEnabled(ctx, o.ID, e.devA.TemplateID, true); err != nil {
					return err
				}
				byName[o.Name] = o
				level = append(level, o.ID)
			}
			parents = level
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	return byName
}

type pickAnswer struct {
	Items []pickResult
	More  bool
}

func (c *client) pick(t *testing.T, purpose, q string) (int, pickAnswer) {
	t.Helper()
	res := c.get("/pick/orgs?" + url.Values{"for": {purpose}, "q": {q}}.Encode())
	var a pickAnswer
	if res.status == http.StatusOK {
		if err := json.Unmarshal([]byte(res.body), &a); err != nil {
			t.Fatalf("pick %q: %v in %s", q, err, res.body)
		}
	}
	return res.status, a
}

// TestOrgPickerManyOrgs: with the 1,111-org fixture every form that picks
// an organization offers all of them, not the first hundred: the field is
// a text input backed by GET /pick/orgs (searchable by name or number,
// the user's scope and the purpose's permission only), and without
// JavaScript the name typed is matched exactly on the server.
func TestOrgPickerManyOrgs(t *testing.T) {
	e := newEnv(t)
	orgs := e.manyOrgs(t)
	far := orgs["Fleet 4-999"] // the last org in tree order: never among a first hundred
	admin := e.signedIn("admin@acme.test")

	for _, page := range []struct{ path, purpose string }{
		{"/devices/new", "devices.create"},
		{fmt.Sprintf("/devices/%d/manage", e.devA.ID), "devices.transfer"},
		{"/devices", "devices.transfer"},
		{"/sites", "sites.claim"},
		{"/users/add", "users.invite"},
		{fmt.Sprintf("/users/%d", e.viewer.ID), "users.transfer"},
		{fmt.Sprintf("/orgs/%d", e.orgB.ID), "orgs.parent"},
		{"/audit", "audit.view"},
	} {
		res := admin.get(page.path)
		checkPage(t, page.path, res, http.StatusOK, `data-orgpick="`+page.purpose+`"`, "organizations: type a name, or its number")
		if strings.Contains(res.body, fmt.Sprintf(`<option value="%d"`, orgs["Fleet 3-5"].ID)) {
			t.Errorf("%s lists the orgs in a select", page.path)
		}
	}

	// The endpoint: by name, by number, the path shown, 20 at most.
	st, a := admin.pick(t, "devices.create", "fleet 4-999")
	if st != http.StatusOK || len(a.Items) != 1 || a.Items[0].ID != far.ID || a.Items[0].Path != "Acme Cloud › Fleet 2-9 › Fleet 3-99" {
		t.Fatalf("pick Fleet 4-999: %d %+v", st, a)
	}
	if _, a := admin.pick(t, "devices.create", fmt.Sprint(far.ID)); len(a.Items) == 0 || a.Items[0].ID != far.ID {
		t.Errorf("pick by number: %+v", a)
	}
	if _, a := admin.pick(t, "devices.create", ""); len(a.Items) != maxPickResults || !a.More {
		t.Errorf("pick everything: %d items, more %v", len(a.Items), a.More)
	}
	if _, a := admin.pick(t, "devices.create", "no such org"); len(a.Items) != 0 || a.More {
		t.Errorf("pick nothing: %+v", a)
	}
	if st, _ := admin.pick(t, "everything", "x"); st != http.StatusBadRequest {
		t.Errorf("unknown purpose: %d", st)
	}
	// A Client A user sees Client A's subtree only.
	op := e.signedIn("op@a.test")
	if _, a := op.pick(t, "devices.create", "fleet"); len(a.Items) != 0 {
		t.Errorf("Client A's Admin is offered %+v", a.Items)
	}
	if _, a := op.pick(t, "devices.create", "client"); len(a.Items) != 2 || a.Items[0].Name != "Client A" || a.Items[1].Name != "Client A Branch" {
		t.Errorf("Client A's Admin picks %+v", a.Items)
	}

	// Without JavaScript: the name is matched on the server.
	res := admin.post("/devices/new", url.Values{"template": {string(e.devA.TemplateID)}, "name": {"Far away"}, "org": {"fleet 4-999"}})
	if res.status != http.StatusCreated || !strings.Contains(res.body, "BLYNK_AUTH_TOKEN") {
		t.Fatalf("create a device by org name: %d %q", res.status, regexp.MustCompile(`class="errors"[^>]*>[^<]*`).FindAllString(res.body, -1))
	}
	l, err := e.svc.Devices(context.Background(), e.admin, tenancy.DeviceQuery{OrgID: far.ID})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "Far away" {
		t.Fatalf("devices in Fleet 4-999: %+v %v", l.Items, err)
	}
	// The audit filter takes a typed name too: the far org's log.
	res = admin.get("/audit?org=" + url.QueryEscape("Fleet 4-999"))
	checkPage(t, "audit of a typed org", res, http.StatusOK, `value="Fleet 4-999"`, fmt.Sprintf(`data-value="%d"`, far.ID))
	checkPage(t, "audit of an unknown org name", admin.get("/audit?org=Fleet+9-9"), http.StatusBadRequest, "no single organization has that name")
	// An unknown name: refused next to the field, the text kept, nothing made.
	before := e.lastAudit(t)
	res = admin.post("/devices/new", url.Values{"template": {string(e.devA.TemplateID)}, "name": {"Lost"}, "org": {"Fleet 9-9"}})
	checkPage(t, "unknown org name", res, http.StatusNotFound, `id="nd-org-err"`, `value="Fleet 9-9"`, `aria-invalid="true"`)
	if e.lastAudit(t) != before {
		t.Error("a refused device creation changed something")
	}
	// The template's "enabled in sub-organizations" lists the switcher's
	// first orgs; the picker below reaches the others.
	tmplPath := "/templates/" + string(e.devA.TemplateID)
	checkPage(t, "template page", admin.get(tmplPath), http.StatusOK, `id="enableform"`, `data-orgpick="templates.enable"`)
	enabledIn := func(org tenancy.OrgID) bool {
		l, err := e.svc.Templates(context.Background(), e.admin, org, tenancy.Page{Size: tenancy.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items) == 1
	}
	if res := admin.post(tmplPath+"/enabled", url.Values{"pick": {"1"}, "org": {"Fleet 4-998"}, "enabled": {"0"}}); res.status != http.StatusSeeOther || enabledIn(orgs["Fleet 4-998"].ID) {
		t.Errorf("disable the template in Fleet 4-998 by name: %d, still enabled %v", res.status, enabledIn(orgs["Fleet 4-998"].ID))
	}
	res = admin.post(tmplPath+"/enabled", url.Values{"pick": {"1"}, "org": {"Fleet 9"}, "enabled": {"1"}})
	checkPage(t, "enable in an unknown org", res, http.StatusNotFound, `id="en-org-err"`, `value="Fleet 9"`)
	// With JavaScript the number is sent: a user moves to the far org.
	res = admin.post(fmt.Sprintf("/users/%d/transfer", e.viewer.ID), url.Values{"org": {fmt.Sprint(far.ID)}, "role": {fmt.Sprint(tenancy.RoleUser)}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("transfer a user to Fleet 4-999: %d %.1500s", res.status, res.body)
	}
	if u, err := e.svc.User(context.Background(), e.admin, e.viewer.ID); err != nil || u.OrgID != far.ID {
		t.Errorf("the user's org after the transfer: %+v %v", u, err)
	}
}
