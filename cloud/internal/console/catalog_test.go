package console

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// template returns the fixture's template (Thermostat).
func (e *env) template(t *testing.T) tenancy.Template {
	t.Helper()
	l, err := e.svc.Templates(context.Background(), e.admin, 0, tenancy.Page{})
	if err != nil || len(l.Items) == 0 {
		t.Fatalf("templates: %v %v", l, err)
	}
	return l.Items[0]
}

func (e *env) templateNow(t *testing.T, id tenancy.TemplateID) tenancy.Template {
	t.Helper()
	tm, err := e.svc.Template(context.Background(), e.admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func checkPage(t *testing.T, what string, res response, status int, want ...string) {
	t.Helper()
	if res.status != status {
		t.Errorf("%s: %d, want %d\n%.2000s", what, res.status, status, res.body)
		return
	}
	if inlineScript.MatchString(res.body) || strings.Contains(res.body, " style=") {
		t.Errorf("%s: inline script or style", what)
	}
	for _, w := range want {
		if !strings.Contains(res.body, w) {
			t.Errorf("%s: no %q in the page", what, w)
		}
	}
}

// TestCatalogPages renders every catalog page for an Admin of the root,
// and checks what a Client A user without the permissions is offered.
func TestCatalogPages(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	tm := e.template(t)
	tests := []struct {
		path string
		want []string
	}{
		{"/devices", []string{`href="/templates"`, `href="/static-tokens"`, `href="/developers"`, `href="/locations"`, `href="/tags"`,
			`action="/devices/bulk"`, `form="bulk"`, "New device"}},
		{"/templates", []string{"Thermostat", string(tm.ID), "New template"}},
		{"/templates/" + string(tm.ID), []string{"Temperature", "V0", "°C", "Serial Number", "Add a datastream", "Enabled in sub-organizations", "Client A Branch"}},
		{"/devices/new", []string{"Thermostat", "Client B", "No owner"}},
		{fmt.Sprintf("/devices/%d/manage", e.devA.ID), []string{"Rename", "To organization", "Delete device"}},
		{fmt.Sprintf("/devices/%d", e.devA.ID), []string{fmt.Sprintf(`href="/devices/%d/manage"`, e.devA.ID)}},
		{"/locations", []string{"No locations yet", "New location"}},
		{"/locations?all=1", []string{`aria-current="page">All locations`}},
		{"/tags", []string{"New tag"}},
		{"/static-tokens", []string{"Claim a device", "Generate", "Export CSV"}},
		{"/static-tokens/sheet", []string{"No tokens to print"}},
		{"/developers", []string{"New client"}},
	}
	for _, tc := range tests {
		checkPage(t, "GET "+tc.path, admin.get(tc.path), http.StatusOK, tc.want...)
	}
	// Vera may only view devices in Client A: no catalog links but the
	// claim page, no bulk actions, and the pages answer 403 or 404.
	viewer := e.signedIn("viewer@a.test")
	res := viewer.get("/devices")
	for _, no := range []string{`href="/templates"`, `href="/developers"`, `href="/tags"`, `action="/devices/bulk"`, "New device"} {
		if strings.Contains(res.body, no) {
			t.Errorf("viewer's device list offers %s", no)
		}
	}
	for _, p := range []string{"/templates", "/developers", "/tags", "/devices/new", "/static-tokens/sheet", "/static-tokens/export.csv"} {
		if res := viewer.get(p); res.status != http.StatusForbidden && res.status != http.StatusNotFound {
			t.Errorf("viewer GET %s: %d", p, res.status)
		}
	}
	if res := viewer.get(fmt.Sprintf("/devices/%d", e.devA.ID)); strings.Contains(res.body, "/manage") {
		t.Error("the viewer's device page offers Manage")
	}
	if res := viewer.get(fmt.Sprintf("/devices/%d/manage", e.devA.ID)); res.status != http.StatusForbidden {
		t.Errorf("the viewer's manage page: %d", res.status)
	}
	if res := viewer.get(fmt.Sprintf("/devices/%d/manage", e.devB.ID)); res.status != http.StatusNotFound {
		t.Errorf("another org's device manage page: %d", res.status)
	}
}

// pin0 is the template's V0 now.
func (e *env) pin0(t *testing.T, id tenancy.TemplateID) datastream.Datastream {
	t.Helper()
	tm := e.templateNow(t, id)
	ds, ok := tm.Def.Pin(0)
	if !ok {
		t.Fatal("no V0")
	}
	return *ds
}

// TestTemplateDisplaySettings: a datastream's alias, step and decimals
// are edited in the template's form (refusals next to their field, the
// template unchanged), shown in its table, and used on a device's page:
// the alias labels the tile, the step drives the slider, the decimals
// format the value.
func TestTemplateDisplaySettings(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	tm := e.template(t)
	path := "/templates/" + string(tm.ID)
	edit := func(kv ...string) response {
		f := url.Values{"replace": {"0"}, "pin": {"V0"}, "name": {"Temperature"}, "type": {"double"}, "units": {"°C"}, "min": {"-40"}, "max": {"125"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return admin.post(path+"/datastreams", f)
	}
	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"step not a number", []string{"step", "fine"}, "Enter a number, or leave it empty."},
		{"step zero", []string{"step", "0"}, "Step must be a positive number."},
		{"step above the range", []string{"step", "500"}, "Step 500 is larger than the range -40..125."},
		{"step fraction of an integer", []string{"type", "integer", "step", "0.5"}, "Step 0.5 of an integer must be a whole number."},
		{"decimals on a string", []string{"type", "string", "min", "", "max", "", "decimals", "2"}, "Decimals apply to double only, not string."},
		{"decimals forged", []string{"decimals", "9"}, "Decimals must be 0..5."},
		{"alias too long", []string{"alias", strings.Repeat("a", 65)}, "Alias is longer than 64 bytes."},
	} {
		res := edit(tc.kv...)
		checkPage(t, tc.name, res, http.StatusBadRequest, tc.want, `class="errors"`, "Edit datastream V0")
		if ds := e.pin0(t, tm.ID); ds.Alias != "" || ds.Step != nil || ds.Decimals != nil || ds.Type != "double" {
			t.Errorf("%s: the datastream changed: %+v", tc.name, ds)
		}
	}
	if res := edit("alias", "Room temperature", "step", "0.5", "decimals", "2"); res.status != http.StatusSeeOther {
		t.Fatalf("save display settings: %d %.2000s", res.status, res.body)
	}
	ds := e.pin0(t, tm.ID)
	if ds.Alias != "Room temperature" || ds.Step == nil || *ds.Step != 0.5 || ds.Decimals == nil || *ds.Decimals != 2 {
		t.Fatalf("stored datastream: %+v", ds)
	}
	checkPage(t, "template table", admin.get(path), http.StatusOK, "shown as “Room temperature”", "step 0.5", ">#.##</span>")
	checkPage(t, "edit form", admin.get(path+"?edit=0"), http.StatusOK, `value="Room temperature"`, `name="step" value="0.5"`, `<option value="2" selected>#.##</option>`)
	checkPage(t, "device page", admin.get(fmt.Sprintf("/devices/%d", e.devA.ID)), http.StatusOK,
		`<span id="ds0">Room temperature</span>`, `data-decimals="2"`, ">21.50</output>", `step="0.5"`)
	// Cleared again: the name labels the tile, the value is as sent.
	if res := edit(); res.status != http.StatusSeeOther {
		t.Fatalf("clear display settings: %d", res.status)
	}
	if ds := e.pin0(t, tm.ID); ds.Alias != "" || ds.Step != nil || ds.Decimals != nil {
		t.Errorf("cleared datastream: %+v", ds)
	}
	checkPage(t, "device page without display settings", admin.get(fmt.Sprintf("/devices/%d", e.devA.ID)), http.StatusOK,
		`<span id="ds0">Temperature</span>`, ">21.5</output>")
}

// TestTemplateForms: each refusal shows its message next to the field
// and leaves the template as it was.
func TestTemplateForms(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	tm := e.template(t)
	path := "/templates/" + string(tm.ID)
	add := func(c *client, kv ...string) response {
		f := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return c.post(path+"/datastreams", f)
	}
	refusals := []struct {
		name string
		kv   []string
		want string
	}{
		{"taken pin", []string{"pin", "V0", "name", "Dup", "type", "double"}, "V0 already has a datastream."},
		{"bad pin", []string{"pin", "V300", "name", "X", "type", "double"}, "Enter a virtual pin"},
		{"no name", []string{"pin", "V9", "type", "double"}, "Enter the datastream&#39;s name."},
		{"bad min", []string{"pin", "V9", "name", "Hum", "type", "double", "min", "low"}, "Enter a number, or leave it empty."},
		{"enum without values", []string{"pin", "V9", "name", "Fan", "type", "enum"}, "List the values as 0=Off, 1=On."},
		{"service: unknown type", []string{"pin", "V9", "name", "Hum", "type", "blob"}, "type"},
		{"service: min above max", []string{"pin", "V9", "name", "Hum", "type", "double", "min", "10", "max", "1"}, "min"},
	}
	for _, tc := range refusals {
		res := add(admin, tc.kv...)
		checkPage(t, tc.name, res, http.StatusBadRequest, tc.want, `class="errors"`)
		if got := e.templateNow(t, tm.ID); len(got.Def.Datastreams) != len(tm.Def.Datastreams) {
			t.Errorf("%s: the template changed: %d datastreams", tc.name, len(got.Def.Datastreams))
		}
	}
	res := add(admin, "pin", "V9", "name", "Humidity", "type", "double", "units", "%", "min", "0", "max", "100", "default", "50", "sync", "1")
	if res.status != http.StatusSeeOther {
		t.Fatalf("add datastream: %d %s", res.status, res.body)
	}
	got := e.templateNow(t, tm.ID)
	ds, ok := got.Def.Pin(9)
	if !ok || ds.Name != "Humidity" || ds.Units != "%" || *ds.Max != 100 || !ds.Sync || ds.Default != "50" {
		t.Fatalf("datastream V9: %+v %v", ds, ok)
	}
	add(admin, "pin", "V10", "name", "Fan", "type", "enum", "enum", "0=Off, 1=Low")
	got = e.templateNow(t, tm.ID)
	if ds, ok := got.Def.Pin(10); !ok || len(ds.Enum) != 2 || ds.Enum[1].Label != "Low" {
		t.Fatalf("enum datastream: %+v", ds)
	}
	if res := admin.post(path+"/events", url.Values{"code": {"overheat"}, "name": {"Hot"}, "type": {"warning"}}); res.status != http.StatusSeeOther {
		t.Fatalf("add event: %d", res.status)
	}
	checkPage(t, "duplicate event", admin.post(path+"/events", url.Values{"code": {"overheat"}}), http.StatusBadRequest, "An event with this code exists.")
	if res := admin.post(path+"/meta", url.Values{"name": {"Room"}}); res.status != http.StatusSeeOther {
		t.Fatalf("add meta: %d", res.status)
	}
	got = e.templateNow(t, tm.ID)
	if len(got.Def.Events) != 1 || len(got.Def.MetaFields) != 2 {
		t.Fatalf("events %v meta %v", got.Def.Events, got.Def.MetaFields)
	}
	// Edit V9: the form comes pre-filled; saving replaces it (the pin
	// may change); a refused edit changes nothing.
	checkPage(t, "edit form", admin.get(path+"?edit=9"), http.StatusOK, "Edit datastream V9", `name="replace" value="9"`, `value="Humidity"`, `value="100"`)
	checkPage(t, "edit onto a taken pin", add(admin, "replace", "9", "pin", "V0", "name", "Humidity", "type", "double"), http.StatusBadRequest,
		"V0 already has a datastream.", "Edit datastream V9")
	res = add(admin, "replace", "9", "pin", "V11", "name", "Relative humidity", "type", "double", "max", "100")
	if res.status != http.StatusSeeOther {
		t.Fatalf("edit datastream: %d %s", res.status, res.body)
	}
	got = e.templateNow(t, tm.ID)
	if _, ok := got.Def.Pin(9); ok {
		t.Fatal("the edited datastream is still on V9")
	}
	if ds, ok := got.Def.Pin(11); !ok || ds.Name != "Relative humidity" {
		t.Fatalf("V11 after the edit: %+v", ds)
	}
	if res := admin.post(path+"/datastreams/11/delete", nil); res.status != http.StatusSeeOther {
		t.Fatalf("delete datastream: %d", res.status)
	}
	got = e.templateNow(t, tm.ID)
	if _, ok := got.Def.Pin(11); ok {
		t.Fatal("V11 still there")
	}
	// §13.13: a Client A Admin may not edit the root's templates: not
	// offered, refused when forged, unchanged.
	op := e.signedIn("op@a.test")
	if res := op.get(path); res.status != http.StatusOK || strings.Contains(res.body, "Add a datastream") || strings.Contains(res.body, "Delete template") {
		t.Errorf("a sub-org Admin's template page: %d, offers editing", res.status)
	}
	before := e.templateNow(t, tm.ID)
	if res := op.post(path+"/datastreams", url.Values{"pin": {"V20"}, "name": {"X"}, "type": {"double"}}); res.status != http.StatusForbidden {
		t.Errorf("forged edit by a sub-org Admin: %d", res.status)
	}
	if len(e.templateNow(t, tm.ID).Def.Datastreams) != len(before.Def.Datastreams) {
		t.Error("a refused edit changed the template")
	}
	// Enabled per sub-org: disabled in Client A, Branch cannot have it.
	if res := admin.post(path+"/enabled", url.Values{"org": {fmt.Sprint(e.orgA.ID)}, "enabled": {"0"}}); res.status != http.StatusSeeOther {
		t.Fatalf("disable in Client A: %d %s", res.status, res.body)
	}
	var branch tenancy.OrgID
	l, _ := e.svc.Orgs(context.Background(), e.admin, tenancy.OrgQuery{Query: "Branch", IncludeSub: true})
	branch = l.Items[0].ID
	checkPage(t, "enable under a disabled parent", admin.post(path+"/enabled", url.Values{"org": {fmt.Sprint(branch)}, "enabled": {"1"}}),
		http.StatusBadRequest, "the template is not enabled in the parent organization")
	// Creating a device of it in Client A is refused with the service's words.
	res = admin.post("/devices/new", url.Values{"template": {string(tm.ID)}, "name": {"New one"}, "org": {fmt.Sprint(e.orgA.ID)}})
	checkPage(t, "create where the template is disabled", res, http.StatusBadRequest, "is not enabled in the destination organization")
	// Template create: refusal and success.
	checkPage(t, "template without name", admin.post("/templates", url.Values{"name": {""}}), http.StatusBadRequest, "Enter the template&#39;s name.")
	res = admin.post("/templates", url.Values{"name": {"Pump"}, "description": {"Well pump"}})
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/templates/TMPL") {
		t.Fatalf("create template: %d %q", res.status, res.header.Get("Location"))
	}
	checkPage(t, "new template page", admin.get(res.header.Get("Location")), http.StatusOK, "Pump", "The template was created")
}

var tokenRe = regexp.MustCompile(`#define BLYNK_AUTH_TOKEN &#34;([A-Za-z0-9_-]+)&#34;`)

// TestDeviceCreate: the token is shown once with a sketch header and is
// the device's; the refusals show the service's message next to their
// field and create nothing.
func TestDeviceCreate(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	tm := e.template(t)
	count := func() int {
		l, err := e.svc.Devices(context.Background(), e.admin, tenancy.DeviceQuery{IncludeSub: true})
		if err != nil {
			t.Fatal(err)
		}
		return l.Total
	}
	n := count()
	refusals := []struct {
		name string
		f    url.Values
		want string
	}{
		{"no template", url.Values{"name": {"X"}}, "Choose a template."},
		{"no name", url.Values{"template": {string(tm.ID)}}, "Enter the device&#39;s name."},
		{"long name", url.Values{"template": {string(tm.ID)}, "name": {strings.Repeat("n", 61)}}, "device name must be 1 to 60 characters"},
		{"owner of another org", url.Values{"template": {string(tm.ID)}, "name": {"X"}, "org": {fmt.Sprint(e.orgB.ID)}, "owner": {fmt.Sprint(e.viewer.ID)}},
			"the owner must belong to the device&#39;s organization"},
		{"unknown template", url.Values{"template": {"TMPLNOPE"}, "name": {"X"}}, "not found"},
	}
	for _, tc := range refusals {
		res := admin.post("/devices/new", tc.f)
		if res.status < 400 || !strings.Contains(res.body, tc.want) || !strings.Contains(res.body, `class="errors"`) {
			t.Errorf("%s: %d, want the message %q next to the field\n%.3000s", tc.name, res.status, tc.want, res.body)
		}
	}
	if count() != n {
		t.Fatalf("a refused create made a device")
	}
	res := admin.post("/devices/new", url.Values{"template": {string(tm.ID)}, "name": {`Pump "1"`}, "org": {fmt.Sprint(e.orgA.ID)}, "owner": {fmt.Sprint(e.operator.ID)}})
	checkPage(t, "create", res, http.StatusCreated, "#define BLYNK_TEMPLATE_ID &#34;"+string(tm.ID)+"&#34;", "#define BLYNK_TEMPLATE_NAME &#34;Thermostat&#34;")
	if res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the token page may be cached: %q", res.header.Get("Cache-Control"))
	}
	m := tokenRe.FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no token in the sketch header:\n%s", res.body)
	}
	d, err := e.svc.DeviceByToken(context.Background(), m[1])
	if err != nil || d.Name != `Pump "1"` || d.OrgID != e.orgA.ID || d.OwnerID != e.operator.ID {
		t.Fatalf("the shown token is not the device's: %+v %v", d, err)
	}
	if h := sketchHeader(tm, "tok"); !strings.Contains(sketchHeader(tenancy.Template{Def: tm.Def}, "a\"b"), `"a\"b"`) || !strings.HasSuffix(h, "\"tok\"\n") {
		t.Errorf("sketch header quoting: %q", h)
	}
	// A new token: shown once, the old one stops working.
	res = admin.post(fmt.Sprintf("/devices/%d/token", d.ID), nil)
	checkPage(t, "new token", res, http.StatusOK, "has a new AuthToken")
	m2 := tokenRe.FindStringSubmatch(res.body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatalf("no new token shown")
	}
	if _, err := e.svc.DeviceByToken(context.Background(), m[1]); err == nil {
		t.Error("the old token still works")
	}
	if d2, err := e.svc.DeviceByToken(context.Background(), m2[1]); err != nil || d2.ID != d.ID {
		t.Errorf("the new token: %v", err)
	}
	// A viewer's forged create is refused and makes nothing.
	viewer := e.signedIn("viewer@a.test")
	if res := viewer.post("/devices/new", url.Values{"template": {string(tm.ID)}, "name": {"Forged"}}); res.status != http.StatusForbidden {
		t.Errorf("viewer create: %d", res.status)
	}
	if res := viewer.post(fmt.Sprintf("/devices/%d/token", d.ID), nil); res.status != http.StatusForbidden && res.status != http.StatusNotFound {
		t.Errorf("viewer new token: %d", res.status)
	}
	if _, err := e.svc.DeviceByToken(context.Background(), m2[1]); err != nil {
		t.Error("a refused new-token request changed the token")
	}
	if count() != n+1 {
		t.Errorf("device count %d, want %d", count(), n+1)
	}
}

