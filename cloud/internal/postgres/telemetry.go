package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// This file is the telemetry half of the store: what gateways send up and
// the reads the Platform API and the console make of it.

// Applied returns the highest telemetry seq applied for the gateway's
// outbox epoch, 0 if none.
func (s *Store) Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT applied FROM telemetry_cursors WHERE gateway_id = $1 AND epoch = $2`,
		gatewayID, epoch).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: applied: %w", err)
	}
	return n, nil
}

// Apply stores a batch and moves the cursor to upTo in one transaction.
// Items at or below the stored cursor are skipped (a replay changes
// nothing), and so are items for devices outside the gateway's org subtree
// (a gateway speaks only for the devices it serves). The cursor row is
// locked first: two instances applying for one gateway and epoch (a
// gateway that reconnected elsewhere while its old connection was still
// applying) run one after the other, so nothing is stored twice.
//
// Writes, the bulk of telemetry, are batched: their history rows go in as
// one COPY in item order, each (device, pin)
// gets one upsert of the value that sequential application would have left
// (the newest ts, the later item on a tie), and rollups one upsert per
// bucket. An erase first flushes what is pending for its pin, so writes
// and erases keep their order. An automation's run at the site (KindRun)
// and a device's progress in a firmware shipment (KindOTA) are stored in
// the same transaction, like the SQLite store does: the cursor makes each
// item count once.
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

func (s *Store) apply(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64, applied *[]syncproto.Item, pending webhooks.PendingFunc) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		now := time.Now().UnixMilli()
		cursor, served, ids, err := lockCursor(ctx, tx, gatewayID, epoch, items, now)
		if err != nil {
			return err
		}
		a := applier{ctx: ctx, tx: tx, gw: gatewayID, keys: served, ids: ids, latest: map[pinKey]int{}, rollupAt: map[rollupKey]int{},
			reports: map[string]span{}}
		for i := range items {
			it := &items[i]
			if _, ok := served[it.Device]; it.Seq <= cursor || !ok {
				continue
			}
			if err := a.item(it); err != nil {
				return fmt.Errorf("seq %d: %w", it.Seq, err)
			}
			if applied != nil {
				*applied = append(*applied, *it)
			}
		}
		if err := a.flush(); err != nil {
			return err
		}
		a.storeReports()
		if pending != nil && applied != nil && len(*applied) > 0 {
			ps, err := pending(ctx, &queries{db: tx}, *applied)
			if err != nil {
				return fmt.Errorf("deliveries: %w", err)
			}
			for i := range ps {
				ev, err := json.Marshal(ps[i].Event)
				if err != nil {
					return fmt.Errorf("delivery: %w", err)
				}
				a.queue("delivery", insertDelivery, ps[i].WebhookID, string(ev), ms(ps[i].At), webhooks.Waiting, ms(ps[i].At))
			}
		}
		a.queue("cursor", `UPDATE telemetry_cursors SET applied = greatest(applied, $3), updated_at = $4
			WHERE gateway_id = $1 AND epoch = $2`, gatewayID, epoch, upTo, now)
		return a.send()
	})
	if err != nil {
		if applied != nil {
			*applied = (*applied)[:0]
		}
		return fmt.Errorf("postgres: apply: %w", err)
	}
	return nil
}

// idBlock is how many history ids one nextval of device_history_id_seq
// reserves: its INCREMENT BY (migrations/*_history_id_blocks.sql). Apply
// numbers its history rows itself from the blocks lockCursor reserves,
// one sequence call per thousand rows rather than one per row (a hot
// page that every gateway's apply locked, and a function call per row).
// Ids still grow in the order points are applied: within a batch in item
// order, and a later batch reserves later blocks.
const idBlock = 1000

// lockCursor creates the gateway's cursor row for the epoch if need be,
// locks it and reads it, reserves history ids for the batch's writes
// (idBlock), and reads which devices of the items the gateway serves
// (devices of its org's subtree) with their history keys, creating those
// missing: one round trip.
func lockCursor(ctx context.Context, tx pgx.Tx, gatewayID string, epoch int64, items []syncproto.Item, now int64) (cursor int64, served map[string]int64, ids []int64, err error) {
	served = map[string]int64{}
	var b pgx.Batch
	b.Queue(`INSERT INTO telemetry_cursors (gateway_id, epoch, applied, updated_at)
		VALUES ($1, $2, 0, $3) ON CONFLICT DO NOTHING`, gatewayID, epoch, now)
	b.Queue(`SELECT applied FROM telemetry_cursors WHERE gateway_id = $1 AND epoch = $2 FOR UPDATE`, gatewayID, epoch)
	writes := 0
	for i := range items {
		if items[i].Kind == syncproto.KindWrite {
			writes++
		}
	}
	blocks := (writes + idBlock - 1) / idBlock
	if blocks > 0 {
		b.Queue(`SELECT nextval('device_history_id_seq') FROM generate_series(1, $1::int) ORDER BY 1`, blocks)
	}
	var uids []string
	if gw, err := strconv.ParseInt(gatewayID, 10, 64); err == nil { // else not a gateway of this store: it serves nothing
		seen := map[string]bool{}
		for i := range items {
			if u := items[i].Device; !seen[u] && likeable(u) {
				seen[u] = true
				uids = append(uids, u)
			}
		}
		if len(uids) > 0 {
			// The statement does not see the keys it creates: those come
			// from RETURNING. A key another transaction created meanwhile
			// is neither (ON CONFLICT skips it): historyKeys reads it.
			b.Queue(`WITH served AS (SELECT d.uid FROM gateways g
					JOIN org_closure c ON c.ancestor = g.org_id
					JOIN devices d ON d.org_id = c.descendant
					WHERE g.id = $1 AND d.uid = ANY($2)),
				created AS (INSERT INTO history_devices (uid)
					SELECT uid FROM served s WHERE NOT EXISTS (SELECT FROM history_devices k WHERE k.uid = s.uid)
					ON CONFLICT (uid) DO NOTHING RETURNING uid, key)
				SELECT s.uid, coalesce(k.key, c.key, 0) FROM served s
				LEFT JOIN history_devices k ON k.uid = s.uid LEFT JOIN created c ON c.uid = s.uid`, gw, uids)
		}
	}
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return 0, nil, nil, fmt.Errorf("cursor: %w", err)
	}
	if err := br.QueryRow().Scan(&cursor); err != nil {
		return 0, nil, nil, fmt.Errorf("cursor: %w", err)
	}
	if blocks > 0 {
		rows, err := br.Query()
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		}
		if err != nil {
			return 0, nil, nil, fmt.Errorf("history ids: %w", err)
		}
	}
	if len(uids) == 0 {
		return cursor, served, ids, br.Close()
	}
	rows, err := br.Query()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("served devices: %w", err)
	}
	var missing []string
	for rows.Next() {
		var u string
		var key int64
		if err := rows.Scan(&u, &key); err != nil {
			rows.Close()
			return 0, nil, nil, fmt.Errorf("served devices: %w", err)
		}
		served[u] = key
		if key == 0 {
			missing = append(missing, u)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, nil, fmt.Errorf("served devices: %w", err)
	}
	if err := br.Close(); err != nil {
		return 0, nil, nil, fmt.Errorf("served devices: %w", err)
	}
	if len(missing) > 0 {
		if err := historyKeys(ctx, tx, missing, served); err != nil {
			return 0, nil, nil, err
		}
	}
	return cursor, served, ids, nil
}

// historyKeys reads the history keys of uids into keys: those another
// transaction created after lockCursor's statement began (a new
// statement sees them).
func historyKeys(ctx context.Context, tx pgx.Tx, uids []string, keys map[string]int64) error {
	rows, err := tx.Query(ctx, `SELECT uid, key FROM history_devices WHERE uid = ANY($1)`, uids)
	if err != nil {
		return fmt.Errorf("history keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var key int64
		if err := rows.Scan(&u, &key); err != nil {
			return fmt.Errorf("history keys: %w", err)
		}
		keys[u] = key
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("history keys: %w", err)
	}
	for _, u := range uids {
		if keys[u] == 0 {
			return fmt.Errorf("history keys: no key for %q", u)
		}
	}
	return nil
}

// pinKey names one latest value.
type pinKey struct {
	uid string
	pin int
}

// applier is one Apply's transaction and the writes not yet stored.
type applier struct {
	ctx  context.Context
	tx   pgx.Tx
	gw   string
	keys map[string]int64 // served device UID → its history key (history_devices)
	ids  []int64          // the first history id of each reserved block (idBlock)
	used int              // history ids handed out

	history []*syncproto.Item // writes whose history rows are pending, in order
	latest  map[pinKey]int    // index into values of the pin's pending latest value
	values  []*syncproto.Item // pending latest values, in first-seen order

	batch  pgx.Batch // statements queued for one round trip (send)
	labels []string  // what each queued statement stores, for errors

	rollupAt map[rollupKey]int // index into rollups of a pending row
	rollups  []rollup          // pending rollups of numeric writes
	reports  map[string]span   // device UID → its reports' timestamps in this batch
	order    []string          // keys of reports, in first-seen order
}

// span is the oldest and newest timestamp of a device's reports.
type span struct{ first, last int64 }

// saturatingSum is SQL for a + b that gives ±Infinity where float8 would
// overflow: PostgreSQL raises an error there, and a failed rollup upsert
// fails the apply, stopping the gateway's whole stream on one device's
// absurd values. Opposite signs cannot overflow.
func saturatingSum(a, b string) string {
	return `CASE WHEN sign(` + a + `) = sign(` + b + `) AND abs(` + a + `) > 1.7976931348623157e308 - abs(` + b + `)
		THEN sign(` + a + `) * 'Infinity'::float8 ELSE ` + a + ` + ` + b + ` END`
}

// rollupLevels are the rollup tables Apply keeps, finest first.
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

// exec runs a statement now, after the queued ones.
func (a *applier) exec(query string, args ...any) error {
	if err := a.send(); err != nil {
		return err
	}
	_, err := a.tx.Exec(a.ctx, query, args...)
	return err
}

// queue adds a statement to the next round trip (send, or the next exec):
// the upserts that follow a batch's history rows travel together rather
// than one round trip each.
func (a *applier) queue(label, query string, args ...any) {
	a.batch.Queue(query, args...)
	a.labels = append(a.labels, label)
}

// send runs the queued statements in one round trip, in order.
func (a *applier) send() error {
	if len(a.labels) == 0 {
		return nil
	}
	b, labels := a.batch, a.labels
	a.batch, a.labels = pgx.Batch{}, nil
	br := a.tx.SendBatch(a.ctx, &b)
	for _, l := range labels {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", l, err)
		}
	}
	return br.Close()
}

// storeReports stores the batch's reports: a device's first report activates
// it (activated_at is set once, never moved), its newest is its last_seen.
func (a *applier) storeReports() {
	if len(a.order) == 0 {
		return
	}
	firsts, lasts := make([]int64, len(a.order)), make([]int64, len(a.order))
	for i, uid := range a.order {
		firsts[i], lasts[i] = a.reports[uid].first, a.reports[uid].last
	}
	a.queue("activated", `UPDATE devices d SET activated_at = r.first FROM unnest($1::text[], $2::bigint[]) AS r(uid, first)
		WHERE d.uid = r.uid AND d.activated_at = 0`, a.order, firsts)
	a.queue("last reported", `INSERT INTO device_status (device_uid, gateway_id, last_seen)
		SELECT uid, $3, last FROM unnest($1::text[], $2::bigint[]) AS r(uid, last)
		ON CONFLICT (device_uid) DO UPDATE SET gateway_id = excluded.gateway_id,
			last_seen = greatest(device_status.last_seen, excluded.last_seen)`, a.order, lasts, a.gw)
}

// flush stores the pending writes: history rows in item order (one
// COPY), then queues one upsert for the latest values and one per rollup
// level (sent with the next statement).
func (a *applier) flush() error {
	if err := a.send(); err != nil {
		return err
	}
	if len(a.history) > 0 {
		// COPY: the fastest way in, in item order (ids follow it), its
		// binary rows written here rather than through pgx.CopyFrom,
		// whose per-value encoding plans and boxing cost more client CPU
		// than the server spends parsing them.
		var rows copyRows
		rows.start(len(a.history))
		for _, it := range a.history {
			f, ok := telemetry.Number(it.Value)
			if ok {
				a.roll(it, f)
			}
			block := a.used / idBlock
			if block >= len(a.ids) { // lockCursor reserved one per write
				return fmt.Errorf("history: %d ids reserved, more writes", len(a.ids)*idBlock)
			}
			rows.history(a.ids[block]+int64(a.used%idBlock), a.keys[it.Device], int64(it.Pin), it.Value, it.TS, f, ok)
			a.used++
		}
		if _, err := a.tx.Conn().PgConn().CopyFrom(a.ctx, bytes.NewReader(rows.end()), copyHistory); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if n := len(a.values); n > 0 {
		uids, vals := make([]string, n), make([][]byte, n)
		pins, tss := make([]int64, n), make([]int64, n)
		for i, it := range a.values {
			uids[i], pins[i], vals[i], tss[i] = it.Device, int64(it.Pin), []byte(it.Value), it.TS
		}
		// Latest value: an older timestamp never replaces a newer one.
		a.queue("latest value", `INSERT INTO device_values (device_uid, pin, value, ts)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bigint[])
			ON CONFLICT (device_uid, pin) DO UPDATE SET value = excluded.value, ts = excluded.ts
			WHERE excluded.ts >= device_values.ts`, uids, pins, vals, tss)
	}
	for lv, l := range rollupLevels {
		var uids []string
		var pins, starts, ns, lastTSs []int64
		var sums, mins, maxs, lasts []float64
		for _, r := range a.rollups {
			if r.level != lv {
				continue
			}
			uids, pins, starts = append(uids, r.uid), append(pins, int64(r.pin)), append(starts, r.start)
			ns, sums, mins, maxs = append(ns, r.n), append(sums, r.sum), append(mins, r.min), append(maxs, r.max)
			lastTSs, lasts = append(lastTSs, r.lastTS), append(lasts, r.last)
		}
		if len(uids) == 0 {
			continue
		}
		t := l.table
		a.queue("rollup", `INSERT INTO `+t+` (device_uid, pin, `+l.col+`, n, sum, min, max, last_ts, last)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[], $6::float8[],
				$7::float8[], $8::bigint[], $9::float8[])
			ON CONFLICT (device_uid, pin, `+l.col+`) DO UPDATE SET
			n = `+t+`.n + excluded.n, sum = `+saturatingSum(t+".sum", "excluded.sum")+`,
			min = least(`+t+`.min, excluded.min), max = greatest(`+t+`.max, excluded.max),
			last = CASE WHEN excluded.last_ts >= `+t+`.last_ts THEN excluded.last ELSE `+t+`.last END,
			last_ts = greatest(`+t+`.last_ts, excluded.last_ts)`,
			uids, pins, starts, ns, sums, mins, maxs, lastTSs, lasts)
	}
	a.history, a.values, a.rollups = a.history[:0], a.values[:0], a.rollups[:0]
	clear(a.latest)
	clear(a.rollupAt)
	return nil
}

// clear resolves what a device's clear names: the latest open event of
// its code, or with "all" every open one.
func (a *applier) clear(it *syncproto.Item) error {
	q := `UPDATE device_events SET resolved_at = $1, resolved_by = 'device' WHERE id = (SELECT max(id) FROM device_events
		WHERE device_uid = $2 AND code = $3 AND kind = 'event' AND resolved_at = 0)`
	if it.Value == "all" {
		q = `UPDATE device_events SET resolved_at = $1, resolved_by = 'device'
			WHERE device_uid = $2 AND code = $3 AND kind = 'event' AND resolved_at = 0`
	}
	return a.exec(q, max(it.TS, 1), it.Device, []byte(it.Name))
}

// copyHistory is the COPY of history rows (copyRows.history).
const copyHistory = `COPY device_history (id, device_key, pin, value, ts, num) FROM STDIN (FORMAT binary)`

// copyRows is COPY's binary format: a header, rows of length-prefixed
// big-endian fields (length -1: NULL), a trailer.
type copyRows struct{ buf []byte }

func (c *copyRows) start(rows int) {
	c.buf = make([]byte, 0, 19+rows*80+2)
	c.buf = append(c.buf, "PGCOPY\n\377\r\n\000"...)
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0) // flags
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0) // header extension length
}

// history appends a device_history row: bigint, bigint, bigint, bytea,
// bigint, double precision (NULL unless isNum).
func (c *copyRows) history(id, key, pin int64, value string, ts int64, num float64, isNum bool) {
	c.buf = binary.BigEndian.AppendUint16(c.buf, 6)
	c.int8(id)
	c.int8(key)
	c.int8(pin)
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(value)))
	c.buf = append(c.buf, value...)
	c.int8(ts)
	if !isNum {
		c.buf = binary.BigEndian.AppendUint32(c.buf, 0xffffffff) // -1: NULL
		return
	}
	c.buf = binary.BigEndian.AppendUint32(c.buf, 8)
	c.buf = binary.BigEndian.AppendUint64(c.buf, math.Float64bits(num))
}

func (c *copyRows) int8(v int64) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, 8)
	c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(v))
}

// end appends the trailer and returns the data.
func (c *copyRows) end() []byte {
	return binary.BigEndian.AppendUint16(c.buf, 0xffff) // -1: no more rows
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
	status := func(online int64, transport string) error {
		return a.exec(`INSERT INTO device_status (device_uid, gateway_id, online, transport)
			VALUES ($1, $2, $3, $4) ON CONFLICT (device_uid) DO UPDATE SET gateway_id = excluded.gateway_id,
			online = excluded.online,
			transport = CASE WHEN excluded.online = 1 THEN excluded.transport ELSE device_status.transport END`,
			it.Device, a.gw, online, transport)
	}
	event := func(code, desc string) error {
		return a.exec(`INSERT INTO device_events (device_uid, kind, code, description, ts, source) VALUES ($1, $2, $3, $4, $5, $6)`,
			it.Device, string(it.Kind), []byte(code), []byte(desc), it.TS, pgText(it.Source))
	}
	var err error
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
		err = a.exec(`DELETE FROM device_values WHERE device_uid = $1 AND pin = $2 AND ts <= $3`, it.Device, it.Pin, it.TS)
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
		err = a.exec(`INSERT INTO device_status (device_uid, gateway_id, info) VALUES ($1, $2, $3)
			ON CONFLICT (device_uid) DO UPDATE SET info = excluded.info`, it.Device, a.gw, []byte(it.Value))
	case syncproto.KindRun:
		err = a.run(it)
	case syncproto.KindOTA:
		err = a.otaStatus(it)
	case syncproto.KindProperty, syncproto.KindMeta:
		err = a.exec(`INSERT INTO device_props (device_uid, kind, pin, name, value, ts) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (device_uid, kind, pin, name) DO UPDATE SET value = excluded.value, ts = excluded.ts`,
			it.Device, string(it.Kind), it.Pin, []byte(it.Name), []byte(it.Value), it.TS)
	default:
		// Validated by syncproto; an unknown kind from a newer gateway is
		// kept as an event rather than lost.
		err = event(string(it.Kind), it.Value)
	}
	return err
}

// DeviceValues returns a device's latest values, by pin.
func (s *Store) DeviceValues(ctx context.Context, uid string) ([]telemetry.PinValue, error) {
	rows, err := s.pool.Query(ctx, `SELECT pin, value, ts FROM device_values WHERE device_uid = $1 ORDER BY pin`, uid)
	return collectT(rows, err, "device values", func(r scanner) (telemetry.PinValue, error) {
		var v telemetry.PinValue
		var ts int64
		var val []byte
		err := r.Scan(&v.Pin, &val, &ts)
		v.Value, v.TS = string(val), fromMS(ts)
		return v, err
	})
}

// collectT is collect for telemetry reads (plain wrapped errors).
func collectT[T any](rows pgx.Rows, err error, op string, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return out, nil
}

// DeviceStatus returns a device's connection state; ok is false when no
// gateway ever reported it.
func (s *Store) DeviceStatus(ctx context.Context, uid string) (st telemetry.DeviceStatus, ok bool, err error) {
	var online, seen int64
	var info []byte
	err = s.pool.QueryRow(ctx, `SELECT gateway_id, online, transport, last_seen, info FROM device_status WHERE device_uid = $1`,
		uid).Scan(&st.Gateway, &online, &st.Transport, &seen, &info)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("postgres: device status: %w", err)
	}
	st.Online, st.LastSeen, st.Info = online == 1, fromMS(seen), telemetry.ParseInfo(string(info))
	return st, true, nil
}

// ReportedMeta returns the metadata fields the gateway reported of a
// device (meta/<name>: set by the device, or a person's value the gateway
// applied), by name: what the console's device page shows next to the
// values people set (DeviceMeta, tenancy).
func (s *Store) ReportedMeta(ctx context.Context, uid string) (map[string]telemetry.MetaValue, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, value, ts FROM device_props WHERE device_uid = $1 AND kind = 'meta'`, uid)
	type kv struct {
		name, value []byte
		ts          int64
	}
	all, err := collectT(rows, err, "device meta", func(r scanner) (kv, error) {
		var p kv
		return p, r.Scan(&p.name, &p.value, &p.ts)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]telemetry.MetaValue, len(all))
	for _, p := range all {
		out[string(p.name)] = telemetry.MetaValue{Value: string(p.value), TS: time.UnixMilli(p.ts)}
	}
	return out, nil
}

