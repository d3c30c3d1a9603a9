package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Bucket is one aggregated stretch of a numeric datastream's history.
type Bucket struct {
	Start               time.Time
	Avg, Min, Max, Last float64
	Count               int64
}

// Aggregate splits [from, to) into at most maxBuckets equal buckets (at
// least one second wide) and returns the non-empty ones, oldest first, with
// the buckets' width. SQLite does the arithmetic, reading the index
// outbox_history_ts (the entries of the time range, filtered by device and
// pin inside the index; see migration 0007); values that are not numbers
// count as 0, as SQLite casts them.
func (s *Store) Aggregate(ctx context.Context, deviceID int64, pin int, from, to time.Time, maxBuckets int) ([]Bucket, time.Duration, error) {
	if maxBuckets <= 0 {
		maxBuckets = 1000
	}
	f, t := from.UnixMilli(), to.UnixMilli()
	if t <= f {
		return nil, 0, fmt.Errorf("sqlite: aggregate: empty range")
	}
	width := max((t-f+int64(maxBuckets)-1)/int64(maxBuckets), 1000)
	// Last: the value with the greatest ts of the bucket (a zero-padded ts
	// prefix makes max() pick it).
	rows, err := s.db.QueryContext(ctx, `SELECT (ts - ?1) / ?2 AS b, avg(CAST(value AS REAL)), min(CAST(value AS REAL)),
		max(CAST(value AS REAL)), CAST(substr(max(printf('%020d', ts) || value), 21) AS REAL), count(*)
		FROM outbox WHERE kind = 1 AND device = ?3 AND pin = ?4 AND ts >= ?1 AND ts < ?5
		AND EXISTS (SELECT 1 FROM devices WHERE id = ?3)
		GROUP BY b ORDER BY b`, f, width, deviceID, pin, t)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: aggregate: %w", err)
	}
	var out []Bucket
	for rows.Next() {
		var b Bucket
		var n int64
		if err := rows.Scan(&n, &b.Avg, &b.Min, &b.Max, &b.Last, &b.Count); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("sqlite: aggregate: %w", err)
		}
		b.Start = time.UnixMilli(f + n*width)
		out = append(out, b)
	}
	if err := closeRows(rows); err != nil {
		return nil, 0, fmt.Errorf("sqlite: aggregate: %w", err)
	}
	return out, time.Duration(width) * time.Millisecond, nil
}
