package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"

	"outpost/internal/migrate"
	"outpost/internal/migrate/migratetest"
)

func TestMigrations(t *testing.T) {
	ms, err := migrate.List(migrations, "migrations")
	if err != nil || len(ms) < 2 {
		t.Fatalf("migrations: %v, %d", err, len(ms))
	}
	newest := ms[len(ms)-1].Version
	first, err := migrations.ReadFile("migrations/" + ms[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		stmts   []string
		wantErr error
	}{
		{"new file", nil, nil},
		// Only the later migrations run: 0001 again would fail on its
		// CREATE TABLEs.
		{"at version 1", []string{string(first), `PRAGMA user_version = 1`}, nil},
		{"newer than this program", []string{`CREATE TABLE orgs (id INTEGER PRIMARY KEY)`, `PRAGMA user_version = 9999`}, migrate.ErrNewerSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := migratetest.File(t, "sqlite", tt.stmts...)
			s, err := Open(context.Background(), path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "9999") || !strings.Contains(err.Error(), path) {
					t.Errorf("error %q should name the file and its version", err)
				}
				if v := migratetest.Version(t, "sqlite", path); v != 9999 {
					t.Errorf("refused database changed: user_version %d", v)
				}
				return
			}
			s.Close()
			if v := migratetest.Version(t, "sqlite", path); v != newest {
				t.Errorf("user_version = %d, want %d", v, newest)
			}
		})
	}
}
