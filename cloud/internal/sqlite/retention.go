package sqlite

import (
	"context"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
)

// retentionBatch is how many history rows one DELETE removes: each is
// its own short write, so devices' telemetry is not held up for long.
const retentionBatch = 5000

// DeleteHistoryBefore deletes the raw history points older than cutoff of
// the devices of orgs (those organizations only, not the ones below) and
// returns how many it deleted. The chart rollups stay.
//
// It goes device by device and pin by pin along the (device_uid, pin, id)
// index: a pin's oldest points come first, so each batch reads little
// more than what it deletes, and a run that finds nothing reads each
// point of those devices once.
func (s *Store) DeleteHistoryBefore(ctx context.Context, orgs []tenancy.OrgID, cutoff time.Time) (int64, error) {
	var uids []string
	for len(orgs) > 0 {
		chunk := orgs[:min(len(orgs), 500)]
		orgs = orgs[len(chunk):]
		args := make([]any, len(chunk))
		for i, o := range chunk {
			args[i] = int64(o)
		}
		got, err := column[string](ctx, s, `SELECT uid FROM devices WHERE uid IS NOT NULL AND org_id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return 0, err
		}
		uids = append(uids, got...)
	}
	var total int64
	for _, uid := range uids {
		pins, err := column[int64](ctx, s, `SELECT DISTINCT pin FROM device_history WHERE device_uid = ?`, uid)
		if err != nil {
			return total, err
		}
		for _, pin := range pins {
			for {
				res, err := s.db.ExecContext(ctx, `DELETE FROM device_history WHERE id IN (SELECT id FROM device_history
					WHERE device_uid = ? AND pin = ? AND ts < ? ORDER BY ts LIMIT ?)`, uid, pin, cutoff.UnixMilli(), retentionBatch)
				if err != nil {
					return total, mapErr("delete history", err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return total, mapErr("delete history", err)
				}
				total += n
				if n < retentionBatch {
					break
				}
			}
		}
	}
	return total, nil
}

// column runs a query of one column.
func column[T any](ctx context.Context, s *Store, q string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr("delete history", err)
	}
	return collect(rows, "delete history", func(r scanner) (T, error) {
		var v T
		err := r.Scan(&v)
		return v, err
	})
}
