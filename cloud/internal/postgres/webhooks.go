package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
)

// Webhooks, as the SQLite store has them: SaveWebhook, GetWebhook,
// ListWebhooks, EnabledWebhooks, DeleteWebhook, and the durable delivery
// queue (EnqueueDelivery, DueDeliveries, FinishAttempt, Deliveries).
//
// Unlike SQLite's, this queue is shared by every instance of the cloud,
// each running a dispatcher: DueDeliveries claims what it returns (see
// deliveryLease), so that one delivery is not sent by every instance, and
// FinishAttempt counts a webhook's failures under a row lock, so that
// concurrent attempts neither lose a failure nor disable it twice.

var (
	_ webhooks.Store        = (*Store)(nil)
	_ webhooks.ServiceStore = (*Store)(nil)
)

// deliveryLease is how long a delivery DueDeliveries returned stays out
// of other calls' answers: its attempt records the outcome (and the next
// time it is due) well before, unless the instance making it stopped,
// and then another instance sends it once the lease has run out. It is
// longer than a dispatcher takes with a full claim (4 rounds of its
// workers, each request at most 10 s by default).
const deliveryLease = time.Minute

// SaveWebhook creates (w.ID 0, set on return) or replaces a webhook;
// replacing one resets its consecutive failures.
func (s *Store) SaveWebhook(ctx context.Context, w *webhooks.Webhook) error {
	if err := w.Validate(); err != nil {
		return &tenancy.Error{Code: tenancy.Invalid, Message: err.Error(), Err: err}
	}
	doc, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("postgres: webhook: %w", err)
	}
	if w.ID == 0 {
		w.ID, err = s.insertID(ctx, "save webhook", `INSERT INTO webhooks (org_id, doc, enabled) VALUES ($1, $2, $3)`,
			w.OrgID, string(doc), b2i(w.Enabled))
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE webhooks SET doc = $1, enabled = $2, failures = 0 WHERE id = $3 AND org_id = $4`,
		string(doc), b2i(w.Enabled), w.ID, w.OrgID)
	if err != nil {
		return mapErr("save webhook", err)
	}
	if tag.RowsAffected() == 0 {
		return &tenancy.Error{Code: tenancy.NotFound, Message: "webhook not found"}
	}
	return nil
}

const webhookCols = `id, doc, enabled, failures`

// webhookRow is a webhook and its consecutive failures.
type webhookRow struct {
	w        webhooks.Webhook
	failures int
}

func scanWebhook(r scanner) (webhookRow, error) {
	var row webhookRow
	var id, enabled int64
	var doc string
	if err := r.Scan(&id, &doc, &enabled, &row.failures); err != nil {
		return row, err
	}
	if err := json.Unmarshal([]byte(doc), &row.w); err != nil {
		return row, fmt.Errorf("webhook %d: %w", id, err)
	}
	row.w.ID, row.w.Enabled = id, enabled == 1
	return row, nil
}

// GetWebhook returns a webhook and its consecutive failed deliveries.
func (s *Store) GetWebhook(ctx context.Context, id int64) (webhooks.Webhook, int, error) {
	row, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id))
	if err != nil {
		return webhooks.Webhook{}, 0, mapErr("webhook", err)
	}
	return row.w, row.failures, nil
}

func (s *Store) listWebhooks(ctx context.Context, cond string, a ...any) ([]webhooks.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE `+cond+` ORDER BY id`, a...)
	all, err := collect(rows, err, "webhooks", scanWebhook)
	if err != nil {
		return nil, err
	}
	out := make([]webhooks.Webhook, len(all))
	for i, r := range all {
		out[i] = r.w
	}
	return out, nil
}

// ListWebhooks returns an organization's webhooks, by id.
func (s *Store) ListWebhooks(ctx context.Context, org int64) ([]webhooks.Webhook, error) {
	return s.listWebhooks(ctx, `org_id = $1`, org)
}