// historyKey is the history key of the device whose UID is $1, in a
// condition on device_history.device_key (NULL, matching nothing, for a
// device that never stored a point).
const historyKey = `(SELECT key FROM history_devices WHERE uid = $1)`

// The reads of raw history, each served by the time index (device_key,
// pin, ts, id) INCLUDE (num) (TestHistoryReadsUseTheTimeIndex).
const (
	// historyFirstPage: $1 uid, $2 pin, $3 limit.
	historyFirstPage = `SELECT id, pin, value, ts FROM device_history
		WHERE device_key = ` + historyKey + ` AND pin = $2 ORDER BY ts DESC, id DESC LIMIT $3`
	// historyPage: $1 uid, $2 pin, $3 the cursor's id, $4 limit. The
	// cursor's point is found by its id alone, through the BRIN index on
	// id (migrations/*_history_id_brin.sql; MATERIALIZED keeps the time
	// index, which would scan the pin's whole history for it, out of that
	// lookup); LATERAL makes its (ts, id) a parameter of the page's index
	// scan.
	historyPage = `WITH c AS MATERIALIZED (SELECT device_key, pin, ts, id FROM device_history WHERE id = $3)
		SELECT h.id, h.pin, h.value, h.ts
		FROM history_devices k JOIN c ON c.device_key = k.key,
		LATERAL (SELECT id, pin, value, ts FROM device_history
			WHERE device_key = k.key AND pin = $2 AND (ts, id) < (c.ts, c.id) ORDER BY ts DESC, id DESC LIMIT $4) h
		WHERE k.uid = $1 AND c.pin = $2
		ORDER BY h.ts DESC, h.id DESC`
	// aggregateRaw: $1 bucket width, $2 uid, $3 pin, $4 from, $5 to (ms).
	// sum / count, not avg: avg(float8) also sums the squares, which
	// overflow (an error) for values past 1e154; and summed as numeric, as
	// a float8 sum of values near its limit overflows too (the average of
	// floats is a float).
	aggregateRaw = `SELECT b, count(*), (sum(num::numeric) / count(*))::float8, min(num), max(num), (array_agg(num ORDER BY ts DESC, id DESC))[1]
		FROM (SELECT ts - (ts - $4) % $1 AS b, ts, id, num FROM device_history
			WHERE device_key = (SELECT key FROM history_devices WHERE uid = $2) AND pin = $3 AND ts >= $4 AND ts < $5
			AND num IS NOT NULL) h
		GROUP BY b ORDER BY b`
	// exportAfter: $1 uid, $2 pin, after ($3 ts, $4 id), $5 to, $6 limit.
	exportAfter = `SELECT id, pin, value, ts FROM device_history
		WHERE device_key = ` + historyKey + ` AND pin = $2 AND (ts, id) > ($3, $4) AND ts < $5 ORDER BY ts, id LIMIT $6`
)

