package postgres

import (
	"context"
	"time"

	"outpost/cloud/internal/tenancy"
)

// retentionBatch is how many history rows one DELETE removes.
const retentionBatch = 10000

// DeleteHistoryBefore deletes the raw history points older than cutoff of
// the devices of orgs (those organizations only, not the ones below),
// in batches, and returns how many it deleted: the per-organization
// bounds shorter than the global one, which drops whole monthly
// partitions (DropHistoryBefore). The chart rollups stay.
func (s *Store) DeleteHistoryBefore(ctx context.Context, orgs []tenancy.OrgID, cutoff time.Time) (int64, error) {
	ids := make([]int64, len(orgs))
	for i, o := range orgs {
		ids[i] = int64(o)
	}
	var total int64
	for {
		// A batch's rows are found again by the time index's whole key.
		tag, err := s.pool.Exec(ctx, `DELETE FROM device_history WHERE (device_key, pin, ts, id) IN (
			SELECT h.device_key, h.pin, h.ts, h.id FROM devices d JOIN history_devices k ON k.uid = d.uid JOIN device_history h ON h.device_key = k.key
			WHERE d.org_id = ANY($1) AND h.ts < $2 LIMIT $3)`, ids, cutoff.UnixMilli(), retentionBatch)
		if err != nil {
			return total, mapErr("delete history", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < retentionBatch {
			return total, nil
		}
	}
}
