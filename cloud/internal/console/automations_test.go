package console

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/automations"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/poll"
	"outpost/shared/rules"
)

// autoCloud is the far side of the cloud's automation runner in these
// tests: where devices are served (sites by uid), the writes it was asked
// for; notifications go to the real notify service.
type autoCloud struct {
	notes *notify.Service
	mu    sync.Mutex
	sites map[string]string
	wrote []string
}

func (a *autoCloud) SiteOf(_ context.Context, uid string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sites[uid], nil
}
func (a *autoCloud) Value(string, int) (string, bool) { return "", false }
func (a *autoCloud) Write(_ context.Context, _, device string, pin int, value string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wrote = append(a.wrote, fmt.Sprintf("%s/%d=%s", device, pin, value))
	return nil
}
func (a *autoCloud) Notify(ctx context.Context, org int64, subject, body, why string) error {
	_, err := a.notes.ToOrg(ctx, tenancy.OrgID(org), subject, body, why)
	return err
}
func (a *autoCloud) Webhook(context.Context, int64, string, *rules.Firing) error {
	return errors.New("no webhooks in this test")
}

func (a *autoCloud) LogEvent(context.Context, string, string, string, string) error {
	return errors.New("no events logged in this test")
}

func (a *autoCloud) writes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.wrote)
}

func (e *env) wireAutomations(t testing.TB, st *sqlite.Store) {
	e.store = st
	e.notes = notify.New(st, e.mails, e.svc.Tree, 1000, nil, nil)
	e.acloud = &autoCloud{notes: e.notes, sites: map[string]string{}}
	e.runner = automations.NewRunner(st, e.acloud, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.runner.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.autos = automations.New(st, e.svc.Tree, func(tenancy.Change) { _ = e.runner.Reload(context.Background()) }, nil)
	e.autos.Attach(e.runner)
}

func (e *env) notifyUser(t *testing.T, u tenancy.UserID, subject string, at time.Time) {
	t.Helper()
	if _, err := e.store.AddNotification(context.Background(), notify.Notification{UserID: u, OrgID: e.orgA.ID, At: at,
		Subject: subject, Body: "body of " + subject, Why: "Sent by automation \"fan\" because V0 = 31."}); err != nil {
		t.Fatal(err)
	}
}

var bellRE = regexp.MustCompile(`aria-label="Notifications, (\d+) unread"`)

func bell(t *testing.T, c *client) string {
	t.Helper()
	res := c.get("/devices")
	m := bellRE.FindStringSubmatch(res.body)
	if res.status != http.StatusOK || m == nil {
		t.Fatalf("no bell on /devices: %d", res.status)
	}
	return m[1]
}

// TestNotificationsBell: the header's bell counts the unread ones; the
// page lists a person's own, newest first, in pages, marks the shown
// ones read and "mark all read" the rest; a cross-site POST is refused.
func TestNotificationsBell(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	viewer := e.signedIn("viewer@a.test")
	if got := bell(t, admin); got != "0" {
		t.Fatalf("bell before any: %s", got)
	}
	t0 := time.Now().Add(-time.Hour)
	for i := range 30 {
		e.notifyUser(t, e.admin.UserID, fmt.Sprintf("Alert %02d <b>", i), t0.Add(time.Duration(i)*time.Minute))
	}
	e.notifyUser(t, e.viewer.ID, "Only for Vera", t0)
	if got := bell(t, admin); got != "30" {
		t.Fatalf("bell: %s, want 30", got)
	}
	res := admin.get("/notifications")
	if res.status != http.StatusOK {
		t.Fatalf("/notifications: %d", res.status)
	}
	for _, want := range []string{"Alert 29 &lt;b&gt;", "body of Alert 29", "Sent by automation &#34;fan&#34; because V0 = 31.",
		`<span class="badge">New</span>`, `rel="next"`, "Mark all read"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("/notifications lacks %q", want)
		}
	}
	if strings.Contains(res.body, "Only for Vera") || strings.Contains(res.body, "Alert 04 ") {
		t.Error("first page shows another person's notification or one of the second page")
	}
	if i, j := strings.Index(res.body, "Alert 29"), strings.Index(res.body, "Alert 05"); i < 0 || j < 0 || i > j {
		t.Error("not newest first")
	}
	// The first page (25) is read now; the 5 older ones are not.
	if got := bell(t, admin); got != "5" {
		t.Fatalf("bell after the first page: %s, want 5", got)
	}
	next := regexp.MustCompile(`href="(/notifications\?before=\d+)" rel="next"`).FindStringSubmatch(res.body)
	if next == nil {
		t.Fatal("no link to older notifications")
	}
	res = admin.get(html.UnescapeString(next[1]))
	if !strings.Contains(res.body, "Alert 04") || !strings.Contains(res.body, "Alert 00") || strings.Contains(res.body, "Alert 05") ||
		!strings.Contains(res.body, "← Newest") {
		t.Fatalf("second page:\n%s", res.body)
	}
	if got := bell(t, admin); got != "0" {
		t.Fatalf("bell after both pages: %s", got)
	}
	// Vera's are hers alone; a cross-site "mark all read" is refused.
	if got := bell(t, viewer); got != "1" {
		t.Fatalf("Vera's bell: %s", got)
	}
	if res := viewer.post("/notifications/read", nil, "Sec-Fetch-Site", "cross-site"); res.status != http.StatusForbidden {
		t.Fatalf("cross-site mark all read: %d", res.status)
	}
	if got := bell(t, viewer); got != "1" {
		t.Fatalf("Vera's bell after a refused POST: %s", got)
	}
	if res := viewer.post("/notifications/read", nil); res.status != http.StatusSeeOther {
		t.Fatalf("mark all read: %d", res.status)
	}
	if got := bell(t, viewer); got != "0" {
		t.Fatalf("Vera's bell after mark all read: %s", got)
	}
	if res := e.client().get("/notifications"); res.status != http.StatusSeeOther {
		t.Fatalf("signed out: %d", res.status)
	}
}

