package sqlite

import (
	"context"
	"fmt"

	"outpost/internal/migrate"
)

// DeviceMeta returns the metadata fields a device reported (meta/<name>),
// by name: what the console's device page shows.
func (s *Store) DeviceMeta(ctx context.Context, uid string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, value FROM device_props WHERE device_uid = ? AND kind = 'meta'`, uid)
	if err != nil {
		return nil, fmt.Errorf("sqlite: device meta: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("sqlite: device meta: %w", err)
		}
		out[name] = value
	}
	return out, rows.Err()
}

// Ready reports whether the database answers and its schema is the one
// this program has.
func (s *Store) Ready(ctx context.Context) error {
	v, err := migrate.Version(ctx, s.db)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		return err
	}
	if n := ms[len(ms)-1].Version; v != n {
		return fmt.Errorf("sqlite: schema version %d, this program has %d", v, n)
	}
	return nil
}