// TestDeviceAdministration: transfer, owner removal, tags, delete and
// the bulk actions, with their refusals.
func TestDeviceAdministration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signedIn("admin@acme.test")
	op := e.signedIn("op@a.test")
	devA := fmt.Sprintf("/devices/%d", e.devA.ID)
	if res := op.get(devA); res.status != http.StatusOK {
		t.Fatalf("Client A's Admin does not see its device: %d", res.status)
	}
	checkPage(t, "transfer to its own org", admin.post(devA+"/transfer", url.Values{"org": {fmt.Sprint(e.orgA.ID)}}), http.StatusBadRequest,
		"the device is already in this organization")
	checkPage(t, "transfer nowhere", admin.post(devA+"/transfer", url.Values{}), http.StatusBadRequest, "choose an organization or a new owner")
	checkPage(t, "rename too long", admin.post(devA+"/rename", url.Values{"name": {strings.Repeat("x", 61)}}), http.StatusBadRequest, "device name must be")
	if d, _ := e.svc.Device(ctx, e.admin, e.devA.ID); d.OrgID != e.orgA.ID || d.Name != e.devA.Name {
		t.Fatalf("a refused form changed the device: %+v", d)
	}
	if res := op.post(devA+"/transfer", url.Values{"org": {fmt.Sprint(e.orgB.ID)}}); res.status != http.StatusNotFound {
		t.Errorf("Client A's Admin transferring to Client B (out of scope): %d", res.status)
	}
	res := admin.post(devA+"/transfer", url.Values{"org": {fmt.Sprint(e.orgB.ID)}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("transfer: %d %s", res.status, res.body)
	}
	if res := op.get(devA); res.status != http.StatusNotFound {
		t.Errorf("after the transfer Client A still sees the device: %d", res.status)
	}
	if d, _ := e.svc.Device(ctx, e.admin, e.devA.ID); d.OrgID != e.orgB.ID {
		t.Fatalf("device org %d after transfer", d.OrgID)
	}
	// §13.8: to a Pending user (never signed in) refused; to the current
	// owner refused; nothing changed.
	inv, err := e.svc.InviteUser(ctx, e.admin, tenancy.Invite{Email: "new@b.test", Name: "Nina New", OrgID: e.orgB.ID, RoleID: tenancy.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, "transfer to a pending user", admin.post(devA+"/transfer", url.Values{"user": {fmt.Sprint(inv.User.ID)}}), http.StatusBadRequest,
		"the new owner must have activated their account")
	// Owner: to Otto, then removed.
	if res := admin.post(devA+"/transfer", url.Values{"user": {fmt.Sprint(e.operator.ID)}}); res.status != http.StatusSeeOther {
		t.Fatalf("transfer to a user: %d %s", res.status, res.body)
	}
	if d, _ := e.svc.Device(ctx, e.admin, e.devA.ID); d.OwnerID != e.operator.ID || d.OrgID != e.orgA.ID {
		t.Fatalf("after transfer to Otto: %+v", d)
	}
	checkPage(t, "transfer to its owner", admin.post(devA+"/transfer", url.Values{"user": {fmt.Sprint(e.operator.ID)}}), http.StatusBadRequest,
		"the device already belongs to this user")
	checkPage(t, "manage with owner", admin.get(devA+"/manage"), http.StatusOK, "owner Otto Operator", "Remove owner")
	if res := admin.post(devA+"/remove-owner", nil); res.status != http.StatusSeeOther {
		t.Fatalf("remove owner: %d", res.status)
	}
	if d, _ := e.svc.Device(ctx, e.admin, e.devA.ID); d.OwnerID != 0 {
		t.Fatal("owner not removed")
	}
	// §13.9: an owner who may view only their own devices loses the
	// device when the owner is removed; org-view holders keep it.
	if err := e.svc.SetRolePermissions(ctx, e.admin, e.orgA.ID, tenancy.RoleStaff, tenancy.NewPermSet(tenancy.OwnDevicesView), tenancy.PushNone); err != nil {
		t.Fatal(err)
	}
	sam, err := e.svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "sam@a.test", Name: "Sam Staff", OrgID: e.orgA.ID, RoleID: tenancy.RoleStaff, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	samc := e.signedIn("sam@a.test") // a first sign-in activates the account
	if _, err := e.svc.TransferDevice(ctx, e.admin, e.devA.ID, tenancy.DeviceTransfer{UserID: sam.ID}); err != nil {
		t.Fatal(err)
	}
	if res := samc.get(devA); res.status != http.StatusOK {
		t.Fatalf("the owner with own-view does not see the device: %d", res.status)
	}
	if res := admin.post(devA+"/remove-owner", nil); res.status != http.StatusSeeOther {
		t.Fatalf("remove owner: %d", res.status)
	}
	if res := samc.get(devA); res.status != http.StatusNotFound {
		t.Errorf("after the owner was removed the own-view user still sees the device: %d", res.status)
	}
	if res := viewer(e).get(devA); res.status != http.StatusOK {
		t.Errorf("an org-view holder lost the device: %d", res.status)
	}
	// Tags, one device and in bulk.
	tag, err := e.svc.CreateTag(ctx, e.admin, e.orgA.ID, "Boilers")
	if err != nil {
		t.Fatal(err)
	}
	root, err := e.svc.CreateTag(ctx, e.admin, 0, "Fleet")
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, "manage offers the org's and the root's tags", admin.get(devA+"/manage"), http.StatusOK, "Boilers", "Fleet")
	checkPage(t, "too many tags", admin.post(devA+"/tags", url.Values{"tag": {"1", "2", "3", "4", "5", "6"}}), httpStatus(tenancy.Errorf(tenancy.LimitReached, "")),
		"at most 5 tags per device")
	if res := admin.post(devA+"/tags", url.Values{"tag": {fmt.Sprint(tag.ID), fmt.Sprint(root.ID)}}); res.status != http.StatusSeeOther {
		t.Fatalf("tags: %d %s", res.status, res.body)
	}
	if ts, _ := e.svc.DeviceTags(ctx, e.admin, e.devA.ID); len(ts) != 2 {
		t.Fatalf("tags %v", ts)
	}
	if res := admin.post(devA+"/tags", url.Values{"tag": {fmt.Sprint(tag.ID)}}); res.status != http.StatusSeeOther {
		t.Fatalf("tags: %d %s", res.status, res.body)
	}
	if ts, _ := e.svc.DeviceTags(ctx, e.admin, e.devA.ID); len(ts) != 1 {
		t.Fatalf("tags %v", ts)
	}
	// Bulk: refusals first.
	checkPage(t, "bulk without selection", admin.post("/devices/bulk", url.Values{"action": {"delete"}}), http.StatusBadRequest, "Select the devices first.")
	checkPage(t, "bulk transfer without org", admin.post("/devices/bulk", url.Values{"action": {"transfer"}, "id": {fmt.Sprint(e.devA.ID)}}),
		http.StatusBadRequest, "Choose the organization to transfer to.")
	vc := viewer(e)
	res = vc.post("/devices/bulk", url.Values{"action": {"delete"}, "id": {fmt.Sprint(e.devA.ID), fmt.Sprint(e.devB.ID)}})
	checkPage(t, "viewer bulk delete", res, http.StatusOK, "0 of 2 done")
	if _, err := e.svc.Device(ctx, e.admin, e.devA.ID); err != nil {
		t.Fatal("a refused bulk delete deleted the device")
	}
	res = admin.post("/devices/bulk", url.Values{"action": {"transfer"}, "org": {fmt.Sprint(e.orgB.ID)}, "id": {fmt.Sprint(e.devA.ID), fmt.Sprint(e.devB.ID)}})
	checkPage(t, "bulk transfer", res, http.StatusOK, "1 of 2 done", "the device is already in this organization")
	res = admin.post("/devices/bulk", url.Values{"action": {"delete"}, "id": {fmt.Sprint(e.devA.ID), fmt.Sprint(e.devB.ID)}})
	checkPage(t, "bulk delete", res, http.StatusOK, "2 of 2 done")
	if l, _ := e.svc.Devices(ctx, e.admin, tenancy.DeviceQuery{IncludeSub: true}); l.Total != 0 {
		t.Fatalf("%d devices left after bulk delete", l.Total)
	}
}

