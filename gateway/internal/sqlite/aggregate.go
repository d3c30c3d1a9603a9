package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Bucket is one aggregated stretch of a numeric datastream's history.
type Bucket struct {
	Start               time.Time
	Avg, Min, Max, Last float64
	Count               int64
}

// Aggregate splits [from, to) into at most maxBuckets equal buckets and
// returns the non-empty ones, oldest first, with the buckets' width.
// Buckets are whole seconds, at least one wide, and the range is widened
// to whole seconds (from down, to up): they are made of history_seconds,
// the per-pin aggregates of each second (migration 0009), plus the value
// writes above their cursor, which the committer adds within a second
// (latest.go). SQLite does the arithmetic; values that are not numbers
// count as 0, as SQLite casts them.
func (s *Store) Aggregate(ctx context.Context, deviceID int64, pin int, from, to time.Time, maxBuckets int) ([]Bucket, time.Duration, error) {
	if maxBuckets <= 0 {
		maxBuckets = 1000
	}
	f, t := from.UnixMilli(), to.UnixMilli()
	if t <= f {
		return nil, 0, fmt.Errorf("sqlite: aggregate: empty range")
	}
	f, t = floorSecond(f), -floorSecond(-t)
	width := (t - f + int64(maxBuckets) - 1) / int64(maxBuckets)
	width = max(-floorSecond(-width), 1000)
	var out []Bucket
	err := s.read(ctx, func(tx *sql.Tx) error {
		// The cursor and the table are read in one snapshot: each write is
		// counted once, in a row of the table the cursor has reached or
		// above the cursor (latest.go: flushing).
		var cursor int64
		if err := tx.QueryRowContext(ctx, `SELECT value FROM sync_cursors WHERE name = ?`, latestApplied).Scan(&cursor); err != nil {
			return err
		}
		// Last: the value with the greatest ts of the bucket (a
		// zero-padded ts prefix makes max() pick it).
		rows, err := tx.QueryContext(ctx, `WITH s(sec, n, total, lo, hi, last_ts, last) AS (
			SELECT sec, n, total, lo, hi, last_ts, last FROM history_seconds
				WHERE sec >= ?1 / 1000 AND sec < ?5 / 1000 AND device = ?3 AND pin = ?4 AND upto <= ?6
			UNION ALL
			SELECT ts / 1000, 1, CAST(value AS REAL), CAST(value AS REAL), CAST(value AS REAL), ts, value FROM outbox
				WHERE seq > ?6 AND kind = 1 AND device = ?3 AND pin = ?4 AND ts >= ?1 AND ts < ?5)
			SELECT (sec * 1000 - ?1) / ?2 AS b, sum(total) / sum(n), min(lo), max(hi),
				CAST(substr(max(printf('%020d', last_ts) || last), 21) AS REAL), sum(n)
			FROM s WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?3)
			GROUP BY b ORDER BY b`, f, width, deviceID, pin, t, cursor)
		if err != nil {
			return err
		}
		for rows.Next() {
			var b Bucket
			var n int64
			if err := rows.Scan(&n, &b.Avg, &b.Min, &b.Max, &b.Last, &b.Count); err != nil {
				rows.Close()
				return err
			}
			b.Start = time.UnixMilli(f + n*width)
			out = append(out, b)
		}
		return closeRows(rows)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: aggregate: %w", err)
	}
	return out, time.Duration(width) * time.Millisecond, nil
}

// floorSecond rounds a Unix millisecond time down to its second.
func floorSecond(ms int64) int64 {
	s := ms / 1000 * 1000
	if s > ms {
		s -= 1000
	}
	return s
}
