package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"outpost/gateway/internal/hub"
)

// Latest values, kept lazily
//
// The latest table holds each pin's last value for the hub to load at
// start. Upserting it in every group commit cost as much as writing the
// outbox when each pin is written once a commit (one upsert per record;
// BenchmarkCommitBatch/pins=4: 5.4–6.0 cpu-µs a record, 2.6–3.1 with the
// table written as below; pins=1, four writes a pin a commit: 3.1–3.8
// against 2.7–3.0). Nothing reads it while the gateway
// runs (the hub keeps the values in memory), and the outbox already holds
// every write durably, in order. So the committer keeps each pin's last
// write or erase since the table was last brought up to date in memory
// (pending); latestEvery after the oldest of them it seals them as a
// generation (flushing) and writes it, one upsert or delete per pin in
// index order, a slice with each following commit (all at once in a
// transaction of its own when no commit comes); the last slice moves the
// cursor latestApplied: every value write and erase up to that outbox
// sequence number is in the table. A pin written ten times a second
// costs one upsert a second instead of ten.
//
// The table plus the outbox entries above the cursor are the latest
// values at any moment: Load merges the two (one read transaction), and
// a committer starting after a crash takes the entries above the cursor
// as its pending values. Entries above the cursor are therefore never
// deleted before the cursor passes them: pruning stops at it, an
// acknowledgement keeps the erases above it, and the outbox cap thins
// only writes that a later write of the same pin supersedes.
//
// A generation also holds the per-second aggregates of the value writes
// it covers, for history_seconds, which the installer's chart reads
// (seconds.go).

// latestApplied is the sync_cursors name of the latest table's cursor;
// latestFlushing names the target of the generation being written (see
// flushing), which a start after a crash needs.
const (
	latestApplied  = "latest_applied"
	latestFlushing = "latest_flushing"
)

// latestEvery bounds how long a pending latest value waits for the table.
const latestEvery = time.Second

// latestMaxPending writes the pending values sooner when that many pins
// wait, so that the memory and the commit that writes them stay small
// (about 2 µs of CPU a pin).
const latestMaxPending = 8192

// pendingValue is a pin's last value write, or its erase, that the latest
// table does not have yet.
type pendingValue struct {
	value  string
	ts     int64
	erased bool
}

// note records the latest-value effect of batch's writes and erases.
func (c *committer) note(batch []hub.Record) {
	for i := range batch {
		r := &batch[i]
		var v pendingValue
		switch r.Kind {
		case hub.KindWrite:
			v = pendingValue{value: r.Value, ts: r.TS}
		case hub.KindErase:
			v = pendingValue{erased: true}
		default:
			continue
		}
		if len(c.pending) == 0 {
			c.pendingSince = time.Now()
		}
		c.pending[pinKey{r.DeviceID, r.Pin}] = v
	}
}

// latestDue reports whether the pending values are sealed for writing
// (seal) in the transaction being written.
func (c *committer) latestDue() bool {
	return len(c.pending) > 0 &&
		(c.forceLatest || len(c.pending) >= latestMaxPending || len(c.seconds) >= latestMaxPending ||
			time.Since(c.pendingSince) >= latestEvery)
}

// flushDue says how long the committer waits for a commit before it
// writes what is pending in a transaction of its own, if anything is.
func (c *committer) flushDue() (time.Duration, bool) {
	switch {
	case c.fl != nil || len(c.pending) >= latestMaxPending || len(c.seconds) >= latestMaxPending:
		return flushIdle, true
	case len(c.pending) > 0:
		return time.Until(c.pendingSince.Add(latestEvery)), true
	}
	return 0, false
}

// flushSlice is how many rows of a sealed generation a commit writes (or
// a sixteenth of them, if more): writing a second's worth at once held
// the commit that did it, and every PUBACK and HTTP answer waiting on it,
// for 30-60 ms under load (one core busy with everything else), so it is
// spread over the commits that follow.
const flushSlice = 256

// flushIdle is how long a generation being written waits for the next
// commit before the rest is written in a transaction of its own.
const flushIdle = 20 * time.Millisecond

