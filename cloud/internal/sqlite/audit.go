package sqlite

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

func (q *queries) AppendAudit(ctx context.Context, e *tenancy.AuditEntry) error {
	res, err := q.exec(ctx, `INSERT INTO audit (at, org_id, user_id, client_id, action, object_type, object_id, before, after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ms(e.At), int64(e.OrgID), int64(e.UserID), e.ClientID, e.Action, e.ObjectType,
		e.ObjectID, rawOrNil(e.Before), rawOrNil(e.After))
	if err != nil {
		return mapErr("append audit", err)
	}
	id, err := res.LastInsertId()
	e.ID = tenancy.AuditID(id)
	return mapErr("append audit", err)
}

func (q *queries) ListAudit(ctx context.Context, f tenancy.AuditFilter) (tenancy.List[tenancy.AuditEntry], error) {
	cond, args := scopeSQL(f.Scope, "org_id")
	table := "audit"
	if f.ObjectType != "" {
		table = "audit INDEXED BY audit_object"
		cond, args = "object_type = ? AND object_id = ? AND "+cond, append([]any{f.ObjectType, f.ObjectID}, args...)
	}
	if f.UserID != 0 {
		cond, args = cond+" AND user_id = ?", append(args, int64(f.UserID))
	}
	if f.Action != "" {
		cond, args = cond+" AND action = ?", append(args, f.Action)
	}
	if !f.Since.IsZero() {
		cond, args = cond+" AND at >= ?", append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		cond, args = cond+" AND at < ?", append(args, ms(f.Until))
	}
	if !f.SkipTotal {
		return listByID(ctx, q, "audit", auditCols, table, cond, args, f.Page, true, false, scanAudit,
			func(e tenancy.AuditEntry) int64 { return int64(e.ID) })
	}
	p := pageSize(f.Page)
	pw, tail, pargs := pageSQL(p, "id", true, args)
	rows, err := q.query(ctx, `SELECT `+auditCols+` FROM `+table+` WHERE `+cond+pw+tail, pargs...)
	if err != nil {
		return tenancy.List[tenancy.AuditEntry]{}, mapErr("list audit", err)
	}
	items, err := collect(rows, "list audit", scanAudit)
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
	err := q.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM audit`).Scan(&id)
	return tenancy.AuditID(id), mapErr("last audit id", err)
}
