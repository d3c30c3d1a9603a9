package postgres

import (
	"context"

	"outpost/cloud/internal/tenancy"
)

func (q *queries) SetDeviceMeta(ctx context.Context, d tenancy.DeviceID, m tenancy.DeviceMeta) error {
	if _, err := q.GetDevice(ctx, d); err != nil {
		return err
	}
	_, err := q.db.Exec(ctx, `INSERT INTO device_meta (device_id, name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
		updated_by = excluded.updated_by`, int64(d), m.Name, m.Value, ms(m.UpdatedAt), int64(m.UpdatedBy))
	return mapErr("set device metadata", err)
}

func scanDeviceMeta(r scanner) (tenancy.DeviceMeta, error) {
	var m tenancy.DeviceMeta
	var at, by int64
	err := r.Scan(&m.Name, &m.Value, &at, &by)
	m.UpdatedAt, m.UpdatedBy = fromMS(at), tenancy.UserID(by)
	return m, err
}

func (q *queries) DeviceMeta(ctx context.Context, d tenancy.DeviceID) ([]tenancy.DeviceMeta, error) {
	rows, err := q.db.Query(ctx, `SELECT name, value, updated_at, updated_by FROM device_meta WHERE device_id = $1 ORDER BY name`, int64(d))
	return collectT(rows, err, "device metadata", scanDeviceMeta)
}

func (q *queries) SubtreeDeviceMeta(ctx context.Context, org tenancy.OrgID) (map[tenancy.DeviceID][]tenancy.DeviceMeta, error) {
	// Driven by the values (few devices have any), not by the subtree's
	// devices, which the view has read already.
	rows, err := q.db.Query(ctx, `SELECT m.device_id, m.name, m.value, m.updated_at, m.updated_by
		FROM device_meta m JOIN devices d ON d.id = m.device_id
		WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1) ORDER BY m.device_id, m.name`, int64(org))
	type row struct {
		id int64
		m  tenancy.DeviceMeta
	}
	all, err := collectT(rows, err, "subtree device metadata", func(r scanner) (row, error) {
		var x row
		var at, by int64
		err := r.Scan(&x.id, &x.m.Name, &x.m.Value, &at, &by)
		x.m.UpdatedAt, x.m.UpdatedBy = fromMS(at), tenancy.UserID(by)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	out := map[tenancy.DeviceID][]tenancy.DeviceMeta{}
	for _, x := range all {
		out[tenancy.DeviceID(x.id)] = append(out[tenancy.DeviceID(x.id)], x.m)
	}
	return out, nil
}
