package sqlite

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

const autoID = "01JD5Z8Q3M4N5P6Q7R8S9T0A01"

func testAutomation(dev string) rules.Automation {
	return rules.Automation{ID: autoID, Name: "fan", Enabled: true,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: dev, Pin: 1, Op: rules.OpGt, Value: "30"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: dev, Pin: 2, Value: "1"}}}
}

func TestAutomationsSaveListDelete(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	orgA, orgB := st.mine.OrgID, st.other.OrgID
	v0, err := st.s.LastAuditID(ctx)
	must(t, err)
	a := testAutomation(st.mine.UID)
	must(t, st.s.SaveAutomation(ctx, orgA, a, tenancy.Actor{UserID: 1}, time.UnixMilli(1000)))
	v1, err := st.s.LastAuditID(ctx)
	must(t, err)
	if v1 <= v0 {
		t.Fatalf("tenancy version %d → %d: a saved automation must move it", v0, v1)
	}
	a.Name = "fan, renamed"
	must(t, st.s.SaveAutomation(ctx, orgA, a, tenancy.Actor{UserID: 1}, time.UnixMilli(2000)))
	got, err := st.s.ListAutomations(ctx, []tenancy.OrgID{orgA, orgB})
	must(t, err)
	if len(got) != 1 || got[0].Name != "fan, renamed" || got[0].OrgID != int64(orgA) {
		t.Fatalf("listed %+v", got)
	}
	if one, err := st.s.GetAutomation(ctx, a.ID); err != nil || one.Name != "fan, renamed" {
		t.Fatalf("get: %+v %v", one, err)
	}
	if got, _ := st.s.ListAutomations(ctx, []tenancy.OrgID{orgB}); len(got) != 0 {
		t.Fatalf("org B sees %+v", got)
	}
	if err := st.s.SaveAutomation(ctx, orgB, a, tenancy.Actor{}, time.UnixMilli(3000)); tenancy.CodeOf(err) != tenancy.Conflict {
		t.Fatalf("another org saving the same id: %v, want Conflict", err)
	}
	bad := a
	bad.Actions = nil
	if err := st.s.SaveAutomation(ctx, orgA, bad, tenancy.Actor{}, time.UnixMilli(3000)); tenancy.CodeOf(err) != tenancy.Invalid {
		t.Fatalf("invalid automation: %v, want Invalid", err)
	}
	if err := st.s.DeleteAutomation(ctx, orgB, a.ID, tenancy.Actor{}, time.UnixMilli(4000)); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Fatalf("delete from another org: %v, want NotFound", err)
	}
	must(t, st.s.DeleteAutomation(ctx, orgA, a.ID, tenancy.Actor{}, time.UnixMilli(4000)))
	if got, _ := st.s.ListAutomations(ctx, []tenancy.OrgID{orgA}); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
}

// A site's runs arrive as telemetry: each is stored once, a replayed batch
// adds nothing, and a run is not the device reporting.
func TestRunsFromTelemetryAreStoredOnce(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	u := st.mine.UID
	run := func(at int64, cut string) string {
		b, err := json.Marshal(rules.Run{Automation: autoID, Name: "fan", At: at, Trigger: rules.TriggerDatastream, Device: u,
			Value: "31", Chain: 1, Cut: cut, Results: []rules.Result{{Action: 0, Kind: rules.ActionWrite, At: at}}})
		must(t, err)
		return string(b)
	}
	batch := []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindRun, Device: u, Name: autoID, Value: run(1000, ""), TS: 1000, Source: "automation"},
		{Seq: 2, Kind: syncproto.KindRun, Device: u, Name: autoID, Value: run(2000, "loop protection"), TS: 2000, Source: "automation"},
	}
	for range 2 {
		must(t, st.s.Apply(ctx, st.gw, 7, batch, 2))
	}
	rs, err := st.s.AutomationRuns(ctx, autoID, 10)
	must(t, err)
	if len(rs) != 2 || rs[0].At != 2000 || rs[0].Cut == "" || rs[1].At != 1000 || !rs[1].OK() {
		t.Fatalf("runs %+v", rs)
	}
	if _, ok, _ := st.s.DeviceStatus(ctx, u); ok {
		t.Fatal("a run counted as the device reporting")
	}
}