// autoForm is the editor's form for a datastream automation on devA.
func (e *env) autoForm(id, name string) url.Values {
	return url.Values{"id": {id}, "name": {name}, "enabled": {"on"}, "min_interval": {"2"}, "kind": {"datastream"},
		"t_device": {e.devA.UID}, "t_pin": {"0"}, "t_op": {"gt"}, "t_value": {"30"}, "t_hold": {"5"},
		"a0_kind": {"write"}, "a0_device": {e.devA.UID}, "a0_pin": {"1"}, "a0_value": {"18"},
		"a1_kind": {"notify"}, "a1_subject": {"Too hot"}, "a1_text": {"V0 = {trigger_value}"},
		"a2_kind": {""}}
}

var newIDRE = regexp.MustCompile(`name="id" value="([0-9A-Z]{26})"`)

// createAutomation creates one through the editor as c and returns its id.
func (e *env) createAutomation(t *testing.T, c *client, name string) string {
	t.Helper()
	res := c.get("/automations/new")
	m := newIDRE.FindStringSubmatch(res.body)
	if res.status != http.StatusOK || m == nil {
		t.Fatalf("/automations/new: %d", res.status)
	}
	res = c.post("/automations/new", e.autoForm(m[1], name))
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/automations/"+m[1]+"?done=saved" {
		t.Fatalf("create: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
	}
	return m[1]
}

