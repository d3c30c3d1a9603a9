package postgres

import (
	"context"
	"encoding/json"

	"outpost/cloud/internal/tenancy"
)

const auditCols = `id, at, org_id, user_id, client_id, action, object_type, object_id, before, after`

func scanAudit(r scanner) (tenancy.AuditEntry, error) {
	var e tenancy.AuditEntry
	var at int64
	var before, after *string
	err := r.Scan(&e.ID, &at, &e.OrgID, &e.UserID, &e.ClientID, &e.Action, &e.ObjectType, &e.ObjectID, &before, &after)
	e.At = fromMS(at)
	if before != nil {
		e.Before = json.RawMessage(*before)
	}
	if after != nil {
		e.After = json.RawMessage(*after)
	}
	return e, err
}

func rawOrNil(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

// auditOrderLock is the transaction-scoped advisory lock an audit append
// takes before its id is drawn ("outpost" + 1; migrationLock is "outpost").
const auditOrderLock = migrationLock + 1

// AppendAudit draws the entry's id while holding auditOrderLock until its
// transaction ends, so audit ids become visible in id order. The highest
// audit id is every gateway's view version (LastAuditID): without the
// lock, on PostgreSQL a transaction holding id 10 could commit after one
// holding id 11 had been read as version 11, and a gateway would never be
// sent the change with id 10. Audited changes are person-paced, so they
// queue on the lock at no cost that matters; the lock is taken in the
// insert itself so that an append outside a transaction is ordered too.
func (q *queries) AppendAudit(ctx context.Context, e *tenancy.AuditEntry) error {
	id, err := q.insertID(ctx, "append audit", `INSERT INTO audit (at, org_id, user_id, client_id, action, object_type, object_id, before, after)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM (SELECT pg_advisory_xact_lock($10)) AS ordered`, ms(e.At), int64(e.OrgID), int64(e.UserID), e.ClientID, e.Action, e.ObjectType,
		e.ObjectID, rawOrNil(e.Before), rawOrNil(e.After), int64(auditOrderLock))
	e.ID = tenancy.AuditID(id)
	return err
}

func (q *queries) ListAudit(ctx context.Context, f tenancy.AuditFilter) (tenancy.List[tenancy.AuditEntry], error) {
	var a args
	cond := ""
	if f.ObjectType != "" {
		cond = "object_type = " + a.add(f.ObjectType) + " AND object_id = " + a.add(f.ObjectID) + " AND "
	}
	cond += scopeSQL(f.Scope, "org_id", &a)
	if f.UserID != 0 {
		cond += " AND user_id = " + a.add(int64(f.UserID))
	}
	if f.Action != "" {
		cond += " AND action = " + a.add(f.Action)
	}
	if !f.Since.IsZero() {
		cond += " AND at >= " + a.add(ms(f.Since))
	}
	if !f.Until.IsZero() {
		cond += " AND at < " + a.add(ms(f.Until))
	}
	if !f.SkipTotal {
		return listByID(ctx, q, "audit", auditCols, "audit", cond, a, f.Page, true, false, scanAudit,
			func(e tenancy.AuditEntry) int64 { return int64(e.ID) })
	}
	p := pageSize(f.Page)
	pw, tail := pageSQL(p, "id", true, &a)
	rows, err := q.db.Query(ctx, `SELECT `+auditCols+` FROM audit WHERE `+cond+pw+tail, a...)
	items, err := collectT(rows, err, "list audit", scanAudit)
	if err != nil {
		return tenancy.List[tenancy.AuditEntry]{}, err
	}
	l := tenancy.List[tenancy.AuditEntry]{Items: items}
	if len(items) > 0 {
		l.Next = next(len(items), p.Size, int64(items[len(items)-1].ID))
	}
	return l, nil
}

func (q *queries) LastAuditID(ctx context.Context) (tenancy.AuditID, error) {
	var id int64
	err := q.db.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM audit`).Scan(&id)
	return tenancy.AuditID(id), mapErr("last audit id", err)
}
