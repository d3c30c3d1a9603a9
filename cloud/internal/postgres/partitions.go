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
	now = now.UTC() // partitions are UTC months
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	for range monthsAhead + 2 {
		next := m.AddDate(0, 1, 0)
		name := partitionName(m)
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

// summarizeEvery is how often the store summarizes the history id
// index's new ranges (SummarizeHistoryIDs): a history page's cursor lookup
// reads at most what was applied meanwhile in full.
const summarizeEvery = 10 * time.Second

// SummarizeHistoryIDs summarizes the page ranges of the BRIN index on
// history ids (migrations/*_history_id_brin.sql) that filled since the
// last call, in the partitions that receive points: this month's, the
// last one's and the default. A lookup by id (History's cursor) reads
// every range not summarized yet, so left alone (VACUUM summarizes too,
// but an insert-only partition is seldom vacuumed) the cursor lookup
// would read the whole recent history. The lock it takes conflicts only
// with VACUUM and another summarization; it gives up after lockWait
// rather than wait behind a long VACUUM (or make autovacuum cancel
// itself, which it does for a waiter after deadlock_timeout, 1 s): the
// next call catches up.
func (s *Store) SummarizeHistoryIDs(ctx context.Context, now time.Time) (int64, error) {
	const lockWait = "500ms"
	tables := receivingPartitions(now)
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+lockWait+`'`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT coalesce(sum(brin_summarize_new_values(x.indexrelid)), 0)::bigint
			FROM pg_inherits p JOIN pg_index x ON x.indexrelid = p.inhrelid
			WHERE p.inhparent = 'device_history_id'::regclass AND x.indrelid::regclass::text = ANY($1)`, tables).Scan(&n)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available: a VACUUM or another instance is at it
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: summarize history ids: %w", err)
	}
	return n, nil
}

// receivingPartitions names the history partitions that take points at
// now: the UTC month's, the one before (late points) and the default.
func receivingPartitions(now time.Time) []string {
	now = now.UTC() // partitions are UTC months
	m := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return []string{partitionName(m), partitionName(m.AddDate(0, -1, 0)), "device_history_default"}
}

// partitionName names the history partition of the UTC month starting at m.
func partitionName(m time.Time) string { return "device_history_" + m.Format("200601") }

// maintain keeps the history partitions ready and, with a retention,
// drops the months past it: at open and twice a day, until ctx ends. It
// also summarizes the history id index every summarizeEvery.
func (s *Store) maintain(ctx context.Context, retention time.Duration) {
	t := time.NewTicker(12 * time.Hour)
	defer t.Stop()
	sum := time.NewTicker(summarizeEvery)
	defer sum.Stop()
	s.keepPartitions(ctx, retention)
	var warned time.Time // a lasting failure (say, a role that does not own the index) is logged hourly
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.keepPartitions(ctx, retention)
		case now := <-sum.C:
			_, err := s.SummarizeHistoryIDs(ctx, now)
			if err != nil && ctx.Err() == nil && now.Sub(warned) >= time.Hour {
				s.logger.Warn("history id index not summarized: history page cursors read more", "err", err)
				warned = now
			}
		}
	}
}

// keepPartitions creates the coming months' history partitions and drops
// those past retention (0: none).
func (s *Store) keepPartitions(ctx context.Context, retention time.Duration) {
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
}
