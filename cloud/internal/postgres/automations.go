package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// Automations, as the SQLite store has them: SaveAutomation,
// DeleteAutomation, GetAutomation, ListAutomations, AllAutomations,
// AutomationRuns, SaveRun and the runs applied from telemetry.

// AuditAutomationSave and AuditAutomationDelete are the audit actions of
// automation changes (the SQLite store's). Each change appends one, which
// moves the tenancy version (the last audit id): gateways then get the
// change in a delta.
const (
	AuditAutomationSave   = "automation.save"
	AuditAutomationDelete = "automation.delete"
)

// SaveAutomation creates or replaces an automation of org (validated
// here too), with its audit entry, in one transaction. An id another
// organization holds is Conflict, decided by the upsert itself: two
// instances saving one id at once cannot hand it over.
func (s *Store) SaveAutomation(ctx context.Context, org tenancy.OrgID, a rules.Automation, actor tenancy.Actor, at time.Time) error {
	if err := a.Validate(); err != nil {
		return &tenancy.Error{Code: tenancy.Invalid, Message: err.Error(), Err: err}
	}
	a.OrgID = int64(org)
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("postgres: automation: %w", err)
	}
	return s.Atomic(ctx, func(tx tenancy.Tx) error {
		q := tx.(*queries)
		tag, err := q.db.Exec(ctx, `INSERT INTO automations (id, org_id, doc, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at
			WHERE automations.org_id = excluded.org_id`, a.ID, int64(org), string(doc), ms(at))
		if err != nil {
			return mapErr("save automation", err)
		}
		if tag.RowsAffected() == 0 {
			return &tenancy.Error{Code: tenancy.Conflict, Message: "automation id taken by another organization"}
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
		tag, err := q.db.Exec(ctx, `DELETE FROM automations WHERE id = $1 AND org_id = $2`, id, int64(org))
		if err != nil {
			return mapErr("delete automation", err)
		}
		if tag.RowsAffected() == 0 {
			return &tenancy.Error{Code: tenancy.NotFound, Message: "automation not found"}
		}
		return q.AppendAudit(ctx, &tenancy.AuditEntry{At: at, OrgID: org, UserID: actor.UserID, ClientID: actor.ClientID,
			Action: AuditAutomationDelete, ObjectType: "automation", ObjectID: id})
	})
}

func scanAutomation(r scanner) (rules.Automation, error) {
	var a rules.Automation
	var doc string
	if err := r.Scan(&doc); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return a, fmt.Errorf("automation: %w", err)
	}
	return a, nil
}

// ListAutomations returns the automations of the given orgs, org by org
// in the order given, each org's by id.
func (s *Store) ListAutomations(ctx context.Context, orgs []tenancy.OrgID) ([]rules.Automation, error) {
	ids := make([]int64, len(orgs))
	for i, o := range orgs {
		ids[i] = int64(o)
	}
	rows, err := s.pool.Query(ctx, `SELECT a.doc FROM unnest($1::bigint[]) WITH ORDINALITY AS o(org_id, n)
		JOIN automations a ON a.org_id = o.org_id ORDER BY o.n, a.id`, ids)
	return collectT(rows, err, "automations", scanAutomation)
}

// GetAutomation returns an automation (NotFound if none).
func (s *Store) GetAutomation(ctx context.Context, id string) (rules.Automation, error) {
	var doc string
	if err := s.pool.QueryRow(ctx, `SELECT doc FROM automations WHERE id = $1`, id).Scan(&doc); err != nil {
		return rules.Automation{}, mapErr("automation", err)
	}
	var a rules.Automation
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return a, fmt.Errorf("postgres: automation %s: %w", id, err)
	}
	return a, nil
}

// AllAutomations returns every automation, by id (the cloud's evaluator
// loads them at start and after each change).
func (s *Store) AllAutomations(ctx context.Context) ([]rules.Automation, error) {
	rows, err := s.pool.Query(ctx, `SELECT doc FROM automations ORDER BY id`)
	return collectT(rows, err, "automations", scanAutomation)
}

// AutomationRuns returns an automation's runs, newest first.
func (s *Store) AutomationRuns(ctx context.Context, automation string, limit int) ([]rules.Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, doc FROM automation_runs WHERE automation_id = $1 ORDER BY id DESC LIMIT $2`,
		automation, sqlLimit(limit))
	return collectT(rows, err, "automation runs", func(r scanner) (rules.Run, error) {
		var id int64
		var doc []byte
		var run rules.Run
		if err := r.Scan(&id, &doc); err != nil {
			return run, err
		}
		if err := json.Unmarshal(doc, &run); err != nil {
			return run, fmt.Errorf("run %d: %w", id, err)
		}
		return run, nil
	})
}

// SaveRun stores a run made in the cloud.
func (s *Store) SaveRun(ctx context.Context, r rules.Run) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("postgres: run: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO automation_runs (automation_id, device_uid, at, ok, cut, doc)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.Automation, r.Device, r.At, b2i(r.OK()), []byte(r.Cut), doc)
	return mapErr("save run", err)
}

// run stores a run item of a gateway's telemetry; a value that is not a
// run is kept as it came, so that nothing the gateway sent is lost. The
// batch's cursor makes it once: a replayed item is skipped.
func (a *applier) run(it *syncproto.Item) error {
	var r rules.Run
	var ok int64
	var cut string
	if err := json.Unmarshal([]byte(it.Value), &r); err == nil {
		ok, cut = b2i(r.OK()), r.Cut
	}
	return a.exec(`INSERT INTO automation_runs (automation_id, gateway_id, device_uid, at, ok, cut, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, it.Name, a.gw, it.Device, it.TS, ok, []byte(cut), []byte(it.Value))
}
