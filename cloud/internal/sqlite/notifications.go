package sqlite

import (
	"context"
	"fmt"
	"math"
	"time"

	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/tenancy"
)

// Notifications, as the PostgreSQL store has them: AddNotification,
// CountNotificationsSince, Notifications, UnreadNotifications,
// MarkNotificationsRead.

// AddNotification stores one notification of one person.
func (s *Store) AddNotification(ctx context.Context, n notify.Notification) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO notifications (user_id, org_id, at, subject, body, why, device_id, event_code, event_ts)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(n.UserID), int64(n.OrgID), ms(n.At), n.Subject, n.Body, n.Why, int64(n.About.Device), n.About.EventCode, ms(n.About.EventAt))
	if err != nil {
		return 0, mapErr("add notification", err)
	}
	return res.LastInsertId()
}

// CountNotificationsSince counts a person's notifications at or after t.
func (s *Store) CountNotificationsSince(ctx context.Context, user tenancy.UserID, t time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE user_id = ? AND at >= ?`, int64(user), ms(t)).Scan(&n)
	return n, mapErr("count notifications", err)
}

// Notifications returns a person's newest notifications with an id below
// before (0: the newest), newest first.
func (s *Store) Notifications(ctx context.Context, user tenancy.UserID, before int64, limit int) ([]notify.Notification, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, org_id, at, subject, body, why, read_at, device_id, event_code, event_ts FROM notifications
		WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, int64(user), before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: notifications: %w", err)
	}
	defer rows.Close()
	var out []notify.Notification
	for rows.Next() {
		n := notify.Notification{UserID: user}
		var org, at, read, dev, evAt int64
		if err := rows.Scan(&n.ID, &org, &at, &n.Subject, &n.Body, &n.Why, &read, &dev, &n.About.EventCode, &evAt); err != nil {
			return nil, fmt.Errorf("sqlite: notifications: %w", err)
		}
		n.OrgID, n.At, n.Read = tenancy.OrgID(org), fromMS(at), read != 0
		n.About.Device, n.About.EventAt = tenancy.DeviceID(dev), fromMS(evAt)
		out = append(out, n)
	}
	return out, rows.Err()
}

// UnreadNotifications counts a person's unread notifications.
func (s *Store) UnreadNotifications(ctx context.Context, user tenancy.UserID) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE user_id = ? AND read_at = 0`, int64(user)).Scan(&n)
	return n, mapErr("unread notifications", err)
}

// MarkNotificationsRead marks a person's unread notifications with ids
// from..upTo (both included) read at at.
func (s *Store) MarkNotificationsRead(ctx context.Context, user tenancy.UserID, from, upTo int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at = 0 AND id BETWEEN ? AND ?`,
		ms(at), int64(user), from, upTo)
	return mapErr("mark notifications read", err)
}
