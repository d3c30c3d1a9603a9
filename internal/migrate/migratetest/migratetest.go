// Package migratetest builds databases by hand for the stores' migration
// tests: a file as an older or a newer program would have left it. It uses
// only database/sql; the calling test's package registers the driver.
package migratetest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"outpost/internal/migrate"
)

// File creates a database file in a temporary directory by running stmts
// in order, and returns its path. driver opens "file:<path>" DSNs.
func File(t testing.TB, driver string, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hand-built.db")
	db := open(t, driver, path)
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path
}

// Version reads the schema version of the database file at path.
func Version(t testing.TB, driver, path string) int {
	t.Helper()
	db := open(t, driver, path)
	defer db.Close()
	v, err := migrate.Version(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func open(t testing.TB, driver, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}
