package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/tenancy/tenancytest"
	"outpost/internal/migrate"
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

// Migration 0006 grants OWN_DEVICES_CLAIM to the built-in roles of a
// database made before the key existed, and to no custom role. The
// database is made at schema 5 (migrations 1 to 5 only), as one written
// before the key, and Open runs every later migration once.
func TestMigrationGrantsOwnDevicesClaim(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cloud.db")
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	upTo5 := fstest.MapFS{}
	for _, m := range ms {
		if m.Version <= 5 {
			b, err := fs.ReadFile(migrations, "migrations/"+m.Name)
			if err != nil {
				t.Fatal(err)
			}
			upTo5["migrations/"+m.Name] = &fstest.MapFile{Data: b}
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, db, upTo5, "migrations"); err != nil {
		t.Fatal(err)
	}
	o := tenancy.Org{ID: 1, Name: "Root", Type: tenancy.OrgRoot}
	old := tenancy.DefaultPermissions(tenancy.RoleStaff).Without(tenancy.OwnDevicesClaim)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orgs (id, root_id, depth, name, type, created_at, updated_at) VALUES (1, 1, 1, 'Root', ?, 0, 0)`, []any{string(o.Type)}},
		{`INSERT INTO role_perms (org_id, role_id, bits) VALUES (1, ?, ?), (1, ?, 0), (1, 4, 0)`,
			[]any{int(tenancy.RoleStaff), int64(old.Bits()), int(tenancy.RoleUser)}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rps, err := s.ListRolePerms(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[tenancy.RoleID]tenancy.PermSet{tenancy.RoleStaff: old.With(tenancy.OwnDevicesClaim),
		tenancy.RoleUser: tenancy.NewPermSet(tenancy.OwnDevicesClaim), 4: {}}
	for _, rp := range rps {
		if rp.Perms != want[rp.RoleID] {
			t.Errorf("role %d after migration: %v, want %v", rp.RoleID, rp.Perms.Strings(), want[rp.RoleID].Strings())
		}
	}
	if len(rps) != 3 {
		t.Fatalf("%d role perms", len(rps))
	}
}