func scanPoint(r scanner) (telemetry.HistoryPoint, error) {
	var p telemetry.HistoryPoint
	var ts int64
	var val []byte
	err := r.Scan(&p.ID, &p.Pin, &val, &ts)
	p.Value, p.TS = string(val), time.UnixMilli(ts).UTC()
	return p, err
}

// History pages a device pin's raw history newest first: by timestamp,
// ties by ID (the order they were applied in), as ExportHistory reads it
// backwards; one index, (device_key, pin, ts, id), serves both. before is
// the keyset cursor, the ID of the previous page's last point (0 for the
// first page); the page continues below that point's (ts, id), so a
// cursor that is not a point of this device pin (or one retention has
// deleted since) gives an empty page. next is 0 after the last page.
func (s *Store) History(ctx context.Context, uid string, pin int, before int64, limit int) (pts []telemetry.HistoryPoint, next int64, err error) {
	var rows pgx.Rows
	if before <= 0 {
		rows, err = s.pool.Query(ctx, historyFirstPage, uid, pin, limit)
	} else {
		rows, err = s.pool.Query(ctx, historyPage, uid, pin, before, limit)
	}
	if pts, err = collectT(rows, err, "history", scanPoint); err != nil {
		return nil, 0, err
	}
	if len(pts) == limit && limit > 0 {
		next = pts[len(pts)-1].ID
	}
	return pts, next, nil
}

