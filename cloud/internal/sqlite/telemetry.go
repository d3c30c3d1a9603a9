package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// This file is the telemetry half of the store: what gateways send up
// (cloud/internal/gatewaysync's Telemetry) and the reads the Platform API
// makes of it.

// Applied returns the highest telemetry seq applied for the gateway's
// outbox epoch, 0 if none.
func (s *Store) Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT applied FROM telemetry_cursors WHERE gateway_id = ? AND epoch = ?`,
		gatewayID, epoch).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: applied: %w", err)
	}
	return n, nil
}

// Apply stores a batch and moves the cursor to upTo in one transaction.
// Items at or below the stored cursor are skipped (a replay changes
// nothing), and so are items for devices outside the gateway's org subtree
// (a gateway speaks only for the devices it serves).
//
// Writes, the bulk of telemetry, are batched: their history rows go in as
// multi-row INSERTs in item order, and each (device, pin) gets one upsert of
// the value that sequential application would have left (the newest ts, the
// later item on a tie). An erase first flushes what is pending for its pin,
// so writes and erases keep their order. Every statement is prepared once
// per connection.
//
// A device's reports (see isReport) also set, in the same transaction, its
// activated_at once — the timestamp of its first report — and move its
// last_seen (the Platform API's lastReportedAt) to its newest report: one
// statement each per device and batch.
func (s *Store) Apply(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) error {
	return s.apply(ctx, gatewayID, epoch, items, upTo, nil, nil)
}

// ApplyItems is Apply that also returns the items it stored, in order: not
// those at or below the cursor, nor those of devices the gateway does not
// serve. It is what the live feed publishes once the batch is committed.
func (s *Store) ApplyItems(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) ([]syncproto.Item, error) {
	return s.ApplyItemsDelivering(ctx, gatewayID, epoch, items, upTo, nil)
}

// ApplyItemsDelivering is ApplyItems that also queues the webhook
// deliveries pending returns for the items it stores, in the same
// transaction (pending nil: none).
func (s *Store) ApplyItemsDelivering(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64, pending webhooks.PendingFunc) ([]syncproto.Item, error) {
	applied := make([]syncproto.Item, 0, len(items))
	if err := s.apply(ctx, gatewayID, epoch, items, upTo, &applied, pending); err != nil {
		return nil, err
	}
	return applied, nil
}

func (s *Store) apply(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64, applied *[]syncproto.Item, pending webhooks.PendingFunc) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: apply: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	a := applier{ctx: ctx, q: queries{stmts: s.stmts, tx: tx}, gw: gatewayID, latest: map[pinKey]int{},
		rollupAt: map[rollupKey]int{}, reports: map[string]span{}}
	var cursor int64
	switch err = a.queryRow(`SELECT applied FROM telemetry_cursors WHERE gateway_id = ? AND epoch = ?`,
		gatewayID, epoch).Scan(&cursor); err {
	case nil, sql.ErrNoRows:
	default:
		return fmt.Errorf("sqlite: apply: %w", err)
	}
	served := map[string]bool{}
	isServed := func(uid string) (bool, error) {
		if ok, seen := served[uid]; seen {
			return ok, nil
		}
		var one int
		err := a.queryRow(`SELECT 1 FROM devices d JOIN gateways g ON g.id = ?
			WHERE d.uid = ? AND g.org_id IS NOT NULL
			AND d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = g.org_id)`, gatewayID, uid).Scan(&one)
		if err != nil && err != sql.ErrNoRows {
			return false, err
		}
		served[uid] = err == nil
		return err == nil, nil
	}
	now := time.Now().UnixMilli()
	for i := range items {
		it := &items[i]
		if it.Seq <= cursor {
			continue
		}
		ok, err := isServed(it.Device)
		if err != nil {
			return fmt.Errorf("sqlite: apply: %w", err)
		}
		if !ok {
			continue
		}
		if err := a.item(it); err != nil {
			return fmt.Errorf("sqlite: apply seq %d: %w", it.Seq, err)
		}
		if applied != nil {
			*applied = append(*applied, *it)
		}
	}
	if err := a.flush(); err != nil {
		return fmt.Errorf("sqlite: apply: %w", err)
	}
	if err := a.storeReports(); err != nil {
		return fmt.Errorf("sqlite: apply: %w", err)
	}
	if pending != nil && applied != nil && len(*applied) > 0 {
		ps, err := pending(ctx, &a.q, *applied)
		if err != nil {
			return fmt.Errorf("sqlite: apply: deliveries: %w", err)
		}
		for i := range ps {
			if _, err := enqueueDelivery(ctx, tx, ps[i].WebhookID, ps[i].Event, ps[i].At); err != nil {
				return fmt.Errorf("sqlite: apply: %w", err)
			}
		}
	}
	if upTo < cursor {
		upTo = cursor
	}
	if _, err = a.exec(`INSERT INTO telemetry_cursors (gateway_id, epoch, applied, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (gateway_id, epoch) DO UPDATE SET applied = excluded.applied, updated_at = excluded.updated_at`,
		gatewayID, epoch, upTo, now); err != nil {
		return fmt.Errorf("sqlite: apply: cursor: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: apply: commit: %w", err)
	}
	return nil
}

// pinKey names one latest value.
type pinKey struct {
	uid string
	pin int
}

// applier is one Apply's transaction: its statements, bound to the
// transaction once each, and the writes not yet stored.
type applier struct {
	ctx   context.Context
	q     queries
	gw    string
	stmts map[string]*sql.Stmt // bound to the transaction; nil: run unprepared

	history []*syncproto.Item // writes whose history rows are pending, in order
	latest  map[pinKey]int    // index into values of the pin's pending latest value
	values  []*syncproto.Item // pending latest values, in first-seen order

	rollupAt map[rollupKey]int // index into rollups of a pending row
	rollups  []rollup          // pending rollups of numeric writes
	reports  map[string]span   // device UID → its reports' timestamps in this batch
	order    []string          // keys of reports, in first-seen order (a stable statement order)
}

// span is the oldest and newest timestamp of a device's reports.
type span struct{ first, last int64 }

// storeReports stores the batch's reports: a device's first report activates
// it (activated_at is set once, never moved), its newest is its last_seen.
func (a *applier) storeReports() error {
	for _, uid := range a.order {
		sp := a.reports[uid]
		if _, err := a.exec(`UPDATE devices SET activated_at = ? WHERE uid = ? AND activated_at = 0`, sp.first, uid); err != nil {
			return fmt.Errorf("activated: %w", err)
		}
		if _, err := a.exec(`INSERT INTO device_status (device_uid, gateway_id, last_seen) VALUES (?, ?, ?)
			ON CONFLICT (device_uid) DO UPDATE SET gateway_id = excluded.gateway_id, last_seen = max(last_seen, excluded.last_seen)`,
			uid, a.gw, sp.last); err != nil {
			return fmt.Errorf("last reported: %w", err)
		}
	}
	return nil
}

// rollupLevels are the rollup tables Apply keeps, finest first; a bucket
// width that is a multiple of a level's span reads that level.
var rollupLevels = [...]struct {
	table, col string
	span       int64 // ms
}{{"history_minutes", "minute", 60_000}, {"history_hours", "hour", 3_600_000}}

// rollupKey names one rollup row.
type rollupKey struct {
	uid   string
	pin   int
	level int // index into rollupLevels
	start int64
}

// rollup is the part of one rollup row that a batch adds.
type rollup struct {
	rollupKey
	n             int64
	sum, min, max float64
	lastTS        int64
	last          float64
}

// historyChunk is the most rows one history INSERT carries (4 parameters
// each, far below SQLite's limit); smaller remainders use halving sizes,
// so at most a handful of statement texts exist.
const historyChunk = 256

func (a *applier) stmt(query string) (*sql.Stmt, error) {
	if st, ok := a.stmts[query]; ok {
		return st, nil
	}
	st, _, err := a.q.stmt(a.ctx, query)
	if err != nil {
		return nil, err
	}
	if a.stmts == nil {
		a.stmts = map[string]*sql.Stmt{}
	}
	a.stmts[query] = st
	return st, nil
}

func (a *applier) exec(query string, args ...any) (sql.Result, error) {
	st, err := a.stmt(query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return a.q.tx.ExecContext(a.ctx, query, args...)
	}
	return st.ExecContext(a.ctx, args...)
}

func (a *applier) queryRow(query string, args ...any) scanner {
	st, err := a.stmt(query)
	switch {
	case err != nil:
		return errRow{err}
	case st == nil:
		return a.q.tx.QueryRowContext(a.ctx, query, args...)
	}
	return st.QueryRowContext(a.ctx, args...)
}

// flush stores the pending writes: history rows in item order, then one
// upsert per pin.
func (a *applier) flush() error {
	for h := a.history; len(h) > 0; {
		n := historyChunk
		for n > len(h) {
			n /= 2
		}
		q := `INSERT OR FAIL INTO device_history (device_uid, pin, value, ts, num) VALUES (?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?, ?)`, n-1)
		args := make([]any, 0, 5*n)
		for _, it := range h[:n] {
			var num any
			if f, ok := telemetry.Number(it.Value); ok {
				num = f
				a.roll(it, f)
			}
			args = append(args, it.Device, it.Pin, it.Value, it.TS, num)
		}
		if _, err := a.exec(q, args...); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		h = h[n:]
	}
	for _, it := range a.values {
		// Latest value: an older timestamp never replaces a newer one.
		if _, err := a.exec(`INSERT INTO device_values (device_uid, pin, value, ts) VALUES (?, ?, ?, ?)
			ON CONFLICT (device_uid, pin) DO UPDATE SET value = excluded.value, ts = excluded.ts WHERE excluded.ts >= ts`,
			it.Device, it.Pin, it.Value, it.TS); err != nil {
			return fmt.Errorf("latest value: %w", err)
		}
	}
	for _, r := range a.rollups {
		lv := rollupLevels[r.level]
		if _, err := a.exec(`INSERT INTO `+lv.table+` (device_uid, pin, `+lv.col+`, n, sum, min, max, last_ts, last)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_uid, pin, `+lv.col+`) DO UPDATE SET
			n = n + excluded.n, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max),
			last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
			last_ts = max(last_ts, excluded.last_ts)`,
			r.uid, r.pin, r.start, r.n, r.sum, r.min, r.max, r.lastTS, r.last); err != nil {
			return fmt.Errorf("rollup: %w", err)
		}
	}
	a.history, a.values, a.rollups = a.history[:0], a.values[:0], a.rollups[:0]
	clear(a.latest)
	clear(a.rollupAt)
	return nil
}

// roll adds a numeric write to its pending rollup rows.
func (a *applier) roll(it *syncproto.Item, f float64) {
	for lv, l := range rollupLevels {
		k := rollupKey{it.Device, it.Pin, lv, it.TS - it.TS%l.span}
		i, ok := a.rollupAt[k]
		if !ok {
			a.rollupAt[k] = len(a.rollups)
			a.rollups = append(a.rollups, rollup{rollupKey: k, n: 1, sum: f, min: f, max: f, lastTS: it.TS, last: f})
			continue
		}
		r := &a.rollups[i]
		r.n++
		r.sum += f
		r.min, r.max = min(r.min, f), max(r.max, f)
		if it.TS >= r.lastTS {
			r.lastTS, r.last = it.TS, f
		}
	}
}

func (a *applier) item(it *syncproto.Item) error {
	var err error
	if telemetry.IsReport(it) {
		sp, seen := a.reports[it.Device]
		if !seen {
			sp = span{it.TS, it.TS}
			a.order = append(a.order, it.Device)
		}
		sp.first, sp.last = min(sp.first, it.TS), max(sp.last, it.TS)
		a.reports[it.Device] = sp
	}
	// last_seen is moved by reports (storeReports), not by going offline.
	status := func(online int, transport string) error {
		_, err := a.exec(`INSERT INTO device_status (device_uid, gateway_id, online, transport)
			VALUES (?, ?, ?, ?) ON CONFLICT (device_uid) DO UPDATE SET gateway_id = excluded.gateway_id,
			online = excluded.online, transport = CASE WHEN excluded.online = 1 THEN excluded.transport ELSE transport END`,
			it.Device, a.gw, online, transport)
		return err
	}
	event := func(code, desc string) error {
		_, err := a.exec(`INSERT INTO device_events (device_uid, kind, code, description, ts, source) VALUES (?, ?, ?, ?, ?, ?)`,
			it.Device, string(it.Kind), code, desc, it.TS, it.Source)
		return err
	}
	switch it.Kind {
	case syncproto.KindWrite:
		a.history = append(a.history, it)
		k := pinKey{it.Device, it.Pin}
		if i, ok := a.latest[k]; !ok {
			a.latest[k] = len(a.values)
			a.values = append(a.values, it)
		} else if it.TS >= a.values[i].TS {
			a.values[i] = it
		}
	case syncproto.KindErase:
		if _, pending := a.latest[pinKey{it.Device, it.Pin}]; pending {
			if err = a.flush(); err != nil {
				return err
			}
		}
		_, err = a.exec(`DELETE FROM device_values WHERE device_uid = ? AND pin = ? AND ts <= ?`, it.Device, it.Pin, it.TS)
	case syncproto.KindEvent:
		err = event(it.Name, it.Value)
	case syncproto.KindClear:
		if err = event(it.Name, it.Value); err == nil {
			err = a.clear(it)
		}
	case syncproto.KindOnline:
		if err = status(1, it.Name); err == nil {
			err = event("online", it.Name)
		}
	case syncproto.KindOffline:
		if err = status(0, ""); err == nil {
			err = event("offline", "")
		}
	case syncproto.KindInfo:
		_, err = a.exec(`INSERT INTO device_status (device_uid, gateway_id, info) VALUES (?, ?, ?)
			ON CONFLICT (device_uid) DO UPDATE SET info = excluded.info`, it.Device, a.gw, it.Value)
	case syncproto.KindRun:
		err = a.run(it)
	case syncproto.KindProperty, syncproto.KindMeta:
		_, err = a.exec(`INSERT INTO device_props (device_uid, kind, pin, name, value, ts) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (device_uid, kind, pin, name) DO UPDATE SET value = excluded.value, ts = excluded.ts`,
			it.Device, string(it.Kind), it.Pin, it.Name, it.Value, it.TS)
	case syncproto.KindOTA:
		err = a.otaStatus(it)
	default:
		// Validated by syncproto; an unknown kind from a newer gateway is
		// kept as an event rather than lost.
		err = event(string(it.Kind), it.Value)
	}
	return err
}

// clear resolves what a device's clear names: the latest open event of
// its code, or with "all" every open one.
func (a *applier) clear(it *syncproto.Item) error {
	q := `UPDATE device_events SET resolved_at = ?, resolved_by = 'device' WHERE id = (SELECT max(id) FROM device_events
		WHERE device_uid = ? AND code = ? AND kind = 'event' AND resolved_at = 0)`
	if it.Value == "all" {
		q = `UPDATE device_events SET resolved_at = ?, resolved_by = 'device'
			WHERE device_uid = ? AND code = ? AND kind = 'event' AND resolved_at = 0`
	}
	_, err := a.exec(q, max(it.TS, 1), it.Device, it.Name)
	return err
}

// The values the telemetry reads return (shared with the PostgreSQL
// store through cloud/internal/telemetry).
type (
	PinValue      = telemetry.PinValue
	DeviceStatus  = telemetry.DeviceStatus
	HistoryPoint  = telemetry.HistoryPoint
	TimelineEntry = telemetry.TimelineEntry
)

// DeviceValues returns a device's latest values, by pin.
func (s *Store) DeviceValues(ctx context.Context, uid string) ([]PinValue, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT pin, value, ts FROM device_values WHERE device_uid = ? ORDER BY pin`, uid)
	if err != nil {
		return nil, fmt.Errorf("sqlite: device values: %w", err)
	}
	defer rows.Close()
	var out []PinValue
	for rows.Next() {
		var v PinValue
		var ts int64
		if err := rows.Scan(&v.Pin, &v.Value, &ts); err != nil {
			return nil, fmt.Errorf("sqlite: device values: %w", err)
		}
		v.TS = fromMS(ts)
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeviceStatus returns a device's connection state; ok is false when no
// gateway ever reported it.
func (s *Store) DeviceStatus(ctx context.Context, uid string) (st DeviceStatus, ok bool, err error) {
	var online int
	var seen int64
	var info string
	err = s.db.QueryRowContext(ctx, `SELECT gateway_id, online, transport, last_seen, info FROM device_status WHERE device_uid = ?`,
		uid).Scan(&st.Gateway, &online, &st.Transport, &seen, &info)
	if err == sql.ErrNoRows {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("sqlite: device status: %w", err)
	}
	st.Online, st.LastSeen = online == 1, fromMS(seen)
	st.Info = telemetry.ParseInfo(info)
	return st, true, nil
}

// History pages a device pin's raw history newest first: by timestamp,
// ties by ID (the order they were applied in), as the PostgreSQL store.
// before is the keyset cursor, the ID of the previous page's last point
// (0 for the first page); a cursor that is not a point of this device pin
// gives an empty page. next is 0 after the last page.
func (s *Store) History(ctx context.Context, uid string, pin int, before int64, limit int) (pts []HistoryPoint, next int64, err error) {
	// Newest first by (ts, id) through device_history_ts (whose last key
	// is the rowid, id); the cursor's ts is read by its id.
	q, args := `SELECT id, pin, value, ts FROM device_history INDEXED BY device_history_ts
		WHERE device_uid = ? AND pin = ? ORDER BY ts DESC, id DESC LIMIT ?`, []any{uid, pin, limit}
	if before > 0 {
		q = `SELECT h.id, h.pin, h.value, h.ts FROM device_history c, device_history h INDEXED BY device_history_ts
			WHERE c.id = ? AND c.device_uid = ? AND c.pin = ?
			AND h.device_uid = c.device_uid AND h.pin = c.pin AND (h.ts, h.id) < (c.ts, c.id)
			ORDER BY h.ts DESC, h.id DESC LIMIT ?`
		args = []any{before, uid, pin, limit}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p HistoryPoint
		var ts int64
		if err := rows.Scan(&p.ID, &p.Pin, &p.Value, &ts); err != nil {
			return nil, 0, fmt.Errorf("sqlite: history: %w", err)
		}
		p.TS = fromMS(ts)
		pts = append(pts, p)
	}
	if len(pts) == limit && limit > 0 {
		next = pts[len(pts)-1].ID
	}
	return pts, next, rows.Err()
}

// Timeline pages a device's events newest first, keyset on ID like
// History.
func (s *Store) Timeline(ctx context.Context, uid string, before int64, limit int) (es []TimelineEntry, next int64, err error) {
	return s.TimelineOfKind(ctx, uid, "", before, limit)
}

// TimelineOfKind is Timeline keeping one kind of entry (event, clear,
// online, offline; "" keeps all), filtered by an index rather than by
// reading and skipping the others.
func (s *Store) TimelineOfKind(ctx context.Context, uid, kind string, before int64, limit int) (es []TimelineEntry, next int64, err error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	query, args := `SELECT `+timelineCols+` FROM device_events
		WHERE device_uid = ? AND id < ? ORDER BY id DESC LIMIT ?`, []any{uid, before, limit}
	if kind != "" {
		query = `SELECT ` + timelineCols + ` FROM device_events INDEXED BY device_events_kind
			WHERE device_uid = ? AND kind = ? AND id < ? ORDER BY id DESC LIMIT ?`
		args = []any{uid, kind, before, limit}
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: timeline: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanTimeline(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: timeline: %w", err)
		}
		es = append(es, e)
	}
	if len(es) == limit && limit > 0 {
		next = es[len(es)-1].ID
	}
	return es, next, rows.Err()
}

// GatewayLastSeen is when the gateway's telemetry was last applied (zero
// if never); it survives restarts, unlike the live link status.
func (s *Store) GatewayLastSeen(ctx context.Context, gatewayID string) (time.Time, error) {
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(updated_at), 0) FROM telemetry_cursors WHERE gateway_id = ?`,
		gatewayID).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: gateway last seen: %w", err)
	}
	return fromMS(at), nil
}

// DevicesOnline counts the gateway's devices last reported online.
func (s *Store) DevicesOnline(ctx context.Context, gatewayID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM device_status WHERE gateway_id = ? AND online = 1`, gatewayID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: devices online: %w", err)
	}
	return n, nil
}
