package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"outpost/gateway/internal/hub"
)

// Per-second aggregates for the installer's chart
//
// The chart (Aggregate) reads history_seconds: per pin and second, the
// count, sum, minimum and maximum of the values written in it and the
// newest of them (migration 0009). An index over every value write, which
// the chart read before, cost each group commit one index entry per
// write: a fifth to a third of the broker's QoS 1 throughput. The
// committer instead adds each committed write to an aggregate in memory
// (a map update); the aggregates go with the latest values into each
// sealed generation (latest.go: flushing), one row per pin and second
// that the generation covers, marked with its end (upto). The chart sums
// the rows the cursor has reached and adds the outbox entries above the
// cursor. Aggregating in SQL from the outbox instead cost more (a sort
// of a second's writes, 0.3 µs a write).
//
// A commit that fails is retried with the same records, which must not
// count twice: after a failure the pending aggregates are read again from
// the outbox (above the generation being written, or the cursor) before
// the retry.

// secKey names a pin's second.
type secKey struct {
	sec    int64 // Unix seconds: ts / 1000, as SQL computes it
	device int64
	pin    int
}

// secAgg is what the writes of one pin in one second add up to.
type secAgg struct {
	n             int64
	total, lo, hi float64
	lastTS        int64
	last          string
}

// addSecond adds a value write to m.
func addSecond(m map[secKey]secAgg, device int64, pin int, value string, ts int64) {
	k := secKey{ts / 1000, device, pin}
	v := castReal(value)
	a, ok := m[k]
	if !ok {
		m[k] = secAgg{n: 1, total: v, lo: v, hi: v, lastTS: ts, last: value}
		return
	}
	a.n++
	a.total += v
	a.lo, a.hi = min(a.lo, v), max(a.hi, v)
	if newer(ts, value, a.lastTS, a.last) {
		a.lastTS, a.last = ts, value
	}
	m[k] = a
}

// newer reports whether the value (ts, v) follows (ts0, v0) as the last
// of a second: the greater ts, on a tie the greater text, as SQL's
// max(printf('%020d', ts) || value) picks.
func newer(ts int64, v string, ts0 int64, v0 string) bool {
	return ts > ts0 || ts == ts0 && v > v0
}

// castReal is SQLite's CAST(text AS REAL): the longest prefix that reads
// as a decimal number, after leading spaces; 0 when there is none. The
// chart always read values so; the aggregates must agree with the rows
// above the cursor, which SQL casts.
func castReal(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\f\r\v")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	// Out of range gives ±Inf or 0, as SQLite does; the syntax is checked.
	v, _ := strconv.ParseFloat(s[:i], 64)
	return v
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// secRow is one aggregate of a sealed generation.
type secRow struct {
	k secKey
	a secAgg
}

// secondsInsert adds rows of aggregates to history_seconds, for devices
// that still exist, each marked with its generation's target (upto). A
// pin's second may have rows of several generations: readers sum them.
// A row already there is a slice written again after a commit that
// reported an error but was durable: it is the same row.
func secondsInsert(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO history_seconds(sec, device, pin, upto, n, total, lo, hi, last_ts, last)
		SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, column10 FROM (VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?,?)`)
	}
	b.WriteString(`) WHERE column2 IN (SELECT id FROM devices) ON CONFLICT DO NOTHING`)
	return b.String()
}

// writeSeconds writes rows of the generation ending at upto.
func (c *committer) writeSeconds(ctx context.Context, rows []secRow, upto int64) error {
	for len(rows) > 0 {
		n := chunkSize(len(rows))
		for _, r := range rows[:n] {
			c.arg(r.k.sec)
			c.arg(r.k.device)
			c.arg(int64(r.k.pin))
			c.arg(upto)
			c.arg(r.a.n)
			c.arg(r.a.total)
			c.arg(r.a.lo)
			c.arg(r.a.hi)
			c.arg(r.a.lastTS)
			c.arg(r.a.last)
		}
		if err := c.exec(ctx, c.secondsN[n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// noteSeconds adds a batch's value writes to the aggregates.
func (c *committer) noteSeconds(batch []hub.Record) {
	for i := range batch {
		if r := &batch[i]; r.Kind == hub.KindWrite {
			addSecond(c.seconds, r.DeviceID, r.Pin, r.Value, r.TS)
		}
	}
}

// reloadSeconds reads the pending aggregates again from the outbox after
// a failed commit, which may have counted its batch already: the writes
// above the generation being written, or above the cursor.
func (c *committer) reloadSeconds(ctx context.Context) error {
	if !c.secondsStale {
		return nil
	}
	above := c.s.latestTo.Load()
	if c.fl != nil {
		above = c.fl.target
	}
	_, seconds, err := pendingAbove(ctx, c.s.db, above)
	if err != nil {
		return fmt.Errorf("history seconds: %w", err)
	}
	c.seconds, c.secondsStale = seconds, false
	return nil
}

// dropUnfinished deletes the history_seconds rows of a generation whose
// writing a crash interrupted (its target is above the cursor): its
// writes are above the cursor, pending again. It reads the whole table,
// once, only after such a crash.
func dropUnfinished(ctx context.Context, db *sql.DB) error {
	var applied, flushing int64
	err := db.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT value FROM sync_cursors WHERE name = ?), 0),
		COALESCE((SELECT value FROM sync_cursors WHERE name = ?), 0)`, latestApplied, latestFlushing).Scan(&applied, &flushing)
	if err != nil || flushing <= applied {
		return err
	}
	_, err = db.ExecContext(ctx, `DELETE FROM history_seconds WHERE upto > ?`, applied)
	return err
}
