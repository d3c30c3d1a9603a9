package cloud

import (
	"context"
	"fmt"
	"testing"

	"outpost/internal/poll"
)

// POST /automation/run runs an automation's actions once in the cloud,
// disabled and whatever its trigger: the run is recorded as manual and
// its notification reaches the organization's people.
func TestAutomationRunNowAPI(t *testing.T) {
	e := newSyncEnv(t)
	au := map[string]any{"id": "01JD5Z8Q3M4N5P6Q7R8S9T0009", "name": "by hand", "enabled": false,
		"trigger": map[string]any{"kind": "schedule", "schedule": map[string]any{"at": "03:00"}},
		"actions": []map[string]any{{"kind": "notify", "subject": "Hand", "text": "made"}}}
	e.call(201, "PUT", fmt.Sprintf("/api/v1/organization/automation?orgId=%d", e.admin.OrgID), e.tok, au, nil)
	e.call(401, "POST", "/api/v1/organization/automation/run?id=01JD5Z8Q3M4N5P6Q7R8S9T0009", "", nil, nil)
	e.call(404, "POST", "/api/v1/organization/automation/run?id=01JD5Z8Q3M4N5P6Q7R8S9T0008", e.tok, nil, nil)
	var queued struct{ Queued bool }
	e.call(202, "POST", "/api/v1/organization/automation/run?id=01JD5Z8Q3M4N5P6Q7R8S9T0009", e.tok, nil, &queued)
	if !queued.Queued {
		t.Fatal("not queued")
	}
	var runs []struct {
		Trigger string
		Results []struct{ Kind, Error string }
	}
	poll.Until(t, "the run recorded", func() bool {
		e.call(200, "GET", "/api/v1/organization/automation/runs?id=01JD5Z8Q3M4N5P6Q7R8S9T0009", e.tok, nil, &runs)
		return len(runs) == 1
	})
	if runs[0].Trigger != "manual" || len(runs[0].Results) != 1 || runs[0].Results[0].Error != "" {
		t.Fatalf("run %+v", runs[0])
	}
	ns, err := e.s.store.Notifications(context.Background(), e.admin.UserID, 0, 10)
	if err != nil || len(ns) != 1 || ns[0].Subject != "Hand" {
		t.Fatalf("notifications %+v %v", ns, err)
	}
}