// flushing is a sealed generation of pending latest values and per-second
// aggregates: everything committed up to the outbox sequence number
// target, written a slice per commit. While it is written, new writes
// gather in the committer's pending maps, and the cursor stays where it
// was. Readers see a consistent state throughout: Load overrides the
// table with the outbox entries above the cursor, which include every
// write of the generation; Aggregate counts the history_seconds rows
// whose upto is at most the cursor, so the generation's rows count only
// once its last slice has moved the cursor to target, and until then its
// writes count from the outbox.
type flushing struct {
	target  int64
	latest  []latestRow // in index order: neighbouring pins share pages
	seconds []secRow    // in key order
	pos     int         // rows written by committed transactions: latest first, then seconds
	end     int         // rows written once the transaction being written commits
}

type latestRow struct {
	k pinKey
	v pendingValue
}

// seal moves the pending values and aggregates into a new generation
// ending at the newest committed outbox entry. It runs before the
// transaction writes its batch, so that the generation holds committed
// writes only: if the transaction fails, it stays valid.
func (c *committer) seal(ctx context.Context) error {
	seq, err := c.queryInt(ctx, c.lastSeq)
	if err != nil {
		return fmt.Errorf("outbox seq: %w", err)
	}
	fl := &flushing{target: seq, latest: make([]latestRow, 0, len(c.pending)), seconds: make([]secRow, 0, len(c.seconds))}
	for k, v := range c.pending {
		fl.latest = append(fl.latest, latestRow{k, v})
	}
	slices.SortFunc(fl.latest, func(a, b latestRow) int {
		return cmp.Or(cmp.Compare(a.k.device, b.k.device), cmp.Compare(a.k.pin, b.k.pin))
	})
	for k, a := range c.seconds {
		fl.seconds = append(fl.seconds, secRow{k, a})
	}
	slices.SortFunc(fl.seconds, func(a, b secRow) int {
		return cmp.Or(cmp.Compare(a.k.sec, b.k.sec), cmp.Compare(a.k.device, b.k.device), cmp.Compare(a.k.pin, b.k.pin))
	})
	c.fl = fl
	c.pending, c.seconds = make(map[pinKey]pendingValue), make(map[secKey]secAgg)
	return nil
}

// writeSlice writes the next slice of the generation being written (all
// of it when forced). The first slice records the generation's target
// (latestFlushing), so that a start after a crash can remove its
// history_seconds rows; the last moves the cursor.
func (c *committer) writeSlice(ctx context.Context) error {
	fl := c.fl
	total := len(fl.latest) + len(fl.seconds)
	n := max(flushSlice, total/16)
	if c.forceLatest {
		n = total
	}
	fl.end = min(fl.pos+n, total)
	if fl.pos == 0 {
		if err := c.execArgs(ctx, c.setCursor, latestFlushing, fl.target); err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
	}
	if lo, hi := fl.pos, min(fl.end, len(fl.latest)); lo < hi {
		if err := c.writeLatest(ctx, fl.latest[lo:hi]); err != nil {
			return err
		}
	}
	if lo, hi := max(fl.pos-len(fl.latest), 0), fl.end-len(fl.latest); lo < hi {
		if err := c.writeSeconds(ctx, fl.seconds[lo:hi], fl.target); err != nil {
			return fmt.Errorf("history seconds: %w", err)
		}
	}
	if fl.end == total {
		if err := c.execArgs(ctx, c.setCursor, latestApplied, fl.target); err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
		c.wroteLatest = true
	}
	return nil
}

// sliceCommitted records that the transaction that wrote a slice
// committed; the caller holds writeMu.
func (c *committer) sliceCommitted() {
	fl := c.fl
	fl.pos = fl.end
	if c.wroteLatest {
		c.s.latestTo.Store(fl.target) // under writeMu, like the cursor's row
		c.fl = nil
	}
}

// writeLatest writes rows into the latest table.
func (c *committer) writeLatest(ctx context.Context, rows []latestRow) error {
	up := c.upRows[:0]
	for _, r := range rows {
		if r.v.erased {
			if err := c.execArgs(ctx, c.latestErase, r.k.device, int64(r.k.pin)); err != nil {
				return err
			}
			continue
		}
		up = append(up, r)
	}
	c.upRows = up
	for len(up) > 0 {
		n := chunkSize(len(up))
		for _, r := range up[:n] {
			c.arg(r.k.device)
			c.arg(int64(r.k.pin))
			c.arg(r.v.value)
			c.arg(r.v.ts)
		}
		if err := c.exec(ctx, c.latestN[n]); err != nil {
			return err
		}
		up = up[n:]
	}
	return nil
}

