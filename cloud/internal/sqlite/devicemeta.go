package sqlite

import (
	"context"

	"outpost/cloud/internal/tenancy"
)

func (q *queries) SetDeviceMeta(ctx context.Context, d tenancy.DeviceID, m tenancy.DeviceMeta) error {
	if _, err := q.GetDevice(ctx, d); err != nil {
		return err
	}
	_, err := q.exec(ctx, `INSERT INTO device_meta (device_id, name, value, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
		updated_by = excluded.updated_by`, int64(d), m.Name, m.Value, ms(m.UpdatedAt), int64(m.UpdatedBy))
	return mapErr("set device metadata", err)
}

func scanDeviceMeta(r scanner) (tenancy.DeviceMeta, error) {
	var m tenancy.DeviceMeta
	var at int64
	err := r.Scan(&m.Name, &m.Value, &at, &m.UpdatedBy)
	m.UpdatedAt = fromMS(at)
	return m, err
}

func (q *queries) DeviceMeta(ctx context.Context, d tenancy.DeviceID) ([]tenancy.DeviceMeta, error) {
	rows, err := q.query(ctx, `SELECT name, value, updated_at, updated_by FROM device_meta WHERE device_id = ? ORDER BY name`, int64(d))
	if err != nil {
		return nil, mapErr("device metadata", err)
	}
	return collect(rows, "device metadata", scanDeviceMeta)
}

func (q *queries) SubtreeDeviceMeta(ctx context.Context, org tenancy.OrgID) (map[tenancy.DeviceID][]tenancy.DeviceMeta, error) {
	// Driven by the values (few devices have any), not by the subtree's
	// devices, which the view has read already.
	rows, err := q.query(ctx, `SELECT m.device_id, m.name, m.value, m.updated_at, m.updated_by
		FROM device_meta m CROSS JOIN devices d ON d.id = m.device_id
		WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = ?) ORDER BY m.device_id, m.name`, int64(org))
	if err != nil {
		return nil, mapErr("subtree device metadata", err)
	}
	defer rows.Close()
	out := map[tenancy.DeviceID][]tenancy.DeviceMeta{}
	for rows.Next() {
		var id int64
		var m tenancy.DeviceMeta
		var at int64
		if err := rows.Scan(&id, &m.Name, &m.Value, &at, &m.UpdatedBy); err != nil {
			return nil, mapErr("subtree device metadata", err)
		}
		m.UpdatedAt = fromMS(at)
		out[tenancy.DeviceID(id)] = append(out[tenancy.DeviceID(id)], m)
	}
	return out, mapErr("subtree device metadata", rows.Err())
}
