package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxNotifyPayload is the largest payload Notify carries (PostgreSQL's
// NOTIFY limit is 8,000 bytes).
const MaxNotifyPayload = 7900

// Notify sends payload to every listener of channel, on every instance
// sharing the database (PostgreSQL NOTIFY: delivered after the sending
// transaction commits, in order per sender).
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if len(payload) > MaxNotifyPayload {
		return fmt.Errorf("postgres: notify %s: payload of %d bytes (at most %d)", channel, len(payload), MaxNotifyPayload)
	}
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return fmt.Errorf("postgres: notify %s: %w", channel, err)
	}
	return nil
}

// Listen calls fn with the payload of every notification on channel until
// ctx ends, on a connection of its own. A lost connection is re-opened
// (notifications sent meanwhile are lost: callers that must not miss one
// re-read their state when resync is called after each reconnect, before
// any new notification is delivered). It returns ctx's error.
func (s *Store) Listen(ctx context.Context, channel string, fn func(payload string), resync func()) error {
	for {
		err := s.listenOnce(ctx, channel, fn, resync)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.logger.Warn("lost the notification listener; reconnecting", "channel", channel, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, channel string, fn func(string), resync func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection leaves the pool: it listens for as long as we do.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	if _, err := pc.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	if resync != nil {
		resync()
	}
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

// Lead competes, with every instance sharing the database that calls it
// with the same key, for one role: held is called with true when this
// instance takes it and with false when it loses it (its connection
// broke), and it stays with one instance at a time (a session advisory
// lock on a connection of its own). An instance that stops or loses its
// connection frees the role; the others retry every `every`. Lead returns
// ctx's error once ctx ends, having let the role go.
func (s *Store) Lead(ctx context.Context, key int64, every time.Duration, held func(bool)) error {
	for {
		err := s.leadOnce(ctx, key, every, held)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			s.logger.Warn("leadership: lost the connection; retrying", "key", key, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// leadOnce tries the lock on a connection of its own and, when it gets
// it, keeps it (checking the connection every `every`) until ctx ends or
// the connection fails; it returns nil when another instance holds it.
func (s *Store) leadOnce(ctx context.Context, key int64, every time.Duration, held func(bool)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	pc := conn.Hijack() // the lock lives as long as this session
	defer pc.Close(context.WithoutCancel(ctx))
	var got bool
	if err := pc.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return err
	}
	if !got {
		return nil
	}
	held(true)
	defer held(false)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // closing the session releases the lock
		case <-t.C:
		}
		if _, err := pc.Exec(ctx, `SELECT 1`); err != nil {
			return err
		}
	}
}