// writePending writes the pending values in transactions of their own,
// all at once: no commit came to take them, or the store is closing. A
// generation being written is finished first, then the rest is sealed
// and written. If it fails, they stay pending (the outbox has them) and
// the next attempt comes latestEvery later.
func (c *committer) writePending() {
	c.forceLatest = true
	defer func() { c.forceLatest = false }()
	for range 2 {
		if c.fl == nil && len(c.pending) == 0 {
			return
		}
		if err := c.commit(nil); err != nil {
			c.pendingSince = time.Now()
			c.s.failures.Add(1)
			c.s.log.Warn("latest values not written; the outbox keeps them, will retry", "pins", len(c.pending), "err", err)
			return
		}
	}
}

// queryer is what reading the pending latest values needs: a *sql.Tx, or
// the store's *sql.DB before anything writes.
type queryer interface {
	queryRower
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// pendingLatest reads the cursor latestApplied and, for the devices that
// exist, each pin's last value write or erase above it and the
// per-second aggregates of the value writes above it: what the latest
// table and history_seconds lack.
func pendingLatest(ctx context.Context, q queryer) (map[pinKey]pendingValue, map[secKey]secAgg, int64, error) {
	var cursor int64
	err := q.QueryRowContext(ctx, `SELECT value FROM sync_cursors WHERE name = ?`, latestApplied).Scan(&cursor)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cursor %s: %w", latestApplied, err)
	}
	pending, seconds, err := pendingAbove(ctx, q, cursor)
	return pending, seconds, cursor, err
}

// pendingAbove reads, for the devices that exist, each pin's last value
// write or erase above the outbox sequence number seq, and the
// per-second aggregates of the value writes above it.
func pendingAbove(ctx context.Context, q queryer, seq int64) (map[pinKey]pendingValue, map[secKey]secAgg, error) {
	rows, err := q.QueryContext(ctx, `SELECT o.kind, o.device, o.pin, o.value, o.ts FROM outbox o
		JOIN devices d ON d.id = o.device
		WHERE o.seq > ? AND o.kind IN (?, ?) ORDER BY o.seq`, seq, int64(hub.KindWrite), int64(hub.KindErase))
	if err != nil {
		return nil, nil, err
	}
	pending := make(map[pinKey]pendingValue)
	seconds := make(map[secKey]secAgg)
	for rows.Next() {
		var kind hub.Kind
		var k pinKey
		var v pendingValue
		var value sql.NullString
		if err := rows.Scan(&kind, &k.device, &k.pin, &value, &v.ts); err != nil {
			rows.Close()
			return nil, nil, err
		}
		v.value = value.String
		v.erased = kind == hub.KindErase
		pending[k] = v
		if !v.erased {
			addSecond(seconds, k.device, k.pin, v.value, v.ts)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, nil, err
	}
	return pending, seconds, nil
}

// loadLatest reads every existing device's latest values, ordered by
// device and pin: the table's, overridden by the pending ones. q should
// be a transaction, so that the table and the outbox are read at the same
// moment.
func loadLatest(ctx context.Context, q queryer) ([]hub.PinValue, error) {
	pending, _, _, err := pendingLatest(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT l.device, l.pin, l.value, l.ts FROM latest l
		JOIN devices d ON d.id = l.device ORDER BY l.device, l.pin`)
	if err != nil {
		return nil, err
	}
	var values []hub.PinValue
	for rows.Next() {
		var v hub.PinValue
		if err := rows.Scan(&v.DeviceID, &v.Pin, &v.Value, &v.TS); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := pending[pinKey{v.DeviceID, v.Pin}]; !ok {
			values = append(values, v)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	for k, p := range pending {
		if !p.erased {
			values = append(values, hub.PinValue{DeviceID: k.device, Pin: k.pin, Value: p.value, TS: p.ts})
		}
	}
	slices.SortFunc(values, func(a, b hub.PinValue) int {
		return cmp.Or(cmp.Compare(a.DeviceID, b.DeviceID), cmp.Compare(a.Pin, b.Pin))
	})
	return values, nil
}
