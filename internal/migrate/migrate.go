// Package migrate applies embedded SQL migrations to a SQLite database by
// the one rule both Outpost stores follow:
//
//   - a migration is a file NNNN_name.sql; NNNN (a positive number, leading
//     zeros allowed) is its version, and versions are unique;
//   - the database's version is PRAGMA user_version (0 for a new file);
//   - every migration newer than that runs in file-version order, each in
//     its own transaction that also sets user_version, so a crash leaves
//     the database at the last whole migration;
//   - a database whose version is above the newest migration this program
//     has was written by a newer program and is refused (ErrNewerSchema),
//     never opened and half-understood.
//
// It uses only database/sql; the store that calls it brings the driver.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// ErrNewerSchema is returned, wrapped, for a database written by a newer
// program.
var ErrNewerSchema = errors.New("database schema is newer than this program")

// Migration is one file of a migration set.
type Migration struct {
	Version int
	Name    string // file name, e.g. 0003_device_uids.sql
}

// List returns the migrations in dir of fsys sorted by version. A .sql file
// whose name does not follow NNNN_name.sql, or two files with one version,
// are errors: they would otherwise be skipped or applied in a surprising
// order.
func List(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || rest == ".sql" || strings.TrimLeft(num, "0123456789") != "" {
			return nil, fmt.Errorf("migrate: %s: name must be NNNN_name.sql with NNNN a positive number", e.Name())
		}
		ms = append(ms, Migration{Version: v, Name: e.Name()})
	}
	slices.SortStableFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrate: %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Version reads the database's schema version (PRAGMA user_version).
func Version(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("migrate: read user_version: %w", err)
	}
	return v, nil
}

// SetVersion sets the schema version inside tx (a pragma takes no bound
// parameter, hence the formatting of a plain int).
func SetVersion(ctx context.Context, tx *sql.Tx, v int) error {
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return fmt.Errorf("migrate: set user_version %d: %w", v, err)
	}
	return nil
}

// Apply brings db up to the newest migration in dir of fsys and returns
// the migrations it applied. It refuses a database newer than the newest
// migration with ErrNewerSchema and applies nothing then.
func Apply(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) ([]Migration, error) {
	ms, err := List(fsys, dir)
	if err != nil {
		return nil, err
	}
	have, err := Version(ctx, db)
	if err != nil {
		return nil, err
	}
	newest := 0
	if len(ms) > 0 {
		newest = ms[len(ms)-1].Version
	}
	if have > newest {
		return nil, fmt.Errorf("migrate: %w: the database is at version %d, this program knows up to %d", ErrNewerSchema, have, newest)
	}
	var applied []Migration
	for _, m := range ms {
		if m.Version <= have {
			continue
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, m.Name))
		if err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
		if err := apply(ctx, db, m.Version, string(body)); err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

func apply(ctx context.Context, db *sql.DB, version int, body string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if err := SetVersion(ctx, tx, version); err != nil {
		return err
	}
	return tx.Commit()
}