// Timeline pages a device's events newest first, keyset on ID like
// History.
func (s *Store) Timeline(ctx context.Context, uid string, before int64, limit int) ([]telemetry.TimelineEntry, int64, error) {
	return s.TimelineOfKind(ctx, uid, "", before, limit)
}

// TimelineOfKind is Timeline keeping one kind of entry (event, clear,
// online, offline; "" keeps all), read through the (device, kind, id)
// index.
func (s *Store) TimelineOfKind(ctx context.Context, uid, kind string, before int64, limit int) (es []telemetry.TimelineEntry, next int64, err error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	var a args
	cond := "device_uid = " + a.add(uid)
	if kind != "" {
		cond += " AND kind = " + a.add(kind)
	}
	q := `SELECT ` + timelineCols + ` FROM device_events WHERE ` + cond +
		` AND id < ` + a.add(before) + ` ORDER BY id DESC LIMIT ` + a.add(limit)
	rows, err := s.pool.Query(ctx, q, a...)
	es, err = collectT(rows, err, "timeline", scanTimeline)
	if err != nil {
		return nil, 0, err
	}
	if len(es) == limit && limit > 0 {
		next = es[len(es)-1].ID
	}
	return es, next, nil
}

// GatewayLastSeen is when the gateway's telemetry was last applied (zero
// if never); it survives restarts, unlike the live link status.
func (s *Store) GatewayLastSeen(ctx context.Context, gatewayID string) (time.Time, error) {
	var at int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(updated_at), 0) FROM telemetry_cursors WHERE gateway_id = $1`,
		gatewayID).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: gateway last seen: %w", err)
	}
	return fromMS(at), nil
}

// DevicesOnline counts the gateway's devices last reported online.
func (s *Store) DevicesOnline(ctx context.Context, gatewayID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM device_status WHERE gateway_id = $1 AND online = 1`, gatewayID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: devices online: %w", err)
	}
	return n, nil
}

