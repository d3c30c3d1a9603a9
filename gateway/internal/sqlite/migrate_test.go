package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"

	"outpost/internal/migrate"
	"outpost/internal/migrate/migratetest"
)

func newestMigration(t *testing.T) int {
	t.Helper()
	ms, err := migrate.List(migrationFS, "migrations")
	if err != nil || len(ms) == 0 {
		t.Fatalf("migrations: %v (%d files)", err, len(ms))
	}
	return ms[len(ms)-1].Version
}

func TestNewerSchemaRefused(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
	}{
		{"user_version above the newest migration", []string{`CREATE TABLE devices (id INTEGER PRIMARY KEY)`, `PRAGMA user_version = 9999`}},
		{"a legacy schema_version table above it", []string{
			`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
			`INSERT INTO schema_version VALUES (1, 0), (9999, 0)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := migratetest.File(t, "sqlite", tt.stmts...)
			_, err := Open(context.Background(), Options{Path: path})
			if !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("Open = %v, want ErrNewerSchema", err)
			}
			if !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should name the file and its version", err)
			}
		})
	}
}

// A database from before the one rule kept its version in schema_version:
// it is adopted into user_version, the table goes, and only the newer
// migrations run.
func TestLegacySchemaVersionAdopted(t *testing.T) {
	stmts := []string{`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`}
	ms, err := migrate.List(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		body, err := migrationFS.ReadFile("migrations/" + m.Name)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(body), `INSERT INTO schema_version VALUES (`+strings.TrimLeft(m.Name[:4], "0")+`, 0)`)
	}
	s := openTest(t, migratetest.File(t, "sqlite", stmts...), Options{})
	if v := scalar[int](t, s, `PRAGMA user_version`); v != newestMigration(t) {
		t.Errorf("user_version = %d, want %d", v, newestMigration(t))
	}
	if n := scalar[int](t, s, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'schema_version'`); n != 0 {
		t.Error("schema_version table still there")
	}
	// 0004 ran (its table exists), 0001..0003 did not run twice.
	if n := scalar[int](t, s, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'tenancy_cache'`); n != 1 {
		t.Errorf("tenancy_cache tables: %d, want 1", n)
	}
}
