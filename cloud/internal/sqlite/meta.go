package sqlite

import (
	"context"
	"fmt"
	"time"

	"outpost/cloud/internal/telemetry"
	"outpost/internal/migrate"
)

// ReportedMeta returns the metadata fields the gateway reported of a
// device (meta/<name>: set by the device, or a person's value the gateway
// applied), by name: what the console's device page shows next to the
// values people set (DeviceMeta, tenancy).
func (s *Store) ReportedMeta(ctx context.Context, uid string) (map[string]telemetry.MetaValue, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, value, ts FROM device_props WHERE device_uid = ? AND kind = 'meta'`, uid)
	if err != nil {
		return nil, fmt.Errorf("sqlite: device meta: %w", err)
	}
	defer rows.Close()
	out := map[string]telemetry.MetaValue{}
	for rows.Next() {
		var name, value string
		var ts int64
		if err := rows.Scan(&name, &value, &ts); err != nil {
			return nil, fmt.Errorf("sqlite: device meta: %w", err)
		}
		out[name] = telemetry.MetaValue{Value: value, TS: time.UnixMilli(ts)}
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
