package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"outpost/cloud/internal/notify"
)

// The event notifier's counters (notify.CounterStore): rows every
// instance counts in, locked for the time of one count.

var _ notify.CounterStore = (*Store)(nil)

// CountEvent locks the counts of device's code and of its day (creating
// them at zero), runs fn and stores what it changed, in one transaction.
func (s *Store) CountEvent(ctx context.Context, device, code string, fn func(c *notify.EventCount) bool) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO event_counters (device_uid, code) VALUES ($1, $2) ON CONFLICT DO NOTHING`, device, code); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO event_days (device_uid) VALUES ($1) ON CONFLICT DO NOTHING`, device); err != nil {
			return err
		}
		var c notify.EventCount
		// The day row first, then the code's: every count locks in one order.
		if err := tx.QueryRow(ctx, `SELECT day, n FROM event_days WHERE device_uid = $1 FOR UPDATE`, device).Scan(&c.Day, &c.DayN); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT seen, last_ms, notified_ms FROM event_counters WHERE device_uid = $1 AND code = $2 FOR UPDATE`,
			device, code).Scan(&c.Seen, &c.Last, &c.Notified); err != nil {
			return err
		}
		if !fn(&c) {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE event_days SET day = $2, n = $3 WHERE device_uid = $1`, device, c.Day, c.DayN); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE event_counters SET seen = $3, last_ms = $4, notified_ms = $5 WHERE device_uid = $1 AND code = $2`,
			device, code, c.Seen, c.Last, c.Notified)
		return err
	})
	return mapErr("count event", err)
}

// PutPendingOffline stores (or replaces) the device's pending offline.
func (s *Store) PutPendingOffline(ctx context.Context, p notify.PendingOffline) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO event_offline (device_uid, at_ms, due_ms) VALUES ($1, $2, $3)
		ON CONFLICT (device_uid) DO UPDATE SET at_ms = EXCLUDED.at_ms, due_ms = EXCLUDED.due_ms`, p.Device, p.At, p.Due)
	return mapErr("put pending offline", err)
}

// TakePendingOffline removes and returns the device's pending offline.
func (s *Store) TakePendingOffline(ctx context.Context, device string) (notify.PendingOffline, bool, error) {
	p := notify.PendingOffline{Device: device}
	err := s.pool.QueryRow(ctx, `DELETE FROM event_offline WHERE device_uid = $1 RETURNING at_ms, due_ms`, device).Scan(&p.At, &p.Due)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, mapErr("take pending offline", err)
	}
	return p, true, nil
}

// TakeDueOfflines removes and returns the pending offlines due by now;
// two instances taking at once each get different ones.
func (s *Store) TakeDueOfflines(ctx context.Context, now int64) ([]notify.PendingOffline, error) {
	rows, err := s.pool.Query(ctx, `DELETE FROM event_offline WHERE due_ms <= $1 RETURNING device_uid, at_ms, due_ms`, now)
	return collectT(rows, err, "take due offlines", func(r scanner) (notify.PendingOffline, error) {
		var p notify.PendingOffline
		err := r.Scan(&p.Device, &p.At, &p.Due)
		return p, err
	})
}

// NextOfflineDue is the earliest due time of a pending offline.
func (s *Store) NextOfflineDue(ctx context.Context) (int64, bool, error) {
	var due *int64
	if err := s.pool.QueryRow(ctx, `SELECT min(due_ms) FROM event_offline`).Scan(&due); err != nil {
		return 0, false, mapErr("next offline due", err)
	}
	if due == nil {
		return 0, false, nil
	}
	return *due, true, nil
}
