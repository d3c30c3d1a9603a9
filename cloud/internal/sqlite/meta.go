package sqlite

import (
	"context"
	"fmt"
	"time"
)

// MetaValue is a metadata field's value as the device's gateway reported
// it, and when.
type MetaValue struct {
	Value string
	TS    time.Time
}

// ReportedMeta returns the metadata fields the gateway reported of a
// device (meta/<name>: set by the device, or a person's value the gateway
// applied), by name: what the console's device page shows next to the
// values people set (DeviceMeta, tenancy).
func (s *Store) ReportedMeta(ctx context.Context, uid string) (map[string]MetaValue, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, value, ts FROM device_props WHERE device_uid = ? AND kind = 'meta'`, uid)
	if err != nil {
		return nil, fmt.Errorf("sqlite: device meta: %w", err)
	}
	defer rows.Close()
	out := map[string]MetaValue{}
	for rows.Next() {
		var name, value string
		var ts int64
		if err := rows.Scan(&name, &value, &ts); err != nil {
			return nil, fmt.Errorf("sqlite: device meta: %w", err)
		}
		out[name] = MetaValue{value, time.UnixMilli(ts)}
	}
	return out, rows.Err()
}
