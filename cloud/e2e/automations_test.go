package e2e

import (
	"testing"
)

const autoID = "01JD5Z8Q3M4N5P6Q7R8S9T0A01"

// Automations through the Platform API: saved, listed, replaced, their
// runs read and deleted, with the AUTOMATIONS_* keys and device visibility
// checked.
func TestAutomationRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, r := f.tok["A"], f.tok["R"]
	uid := func(name string) string {
		var d struct{ UID string }
		f.must(200, "GET", q(o+"/device/baseInfo", "deviceId", f.dev[name]), a, nil).decode(t, &d)
		if len(d.UID) != 26 {
			t.Fatalf("device %s: uid %q", name, d.UID)
		}
		return d.UID
	}
	ac, pool, boiler := uid("AC"), uid("Pool Heater"), uid("Boiler")
	auto := func(name, trig, act string) map[string]any {
		return map[string]any{"id": autoID, "name": name, "enabled": true,
			"trigger": map[string]any{"kind": "datastream", "device": trig, "pin": 1, "op": "gt", "value": "30"},
			"actions": []map[string]any{{"kind": "write", "device": act, "pin": 1, "value": "{trigger_value}"}}}
	}
	var got struct {
		ID    string
		Name  string
		OrgID int64
	}
	f.must(201, "PUT", o+"/automation", a, auto("heat", ac, pool)).decode(t, &got)
	if got.ID != autoID || got.OrgID != f.root {
		t.Fatalf("created %+v", got)
	}
	f.must(200, "PUT", o+"/automation", a, auto("heat, renamed", ac, pool)).decode(t, &got)
	if got.Name != "heat, renamed" {
		t.Fatalf("replaced %+v", got)
	}
	var list []struct{ ID string }
	f.must(200, "GET", o+"/automations", a, nil).decode(t, &list)
	if len(list) != 1 || list[0].ID != autoID {
		t.Fatalf("list %+v", list)
	}
	var runs []any
	f.must(200, "GET", q(o+"/automation/runs", "id", autoID), a, nil).decode(t, &runs)
	if len(runs) != 0 {
		t.Fatalf("runs %+v", runs)
	}

	// Invalid models are 400 with the reason.
	bad := auto("bad", ac, pool)
	bad["trigger"].(map[string]any)["op"] = "like"
	if r := f.req("PUT", o+"/automation", a, bad); r.status != 400 {
		t.Fatalf("invalid op: %s", r)
	}
	// Staff of Muller may not create automations in its org, and cannot
	// name a device it does not see even where it may.
	wantForbidden(t, "Staff creates an automation", f.req("PUT", q(o+"/automation", "orgId", f.muller), r,
		map[string]any{"id": "01JD5Z8Q3M4N5P6Q7R8S9T0A09", "name": "x", "enabled": true,
			"trigger": map[string]any{"kind": "online", "device": boiler},
			"actions": []map[string]any{{"kind": "notify", "text": "up"}}}), "AUTOMATIONS_CREATE")
	if r := f.req("PUT", q(o+"/automation", "orgId", f.muller), a, map[string]any{"id": "01JD5Z8Q3M4N5P6Q7R8S9T0A08", "name": "x",
		"enabled": true, "trigger": map[string]any{"kind": "online", "device": ac},
		"actions": []map[string]any{{"kind": "notify", "text": "up"}}}); r.status != 400 {
		t.Fatalf("a device outside the automation's org: %s, want 400", r)
	}
	// Muller's staff cannot see the root's automation at all.
	if r := f.req("GET", q(o+"/automation", "id", autoID), r, nil); r.status != 404 {
		t.Fatalf("out of scope automation: %s, want 404", r)
	}
	f.must(204, "DELETE", q(o+"/automation", "id", autoID), a, nil)
	f.must(404, "GET", q(o+"/automation", "id", autoID), a, nil)
}
