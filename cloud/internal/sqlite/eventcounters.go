package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"outpost/cloud/internal/notify"
)

// The event notifier's counters (notify.CounterStore), as the PostgreSQL
// store has them.

var _ notify.CounterStore = (*Store)(nil)

// CountEvent reads the counts of device's code and of its day, runs fn
// and stores what it changed, in one write transaction.
func (s *Store) CountEvent(ctx context.Context, device, code string, fn func(c *notify.EventCount) bool) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: count event: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var c notify.EventCount
	err = tx.QueryRowContext(ctx, `SELECT day, n FROM event_days WHERE device_uid = ?`, device).Scan(&c.Day, &c.DayN)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return mapErr("count event", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT seen, last_ms, notified_ms FROM event_counters WHERE device_uid = ? AND code = ?`,
		device, code).Scan(&c.Seen, &c.Last, &c.Notified)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return mapErr("count event", err)
	}
	err = nil
	if !fn(&c) {
		return tx.Rollback()
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO event_days (device_uid, day, n) VALUES (?, ?, ?)
		ON CONFLICT (device_uid) DO UPDATE SET day = excluded.day, n = excluded.n`, device, c.Day, c.DayN); err != nil {
		return mapErr("count event", err)
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO event_counters (device_uid, code, seen, last_ms, notified_ms) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (device_uid, code) DO UPDATE SET seen = excluded.seen, last_ms = excluded.last_ms, notified_ms = excluded.notified_ms`,
		device, code, c.Seen, c.Last, c.Notified); err != nil {
		return mapErr("count event", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: count event: %w", err)
	}
	return nil
}

// PutPendingOffline stores (or replaces) the device's pending offline.
func (s *Store) PutPendingOffline(ctx context.Context, p notify.PendingOffline) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO event_offline (device_uid, at_ms, due_ms) VALUES (?, ?, ?)
		ON CONFLICT (device_uid) DO UPDATE SET at_ms = excluded.at_ms, due_ms = excluded.due_ms`, p.Device, p.At, p.Due)
	return mapErr("put pending offline", err)
}

// TakePendingOffline removes and returns the device's pending offline.
func (s *Store) TakePendingOffline(ctx context.Context, device string) (notify.PendingOffline, bool, error) {
	p := notify.PendingOffline{Device: device}
	err := s.db.QueryRowContext(ctx, `DELETE FROM event_offline WHERE device_uid = ? RETURNING at_ms, due_ms`, device).Scan(&p.At, &p.Due)
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, mapErr("take pending offline", err)
	}
	return p, true, nil
}

// TakeDueOfflines removes and returns the pending offlines due by now.
func (s *Store) TakeDueOfflines(ctx context.Context, now int64) ([]notify.PendingOffline, error) {
	rows, err := s.db.QueryContext(ctx, `DELETE FROM event_offline WHERE due_ms <= ? RETURNING device_uid, at_ms, due_ms`, now)
	if err != nil {
		return nil, mapErr("take due offlines", err)
	}
	defer rows.Close()
	var out []notify.PendingOffline
	for rows.Next() {
		var p notify.PendingOffline
		if err := rows.Scan(&p.Device, &p.At, &p.Due); err != nil {
			return nil, mapErr("take due offlines", err)
		}
		out = append(out, p)
	}
	return out, mapErr("take due offlines", rows.Err())
}

// NextOfflineDue is the earliest due time of a pending offline.
func (s *Store) NextOfflineDue(ctx context.Context) (int64, bool, error) {
	var due sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT min(due_ms) FROM event_offline`).Scan(&due); err != nil {
		return 0, false, mapErr("next offline due", err)
	}
	return due.Int64, due.Valid, nil
}
