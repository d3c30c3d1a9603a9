package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// Automations are stored here and nowhere else yet (the PostgreSQL store
// does not have them): SaveAutomation, DeleteAutomation, GetAutomation,
// ListAutomations, AutomationRuns, SaveRun and the runs applied from
// telemetry.

// AuditAutomationSave and AuditAutomationDelete are the audit actions of
// automation changes. Each change appends one, which moves the tenancy
// version (the last audit id): gateways then get the change in a delta.
const (
	AuditAutomationSave   = "automation.save"
	AuditAutomationDelete = "automation.delete"
)

// SaveAutomation creates or replaces an automation of org (validated
// here too), with its audit entry, in one transaction.
func (s *Store) SaveAutomation(ctx context.Context, org tenancy.OrgID, a rules.Automation, actor tenancy.Actor, at time.Time) error {
	if err := a.Validate(); err != nil {
		return &tenancy.Error{Code: tenancy.Invalid, Message: err.Error(), Err: err}
	}
	a.OrgID = int64(org)
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("sqlite: automation: %w", err)
	}
	return s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		var owner int64
		err := mapErr("automation", q.queryRow(ctx, `SELECT org_id FROM automations WHERE id = ?`, a.ID).Scan(&owner))
		switch {
		case err == nil && owner != int64(org):
			return &tenancy.Error{Code: tenancy.Conflict, Message: "automation id taken by another organization"}
		case err != nil && tenancy.CodeOf(err) != tenancy.NotFound:
			return err
		}
		if _, err := q.exec(ctx, `INSERT INTO automations (id, org_id, doc, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at`,
			a.ID, int64(org), string(doc), ms(at)); err != nil {
			return mapErr("save automation", err)
		}
		return q.AppendAudit(ctx, &tenancy.AuditEntry{At: at, OrgID: org, UserID: actor.UserID, ClientID: actor.ClientID,
			Action: AuditAutomationSave, ObjectType: "automation", ObjectID: a.ID, After: doc})
	})
}

// DeleteAutomation deletes an automation of org (NotFound when org has no
// such automation); its runs stay.
func (s *Store) DeleteAutomation(ctx context.Context, org tenancy.OrgID, id string, actor tenancy.Actor, at time.Time) error {
	return s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		res, err := q.exec(ctx, `DELETE FROM automations WHERE id = ? AND org_id = ?`, id, int64(org))
		if err != nil {
			return mapErr("delete automation", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &tenancy.Error{Code: tenancy.NotFound, Message: "automation not found"}
		}
		return q.AppendAudit(ctx, &tenancy.AuditEntry{At: at, OrgID: org, UserID: actor.UserID, ClientID: actor.ClientID,
			Action: AuditAutomationDelete, ObjectType: "automation", ObjectID: id})
	})
}

// ListAutomations returns the automations of the given orgs, by id.
func (s *Store) ListAutomations(ctx context.Context, orgs []tenancy.OrgID) ([]rules.Automation, error) {
	var out []rules.Automation
	for _, o := range orgs {
		rows, err := s.db.QueryContext(ctx, `SELECT doc FROM automations WHERE org_id = ? ORDER BY id`, int64(o))
		if err != nil {
			return nil, fmt.Errorf("sqlite: automations: %w", err)
		}
		for rows.Next() {
			var doc string
			if err := rows.Scan(&doc); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: automations: %w", err)
			}
			var a rules.Automation
			if err := json.Unmarshal([]byte(doc), &a); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: automation: %w", err)
			}
			out = append(out, a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: automations: %w", err)
		}
	}
	return out, nil
}

// GetAutomation returns an automation (NotFound if none).
func (s *Store) GetAutomation(ctx context.Context, id string) (rules.Automation, error) {
	var a rules.Automation
	var doc string
	if err := s.db.QueryRowContext(ctx, `SELECT doc FROM automations WHERE id = ?`, id).Scan(&doc); err != nil {
		return a, mapErr("automation", err)
	}
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return a, fmt.Errorf("sqlite: automation %s: %w", id, err)
	}
	return a, nil
}

// AutomationRuns returns an automation's runs, newest first.
func (s *Store) AutomationRuns(ctx context.Context, automation string, limit int) ([]rules.Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, doc FROM automation_runs
		WHERE automation_id = ? ORDER BY id DESC LIMIT ?`, automation, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: automation runs: %w", err)
	}
	defer rows.Close()
	var out []rules.Run
	for rows.Next() {
		var id int64
		var doc string
		var r rules.Run
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: automation runs: %w", err)
		}
		if err := json.Unmarshal([]byte(doc), &r); err != nil {
			return nil, fmt.Errorf("sqlite: automation run %d: %w", id, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveRun stores a run made in the cloud.
func (s *Store) SaveRun(ctx context.Context, r rules.Run) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sqlite: run: %w", err)
	}
	ok := 0
	if r.OK() {
		ok = 1
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO automation_runs (automation_id, device_uid, at, ok, cut, doc) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Automation, r.Device, r.At, ok, r.Cut, string(doc))
	return mapErr("save run", err)
}

// run stores a run item of a gateway's telemetry; a value that is not a
// run is kept as it came, so that nothing the gateway sent is lost.
func (a *applier) run(it *syncproto.Item) error {
	var r rules.Run
	ok, cut := 0, ""
	if err := json.Unmarshal([]byte(it.Value), &r); err == nil {
		if r.OK() {
			ok = 1
		}
		cut = r.Cut
	}
	_, err := a.exec(`INSERT INTO automation_runs (automation_id, gateway_id, device_uid, at, ok, cut, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, it.Name, a.gw, it.Device, it.TS, ok, cut, it.Value)
	return err
}

// AllAutomations returns every automation, by id (the cloud's evaluator
// loads them at start and after each change).
func (s *Store) AllAutomations(ctx context.Context) ([]rules.Automation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT doc FROM automations ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: automations: %w", err)
	}
	defer rows.Close()
	var out []rules.Automation
	for rows.Next() {
		var doc string
		var a rules.Automation
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: automations: %w", err)
		}
		if err := json.Unmarshal([]byte(doc), &a); err != nil {
			return nil, fmt.Errorf("sqlite: automation: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