// TestAutomationPages: create through the editor, list, detail, edit,
// validation shown next to the form, disable, run now (a recorded run),
// delete with confirmation.
func TestAutomationPages(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op@a.test")
	ctx := context.Background()
	id := e.createAutomation(t, op, "Cool the boiler")
	au, err := e.store.GetAutomation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := rules.Automation{ID: id, Name: "Cool the boiler", Enabled: true, OrgID: int64(e.orgA.ID), MinIntervalMS: 2000,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: e.devA.UID, Pin: 0, Op: rules.OpGt, Value: "30", HoldS: 5},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: e.devA.UID, Pin: 1, Value: "18"},
			{Kind: rules.ActionNotify, Subject: "Too hot", Text: "V0 = {trigger_value}"}}}
	if fmt.Sprintf("%+v", au) != fmt.Sprintf("%+v", want) {
		t.Fatalf("stored\n%+v\nwant\n%+v", au, want)
	}
	res := op.get("/automations")
	for _, w := range []string{`<a href="/automations" aria-current="page">Automations</a>`, "Cool the boiler", "When Boiler &lt;script&gt;alert(1)&lt;/script&gt; V0 &gt; 30 for 5 s",
		"Cloud", "Enabled", "never", "New automation", "Disable Cool the boiler"} {
		if !strings.Contains(res.body, w) {
			t.Errorf("/automations lacks %q", w)
		}
	}
	// On one site, it runs there.
	e.acloud.mu.Lock()
	e.acloud.sites[e.devA.UID] = "7"
	e.acloud.mu.Unlock()
	res = op.get("/automations/" + id)
	for _, w := range []string{"Runs in Site 7", "Write 18 to Boiler &lt;script&gt;alert(1)&lt;/script&gt; V1", "Notify: Too hot", "2000 ms",
		"It has not run yet.", "Run now", "Delete automation"} {
		if !strings.Contains(res.body, w) {
			t.Errorf("detail lacks %q", w)
		}
	}
	// A site the user may see is named and linked; Client A's Admin may
	// not see the root's site, so it is only numbered for them.
	gl, err := e.svc.Gateways(ctx, e.admin, 0, true, tenancy.Page{Size: 10})
	if err != nil || len(gl.Items) != 1 {
		t.Fatalf("gateways: %+v %v", gl, err)
	}
	gid := fmt.Sprint(gl.Items[0].ID)
	e.acloud.mu.Lock()
	e.acloud.sites[e.devA.UID] = gid
	e.acloud.mu.Unlock()
	if res := e.signedIn("admin@acme.test").get("/automations/" + id); !strings.Contains(res.body, `Runs in <a href="/sites/`+gid+`">Root Site</a>`) {
		t.Error("the Admin's page does not link the root's site")
	}
	if res := op.get("/automations/" + id); !strings.Contains(res.body, "Runs in Site "+gid+"</p>") {
		t.Error("Client A's Admin does not see the site's number")
	}
	// The editor shows what is stored.
	res = op.get("/automations/" + id + "/edit")
	for _, w := range []string{`value="Cool the boiler"`, `<option value="gt" selected>`, `name="t_hold" value="5"`, `name="a0_value" value="18"`,
		`<option value="notify" selected>`, `name="a1_subject" value="Too hot"`, `name="a3_kind"`} {
		if !strings.Contains(res.body, w) {
			t.Errorf("editor lacks %q", w)
		}
	}
	if strings.Contains(res.body, `name="a4_kind"`) {
		t.Error("editor offers more than two spare actions")
	}
	// Refusals are shown next to the form, nothing is saved.
	bad := e.autoForm(id, "")
	bad.Set("t_pin", "x")
	res = op.post("/automations/"+id+"/edit", bad)
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, `id="t-pin" name="t_pin" value="x"`) ||
		!strings.Contains(res.body, "Enter a whole number.") {
		t.Fatalf("unreadable pin: %d\n%s", res.status, res.body)
	}
	bad = e.autoForm(id, "")
	bad.Set("t_op", "between")
	res = op.post("/automations/"+id+"/edit", bad)
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, `id="problems"`) || !strings.Contains(res.body, "name must have 1..80 characters") {
		t.Fatalf("invalid automation: %d\n%s", res.status, res.body)
	}
	bad = e.autoForm(id, "x")
	bad.Set("a0_device", e.devB.UID) // another tree's device
	res = op.post("/automations/"+id+"/edit", bad)
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "not found in this organization") {
		t.Fatalf("another tree's device: %d\n%s", res.status, res.body)
	}
	if got, _ := e.store.GetAutomation(ctx, id); got.Name != "Cool the boiler" {
		t.Fatalf("a refused save changed it: %+v", got)
	}
	// A schedule with weekdays and conditions in JSON.
	sched := url.Values{"name": {"Morning"}, "kind": {"schedule"}, "s_mode": {"time"}, "s_at": {"07:30"}, "s_tz": {"Europe/Paris"},
		"s_day": {"1", "5"}, "conditions": {`{"window":{"from":"06:00","to":"09:00"}}`}, "a0_kind": {"wait"}, "a0_wait": {"3"}}
	res = op.post("/automations/"+id+"/edit", sched)
	if res.status != http.StatusSeeOther {
		t.Fatalf("schedule: %d\n%s", res.status, res.body)
	}
	au, _ = e.store.GetAutomation(ctx, id)
	if au.Enabled || au.Trigger.Schedule == nil || au.Trigger.Schedule.At != "07:30" || !slices.Equal(au.Trigger.Schedule.Weekdays, []time.Weekday{1, 5}) ||
		au.Conditions == nil || au.Conditions.Window == nil || len(au.Actions) != 1 || au.Actions[0].WaitS != 3 {
		t.Fatalf("schedule stored as %+v", au)
	}
	if res := op.get("/automations"); !strings.Contains(res.body, "At 07:30 on Mon, Fri (Europe/Paris)") || !strings.Contains(res.body, "Disabled") {
		t.Error("list does not say the schedule or that it is disabled")
	}
	// Back to the write, then enable / disable.
	if res := op.post("/automations/"+id+"/edit", e.autoForm(id, "Cool the boiler")); res.status != http.StatusSeeOther {
		t.Fatalf("save: %d", res.status)
	}
	for _, c := range []struct {
		v    string
		want bool
	}{{"off", false}, {"on", true}} {
		if res := op.post("/automations/"+id+"/enabled", url.Values{"enabled": {c.v}}); res.status != http.StatusSeeOther {
			t.Fatalf("enabled=%s: %d", c.v, res.status)
		}
		if got, _ := e.store.GetAutomation(ctx, id); got.Enabled != c.want {
			t.Fatalf("enabled=%s: stored %v", c.v, got.Enabled)
		}
	}
	// Run now: the cloud runs the actions once and records the run.
	if res := op.post("/automations/"+id+"/run", nil); res.status != http.StatusSeeOther {
		t.Fatalf("run now: %d", res.status)
	}
	poll.Until(t, "the run recorded", func() bool {
		rs, err := e.store.AutomationRuns(ctx, id, 10)
		return err == nil && len(rs) == 1
	})
	if w := e.acloud.writes(); !slices.Equal(w, []string{e.devA.UID + "/1=18"}) {
		t.Fatalf("writes %v", w)
	}
	res = op.get("/automations/" + id)
	if !strings.Contains(res.body, `<td class="wrap" data-label="Trigger">Run now</td>`) || strings.Count(res.body, `<span class="result ok">ok</span>`) != 2 {
		t.Fatalf("run log:\n%s", res.body)
	}
	if res := op.get("/automations"); strings.Contains(res.body, ">never<") || !strings.Contains(res.body, `<span class="result ok">ok</span>`) {
		t.Error("list does not show the last run")
	}
	// The notify action reached the people of Client A (the bell).
	if got := bell(t, op); got != "1" {
		t.Fatalf("operator's bell after the run: %s", got)
	}
	// Delete needs the confirmation.
	if res := op.post("/automations/"+id+"/delete", nil); res.status != http.StatusBadRequest {
		t.Fatalf("delete unconfirmed: %d", res.status)
	}
	if res := op.post("/automations/"+id+"/delete", url.Values{"confirm": {"yes"}}); res.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.status)
	}
	if res := op.get("/automations/" + id); res.status != http.StatusNotFound {
		t.Fatalf("deleted: %d", res.status)
	}
}