// Aggregate returns the numeric history of a device's pin between from and
// to (exclusive) in at most maxBuckets buckets (count, avg, min, max and
// last per bucket), from the per-hour or per-minute rollups when buckets
// are whole minutes or hours, from the raw points otherwise.
func (s *Store) Aggregate(ctx context.Context, uid string, pin int, from, to time.Time, maxBuckets int) (telemetry.Series, error) {
	width, lo, hi, err := telemetry.Range(from, to, maxBuckets)
	if err != nil {
		return telemetry.Series{}, fmt.Errorf("postgres: %w", err)
	}
	w := width.Milliseconds()
	sr := telemetry.Series{Width: width, From: time.UnixMilli(lo).UTC(), To: time.UnixMilli(hi).UTC()}
	var query string
	switch lv := rollupLevel(w); {
	case lv >= 0:
		// Whole minutes or hours: the rollups hold each one's count, sum,
		// min, max and last; a bucket's last is that of its newest row.
		l := rollupLevels[lv]
		query = fmt.Sprintf(`SELECT b, sum(n)::bigint, (sum(sum::numeric) / sum(n))::float8, min(min), max(max),
				(array_agg(last ORDER BY last_ts DESC))[1]
			FROM (SELECT %[2]s - (%[2]s - $4) %% $1 AS b, n, sum, min, max, last, last_ts FROM %[1]s
				WHERE device_uid = $2 AND pin = $3 AND %[2]s >= $4 AND %[2]s < $5) r
			GROUP BY b ORDER BY b`, l.table, l.col)
	default:
		query = aggregateRaw
	}
	rows, err := s.pool.Query(ctx, query, w, uid, pin, lo, hi)
	sr.Buckets, err = collectT(rows, err, "aggregate", func(r scanner) (telemetry.Bucket, error) {
		var b telemetry.Bucket
		var start int64
		err := r.Scan(&start, &b.Count, &b.Avg, &b.Min, &b.Max, &b.Last)
		b.Start = time.UnixMilli(start).UTC()
		return b, err
	})
	return sr, err
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

// exportPage is how many points ExportHistory reads per query; the
// callback runs between queries, so a slow reader holds no cursor.
const exportPage = 5000

// ExportHistory calls fn with the raw history of a device's pin between
// from and to (exclusive), oldest first (ties in id order), in pages of
// up to 5,000 points; an error from fn stops it and is returned.
func (s *Store) ExportHistory(ctx context.Context, uid string, pin int, from, to time.Time, fn func([]telemetry.HistoryPoint) error) error {
	ts, id := from.UnixMilli(), int64(0)
	end := to.UnixMilli()
	for {
		rows, err := s.pool.Query(ctx, exportAfter, uid, pin, ts, id, end, exportPage)
		pts, err := collectT(rows, err, "export history", scanPoint)
		if err != nil {
			return err
		}
		if len(pts) == 0 {
			return nil
		}
		last := pts[len(pts)-1]
		ts, id = last.TS.UnixMilli(), last.ID
		if err := fn(pts); err != nil {
			return err
		}
		if len(pts) < exportPage {
			return nil
		}
	}
}
