package cloud

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"outpost/cloud/internal/notify"
	"outpost/internal/poll"
	"outpost/shared/datastream"
)

// A cloud automation's "log event" logs the event on the device as the
// device would: on its timeline (source automation:<id>), notifying its
// owner by the template's settings and calling the event webhook; a code
// the template does not have is refused and recorded as the action's
// error, the other actions still run.
func TestAutomationLogsEventInTheCloud(t *testing.T) {
	got := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer recv.Close()
	def := overheatTemplate(&datastream.EventNotify{Enabled: true, Console: true, Owner: true})
	def.Events = append(def.Events, datastream.Event{Code: "tick", Type: "info", Timeline: new(false)})
	f := newEventFixture(t, def, func(c *Config) { c.Webhooks.Allow = []string{"127.0.0.0/8"} })
	e, ctx := f.e, context.Background()
	w := &Webhook{Name: "alarms", Enabled: true, Method: "POST", URL: recv.URL, Body: "{device_name} {event_code} {datastream_value}"}
	w.Trigger.Kind = "event"
	if err := e.s.SaveWebhookForDevice(ctx, f.dev.UID, w); err != nil {
		t.Fatal(err)
	}
	const id = "01JD5Z8Q3M4N5P6Q7R8S9T0010"
	au := map[string]any{"id": id, "name": "alarm", "enabled": true,
		"trigger": map[string]any{"kind": "schedule", "schedule": map[string]any{"at": "03:00"}},
		"actions": []map[string]any{
			{"kind": "log_event", "device": f.dev.UID, "event": "nope", "text": "unknown"},
			{"kind": "log_event", "device": f.dev.UID, "event": "overheat", "text": "raised by {automation_name}"}}}
	e.call(201, "PUT", fmt.Sprintf("/api/v1/organization/automation?orgId=%d", f.org.ID), e.tok, au, nil)
	e.call(202, "POST", "/api/v1/organization/automation/run?id="+id, e.tok, nil, nil)

	var runs []struct {
		Results []struct{ Kind, Error string }
	}
	poll.Until(t, "the run recorded", func() bool {
		e.call(200, "GET", "/api/v1/organization/automation/runs?id="+id, e.tok, nil, &runs)
		return len(runs) == 1
	})
	if r := runs[0].Results; len(r) != 2 || !strings.Contains(r[0].Error, `no event "nope"`) || r[1].Error != "" {
		t.Fatalf("run results %+v: want the unknown code refused and the event logged", r)
	}
	es, _, err := e.s.store.Timeline(ctx, f.dev.UID, 0, 10)
	if err != nil || len(es) != 1 || es[0].Code != "overheat" || es[0].Description != "raised by alarm" ||
		es[0].Source != "automation:"+id || !es[0].Open() {
		t.Fatalf("timeline %+v %v: want the one event the automation logged, open", es, err)
	}
	// Not the device speaking: it is not activated by it.
	if d, err := e.s.store.GetDeviceByUID(ctx, f.dev.UID); err != nil || !d.ActivatedAt.IsZero() {
		t.Fatalf("device %+v %v: activated by an automation's event", d, err)
	}
	var ns []notify.Notification
	poll.Until(t, "the owner's notification", func() bool {
		ns, _ = e.s.store.Notifications(ctx, f.owner.ID, 0, 10)
		return len(ns) == 1
	})
	if ns[0].Subject != "Critical: Overheat on Boiler" || ns[0].Body != "raised by alarm" {
		t.Fatalf("notification %+v", ns[0])
	}
	if b := <-got; b != "Boiler overheat raised by alarm" {
		t.Fatalf("webhook body %q", b)
	}

	// The API lists the event with its source and resolves it once.
	var tl struct {
		Content []struct {
			ID              int64
			EventCode       string
			Source          string
			ShownOnTimeline bool
			ResolvedAt      int64
			ResolvedBy      string
			ResolveComment  string
		}
	}
	path := fmt.Sprintf("/api/v1/organization/device/timeline?deviceId=%d", f.dev.ID)
	e.call(200, "GET", path, e.tok, nil, &tl)
	if len(tl.Content) != 1 || tl.Content[0].Source != "automation:"+id || !tl.Content[0].ShownOnTimeline || tl.Content[0].ResolvedAt != 0 {
		t.Fatalf("API timeline %+v", tl.Content)
	}
	resolve := fmt.Sprintf("/api/v1/organization/device/event/resolve?deviceId=%d&eventId=%d", f.dev.ID, tl.Content[0].ID)
	e.call(400, "POST", resolve, e.tok, map[string]any{"comment": strings.Repeat("x", 1001)}, nil)
	e.call(404, "POST", fmt.Sprintf("/api/v1/organization/device/event/resolve?deviceId=%d&eventId=%d", f.dev.ID, tl.Content[0].ID+1),
		e.tok, map[string]any{}, nil)
	e.call(200, "POST", resolve, e.tok, map[string]any{"comment": "checked"}, nil)
	e.call(400, "POST", resolve, e.tok, map[string]any{"comment": "again"}, nil) // resolved already
	// An event the template keeps off the timeline: listed, and left out
	// with shown=true.
	if _, err := e.s.eventLog.Log(ctx, id, f.dev.UID, "tick", "tock"); err != nil {
		t.Fatal(err)
	}
	e.call(200, "GET", path, e.tok, nil, &tl)
	if len(tl.Content) != 2 || tl.Content[0].EventCode != "tick" || tl.Content[0].ShownOnTimeline {
		t.Fatalf("API timeline with a hidden event %+v", tl.Content)
	}
	e.call(200, "GET", path+"&shown=true", e.tok, nil, &tl)
	if len(tl.Content) != 1 || tl.Content[0].EventCode != "overheat" {
		t.Fatalf("API timeline shown=true %+v", tl.Content)
	}
	e.call(400, "GET", path+"&shown=maybe", e.tok, nil, nil)
	if c := tl.Content[0]; c.ResolvedAt == 0 || c.ResolvedBy != fmt.Sprintf("user:%d", e.admin.UserID) || c.ResolveComment != "checked" {
		t.Fatalf("resolved event %+v", c)
	}
}
