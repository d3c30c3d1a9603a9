package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
)

// Webhooks, as the PostgreSQL store has them: SaveWebhook, GetWebhook,
// ListWebhooks, EnabledWebhooks, DeleteWebhook, the durable delivery queue
// (EnqueueDelivery, DueDeliveries, FinishAttempt, Deliveries), and the
// deliveries of audited device changes after the audit cursor
// (DeliverAudit).

// SaveWebhook creates (w.ID 0, set on return) or replaces a webhook;
// replacing one resets its consecutive failures.
func (s *Store) SaveWebhook(ctx context.Context, w *webhooks.Webhook) error {
	if err := w.Validate(); err != nil {
		return &tenancy.Error{Code: tenancy.Invalid, Message: err.Error(), Err: err}
	}
	doc, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("sqlite: webhook: %w", err)
	}
	if w.ID == 0 {
		res, err := s.db.ExecContext(ctx, `INSERT INTO webhooks (org_id, doc, enabled) VALUES (?, ?, ?)`, w.OrgID, string(doc), w.Enabled)
		if err != nil {
			return mapErr("save webhook", err)
		}
		w.ID, err = res.LastInsertId()
		return mapErr("save webhook", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE webhooks SET doc = ?, enabled = ?, failures = 0 WHERE id = ? AND org_id = ?`,
		string(doc), w.Enabled, w.ID, w.OrgID)
	if err != nil {
		return mapErr("save webhook", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return &tenancy.Error{Code: tenancy.NotFound, Message: "webhook not found"}
	}
	return nil
}

// GetWebhook returns a webhook and its consecutive failed deliveries.
func (s *Store) GetWebhook(ctx context.Context, id int64) (webhooks.Webhook, int, error) {
	var w webhooks.Webhook
	var doc string
	var enabled bool
	var failures int
	err := s.db.QueryRowContext(ctx, `SELECT doc, enabled, failures FROM webhooks WHERE id = ?`, id).Scan(&doc, &enabled, &failures)
	if err != nil {
		return w, 0, mapErr("webhook", err)
	}
	if err := json.Unmarshal([]byte(doc), &w); err != nil {
		return w, 0, fmt.Errorf("sqlite: webhook %d: %w", id, err)
	}
	w.ID, w.Enabled = id, enabled
	return w, failures, nil
}

// ListWebhooks returns an organization's webhooks.
func (s *Store) ListWebhooks(ctx context.Context, org int64) ([]webhooks.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM webhooks WHERE org_id = ? ORDER BY id`, org)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: webhooks: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]webhooks.Webhook, 0, len(ids))
	for _, id := range ids {
		w, _, err := s.GetWebhook(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// EnqueueDelivery queues a delivery, due at once.
func (s *Store) EnqueueDelivery(ctx context.Context, webhookID int64, e webhooks.Event, at time.Time) (int64, error) {
	return enqueueDelivery(ctx, s.db, webhookID, e, at)
}

// enqueueDelivery inserts a delivery with db, the store's or a
// transaction's (an apply's).
func enqueueDelivery(ctx context.Context, db interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, webhookID int64, e webhooks.Event, at time.Time) (int64, error) {
	ev, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delivery: %w", err)
	}
	res, err := db.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event, created, state, next_at) VALUES (?, ?, ?, ?, ?)`,
		webhookID, string(ev), ms(at), webhooks.Waiting, ms(at))
	if err != nil {
		return 0, mapErr("enqueue delivery", err)
	}
	return res.LastInsertId()
}

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

func (s *Store) deliveries(ctx context.Context, query string, args ...any) ([]webhooks.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: deliveries: %w", err)
	}
	defer rows.Close()
	var out []webhooks.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DueDeliveries returns waiting deliveries due at now, oldest first.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]webhooks.Delivery, error) {
	return s.deliveries(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE state = ? AND next_at <= ? ORDER BY next_at, id LIMIT ?`,
		webhooks.Waiting, ms(now), limit)
}

