package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// This file is the part of the timeline the cloud writes itself: events
// a cloud automation logs, and resolutions people make.

// timelineCols are the columns scanTimeline reads, in order.
const timelineCols = `id, kind, code, description, ts, source, resolved_at, resolved_by, resolve_comment`

func scanTimeline(r scanner) (TimelineEntry, error) {
	var e TimelineEntry
	var ts, resolved int64
	err := r.Scan(&e.ID, &e.Kind, &e.Code, &e.Description, &ts, &e.Source, &resolved, &e.ResolvedBy, &e.Comment)
	e.TS, e.ResolvedAt = fromMS(ts), fromMS(resolved)
	return e, err
}

// LogEvent records an event the cloud logged on a device.
func (s *Store) LogEvent(ctx context.Context, uid, code, description, source string, at time.Time) (TimelineEntry, error) {
	return s.LogEventDelivering(ctx, uid, code, description, source, at, nil)
}

// LogEventDelivering is LogEvent that also queues the webhook deliveries
// pending returns for the event (a KindEvent item), in the same
// transaction (pending nil: none): a crash loses both or neither.
func (s *Store) LogEventDelivering(ctx context.Context, uid, code, description, source string, at time.Time, pending webhooks.PendingFunc) (TimelineEntry, error) {
	var e TimelineEntry
	err := s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		res, err := q.exec(ctx, `INSERT INTO device_events (device_uid, kind, code, description, ts, source)
			VALUES (?, 'event', ?, ?, ?, ?)`, uid, code, description, at.UnixMilli(), source)
		if err != nil {
			return fmt.Errorf("sqlite: log event: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("sqlite: log event: %w", err)
		}
		e = TimelineEntry{ID: id, Kind: "event", Code: code, Description: description, TS: fromMS(at.UnixMilli()), Source: source}
		if pending == nil {
			return nil
		}
		ps, err := pending(ctx, q, []syncproto.Item{{Kind: syncproto.KindEvent, Device: uid, Name: code, Value: description,
			TS: at.UnixMilli(), Source: source}})
		if err != nil {
			return fmt.Errorf("sqlite: log event: deliveries: %w", err)
		}
		for i := range ps {
			if _, err := enqueueDelivery(ctx, q.tx, ps[i].WebhookID, ps[i].Event, ps[i].At); err != nil {
				return fmt.Errorf("sqlite: log event: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return TimelineEntry{}, err
	}
	return e, nil
}

// ResolveEvent resolves one open event of the device.
func (s *Store) ResolveEvent(ctx context.Context, uid string, id int64, codes []string, by, comment string, at time.Time) (TimelineEntry, error) {
	return s.ResolveEventAudited(ctx, uid, id, codes, by, comment, at, nil)
}

// ResolveEventAudited is ResolveEvent that also appends audit (nil: none)
// in the same transaction, its After the resolution (telemetry.ResolveAudit).
func (s *Store) ResolveEventAudited(ctx context.Context, uid string, id int64, codes []string, by, comment string, at time.Time, audit *tenancy.AuditEntry) (TimelineEntry, error) {
	if len(codes) == 0 {
		return TimelineEntry{}, telemetry.ErrNoEvent
	}
	args := []any{id, uid}
	for _, c := range codes {
		args = append(args, c)
	}
	var e TimelineEntry
	err := s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		var err error
		e, err = scanTimeline(q.queryRow(ctx, `SELECT `+timelineCols+` FROM device_events
			WHERE id = ? AND device_uid = ? AND kind = 'event' AND code IN (`+placeholders(len(codes))+`)`, args...))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return telemetry.ErrNoEvent
		case err != nil:
			return fmt.Errorf("sqlite: resolve event: %w", err)
		case !e.ResolvedAt.IsZero():
			return telemetry.ErrResolved
		}
		ms := max(at.UnixMilli(), 1)
		if _, err := q.exec(ctx, `UPDATE device_events SET resolved_at = ?, resolved_by = ?, resolve_comment = ?
			WHERE id = ?`, ms, by, comment, id); err != nil {
			return fmt.Errorf("sqlite: resolve event: %w", err)
		}
		e.ResolvedAt, e.ResolvedBy, e.Comment = fromMS(ms), by, comment
		if audit == nil {
			return nil
		}
		a := *audit
		a.After = telemetry.ResolveAudit(e)
		return q.AppendAudit(ctx, &a)
	})
	if errors.Is(err, telemetry.ErrResolved) {
		return e, err
	}
	if err != nil {
		return TimelineEntry{}, err
	}
	return e, nil
}

// OpenEvents returns the device's open events of the codes, newest first.
func (s *Store) OpenEvents(ctx context.Context, uid string, codes []string, limit int) ([]TimelineEntry, error) {
	if len(codes) == 0 || limit <= 0 {
		return nil, nil
	}
	args := []any{uid}
	for _, c := range codes {
		args = append(args, c)
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `SELECT `+timelineCols+` FROM device_events INDEXED BY device_events_code
		WHERE device_uid = ? AND code IN (`+placeholders(len(codes))+`) AND kind = 'event' AND resolved_at = 0
		ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open events: %w", err)
	}
	defer rows.Close()
	var es []TimelineEntry
	for rows.Next() {
		e, err := scanTimeline(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open events: %w", err)
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// OpenEventCounts counts the devices' open events of the codes.
func (s *Store) OpenEventCounts(ctx context.Context, uids, codes []string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	if len(uids) == 0 || len(codes) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(uids)+len(codes))
	for _, u := range uids {
		args = append(args, u)
	}
	for _, c := range codes {
		args = append(args, c)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT device_uid, code, count(*) FROM device_events INDEXED BY device_events_code
		WHERE device_uid IN (`+placeholders(len(uids))+`) AND code IN (`+placeholders(len(codes))+`)
		AND kind = 'event' AND resolved_at = 0 GROUP BY device_uid, code`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open event counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid, code string
		var n int
		if err := rows.Scan(&uid, &code, &n); err != nil {
			return nil, fmt.Errorf("sqlite: open event counts: %w", err)
		}
		if out[uid] == nil {
			out[uid] = map[string]int{}
		}
		out[uid][code] = n
	}
	return out, rows.Err()
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
