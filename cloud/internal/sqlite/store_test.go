package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/tenancy/tenancytest"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	tenancytest.Run(t, func(t *testing.T) tenancy.Store { return newTestStore(t) })
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cloud.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	o := tenancy.Org{Name: "Root", Type: tenancy.OrgRoot}
	if err := s.CreateOrg(ctx, &o); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path) // migrations are not re-applied
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.GetOrg(ctx, o.ID); err != nil || got.Name != "Root" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

// A call that races with Close gets an error, not a panic.
func TestUseAfterCloseIsAnError(t *testing.T) {
	s := newTestStore(t)
	s.Close()
	if _, err := s.LastAuditID(context.Background()); !errors.Is(err, sql.ErrConnDone) {
		t.Fatalf("LastAuditID after Close: %v, want sql.ErrConnDone", err)
	}
}
