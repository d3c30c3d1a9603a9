// Package migratetest builds databases by hand for the stores' migration
// tests: a file as an older or a newer program would have left it. It uses
// only database/sql; the calling test's package registers the driver.
package migratetest

import (
	"context"
	"database/sql"
	"testing"

	"outpost/internal/migrate"
)

// HandBuilt runs stmts, in order, on the database at dsn.
func HandBuilt(t testing.TB, driver, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Version reads the schema version of the database at dsn.
func Version(t testing.TB, driver, dsn string) int {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := migrate.Version(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
