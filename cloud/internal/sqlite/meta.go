package sqlite

import (
	"context"
	"fmt"
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
