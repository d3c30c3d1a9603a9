package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// This file is the part of the timeline the cloud writes itself: events
// a cloud automation logs, and resolutions people make.

// timelineCols are the columns scanTimeline reads, in order.
const timelineCols = `id, kind, code, description, ts, source, resolved_at, resolved_by, resolve_comment`

func scanTimeline(r scanner) (telemetry.TimelineEntry, error) {
	var e telemetry.TimelineEntry
	var ts, resolved int64
	var code, desc []byte
	err := r.Scan(&e.ID, &e.Kind, &code, &desc, &ts, &e.Source, &resolved, &e.ResolvedBy, &e.Comment)
	e.Code, e.Description, e.TS, e.ResolvedAt = string(code), string(desc), fromMS(ts), fromMS(resolved)
	return e, err
}

// LogEvent records an event the cloud logged on a device.
func (s *Store) LogEvent(ctx context.Context, uid, code, description, source string, at time.Time) (telemetry.TimelineEntry, error) {
	return s.LogEventDelivering(ctx, uid, code, description, source, at, nil)
}

// LogEventDelivering is LogEvent that also queues the webhook deliveries
// pending returns for the event (a KindEvent item), in the same
// transaction (pending nil: none): a crash loses both or neither. pending
// reads the device through the transaction, not a second connection.
func (s *Store) LogEventDelivering(ctx context.Context, uid, code, description, source string, at time.Time, pending webhooks.PendingFunc) (telemetry.TimelineEntry, error) {
	e := telemetry.TimelineEntry{Kind: "event", Code: code, Description: description, TS: fromMS(at.UnixMilli()), Source: pgText(source)}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO device_events (device_uid, kind, code, description, ts, source)
			VALUES ($1, 'event', $2, $3, $4, $5) RETURNING id`, uid, []byte(code), []byte(description), at.UnixMilli(), e.Source).Scan(&e.ID); err != nil {
			return err
		}
		if pending == nil {
			return nil
		}
		ps, err := pending(ctx, &queries{db: tx}, []syncproto.Item{{Kind: syncproto.KindEvent, Device: uid, Name: code,
			Value: description, TS: at.UnixMilli(), Source: source}})
		if err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		return insertDeliveries(ctx, tx, ps)
	})
	if err != nil {
		return telemetry.TimelineEntry{}, fmt.Errorf("postgres: log event: %w", err)
	}
	return e, nil
}

// ResolveEvent resolves one open event of the device.
func (s *Store) ResolveEvent(ctx context.Context, uid string, id int64, codes []string, by, comment string, at time.Time) (telemetry.TimelineEntry, error) {
	return s.ResolveEventAudited(ctx, uid, id, codes, by, comment, at, nil)
}

// ResolveEventAudited is ResolveEvent that also appends audit (nil: none)
// in the same transaction, its After the resolution (telemetry.ResolveAudit).
func (s *Store) ResolveEventAudited(ctx context.Context, uid string, id int64, codes []string, by, comment string, at time.Time, audit *tenancy.AuditEntry) (telemetry.TimelineEntry, error) {
	ms := max(at.UnixMilli(), 1)
	var e telemetry.TimelineEntry
	err := s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		var err error
		e, err = scanTimeline(q.db.QueryRow(ctx, `UPDATE device_events SET resolved_at = $1, resolved_by = $2, resolve_comment = $3
			WHERE id = $4 AND device_uid = $5 AND kind = 'event' AND code = ANY($6) AND resolved_at = 0 RETURNING `+timelineCols,
			ms, pgText(by), pgText(comment), id, uid, byteaList(codes)))
		if err == nil {
			if audit == nil {
				return nil
			}
			a := *audit
			a.After = telemetry.ResolveAudit(e)
			return q.AppendAudit(ctx, &a)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: resolve event: %w", err)
		}
		// Not updated: no such event, or resolved already.
		e, err = scanTimeline(q.db.QueryRow(ctx, `SELECT `+timelineCols+` FROM device_events
			WHERE id = $1 AND device_uid = $2 AND kind = 'event' AND code = ANY($3)`, id, uid, byteaList(codes)))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return telemetry.ErrNoEvent
		case err != nil:
			return fmt.Errorf("postgres: resolve event: %w", err)
		}
		return telemetry.ErrResolved
	})
	if errors.Is(err, telemetry.ErrResolved) {
		return e, err
	}
	if err != nil {
		return telemetry.TimelineEntry{}, err
	}
	return e, nil
}

func byteaList(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// OpenEvents returns the device's open events of the codes, newest first.
func (s *Store) OpenEvents(ctx context.Context, uid string, codes []string, limit int) ([]telemetry.TimelineEntry, error) {
	if len(codes) == 0 || limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+timelineCols+` FROM device_events
		WHERE device_uid = $1 AND code = ANY($2) AND kind = 'event' AND resolved_at = 0
		ORDER BY id DESC LIMIT $3`, uid, byteaList(codes), limit)
	return collectT(rows, err, "open events", scanTimeline)
}

// OpenEventCounts counts the devices' open events of the codes.
func (s *Store) OpenEventCounts(ctx context.Context, uids, codes []string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	if len(uids) == 0 || len(codes) == 0 {
		return out, nil
	}
	type row struct {
		uid, code string
		n         int
	}
	rows, err := s.pool.Query(ctx, `SELECT device_uid, code, count(*) FROM device_events
		WHERE device_uid = ANY($1) AND code = ANY($2) AND kind = 'event' AND resolved_at = 0
		GROUP BY device_uid, code`, uids, byteaList(codes))
	rs, err := collectT(rows, err, "open event counts", func(r scanner) (row, error) {
		var x row
		var code []byte
		err := r.Scan(&x.uid, &code, &x.n)
		x.code = string(code)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for _, x := range rs {
		if out[x.uid] == nil {
			out[x.uid] = map[string]int{}
		}
		out[x.uid][x.code] = x.n
	}
	return out, nil
}
