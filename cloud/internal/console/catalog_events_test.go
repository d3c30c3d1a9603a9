package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/notify"
)

// An event's settings are edited in place by form post: the form comes
// pre-filled, a refusal (service limits, bad numbers) changes nothing, a
// save replaces the event; system events likewise.
func TestTemplateEventSettingsForm(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	tm := e.template(t)
	path := "/templates/" + string(tm.ID)
	if res := admin.post(path+"/events", url.Values{"code": {"overheat"}, "name": {"Hot"}, "type": {"warning"}}); res.status != http.StatusSeeOther {
		t.Fatalf("add event: %d %s", res.status, res.body)
	}
	checkPage(t, "edit form", admin.get(path+"?event=overheat"), http.StatusOK, "Edit event overheat", `name="replace" value="overheat"`,
		`value="Hot"`, `<option value="warning" selected>`, `<option value="2">Staff</option>`)

	edit := url.Values{"replace": {"overheat"}, "code": {"overheat"}, "name": {"Hot"}, "type": {"critical"},
		"description": {"Boiler too hot"}, "timeline": {"1"}, "notify": {"1"}, "n-email": {"1"}, "n-console": {"1"},
		"n-owner": {"1"}, "n-role": {"2"}, "n-users": {"ops@acme.test, boss@acme.test"}, "n-limit": {"300"}, "n-every": {"3"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range edit {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	refusals := []struct {
		name string
		form url.Values
		want string
	}{
		{"bad limit", with("n-limit", "soon"), "Enter a whole number, 0 or more."},
		{"description too long", with("description", strings.Repeat("d", 251)), "description longer than 250"},
		{"unknown type", with("type", "alarm"), "unknown type"},
		{"no channel", func() url.Values { f := with("n-email", ""); f.Del("n-console"); return f }(), "without a channel"},
		{"not an email", with("n-users", "ops"), "not an email address"},
	}
	for _, tc := range refusals {
		checkPage(t, tc.name, admin.post(path+"/events", tc.form), http.StatusBadRequest, tc.want)
		now := e.templateNow(t, tm.ID)
		if ev, _ := now.Def.Event("overheat"); ev.Notify != nil || ev.Type != "warning" {
			t.Fatalf("%s: the event changed: %+v", tc.name, ev)
		}
	}
	if res := admin.post(path+"/events", edit); res.status != http.StatusSeeOther {
		t.Fatalf("save event: %d %s", res.status, res.body)
	}
	got := e.templateNow(t, tm.ID)
	ev, ok := got.Def.Event("overheat")
	if !ok || len(got.Def.Events) != 1 || ev.Type != "critical" || ev.Description != "Boiler too hot" || !ev.ShownOnTimeline() || ev.Notify == nil {
		t.Fatalf("saved event: %+v", ev)
	}
	if n := ev.Notify; !n.Enabled || !n.Email || !n.Console || !n.Owner || n.Role != 2 || n.LimitS != 300 || n.EveryN != 3 ||
		len(n.Users) != 2 || n.Users[1] != "boss@acme.test" {
		t.Fatalf("saved settings: %+v", *n)
	}
	checkPage(t, "list", admin.get(path), http.StatusOK, "Boiler too hot", "1 in 3", "≤ 1 per 300 s")
	checkPage(t, "edit form again", admin.get(path+"?event=overheat"), http.StatusOK, `value="ops@acme.test, boss@acme.test"`, `<option value="2" selected>Staff</option>`)

	// System events: offline after 60 s to the owner by mail.
	checkPage(t, "bad ignore", admin.post(path+"/system", url.Values{"ignore": {"-5"}}), http.StatusBadRequest, "Enter a whole number of seconds")
	if res := admin.post(path+"/system", url.Values{"ignore": {"60"}, "offline": {"1"}, "off-email": {"1"}, "off-owner": {"1"}}); res.status != http.StatusSeeOther {
		t.Fatalf("save system events: %d %s", res.status, res.body)
	}
	sys := e.templateNow(t, tm.ID).Def.System
	if sys == nil || sys.OfflineIgnoreS != 60 || sys.Offline == nil || !sys.Offline.Email || sys.Online != nil || sys.First != nil {
		t.Fatalf("system events: %+v", sys)
	}
	checkPage(t, "system form", admin.get(path), http.StatusOK, `name="ignore" value="60"`, `name="offline" value="1" checked`)
	checkPage(t, "system refused by the service", admin.post(path+"/system", url.Values{"online": {"1"}, "on-owner": {"1"}}),
		http.StatusBadRequest, "without a channel")
}

// A critical event stays open until resolved: the device header counts
// it and the timeline lists it first with a Resolve form; an event whose
// template event has "show on the timeline" off is not on the timeline.
// Resolving takes ORG_DEVICES_CONTROL (a viewer gets no form, and a
// forged post answers 403), records who, when and the comment, and
// answers "already" the second time.
func TestResolveOpenCriticalEvent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin, viewer := e.signedIn("admin@acme.test"), e.signedIn("viewer@a.test")
	tm := e.template(t)
	for _, ev := range []url.Values{
		{"code": {"overheat"}, "type": {"critical"}, "timeline": {"1"}},
		{"code": {"tick"}, "type": {"info"}}, // show on the timeline off
	} {
		if res := admin.post("/templates/"+string(tm.ID)+"/events", ev); res.status != http.StatusSeeOther {
			t.Fatalf("add event %v: %d %s", ev, res.status, res.body)
		}
	}
	delete(e.live.events, e.devA.UID) // the store's timeline
	now := time.Now()
	hot, err := e.store.LogEvent(ctx, e.devA.UID, "overheat", "too hot", "tcp", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.LogEvent(ctx, e.devA.UID, "tick", "tock", "tcp", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf("/devices/%d", e.devA.ID)
	checkPage(t, "header", admin.get(dev), http.StatusOK, `id="open-count"`, "1 open critical event<")
	checkPage(t, "list", admin.get("/devices"), http.StatusOK, `aria-label="1 open critical event on Boiler`)
	page := admin.get(dev + "/timeline")
	checkPage(t, "open", page, http.StatusOK, "Open critical events", `id="open-events"`, "too hot",
		fmt.Sprintf(`action="/devices/%d/events/%d/resolve"`, e.devA.ID, hot.ID))
	if strings.Contains(page.body, "tock") {
		t.Error("the timeline shows an event whose template event is not shown on the timeline")
	}
	if res := viewer.get(dev + "/timeline"); res.status != http.StatusOK || !strings.Contains(res.body, "Open critical events") ||
		strings.Contains(res.body, "/resolve") {
		t.Errorf("viewer's timeline: %d, want the open event without a Resolve form", res.status)
	}
	resolve := fmt.Sprintf("%s/events/%d/resolve", dev, hot.ID)
	if res := viewer.post(resolve, url.Values{"comment": {"mine"}}); res.status != http.StatusForbidden {
		t.Fatalf("viewer resolves: %d, want 403", res.status)
	}
	res := admin.post(resolve, url.Values{"comment": {"fixed the burner"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != dev+"/timeline?resolve=resolved" {
		t.Fatalf("resolve: %d %q", res.status, res.header.Get("Location"))
	}
	page = admin.get(dev + "/timeline?resolve=resolved")
	checkPage(t, "resolved", page, http.StatusOK, "The event is resolved.", "fixed the burner", "by you")
	// The viewer may not see the root's Admin: a number, not a name.
	checkPage(t, "resolved, seen by another", viewer.get(dev+"/timeline"), http.StatusOK, "fixed the burner",
		fmt.Sprintf("by user %d", e.admin.UserID))
	if strings.Contains(page.body, "Open critical events") || strings.Contains(page.body, `id="open-count"`) {
		t.Error("a resolved event is still shown open")
	}
	if res := admin.get("/devices"); strings.Contains(res.body, "open critical event") {
		t.Error("the device list still counts a resolved event")
	}
	if res := admin.post(resolve, url.Values{"comment": {"again"}}); res.header.Get("Location") != dev+"/timeline?resolve=already" {
		t.Errorf("resolving twice: %d %q", res.status, res.header.Get("Location"))
	}
	es, _, err := e.store.TimelineOfKind(ctx, e.devA.UID, "event", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range es {
		if ev.ID == hot.ID && (ev.ResolvedBy != fmt.Sprintf("user:%d", e.admin.UserID) || ev.Comment != "fixed the burner") {
			t.Errorf("stored %+v", ev)
		}
	}
	// The device's actions log (the audit) names who resolved what, once:
	// the refused second attempt left no entry.
	actions := admin.get(dev + "/actions")
	checkPage(t, "actions log", actions, http.StatusOK, "device.event.resolve")
	if n := strings.Count(actions.body, ">device.event.resolve<"); n != 1 {
		t.Errorf("actions log: %d resolve entries, want 1", n)
	}
	checkPage(t, "audit of resolutions", admin.get("/audit?action=device.event.resolve"), http.StatusOK, "fixed the burner", "overheat")

	// A notification of an open critical event offers to resolve it, and
	// returns to the notifications page.
	again, err := e.store.LogEvent(ctx, e.devA.UID, "overheat", "too hot again", "tcp", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.User(ctx, e.admin, e.admin.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.notes.ToUsersAbout(ctx, e.devA.OrgID, []notify.Recipient{{User: u, Why: "test"}}, "Critical: overheat", "too hot again",
		notify.Channels{Console: true}, notify.About{Device: e.devA.ID, EventCode: "overheat", EventAt: again.TS}); err != nil {
		t.Fatal(err)
	}
	resolve = fmt.Sprintf("%s/events/%d/resolve", dev, again.ID)
	checkPage(t, "notification", admin.get("/notifications"), http.StatusOK, `action="`+resolve+`"`, `name="back" value="notifications"`)
	if res := viewer.get("/notifications"); strings.Contains(res.body, "/resolve") {
		t.Error("another person's page offers the resolution")
	}
	res = admin.post(resolve, url.Values{"back": {"notifications"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/notifications?resolve=resolved" {
		t.Fatalf("resolve from the notifications: %d %q", res.status, res.header.Get("Location"))
	}
	if res := admin.get("/notifications"); strings.Contains(res.body, "/resolve") {
		t.Error("a resolved event is still offered for resolution")
	}
}
