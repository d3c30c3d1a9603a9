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
func (s *Store) DeleteHistoryBefore(ctx context.Context, orgs []tenancy.OrgID, cutoff time.Time) (int64, error) {
	var total int64
	for len(orgs) > 0 {
		chunk := orgs[:min(len(orgs), 500)]
		orgs = orgs[len(chunk):]
		args := make([]any, 0, len(chunk)+2)
		for _, o := range chunk {
			args = append(args, int64(o))
		}
		args = append(args, cutoff.UnixMilli(), retentionBatch)
		q := `DELETE FROM device_history WHERE id IN (SELECT h.id FROM devices d JOIN device_history h ON h.device_uid = d.uid
			WHERE d.org_id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `) AND h.ts < ? LIMIT ?)`
		for {
			res, err := s.db.ExecContext(ctx, q, args...)
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
	return total, nil
}