// TestAutomationPermissions: each page and action follows the role's
// AUTOMATIONS_* keys; what a role lacks is not offered and a forged
// request is refused (403) and changes nothing; cross-site POSTs are
// refused.
func TestAutomationPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.signedIn("op@a.test")
	id := e.createAutomation(t, op, "Guarded")
	viewer := e.signedIn("viewer@a.test")
	forged := []struct {
		path string
		form url.Values
	}{
		{"/automations/new", e.autoForm("01JD5Z8Q3M4N5P6Q7R8S9T0VAB", "Forged")},
		{"/automations/" + id + "/edit", e.autoForm(id, "Forged")},
		{"/automations/" + id + "/enabled", url.Values{"enabled": {"off"}}},
		{"/automations/" + id + "/delete", url.Values{"confirm": {"yes"}}},
		{"/automations/" + id + "/run", nil},
	}
	unchanged := func(who string) {
		t.Helper()
		au, err := e.store.GetAutomation(ctx, id)
		if err != nil || au.Name != "Guarded" || !au.Enabled {
			t.Fatalf("%s changed it: %+v %v", who, au, err)
		}
		if l, _ := e.store.ListAutomations(ctx, []tenancy.OrgID{e.orgA.ID}); len(l) != 1 {
			t.Fatalf("%s: %d automations", who, len(l))
		}
		if rs, _ := e.store.AutomationRuns(ctx, id, 10); len(rs) != 0 {
			t.Fatalf("%s ran it", who)
		}
	}
	// No AUTOMATIONS_* key: no link, no pages, every POST refused: 403,
	// or 404 for one automation's routes (as the API: a role that may
	// not view automations learns nothing of an id).
	if res := viewer.get("/devices"); strings.Contains(res.body, `href="/automations"`) || strings.Contains(res.body, `href="/webhooks"`) {
		t.Error("viewer's header offers automations or webhooks")
	}
	refused := func(path string) int {
		if path == "/automations" || path == "/automations/new" {
			return http.StatusForbidden
		}
		return http.StatusNotFound
	}
	for _, p := range []string{"/automations", "/automations/new", "/automations/" + id, "/automations/" + id + "/edit"} {
		if res := viewer.get(p); res.status != refused(p) {
			t.Errorf("viewer GET %s: %d", p, res.status)
		}
	}
	for _, f := range forged {
		if res := viewer.post(f.path, f.form); res.status != refused(f.path) {
			t.Errorf("viewer POST %s: %d", f.path, res.status)
		}
	}
	unchanged("viewer")
	// AUTOMATIONS_VIEW only: the pages, without the buttons; POSTs refused.
	if err := e.svc.SetRolePermissions(ctx, e.admin, e.orgA.ID, tenancy.RoleUser,
		tenancy.NewPermSet(tenancy.OrgDevicesView, tenancy.AutomationsView), tenancy.PushNone); err != nil {
		t.Fatal(err)
	}
	res := viewer.get("/automations")
	if res.status != http.StatusOK || !strings.Contains(res.body, "Guarded") || !strings.Contains(res.body, `href="/automations" aria-current="page"`) {
		t.Fatalf("view-only list: %d", res.status)
	}
	for _, no := range []string{"New automation", "Disable Guarded", "Delete Guarded"} {
		if strings.Contains(res.body, no) {
			t.Errorf("view-only list offers %q", no)
		}
	}
	res = viewer.get("/automations/" + id)
	for _, no := range []string{"Run now", "/edit", "Delete automation", `action="/automations/` + id + `/enabled"`} {
		if res.status != http.StatusOK || strings.Contains(res.body, no) {
			t.Errorf("view-only detail (%d) offers %q", res.status, no)
		}
	}
	for _, p := range []string{"/automations/new", "/automations/" + id + "/edit"} {
		if res := viewer.get(p); res.status != http.StatusForbidden {
			t.Errorf("view-only GET %s: %d", p, res.status)
		}
	}
	for _, f := range forged {
		if res := viewer.post(f.path, f.form); res.status != http.StatusForbidden {
			t.Errorf("view-only POST %s: %d", f.path, res.status)
		}
	}
	unchanged("view-only")
	// Cross-site POSTs by the Admin who may do everything are refused.
	for _, f := range forged[1:] {
		if res := op.post(f.path, f.form, "Sec-Fetch-Site", "cross-site"); res.status != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d", f.path, res.status)
		}
	}
	unchanged("cross-site")
	if res := viewer.get("/automations/01JD5Z8Q3M4N5P6Q7R8S9T0VAB"); res.status != http.StatusNotFound {
		t.Errorf("unknown automation: %d", res.status)
	}
	// The root Admin's header has both links (webhooks: ORG_SETTINGS_ACCESS).
	res = e.signedIn("admin@acme.test").get("/devices")
	if !strings.Contains(res.body, `href="/automations"`) || !strings.Contains(res.body, `href="/webhooks"`) {
		t.Error("the Admin's header lacks automations or webhooks")
	}
}
