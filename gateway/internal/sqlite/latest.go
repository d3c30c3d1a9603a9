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
// (pending) and writes them, one upsert or delete per pin, in the commit
// that comes latestEvery after the oldest of them (or in a transaction of
// its own when no commit comes), together with the cursor latestApplied:
// every value write and erase up to that outbox sequence number is in the
// table. A pin written ten times a second costs one upsert a second
// instead of ten, and the upserts of a second go in index order.
//
// The table plus the outbox entries above the cursor are the latest
// values at any moment: Load merges the two (one read transaction), and
// a committer starting after a crash takes the entries above the cursor
// as its pending values. Entries above the cursor are therefore never
// deleted before the cursor passes them: pruning stops at it, an
// acknowledgement keeps the erases above it, and the outbox cap thins
// only writes that a later write of the same pin supersedes.
//
// The same transaction writes the per-second aggregates of the value
// writes up to the new cursor into history_seconds, which the
// installer's chart reads (seconds.go).

// latestApplied is the sync_cursors name of the latest table's cursor.
const latestApplied = "latest_applied"

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

// latestDue reports whether the pending values go to the table in the
// transaction being written.
func (c *committer) latestDue() bool {
	return len(c.pending) > 0 &&
		(c.forceLatest || len(c.pending) >= latestMaxPending || len(c.seconds) >= latestMaxPending ||
			time.Since(c.pendingSince) >= latestEvery)
}

// writeLatest writes the pending values into the latest table and moves
// the cursor to the newest outbox entry, inside the committer's
// transaction. The caller forgets the pending values once that
// transaction is committed (a rolled-back one is retried with the same
// records, which note again to the same effect).
func (c *committer) writeLatest(ctx context.Context) error {
	keys := c.keys[:0]
	for k := range c.pending {
		keys = append(keys, k)
	}
	// In index order: neighbouring pins share pages.
	slices.SortFunc(keys, func(a, b pinKey) int {
		return cmp.Or(cmp.Compare(a.device, b.device), cmp.Compare(a.pin, b.pin))
	})
	c.keys = keys
	up := c.upKeys[:0]
	for _, k := range keys {
		if c.pending[k].erased {
			if err := c.execArgs(ctx, c.latestErase, k.device, int64(k.pin)); err != nil {
				return err
			}
			continue
		}
		up = append(up, k)
	}
	c.upKeys = up
	for len(up) > 0 {
		n := chunkSize(len(up))
		for _, k := range up[:n] {
			v := c.pending[k]
			c.arg(k.device)
			c.arg(int64(k.pin))
			c.arg(v.value)
			c.arg(v.ts)
		}
		if err := c.exec(ctx, c.latestN[n]); err != nil {
			return err
		}
		up = up[n:]
	}
	seq, err := c.queryInt(ctx, c.lastSeq)
	if err != nil {
		return fmt.Errorf("outbox seq: %w", err)
	}
	if err := c.writeSeconds(ctx); err != nil {
		return fmt.Errorf("history seconds: %w", err)
	}
	if err := c.execArgs(ctx, c.setLatestApplied, seq); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	c.latestTo = seq
	return nil
}

// writePending writes the pending values in a transaction of their own:
// no commit came for latestEvery, or the store is closing. If it fails,
// they stay pending (the outbox has them) and the next attempt comes
// latestEvery later.
func (c *committer) writePending() {
	c.forceLatest = true
	err := c.commit(nil)
	c.forceLatest = false
	if err != nil {
		c.pendingSince = time.Now()
		c.s.failures.Add(1)
		c.s.log.Warn("latest values not written; the outbox keeps them, will retry", "pins", len(c.pending), "err", err)
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
	rows, err := q.QueryContext(ctx, `SELECT o.kind, o.device, o.pin, o.value, o.ts FROM outbox o
		JOIN devices d ON d.id = o.device
		WHERE o.seq > ? AND o.kind IN (?, ?) ORDER BY o.seq`, cursor, int64(hub.KindWrite), int64(hub.KindErase))
	if err != nil {
		return nil, nil, 0, err
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
			return nil, nil, 0, err
		}
		v.value = value.String
		v.erased = kind == hub.KindErase
		pending[k] = v
		if !v.erased {
			addSecond(seconds, k.device, k.pin, v.value, v.ts)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, nil, 0, err
	}
	return pending, seconds, cursor, nil
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
