package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"outpost/internal/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key instances take while migrating,
// so that two starting at once do not both apply a migration.
const migrationLock = 0x6f7574706f7374 // "outpost"

// Migrate applies internal/migrate's rule on PostgreSQL: files named
// NNNN_name.sql (migrate.List), the version in schema_version, each
// migration in its own transaction with the version, and a database newer
// than this program refused (migrate.ErrNewerSchema).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version bigint NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: schema version: %w", err)
	}
	have, err := SchemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	newest := 0
	if len(ms) > 0 {
		newest = ms[len(ms)-1].Version
	}
	if have > newest {
		return fmt.Errorf("postgres: %w: the database is at version %d, this program knows up to %d", migrate.ErrNewerSchema, have, newest)
	}
	for _, m := range ms {
		if m.Version <= have {
			continue
		}
		body, err := fs.ReadFile(migrations, path.Join("migrations", m.Name))
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", m.Name, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// Newest is the version of the newest migration this program has.
func Newest() int {
	ms, err := migrate.List(migrations, "migrations")
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SchemaVersion reads the database's schema version (0 when none).
func SchemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	return v, nil
}

// Ready reports whether the database answers and its schema is the one
// this program has (another instance may have migrated it past us).
func (s *Store) Ready(ctx context.Context) error {
	v, err := SchemaVersion(ctx, s.pool)
	if err != nil {
		return err
	}
	if n := Newest(); v != n {
		return fmt.Errorf("postgres: schema version %d, this program has %d", v, n)
	}
	return nil
}
