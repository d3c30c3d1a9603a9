package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
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

// cloud.db holds password and token hashes: it and its WAL companions are
// owner-only whatever the umask, and an old world-readable file is
// tightened at the next open.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cloud.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	o := tenancy.Org{Name: "Root", Type: tenancy.OrgRoot}
	if err := s.CreateOrg(ctx, &o); err != nil { // a write: the WAL exists now
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("reopened: mode %v, want 0600", fi.Mode().Perm())
	}
}
