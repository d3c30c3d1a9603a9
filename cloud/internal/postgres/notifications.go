package postgres

import (
	"context"
	"math"
	"time"

	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/tenancy"
)

// Notifications, as the SQLite store has them: AddNotification,
// CountNotificationsSince, Notifications, UnreadNotifications,
// MarkNotificationsRead.

var _ notify.Store = (*Store)(nil)

// AddNotification stores one notification of one person. Its text may
// quote what a device sent: NUL and invalid UTF-8 become U+FFFD.
func (s *Store) AddNotification(ctx context.Context, n notify.Notification) (int64, error) {
	return s.insertID(ctx, "add notification", `INSERT INTO notifications (user_id, org_id, at, subject, body, why, device_id, event_code, event_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, int64(n.UserID), int64(n.OrgID), ms(n.At), pgText(n.Subject), pgText(n.Body), pgText(n.Why),
		int64(n.About.Device), pgText(n.About.EventCode), ms(n.About.EventAt))
}

// CountNotificationsSince counts a person's notifications at or after t.
func (s *Store) CountNotificationsSince(ctx context.Context, user tenancy.UserID, t time.Time) (int, error) {
	return s.count(ctx, "count notifications", `SELECT count(*) FROM notifications WHERE user_id = $1 AND at >= $2`,
		int64(user), ms(t))
}

// Notifications returns a person's newest notifications with an id below
// before (0: the newest), newest first.
func (s *Store) Notifications(ctx context.Context, user tenancy.UserID, before int64, limit int) ([]notify.Notification, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.pool.Query(ctx, `SELECT id, org_id, at, subject, body, why, read_at, device_id, event_code, event_ts FROM notifications
		WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, int64(user), before, sqlLimit(limit))
	return collectT(rows, err, "notifications", func(r scanner) (notify.Notification, error) {
		n := notify.Notification{UserID: user}
		var org, at, read, dev, evAt int64
		err := r.Scan(&n.ID, &org, &at, &n.Subject, &n.Body, &n.Why, &read, &dev, &n.About.EventCode, &evAt)
		n.OrgID, n.At, n.Read = tenancy.OrgID(org), fromMS(at), read != 0
		n.About.Device, n.About.EventAt = tenancy.DeviceID(dev), fromMS(evAt)
		return n, err
	})
}

// UnreadNotifications counts a person's unread notifications.
func (s *Store) UnreadNotifications(ctx context.Context, user tenancy.UserID) (int, error) {
	return s.count(ctx, "unread notifications", `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at = 0`,
		int64(user))
}

// MarkNotificationsRead marks a person's unread notifications with ids
// from..upTo (both included) read at at.
func (s *Store) MarkNotificationsRead(ctx context.Context, user tenancy.UserID, from, upTo int64, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at = 0 AND id BETWEEN $3 AND $4`,
		ms(at), int64(user), from, upTo)
	return mapErr("mark notifications read", err)
}