// TestStaticTokenPages: generate, list, export, print, claim by the QR
// payload, refusals, disclaim by the creating org only.
func TestStaticTokenPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signedIn("admin@acme.test")
	tm := e.template(t)
	checkPage(t, "generate 0", admin.post("/static-tokens", url.Values{"template": {string(tm.ID)}, "count": {"0"}}), http.StatusBadRequest, "Enter a number from 1 to 1000.")
	checkPage(t, "generate without template", admin.post("/static-tokens", url.Values{"count": {"3"}}), http.StatusBadRequest, "Choose a template.")
	if l, _ := e.svc.StaticTokens(ctx, e.admin, 0, "", tenancy.Page{}); l.Total != 0 {
		t.Fatal("a refused generate made tokens")
	}
	checkPage(t, "generate", admin.post("/static-tokens", url.Values{"template": {string(tm.ID)}, "count": {"3"}}), http.StatusCreated, "3 static tokens were created")
	l, _ := e.svc.StaticTokens(ctx, e.admin, 0, "", tenancy.Page{})
	if l.Total != 3 {
		t.Fatalf("%d tokens", l.Total)
	}
	payload := tenancy.QRPayload(l.Items[0])
	shown := strings.ReplaceAll(payload, "+", "&#43;") // as html/template writes it
	checkPage(t, "list", admin.get("/static-tokens?status=unclaimed"), http.StatusOK, shown, "Unclaimed")
	res := admin.get("/static-tokens/export.csv")
	recs, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "qr_payload" {
		t.Fatalf("CSV: %v %q", err, res.body)
	}
	for _, rec := range recs[1:] {
		if d, err := e.svc.DeviceByToken(ctx, rec[1]); err != nil || rec[4] != "UNCLAIMED" || d.StaticToken == 0 {
			t.Errorf("CSV line %v: its AuthToken is no static-token device (%v)", rec, err)
		}
	}
	sheet := admin.get("/static-tokens/sheet")
	checkPage(t, "sheet", sheet, http.StatusOK, `src="data:image/png;base64,`, shown)
	if n := strings.Count(sheet.body, "<img "); n != 3 {
		t.Errorf("sheet has %d QR images, want 3", n)
	}
	// Claim by Otto (Client A) with the pasted payload.
	op := e.signedIn("op@a.test")
	checkPage(t, "claim empty", op.post("/static-tokens/claim", url.Values{"qr": {" "}}), http.StatusBadRequest, "Type or paste the code")
	checkPage(t, "claim forged org", op.post("/static-tokens/claim", url.Values{"qr": {l.Items[0].QR + "+999"}}), http.StatusNotFound, "No unclaimed device has this code.")
	checkPage(t, "claim bad name", op.post("/static-tokens/claim", url.Values{"qr": {payload}, "name": {strings.Repeat("n", 61)}}), http.StatusBadRequest, "device name must be")
	res = op.post("/static-tokens/claim", url.Values{"qr": {payload}, "name": {"Kitchen"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != fmt.Sprintf("/devices/%d", l.Items[0].DeviceID) {
		t.Fatalf("claim: %d %q %s", res.status, res.header.Get("Location"), res.body)
	}
	if res := op.get(res.header.Get("Location")); res.status != http.StatusOK || !strings.Contains(res.body, "Kitchen") {
		t.Fatalf("the claimer does not see the device: %d", res.status)
	}
	checkPage(t, "claim twice", op.post("/static-tokens/claim", url.Values{"qr": {payload}}), http.StatusNotFound, "No unclaimed device has this code.")
	checkPage(t, "claimed list", admin.get("/static-tokens?status=claimed"), http.StatusOK, shown, "Client A", "Disclaim")
	if res := admin.get("/static-tokens?status=unclaimed"); strings.Contains(res.body, shown) || strings.Count(res.body, `class="payload"`) != 2 {
		t.Errorf("the unclaimed list shows the claimed token or not the 2 others")
	}
	// Disclaim: Client A's Admin is not the creating org.
	disclaim := fmt.Sprintf("/static-tokens/%d/disclaim", l.Items[0].ID)
	if res := op.post(disclaim, nil); res.status != http.StatusNotFound && res.status != http.StatusForbidden {
		t.Errorf("disclaim by the claiming org: %d", res.status)
	}
	if res := admin.post(disclaim, nil); res.status != http.StatusSeeOther {
		t.Fatalf("disclaim: %d %s", res.status, res.body)
	}
	if res := op.get(fmt.Sprintf("/devices/%d", l.Items[0].DeviceID)); res.status != http.StatusNotFound {
		t.Errorf("after disclaim the claimer still sees the device: %d", res.status)
	}
	checkPage(t, "disclaim twice", admin.post(disclaim, nil), http.StatusBadRequest, "the static token is not claimed")
	// §13.16: deleting a token deletes its device; its AuthToken stops working.
	dev := l.Items[1].DeviceID
	tok, err := e.svc.StaticTokenDevice(ctx, e.admin, l.Items[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if res := op.post(fmt.Sprintf("/static-tokens/%d/delete", l.Items[1].ID), nil); res.status != http.StatusNotFound && res.status != http.StatusForbidden {
		t.Errorf("delete by another org: %d", res.status)
	}
	if res := admin.post(fmt.Sprintf("/static-tokens/%d/delete", l.Items[1].ID), nil); res.status != http.StatusSeeOther {
		t.Fatalf("delete static token: %d %s", res.status, res.body)
	}
	if _, err := e.svc.Device(ctx, e.admin, dev); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Errorf("the deleted token's device: %v", err)
	}
	if _, err := e.svc.DeviceByToken(ctx, tok.Token); err == nil {
		t.Error("the deleted token's AuthToken still finds a device")
	}
}

// TestDevelopersPage: the secret is shown once and works; rotate
// replaces it; delete; refusals.
func TestDevelopersPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signedIn("admin@acme.test")
	checkPage(t, "no name", admin.post("/developers", url.Values{"name": {""}}), http.StatusBadRequest, "Enter the client&#39;s name.")
	checkPage(t, "too many redirects", admin.post("/developers", url.Values{"name": {"ERP"}, "redirect": {strings.Repeat("https://x.test/\n", 12)}}),
		http.StatusBadRequest, "at most 11 redirect URLs")
	if cs, _ := e.svc.OAuthClients(ctx, e.admin, 0); len(cs) != 0 {
		t.Fatal("a refused create made a client")
	}
	secretRe := regexp.MustCompile(`id="clientid">([^<]+)</code>.*id="clientsecret">([^<]+)</code>`)
	res := admin.post("/developers", url.Values{"name": {"ERP"}})
	checkPage(t, "create", res, http.StatusCreated, "shown this once")
	m := secretRe.FindStringSubmatch(strings.ReplaceAll(res.body, "\n", " "))
	if m == nil {
		t.Fatalf("no secret shown:\n%s", res.body)
	}
	if _, err := e.svc.IssueClientToken(ctx, m[1], m[2]); err != nil {
		t.Fatalf("the shown secret does not work: %v", err)
	}
	if strings.Contains(admin.get("/developers").body, m[2]) {
		t.Error("the secret is shown again")
	}
	res = admin.post("/developers/"+m[1]+"/rotate", nil)
	m2 := secretRe.FindStringSubmatch(strings.ReplaceAll(res.body, "\n", " "))
	if res.status != http.StatusOK || m2 == nil || m2[2] == m[2] {
		t.Fatalf("rotate: %d", res.status)
	}
	if _, err := e.svc.IssueClientToken(ctx, m[1], m[2]); err == nil {
		t.Error("the old secret still works")
	}
	if _, err := e.svc.IssueClientToken(ctx, m[1], m2[2]); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	viewer := e.signedIn("viewer@a.test")
	if res := viewer.post("/developers/"+m[1]+"/delete", nil); res.status != http.StatusNotFound {
		t.Errorf("viewer delete: %d", res.status)
	}
	if res := admin.post("/developers/"+m[1]+"/delete", nil); res.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.status)
	}
	if cs, _ := e.svc.OAuthClients(ctx, e.admin, 0); len(cs) != 0 {
		t.Fatal("client not deleted")
	}
	// §13.17: a client created while switched into Client A acts for
	// Client A: its device yes, Client B's not.
	if res := admin.post("/org", url.Values{"org": {fmt.Sprint(e.orgA.ID)}, "back": {"/developers"}}); res.status != http.StatusSeeOther {
		t.Fatalf("switch: %d", res.status)
	}
	res = admin.post("/developers", url.Values{"name": {"Client A ERP"}})
	m = secretRe.FindStringSubmatch(strings.ReplaceAll(res.body, "\n", " "))
	if res.status != http.StatusCreated || m == nil {
		t.Fatalf("create in Client A: %d", res.status)
	}
	pair, err := e.svc.IssueClientToken(ctx, m[1], m[2])
	if err != nil || pair.OrgID != e.orgA.ID {
		t.Fatalf("Client A's client acts for %d (%v)", pair.OrgID, err)
	}
	a, err := e.svc.TokenActor(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Device(ctx, a, e.devA.ID); err != nil {
		t.Errorf("Client A's client and Client A's device: %v", err)
	}
	if _, err := e.svc.Device(ctx, a, e.devB.ID); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Errorf("Client A's client and Client B's device: %v", err)
	}
}

