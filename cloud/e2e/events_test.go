package e2e

import (
	"testing"

	"outpost/internal/poll"
)

// A critical event a cloud automation logged stays open until a person
// resolves it through the API; resolving it again is refused.
func TestResolveEventRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var tm struct{ ID string }
	f.must(201, "POST", o+"/template/create", a, map[string]any{"name": "Alarm panel",
		"events": []map[string]any{{"code": "overheat", "name": "Overheat", "type": "critical"}}}).decode(t, &tm)
	var d struct {
		ID  int64
		UID string
	}
	f.must(201, "POST", o+"/device/create", a, map[string]any{"templateId": tm.ID, "name": "Panel"}).decode(t, &d)
	f.must(200, "GET", q(o+"/device/baseInfo", "deviceId", d.ID), a, nil).decode(t, &d)
	const id = "01JD5Z8Q3M4N5P6Q7R8S9T0E01"
	f.must(201, "PUT", o+"/automation", a, map[string]any{"id": id, "name": "alarm", "enabled": true,
		"trigger": map[string]any{"kind": "schedule", "schedule": map[string]any{"at": "07:00"}},
		"actions": []map[string]any{{"kind": "log_event", "device": d.UID, "event": "overheat", "text": "too hot"}}})
	f.must(202, "POST", q(o+"/automation/run", "id", id), a, nil)

	var tl struct {
		Content []struct {
			ID        int64
			EventCode string
			EventType string
		}
	}
	poll.Until(t, "the automation's event on the timeline", func() bool {
		f.must(200, "GET", q(o+"/device/timeline", "deviceId", d.ID), a, nil).decode(t, &tl)
		return len(tl.Content) > 0 && tl.Content[0].EventType == "EVENT"
	})
	ev := tl.Content[0]
	if ev.EventCode != "overheat" {
		t.Fatalf("timeline %+v", tl.Content)
	}
	var got struct {
		ID             int64
		ResolvedAt     int64
		ResolveComment string
	}
	f.must(200, "POST", q(o+"/device/event/resolve", "deviceId", d.ID, "eventId", ev.ID), a, map[string]string{"comment": "fan replaced"}).decode(t, &got)
	if got.ID != ev.ID || got.ResolvedAt == 0 || got.ResolveComment != "fan replaced" {
		t.Fatalf("resolved %+v, want event %d", got, ev.ID)
	}
	if r := f.req("POST", q(o+"/device/event/resolve", "deviceId", d.ID, "eventId", ev.ID), a, map[string]string{}); r.status != 400 {
		t.Fatalf("resolving twice: %s, want 400", r)
	}
}