// EnabledWebhooks returns every enabled webhook (the cloud's trigger index).
func (s *Store) EnabledWebhooks(ctx context.Context) ([]webhooks.Webhook, error) {
	return s.listWebhooks(ctx, `enabled = 1`)
}

// DeleteWebhook deletes a webhook and its delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	return s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		if _, err := q.db.Exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = $1`, id); err != nil {
			return mapErr("delete webhook", err)
		}
		tag, err := q.db.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		if err != nil {
			return mapErr("delete webhook", err)
		}
		if tag.RowsAffected() == 0 {
			return &tenancy.Error{Code: tenancy.NotFound, Message: "webhook not found"}
		}
		return nil
	})
}

// EnqueueDelivery queues a delivery, due at once.
func (s *Store) EnqueueDelivery(ctx context.Context, webhookID int64, e webhooks.Event, at time.Time) (int64, error) {
	ev, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("postgres: delivery: %w", err)
	}
	return s.insertID(ctx, "enqueue delivery", insertDelivery, webhookID, string(ev), ms(at), webhooks.Waiting, ms(at))
}

// insertDelivery queues a delivery (an apply queues its batch's with it).
const insertDelivery = `INSERT INTO webhook_deliveries (webhook_id, event, created, state, next_at) VALUES ($1, $2, $3, $4, $5)`

const deliveryCols = `id, webhook_id, event, state, attempts, next_at, code, latency_ms, error`

func scanDelivery(r scanner) (webhooks.Delivery, error) {
	var d webhooks.Delivery
	var ev string
	var next int64
	if err := r.Scan(&d.ID, &d.WebhookID, &ev, &d.State, &d.Attempts, &next, &d.Code, &d.LatencyMS, &d.Error); err != nil {
		return d, err
	}
	d.NextAt = fromMS(next)
	return d, json.Unmarshal([]byte(ev), &d.Event)
}

// DueDeliveries returns waiting deliveries due at now, oldest first (by
// next_at, then id), and claims them: until their attempt is recorded or
// deliveryLease has passed, no other call returns them. Rows another
// instance is claiming at the same moment are skipped, not waited for.
// Each delivery comes with the time it was due.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]webhooks.Delivery, error) {
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id, next_at FROM webhook_deliveries WHERE state = $1 AND next_at <= $2
			ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		UPDATE webhook_deliveries d SET next_at = $4 FROM due WHERE d.id = due.id
		RETURNING d.id, d.webhook_id, d.event, d.state, d.attempts, due.next_at, d.code, d.latency_ms, d.error`,
		webhooks.Waiting, ms(now), sqlLimit(limit), ms(now.Add(deliveryLease)))
	out, err := collect(rows, err, "due deliveries", scanDelivery)
	slices.SortFunc(out, func(a, b webhooks.Delivery) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// Deliveries is a webhook's delivery log, newest first.
func (s *Store) Deliveries(ctx context.Context, webhookID int64, limit int) ([]webhooks.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = $1
		ORDER BY id DESC LIMIT $2`, webhookID, sqlLimit(limit))
	return collect(rows, err, "deliveries", scanDelivery)
}