// TestLocationsAndTags: create (owned and org), the refusals, edit,
// assign users and devices; tags and their limits.
func TestLocationsAndTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signedIn("admin@acme.test")
	checkPage(t, "bad latitude", admin.post("/locations", url.Values{"name": {"HQ"}, "lat": {"95"}}), http.StatusBadRequest, "Enter a latitude from -90 to 90")
	checkPage(t, "long name", admin.post("/locations", url.Values{"name": {strings.Repeat("l", 49)}}), http.StatusBadRequest, "location name must be 1 to 48 characters")
	if l, _ := e.svc.Locations(ctx, e.admin, tenancy.LocationQuery{IncludeSub: true}); l.Total != 0 {
		t.Fatal("a refused create made a location")
	}
	res := admin.post("/locations", url.Values{"name": {"HQ"}, "kind": {"org"}, "city": {"Berlin"}, "lat": {"52.5"}, "lon": {"13.4"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("create location: %d %s", res.status, res.body)
	}
	loc := res.header.Get("Location")
	checkPage(t, "location page", admin.get(loc), http.StatusOK, "HQ", "Organization location", "Ada Admin")
	if res := admin.post(loc+"/users", url.Values{"user": {fmt.Sprint(e.admin.UserID)}}); res.status != http.StatusSeeOther {
		t.Fatalf("assign users: %d %s", res.status, res.body)
	}
	// A device of a sub-org placed here, from the location's page and
	// offered on the device's Manage page; then taken out.
	if res := admin.post(loc+"/devices", url.Values{"device": {fmt.Sprint(e.devA.ID)}}); res.status != http.StatusSeeOther {
		t.Fatalf("place a device: %d %s", res.status, res.body)
	}
	if d, _ := e.svc.Device(ctx, e.admin, e.devA.ID); d.LocationID == 0 {
		t.Fatal("the device has no location")
	}
	checkPage(t, "location with its device", admin.get(loc), http.StatusOK, "Boiler &lt;script&gt;", "Remove")
	checkPage(t, "device manage offers the root's location", admin.get(fmt.Sprintf("/devices/%d/manage", e.devA.ID)), http.StatusOK, "selected>HQ</option>")
	if res := admin.post(loc+"/devices", url.Values{"device": {fmt.Sprint(e.devA.ID)}, "remove": {"1"}}); res.status != http.StatusSeeOther {
		t.Fatalf("take the device out: %d", res.status)
	}
	if d, _ := e.svc.Device(ctx, e.admin, e.devA.ID); d.LocationID != 0 {
		t.Fatal("the device is still at the location")
	}
	checkPage(t, "place no device", admin.post(loc+"/devices", url.Values{}), http.StatusBadRequest, "choose a device")
	res = admin.post("/locations", url.Values{"name": {"My flat"}, "kind": {"owned"}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("owned location: %d", res.status)
	}
	checkPage(t, "list", admin.get("/locations"), http.StatusOK, "HQ", "My flat", "Owned by you")
	if res := admin.post(loc, url.Values{"name": {"Head office"}, "city": {"Berlin"}}); res.status != http.StatusSeeOther {
		t.Fatalf("edit: %d", res.status)
	}
	l, _ := e.svc.Locations(ctx, e.admin, tenancy.LocationQuery{})
	var hq tenancy.Location
	for _, x := range l.Items {
		if x.Name == "Head office" {
			hq = x
		}
	}
	if hq.ID == 0 || len(hq.Users) != 1 || hq.Address.City != "Berlin" {
		t.Fatalf("locations after edit: %+v", l.Items)
	}
	// Tags: create, duplicate refused with the service's words.
	if res := admin.post("/tags", url.Values{"name": {"Pumps"}}); res.status != http.StatusSeeOther {
		t.Fatalf("tag: %d", res.status)
	}
	checkPage(t, "duplicate tag", admin.post("/tags", url.Values{"name": {"Pumps"}}), httpStatus(tenancy.Errorf(tenancy.Conflict, "")), "is already in use")
	checkPage(t, "tags", admin.get("/tags"), http.StatusOK, "Pumps")
	if res := admin.post("/tags", url.Values{"name": {"Valves"}}); res.status != http.StatusSeeOther {
		t.Fatalf("tag: %d", res.status)
	}
	ts, _ := e.svc.Tags(ctx, e.admin, 0)
	if len(ts) != 2 {
		t.Fatalf("tags %v", ts)
	}
	checkPage(t, "rename to a taken name", admin.post(fmt.Sprintf("/tags/%d", ts[0].ID), url.Values{"name": {"Valves"}}),
		httpStatus(tenancy.Errorf(tenancy.Conflict, "")), "is already in use")
	if res := admin.post(fmt.Sprintf("/tags/%d", ts[0].ID), url.Values{"name": {"Big pumps"}}); res.status != http.StatusSeeOther {
		t.Fatalf("rename: %d", res.status)
	}
	ts, _ = e.svc.Tags(ctx, e.admin, 0)
	if ts[0].Name != "Big pumps" || ts[1].Name != "Valves" {
		t.Fatalf("after rename %v", ts)
	}
	if res := admin.post(fmt.Sprintf("/tags/%d/delete", ts[0].ID), nil); res.status != http.StatusSeeOther {
		t.Fatalf("delete tag: %d", res.status)
	}
}

// FuzzParseEnum: the enum field of the datastream form never panics, and
// what it accepts has a label for every value it read.
func FuzzParseEnum(f *testing.F) {
	for _, s := range []string{"0=Off, 1=On", "0=Off\n1=Heat", "", "=", "x=y", "1=", "-5=Cold,,7=Hot", "99999999999999999999=a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, ok := parseEnum(s)
		if !ok {
			return
		}
		for _, it := range items {
			if it.Label == "" || strings.TrimSpace(it.Label) != it.Label {
				t.Fatalf("%q gave item %+v", s, it)
			}
		}
	})
}

func viewer(e *env) *client { return e.signedIn("viewer@a.test") }