// Deliveries is a webhook's delivery log, newest first.
func (s *Store) Deliveries(ctx context.Context, webhookID int64, limit int) ([]webhooks.Delivery, error) {
	return s.deliveries(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`,
		webhookID, limit)
}

// FinishAttempt records an attempt and the webhook's consecutive failures
// in one transaction; a failure that reaches a.DisableAt disables the
// webhook, and disabled reports that this call did.
func (s *Store) FinishAttempt(ctx context.Context, d webhooks.Delivery, a webhooks.Attempt) (disabled bool, err error) {
	err = s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		attempts := d.Attempts
		if a.Tried {
			attempts++
		}
		if _, err := q.exec(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?, code = ?, latency_ms = ?, error = ? WHERE id = ?`,
			a.State, attempts, ms(a.NextAt), a.Code, a.LatencyMS, a.Error, d.ID); err != nil {
			return mapErr("finish delivery", err)
		}
		var err error
		switch {
		case a.Failed:
			var enabled, failures int
			if err = q.queryRow(ctx, `SELECT enabled, failures FROM webhooks WHERE id = ?`, d.WebhookID).Scan(&enabled, &failures); err != nil {
				return mapErr("finish delivery", err)
			}
			failures++
			if enabled == 1 && a.DisableAt > 0 && failures >= a.DisableAt {
				enabled, disabled = 0, true
			}
			_, err = q.exec(ctx, `UPDATE webhooks SET failures = ?, enabled = ? WHERE id = ?`, failures, enabled, d.WebhookID)
		case a.State == webhooks.OK:
			_, err = q.exec(ctx, `UPDATE webhooks SET failures = 0 WHERE id = ? AND failures <> 0`, d.WebhookID)
		}
		return mapErr("finish delivery", err)
	})
	return disabled, err
}

// EnabledWebhooks returns every enabled webhook (the cloud's trigger index).
func (s *Store) EnabledWebhooks(ctx context.Context) ([]webhooks.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM webhooks WHERE enabled = 1 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: webhooks: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]webhooks.Webhook, 0, len(ids))
	for _, id := range ids {
		w, _, err := s.GetWebhook(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// DeleteWebhook deletes a webhook and its delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, id int64) error {
	return s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		if _, err := q.exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = ?`, id); err != nil {
			return mapErr("delete webhook", err)
		}
		res, err := q.exec(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return mapErr("delete webhook", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &tenancy.Error{Code: tenancy.NotFound, Message: "webhook not found"}
		}
		return nil
	})
}

// DeliverAudit turns the audit entries of actions after the audit cursor
// (at most limit, in id order) into webhook deliveries in one write
// transaction: pending computes them (reading through the transaction),
// they are inserted, and the cursor moves to the last entry read, so each
// entry's deliveries are inserted once, crash or not. An error from
// pending leaves the cursor and the queue as they were. With pending nil
// (no webhook enabled) the cursor moves to the end of the log in one
// statement, which writes nothing when it is there. It returns the entries read
// and the deliveries queued.
func (s *Store) DeliverAudit(ctx context.Context, actions []string, limit int, pending webhooks.AuditPendingFunc) (read, queued int, err error) {
	err = s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		if pending == nil || len(actions) == 0 {
			_, err := q.exec(ctx, `UPDATE webhook_audit_cursor SET last_id = (SELECT max(id) FROM audit)
				WHERE last_id < (SELECT coalesce(max(id), 0) FROM audit)`)
			return mapErr("deliver audit", err)
		}
		var cursor int64
		if err := q.queryRow(ctx, `SELECT last_id FROM webhook_audit_cursor WHERE id = 1`).Scan(&cursor); err != nil {
			return mapErr("deliver audit: cursor", err)
		}
		args := []any{cursor}
		for _, a := range actions {
			args = append(args, a)
		}
		rows, err := q.query(ctx, `SELECT `+auditCols+` FROM audit WHERE id > ? AND action IN (`+placeholders(len(actions))+`)
			ORDER BY id LIMIT ?`, append(args, limit)...)
		if err != nil {
			return mapErr("deliver audit", err)
		}
		entries, err := collect(rows, "deliver audit", scanAudit)
		if err != nil || len(entries) == 0 {
			return err
		}
		ps, err := pending(ctx, q, entries)
		if err != nil {
			return fmt.Errorf("sqlite: deliver audit: %w", err)
		}
		for i := range ps {
			if _, err := enqueueDelivery(ctx, q.tx, ps[i].WebhookID, ps[i].Event, ps[i].At); err != nil {
				return fmt.Errorf("sqlite: deliver audit: %w", err)
			}
		}
		if _, err := q.exec(ctx, `UPDATE webhook_audit_cursor SET last_id = ? WHERE id = 1`, int64(entries[len(entries)-1].ID)); err != nil {
			return mapErr("deliver audit: cursor", err)
		}
		read, queued = len(entries), len(ps)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return read, queued, nil
}
