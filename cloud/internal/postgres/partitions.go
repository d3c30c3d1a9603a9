package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// monthsAhead is how many months after the current one have their
// history partition ready.
const monthsAhead = 2

// EnsurePartitions creates the monthly history partitions from the month
// before now's to monthsAhead months after it, those missing. Instances
// may run it at once: each creation is its own statement and an existing
// partition is skipped. A month whose points already went to the default
// partition (created late) is not created: its points stay there.
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time) error {
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	for range monthsAhead + 2 {
		next := m.AddDate(0, 1, 0)
		name := "device_history_" + m.Format("200601")
		_, err := s.pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF device_history
			FOR VALUES FROM (%d) TO (%d)`, pgx.Identifier{name}.Sanitize(), m.UnixMilli(), next.UnixMilli()))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23514" { // check_violation: the default holds points of that month
			err = nil
		}
		if err != nil {
			return fmt.Errorf("postgres: history partition %s: %w", name, err)
		}
		m = next
	}
	return nil
}

// DropHistoryBefore drops the monthly history partitions that end at or
// before cutoff (retention: whole months, no row-by-row delete) and
// returns their names. The rollups used by charts are kept.
func (s *Store) DropHistoryBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = 'device_history' AND c.relname ~ '^device_history_[0-9]{6}$'`)
	if err != nil {
		return nil, fmt.Errorf("postgres: history partitions: %w", err)
	}
	type part struct{ name, bound string }
	var parts []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.name, &p.bound); err != nil {
			rows.Close()
			return nil, err
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var dropped []string
	for _, p := range parts {
		m, err := time.Parse("200601", strings.TrimPrefix(p.name, "device_history_"))
		if err != nil || m.AddDate(0, 1, 0).After(cutoff) {
			continue
		}
		if _, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{p.name}.Sanitize()); err != nil {
			return dropped, fmt.Errorf("postgres: drop %s: %w", p.name, err)
		}
		dropped = append(dropped, p.name)
	}
	return dropped, nil
}

// maintain keeps the history partitions ready and, with a retention,
// drops the months past it: at open and twice a day, until ctx ends.
func (s *Store) maintain(ctx context.Context, retention time.Duration) {
	t := time.NewTicker(12 * time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		if err := s.EnsurePartitions(ctx, now); err != nil && ctx.Err() == nil {
			s.logger.Warn("history partitions", "err", err)
		}
		if retention > 0 {
			dropped, err := s.DropHistoryBefore(ctx, now.Add(-retention))
			if err != nil && ctx.Err() == nil {
				s.logger.Warn("history retention", "err", err)
			}
			if len(dropped) > 0 {
				s.logger.Info("history past retention dropped", "partitions", dropped)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
