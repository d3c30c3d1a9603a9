package sqlite

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestMigrationBuildsHistorySeconds: migration 0009 builds the chart's
// aggregates from the history up to the latest table's cursor; what lies
// above it the committer adds after Open. Each write counts once.
func TestMigrationBuildsHistorySeconds(t *testing.T) {
	ms, err := migrate.List(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range ms {
		if m.Version >= 9 {
			break
		}
		body, err := migrationFS.ReadFile("migrations/" + m.Name)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(body))
	}
	const sec = 1_700_000_000
	start := strconv.FormatInt(sec*1000, 10)
	stmts = append(stmts, `PRAGMA user_version = 8`,
		`INSERT INTO templates(id, definition, updated_at) VALUES ('t', '{}', 0)`,
		`INSERT INTO devices(id, uid, name, template_id, token_hash, created_at) VALUES (1, 'u', 'd', 't', x'01', 0)`,
		// Two writes of one second below the cursor, one above it in the
		// same second, one of another pin.
		`INSERT INTO outbox(kind, device, pin, value, ts) VALUES
			(1, 1, 0, '2', `+start+` + 10), (1, 1, 0, '4', `+start+` + 20), (1, 1, 0, '9', `+start+` + 30), (1, 1, 1, '7', `+start+` + 40)`,
		`UPDATE sync_cursors SET value = 2 WHERE name = 'latest_applied'`)
	var log bytes.Buffer
	s := openTest(t, migratetest.File(t, "sqlite", stmts...), Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	// Whoever waits for a long migration sees first that one runs.
	if text := log.String(); !strings.Contains(text, "migrating the database") ||
		strings.Index(text, "migrating the database") > strings.Index(text, "applied migration") {
		t.Errorf("log before and after migrating:\n%s", text)
	}
	if n := scalar[int64](t, s, `SELECT n FROM history_seconds WHERE device = 1 AND pin = 0`); n != 2 {
		t.Errorf("migration aggregated %d writes below the cursor, want 2", n)
	}
	from := time.Unix(sec, 0)
	bs, _, err := s.Aggregate(context.Background(), 1, 0, from, from.Add(time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Bucket{Start: from, Avg: 5, Min: 2, Max: 9, Last: 9, Count: 3}); len(bs) != 1 || bs[0] != want {
		t.Errorf("after migrating: %+v, want [%+v]", bs, want)
	}
	if n := scalar[int](t, s, `SELECT count(*) FROM sqlite_schema WHERE name = 'outbox_history_ts'`); n != 0 {
		t.Error("the per-write history index is still there")
	}
}