// FinishAttempt records an attempt and the webhook's consecutive failures
// in one transaction; a failure that reaches a.DisableAt disables the
// webhook, and disabled reports that this call did (the webhook's row is
// locked while its failures are counted: of concurrent attempts, exactly
// one disables it).
func (s *Store) FinishAttempt(ctx context.Context, d webhooks.Delivery, a webhooks.Attempt) (disabled bool, err error) {
	err = s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		attempts := d.Attempts
		if a.Tried {
			attempts++
		}
		if _, err := q.db.Exec(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = $2, next_at = $3, code = $4,
			latency_ms = $5, error = $6 WHERE id = $7`,
			a.State, attempts, ms(a.NextAt), a.Code, a.LatencyMS, pgText(a.Error), d.ID); err != nil {
			return mapErr("finish delivery", err)
		}
		var err error
		switch {
		case a.Failed:
			var enabled, failures int64
			if err = q.db.QueryRow(ctx, `SELECT enabled, failures FROM webhooks WHERE id = $1 FOR UPDATE`,
				d.WebhookID).Scan(&enabled, &failures); err != nil {
				return mapErr("finish delivery", err)
			}
			failures++
			if enabled == 1 && a.DisableAt > 0 && failures >= int64(a.DisableAt) {
				enabled, disabled = 0, true
			}
			_, err = q.db.Exec(ctx, `UPDATE webhooks SET failures = $1, enabled = $2 WHERE id = $3`, failures, enabled, d.WebhookID)
		case a.State == webhooks.OK:
			_, err = q.db.Exec(ctx, `UPDATE webhooks SET failures = 0 WHERE id = $1 AND failures <> 0`, d.WebhookID)
		}
		return mapErr("finish delivery", err)
	})
	if err != nil {
		disabled = false
	}
	return disabled, err
}

// insertDeliveries queues deliveries with db (a transaction's), in one
// round trip.
func insertDeliveries(ctx context.Context, db pgx.Tx, ps []webhooks.Pending) error {
	if len(ps) == 0 {
		return nil
	}
	var b pgx.Batch
	for i := range ps {
		ev, err := json.Marshal(ps[i].Event)
		if err != nil {
			return fmt.Errorf("delivery: %w", err)
		}
		b.Queue(insertDelivery, ps[i].WebhookID, string(ev), ms(ps[i].At), webhooks.Waiting, ms(ps[i].At))
	}
	if err := db.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	return nil
}

// DeliverAudit turns the audit entries of actions after the audit cursor
// (at most limit, in id order) into webhook deliveries in one
// transaction: it locks the cursor row (SELECT ... FOR UPDATE: of two
// instances, the second waits and then reads past what the first
// inserted), reads the entries, calls pending (which reads through the
// transaction: no second pool connection while this one is held), inserts
// what it returns and moves the cursor to the last entry read, so each
// entry's deliveries are inserted once, crash or not. An error from
// pending leaves the cursor and the queue as they were. With pending nil
// (no webhook enabled) the cursor moves to the end of the log in one
// statement, which writes nothing when it is there. It returns the entries read
// and the deliveries queued.
//
// A cursor cannot pass over an entry that commits later with a lower id:
// AppendAudit draws each id while holding auditOrderLock until its
// transaction ends, so an id is drawn only once every lower one has
// committed or rolled back, and a snapshot that sees an entry sees all
// entries below it that will ever exist.
func (s *Store) DeliverAudit(ctx context.Context, actions []string, limit int, pending webhooks.AuditPendingFunc) (read, queued int, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if pending == nil || len(actions) == 0 {
			_, err := tx.Exec(ctx, `UPDATE webhook_audit_cursor SET last_id = (SELECT max(id) FROM audit)
				WHERE last_id < (SELECT coalesce(max(id), 0) FROM audit)`)
			return err
		}
		var cursor int64
		if err := tx.QueryRow(ctx, `SELECT last_id FROM webhook_audit_cursor WHERE id = 1 FOR UPDATE`).Scan(&cursor); err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
		// Read committed: this statement's snapshot is taken after the
		// lock was granted, so it sees what a runner before this one saw.
		rows, err := tx.Query(ctx, `SELECT `+auditCols+` FROM audit WHERE id > $1 AND action = ANY($2) ORDER BY id LIMIT $3`,
			cursor, actions, limit)
		entries, err := collect(rows, err, "audit", scanAudit)
		if err != nil || len(entries) == 0 {
			return err
		}
		ps, err := pending(ctx, &queries{db: tx}, entries)
		if err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		if err := insertDeliveries(ctx, tx, ps); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_audit_cursor SET last_id = $1 WHERE id = 1`, int64(entries[len(entries)-1].ID)); err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
		read, queued = len(entries), len(ps)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: deliver audit: %w", err)
	}
	return read, queued, nil
}
