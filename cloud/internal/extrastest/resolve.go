package extrastest

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
)

// A person's resolution and its audit entry are one transaction: a
// resolution appends exactly one entry recording the event, its code and
// the comment; a refused one (resolved already, not such an event)
// appends none.
func testResolveAudited(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	logged, err := s.LogEvent(ctx, st.Mine.UID, "hot", "too hot", "automation:A1", T0)
	must(t, err)
	entries := func() []tenancy.AuditEntry {
		t.Helper()
		var l tenancy.List[tenancy.AuditEntry]
		must(t, s.Atomic(ctx, func(tx tenancy.Tx) error {
			var err error
			l, err = tx.ListAudit(ctx, tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: st.rootA, Subtree: true},
				Action: telemetry.AuditResolve, Page: tenancy.Page{Size: 100}})
			return err
		}))
		return l.Items
	}
	audit := func() *tenancy.AuditEntry {
		return &tenancy.AuditEntry{At: T0, OrgID: st.rootA, UserID: 7, Action: telemetry.AuditResolve,
			ObjectType: "device", ObjectID: strconv.FormatInt(int64(st.Mine.ID), 10)}
	}
	if _, err := s.ResolveEventAudited(ctx, st.Other.UID, logged.ID, []string{"hot"}, "user:7", "", T0, audit()); !errors.Is(err, telemetry.ErrNoEvent) {
		t.Fatalf("resolving another device's event: %v, want ErrNoEvent", err)
	}
	res, err := s.ResolveEventAudited(ctx, st.Mine.UID, logged.ID, []string{"hot"}, "user:7", "fixed it", T0, audit())
	must(t, err)
	if res.Comment != "fixed it" || res.ResolvedBy != "user:7" {
		t.Fatalf("resolved %+v", res)
	}
	if _, err := s.ResolveEventAudited(ctx, st.Mine.UID, logged.ID, []string{"hot"}, "user:8", "again", T0, audit()); !errors.Is(err, telemetry.ErrResolved) {
		t.Fatalf("resolving twice: %v, want ErrResolved", err)
	}
	es := entries()
	if len(es) != 1 {
		t.Fatalf("%d resolve audit entries, want 1: %+v", len(es), es)
	}
	var after struct {
		Event   int64  `json:"event"`
		Code    string `json:"code"`
		Comment string `json:"comment"`
	}
	must(t, json.Unmarshal(es[0].After, &after))
	if es[0].UserID != 7 || es[0].ObjectID != strconv.FormatInt(int64(st.Mine.ID), 10) ||
		after.Event != logged.ID || after.Code != "hot" || after.Comment != "fixed it" {
		t.Errorf("audit entry %+v after %s", es[0], es[0].After)
	}
}
