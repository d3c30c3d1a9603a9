package sqlite

import (
	"context"
	"fmt"
	"time"

	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/tenancy"
)

// Notifications are stored here only (not in the PostgreSQL store yet):
// AddNotification, CountNotificationsSince, Notifications,
// UnreadNotifications, MarkNotificationsRead.

// AddNotification stores one notification of one person.
func (s *Store) AddNotification(ctx context.Context, n notify.Notification) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO notifications (user_id, org_id, at, subject, body, why) VALUES (?, ?, ?, ?, ?, ?)`,
		int64(n.UserID), int64(n.OrgID), ms(n.At), n.Subject, n.Body, n.Why)
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

// Notifications returns a person's newest notifications.
func (s *Store) Notifications(ctx context.Context, user tenancy.UserID, limit int) ([]notify.Notification, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, org_id, at, subject, body, why, read_at FROM notifications
		WHERE user_id = ? ORDER BY id DESC LIMIT ?`, int64(user), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: notifications: %w", err)
	}
	defer rows.Close()
	var out []notify.Notification
	for rows.Next() {
		n := notify.Notification{UserID: user}
		var org, at, read int64
		if err := rows.Scan(&n.ID, &org, &at, &n.Subject, &n.Body, &n.Why, &read); err != nil {
			return nil, fmt.Errorf("sqlite: notifications: %w", err)
		}
		n.OrgID, n.At, n.Read = tenancy.OrgID(org), fromMS(at), read != 0
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

// MarkNotificationsRead marks a person's notifications up to id read.
func (s *Store) MarkNotificationsRead(ctx context.Context, user tenancy.UserID, upTo int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE notifications SET read_at = ? WHERE user_id = ? AND id <= ? AND read_at = 0`,
		ms(at), int64(user), upTo)
	return mapErr("mark notifications read", err)
}
