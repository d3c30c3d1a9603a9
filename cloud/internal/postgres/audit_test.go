package postgres

import (
	"context"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

// The highest audit id is the gateways' view version: an id must not
// become visible while a lower one is still uncommitted, or a gateway
// that read the higher version would never be sent the lower change.
func TestAuditIDsBecomeVisibleInOrder(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, migratedDSN(t), Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	entry := func(action string) *tenancy.AuditEntry {
		return &tenancy.AuditEntry{At: time.Now(), OrgID: 1, Action: action, ObjectType: "org", ObjectID: "1"}
	}
	before, err := s.LastAuditID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A appends and holds its transaction open.
	appended, release, aDone := make(chan tenancy.AuditID), make(chan struct{}), make(chan error, 1)
	go func() {
		aDone <- s.Atomic(ctx, func(tx tenancy.Tx) error {
			e := entry("first")
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
			appended <- e.ID
			<-release
			return nil
		})
	}()
	var aID tenancy.AuditID
	select {
	case aID = <-appended:
	case err := <-aDone:
		t.Fatalf("A: %v", err)
	}

	// B appends and commits while A is open.
	bDone := make(chan error, 1)
	go func() {
		bDone <- s.Atomic(ctx, func(tx tenancy.Tx) error { return tx.AppendAudit(ctx, entry("second")) })
	}()
	select {
	case err := <-bDone:
		close(release)
		<-aDone
		t.Fatalf("B committed (err %v) while A, holding a lower audit id, was open", err)
	case <-time.After(300 * time.Millisecond): // B waits for A: what we want
	}
	if v, err := s.LastAuditID(ctx); err != nil || v != before {
		t.Errorf("version while A is open = %d (%v), want %d", v, err, before)
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatalf("A: %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("B: %v", err)
	}
	if v, err := s.LastAuditID(ctx); err != nil || v <= aID {
		t.Errorf("version after both = %d (%v), want above A's %d", v, err, aID)
	}
}
