package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestStillOpen(t *testing.T) {
	ev := func(id int64, kind, code, desc string) Event {
		return Event{ID: id, Kind: kind, Code: code, Description: desc}
	}
	track := map[string]bool{"hot": true, "leak": true}
	tests := []struct {
		name string
		es   []Event // newest first
		want []int64
	}{
		{"none", nil, nil},
		{"one open", []Event{ev(1, "event", "hot", "")}, []int64{1}},
		{"resolved", []Event{ev(2, "clear", "hot", ""), ev(1, "event", "hot", "")}, nil},
		{"clear resolves the latest", []Event{ev(3, "clear", "hot", ""), ev(2, "event", "hot", ""), ev(1, "event", "hot", "")}, []int64{1}},
		{"clear all", []Event{ev(4, "clear", "hot", "all"), ev(2, "event", "hot", ""), ev(1, "event", "hot", "")}, nil},
		{"clear before the event", []Event{ev(2, "event", "hot", ""), ev(1, "clear", "hot", "all")}, []int64{2}},
		{"other code untouched", []Event{ev(3, "clear", "hot", "all"), ev(2, "event", "leak", ""), ev(1, "event", "hot", "")}, []int64{2}},
		{"untracked ignored", []Event{ev(2, "event", "info", ""), ev(1, "online", "", "")}, nil},
		{"newest first", []Event{ev(5, "event", "hot", ""), ev(4, "event", "leak", ""), ev(1, "event", "hot", "")}, []int64{5, 4, 1}},
	}
	for _, tc := range tests {
		var got []int64
		for _, e := range stillOpen(tc.es, track) {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: open %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The device's timeline lists its open critical events first.
func TestTimelineShowsOpenCriticalEvents(t *testing.T) {
	e := newEnv(t)
	admin := e.signedIn("admin@acme.test")
	tm := e.template(t)
	if res := admin.post("/templates/"+string(tm.ID)+"/events", url.Values{"code": {"overheat"}, "type": {"critical"}}); res.status != http.StatusSeeOther {
		t.Fatalf("add event: %d %s", res.status, res.body)
	}
	dev := fmt.Sprintf("/devices/%d/timeline", e.devA.ID)
	checkPage(t, "open", admin.get(dev), http.StatusOK, "Open critical events", `id="open-events"`, "too hot")
	now := time.Now()
	e.live.events[e.devA.UID] = append([]Event{{ID: 9, Kind: "clear", Code: "overheat", TS: now}}, e.live.events[e.devA.UID]...)
	if res := admin.get(dev); strings.Contains(res.body, "Open critical events") {
		t.Error("a resolved event is still shown open")
	}
}
