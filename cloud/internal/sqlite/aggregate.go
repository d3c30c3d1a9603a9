package sqlite

import (
	"context"
	"fmt"
	"time"

	"outpost/cloud/internal/telemetry"
)

// History for charts and export: bucketed aggregates computed by SQLite
// (GROUP BY bucket) from the per-hour or per-minute rollups Apply keeps,
// or from the raw points when buckets are shorter than a minute.

// The aggregation's values and rules are shared with the PostgreSQL
// store (cloud/internal/telemetry).
type (
	Bucket = telemetry.Bucket
	Series = telemetry.Series
)

// MaxBuckets bounds Aggregate's maxBuckets.
const MaxBuckets = telemetry.MaxBuckets

// Aggregate returns the numeric history of a device's pin between from and
// to (exclusive) in at most maxBuckets buckets (count, avg, min, max and
// last per bucket). Non-numeric values (strings, multi-value writes) are
// not charted.
func (s *Store) Aggregate(ctx context.Context, deviceUID string, pin int, from, to time.Time, maxBuckets int) (Series, error) {
	width, lo, hi, err := telemetry.Range(from, to, maxBuckets)
	if err != nil {
		return Series{}, fmt.Errorf("sqlite: %w", err)
	}
	w := width.Milliseconds()
	sr := Series{Width: width, From: fromMSAny(lo), To: fromMSAny(hi)}

	var query string
	switch lv := rollupLevel(w); {
	case lv >= 0:
		// Whole minutes or hours: the rollups hold each one's count, sum,
		// min, max and last; a bucket's last is that of its newest row.
		l := rollupLevels[lv]
		query = fmt.Sprintf(`SELECT g.b, g.n, g.sm / g.n, g.mn, g.mx, r.last FROM (
			SELECT %[2]s - (%[2]s - ?4) %% ?1 AS b, sum(n) AS n, sum(sum) AS sm, min(min) AS mn, max(max) AS mx,
				max(last_ts) AS lt
			FROM %[1]s WHERE device_uid = ?2 AND pin = ?3 AND %[2]s >= ?4 AND %[2]s < ?5 GROUP BY b
		) g JOIN %[1]s r ON r.device_uid = ?2 AND r.pin = ?3 AND r.%[2]s = g.lt - g.lt %% %[3]d
		ORDER BY g.b`, l.table, l.col, l.span)
	default:
		query = `SELECT g.b, g.n, g.av, g.mn, g.mx, (SELECT x.num FROM device_history x INDEXED BY device_history_ts
				WHERE x.device_uid = ?2 AND x.pin = ?3 AND x.ts = g.lt AND x.num IS NOT NULL ORDER BY x.id DESC LIMIT 1)
			FROM (SELECT ts - (ts - ?4) % ?1 AS b, count(*) AS n, avg(num) AS av, min(num) AS mn, max(num) AS mx, max(ts) AS lt
				FROM device_history INDEXED BY device_history_ts
				WHERE device_uid = ?2 AND pin = ?3 AND ts >= ?4 AND ts < ?5 AND num IS NOT NULL GROUP BY b) g
			ORDER BY g.b`
	}
	rows, err := s.db.QueryContext(ctx, query, w, deviceUID, pin, lo, hi)
	if err != nil {
		return sr, fmt.Errorf("sqlite: aggregate: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b Bucket
		var start int64
		if err := rows.Scan(&start, &b.Count, &b.Avg, &b.Min, &b.Max, &b.Last); err != nil {
			return sr, fmt.Errorf("sqlite: aggregate: %w", err)
		}
		b.Start = fromMSAny(start)
		sr.Buckets = append(sr.Buckets, b)
	}
	if err := rows.Err(); err != nil {
		return sr, fmt.Errorf("sqlite: aggregate: %w", err)
	}
	return sr, nil
}

// rollupLevel is the coarsest rollup level whose span divides w, or -1:
// then buckets are computed from the raw points.
func rollupLevel(w int64) int {
	for lv := len(rollupLevels) - 1; lv >= 0; lv-- {
		if w%rollupLevels[lv].span == 0 {
			return lv
		}
	}
	return -1
}

// fromMSAny is fromMS without the zero-means-unset rule: 0 is the epoch.
func fromMSAny(v int64) time.Time { return time.UnixMilli(v).UTC() }

// exportPage is how many points ExportHistory reads per query; the
// callback runs between queries, so a slow reader holds no database
// cursor.
const exportPage = 5000

// ExportHistory calls fn with the raw history of a device's pin between
// from and to (exclusive), oldest first (ties in id order), in pages of
// up to 5,000 points; an error from fn stops it and is returned.
func (s *Store) ExportHistory(ctx context.Context, deviceUID string, pin int, from, to time.Time, fn func([]HistoryPoint) error) error {
	ts, id := from.UnixMilli(), int64(0)
	end := to.UnixMilli()
	pts := make([]HistoryPoint, 0, exportPage)
	for {
		rows, err := s.db.QueryContext(ctx, `SELECT id, pin, value, ts FROM device_history INDEXED BY device_history_ts
			WHERE device_uid = ? AND pin = ? AND (ts, id) > (?, ?) AND ts < ? ORDER BY ts, id LIMIT ?`,
			deviceUID, pin, ts, id, end, exportPage)
		if err != nil {
			return fmt.Errorf("sqlite: export history: %w", err)
		}
		pts = pts[:0]
		for rows.Next() {
			var p HistoryPoint
			var at int64
			if err := rows.Scan(&p.ID, &p.Pin, &p.Value, &at); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: export history: %w", err)
			}
			p.TS = fromMSAny(at)
			pts = append(pts, p)
			ts, id = at, p.ID
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: export history: %w", err)
		}
		if len(pts) == 0 {
			return nil
		}
		if err := fn(pts); err != nil {
			return err
		}
		if len(pts) < exportPage {
			return nil
		}
	}
}
