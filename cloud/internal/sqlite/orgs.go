package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"outpost/cloud/internal/tenancy"
)

const orgCols = `id, coalesce(parent_id, 0), root_id, depth, name, description, type, special, can_create_sub,
	tz, phone, unit_system, address, active, created_at, updated_at, history_retention_days`

type scanner interface{ Scan(dest ...any) error }

func scanOrg(r scanner) (tenancy.Org, error) {
	var o tenancy.Org
	var addr string
	var canSub, active int
	var created, updated int64
	err := r.Scan(&o.ID, &o.ParentID, &o.RootID, &o.Depth, &o.Name, &o.Description, &o.Type, &o.Special, &canSub,
		&o.TZ, &o.Phone, &o.UnitSystem, &addr, &active, &created, &updated, &o.HistoryRetentionDays)
	if err != nil {
		return o, err
	}
	o.CanCreateSub, o.Active = canSub != 0, active != 0
	o.CreatedAt, o.UpdatedAt = fromMS(created), fromMS(updated)
	if err := json.Unmarshal([]byte(addr), &o.Address); err != nil {
		return o, err
	}
	return o, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null" // only plain structs are stored; cannot happen
	}
	return string(b)
}

func (q *queries) CreateOrg(ctx context.Context, o *tenancy.Org) error {
	o.Depth, o.RootID = 1, 0
	if o.ParentID != 0 {
		p, err := q.GetOrg(ctx, o.ParentID)
		if err != nil {
			return err
		}
		o.Depth, o.RootID = p.Depth+1, p.RootID
	}
	res, err := q.exec(ctx, `INSERT INTO orgs (parent_id, root_id, depth, name, description, type, special,
		can_create_sub, tz, phone, unit_system, address, active, created_at, updated_at, history_retention_days)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nullID(o.ParentID), int64(o.RootID), o.Depth, o.Name, o.Description, string(o.Type), string(o.Special),
		b2i(o.CanCreateSub), o.TZ, o.Phone, o.UnitSystem, jsonText(o.Address), b2i(o.Active), ms(o.CreatedAt), ms(o.UpdatedAt), o.HistoryRetentionDays)
	if err != nil {
		return mapErr("create org", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return mapErr("create org", err)
	}
	o.ID = tenancy.OrgID(id)
	if o.ParentID == 0 {
		o.RootID = o.ID
		if _, err := q.exec(ctx, `UPDATE orgs SET root_id = id WHERE id = ?`, id); err != nil {
			return mapErr("create org", err)
		}
	}
	_, err = q.exec(ctx, `INSERT INTO org_closure (ancestor, descendant, depth)
		SELECT ancestor, ?1, depth + 1 FROM org_closure WHERE descendant = ?2
		UNION ALL SELECT ?1, ?1, 0`, id, int64(o.ParentID))
	if err != nil {
		return mapErr("create org closure", err)
	}
	_, err = q.exec(ctx, `INSERT INTO org_device_counts (org_id) VALUES (?)`, id)
	return mapErr("create org counts", err)
}

func (q *queries) UpdateOrg(ctx context.Context, o tenancy.Org) error {
	res, err := q.exec(ctx, `UPDATE orgs SET name = ?, description = ?, type = ?, special = ?, can_create_sub = ?,
		tz = ?, phone = ?, unit_system = ?, address = ?, active = ?, updated_at = ?, history_retention_days = ? WHERE id = ?`,
		o.Name, o.Description, string(o.Type), string(o.Special), b2i(o.CanCreateSub), o.TZ, o.Phone, o.UnitSystem,
		jsonText(o.Address), b2i(o.Active), ms(o.UpdatedAt), o.HistoryRetentionDays, int64(o.ID))
	return mustAffect("update org", res, err)
}

func (q *queries) DeleteOrg(ctx context.Context, id tenancy.OrgID) error {
	res, err := q.exec(ctx, `DELETE FROM orgs WHERE id = ?`, int64(id))
	return mustAffect("delete org", res, err)
}

func (q *queries) GetOrg(ctx context.Context, id tenancy.OrgID) (tenancy.Org, error) {
	o, err := scanOrg(q.queryRow(ctx, `SELECT `+orgCols+` FROM orgs WHERE id = ?`, int64(id)))
	return o, mapErr("get org", err)
}

func (q *queries) AllOrgs(ctx context.Context) ([]tenancy.Org, error) {
	rows, err := q.query(ctx, `SELECT `+orgCols+` FROM orgs ORDER BY id`)
	if err != nil {
		return nil, mapErr("all orgs", err)
	}
	return collect(rows, "all orgs", scanOrg)
}

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, op string, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, v)
	}
	return out, mapErr(op, rows.Err())
}

func (q *queries) ListOrgs(ctx context.Context, f tenancy.OrgFilter) (tenancy.List[tenancy.Org], error) {
	f.Page = pageSize(f.Page)
	if !likeable(f.Query) {
		return tenancy.List[tenancy.Org]{}, nil
	}
	var where []string
	var args []any
	if f.Parent != 0 {
		where, args = append(where, "parent_id = ?"), append(args, int64(f.Parent))
	} else {
		w, a := scopeSQL(f.Scope, "id")
		where, args = append(where, w), append(args, a...)
	}
	if f.Query != "" {
		where, args = append(where, `name LIKE ? ESCAPE '\'`), append(args, likePattern(f.Query))
	}
	cond := strings.Join(where, " AND ")
	total, err := q.count(ctx, "count orgs", `SELECT count(*) FROM orgs WHERE `+cond, args...)
	if err != nil {
		return tenancy.List[tenancy.Org]{}, err
	}
	pw, tail, pargs := pageSQL(f.Page, "id", false, append([]any(nil), args...))
	rows, err := q.query(ctx, `SELECT `+orgCols+` FROM orgs WHERE `+cond+pw+tail, pargs...)
	if err != nil {
		return tenancy.List[tenancy.Org]{}, mapErr("list orgs", err)
	}
	items, err := collect(rows, "list orgs", scanOrg)
	if err != nil {
		return tenancy.List[tenancy.Org]{}, err
	}
	l := tenancy.List[tenancy.Org]{Items: items, Total: total}
	if len(items) > 0 {
		l.Next = next(len(items), f.Page.Size, int64(items[len(items)-1].ID))
	}
	return l, nil
}

func (q *queries) Descendants(ctx context.Context, id tenancy.OrgID) ([]tenancy.OrgID, error) {
	rows, err := q.query(ctx, `SELECT descendant FROM org_closure WHERE ancestor = ? ORDER BY depth, descendant`, int64(id))
	if err != nil {
		return nil, mapErr("descendants", err)
	}
	out, err := collect(rows, "descendants", func(r scanner) (tenancy.OrgID, error) {
		var v tenancy.OrgID
		return v, r.Scan(&v)
	})
	if err == nil && len(out) == 0 {
		return nil, &tenancy.Error{Code: tenancy.NotFound, Message: "descendants: org not found"}
	}
	return out, err
}

func (q *queries) MoveOrg(ctx context.Context, id, newParent tenancy.OrgID) error {
	var cyc int
	err := q.queryRow(ctx, `SELECT count(*) FROM org_closure WHERE ancestor = ? AND descendant = ?`, int64(id), int64(newParent)).Scan(&cyc)
	if err != nil {
		return mapErr("move org", err)
	}
	if cyc > 0 {
		return tenancy.Errorf(tenancy.Invalid, "an organization cannot move under itself")
	}
	if _, err := q.GetOrg(ctx, newParent); err != nil {
		return err
	}
	if _, err := q.GetOrg(ctx, id); err != nil {
		return err
	}
	// Cut the subtree from its old ancestors, then hang it under every
	// ancestor of the new parent (including the parent itself).
	// The subtree's devices leave the old ancestors' counts and join the
	// new ones'; (id, id) is the only closure row kept by the unlink.
	shift := `UPDATE org_device_counts SET
		n_subtree = n_subtree %[1]s (SELECT n_subtree FROM org_device_counts WHERE org_id = ?1),
		n_online_subtree = n_online_subtree %[1]s (SELECT n_online_subtree FROM org_device_counts WHERE org_id = ?1)
		WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = ?1 AND ancestor <> ?1)`
	steps := []struct{ op, sql string }{
		{"move org: uncount", fmt.Sprintf(shift, "-")},
		{"move org: uncount templates", `UPDATE org_template_counts SET n_subtree = n_subtree -
			(SELECT m.n_subtree FROM org_template_counts m WHERE m.org_id = ?1 AND m.template_id = org_template_counts.template_id)
			WHERE org_id IN (SELECT ancestor FROM org_closure WHERE descendant = ?1 AND ancestor <> ?1)
			AND template_id IN (SELECT template_id FROM org_template_counts WHERE org_id = ?1)`},
		{"move org: unlink", `DELETE FROM org_closure
			WHERE descendant IN (SELECT descendant FROM org_closure WHERE ancestor = ?1)
			  AND ancestor NOT IN (SELECT descendant FROM org_closure WHERE ancestor = ?1)`},
		{"move org: link", `INSERT INTO org_closure (ancestor, descendant, depth)
			SELECT p.ancestor, s.descendant, p.depth + s.depth + 1
			FROM org_closure p, org_closure s WHERE p.descendant = ?2 AND s.ancestor = ?1`},
		{"move org: count", fmt.Sprintf(shift, "+")},
		{"move org: count templates", `INSERT INTO org_template_counts (org_id, template_id, n_subtree)
			SELECT c.ancestor, m.template_id, m.n_subtree FROM org_closure c, org_template_counts m
			WHERE c.descendant = ?1 AND c.ancestor <> ?1 AND m.org_id = ?1
			ON CONFLICT (org_id, template_id) DO UPDATE SET n_subtree = n_subtree + excluded.n_subtree`},
		{"move org: parent", `UPDATE orgs SET parent_id = ?2 WHERE id = ?1`},
		{"move org: depth", `UPDATE orgs SET
			depth = (SELECT count(*) FROM org_closure c WHERE c.descendant = orgs.id),
			root_id = (SELECT c.ancestor FROM org_closure c WHERE c.descendant = orgs.id ORDER BY c.depth DESC LIMIT 1)
			WHERE id IN (SELECT descendant FROM org_closure WHERE ancestor = ?1)`},
	}
	for _, st := range steps {
		if _, err := q.exec(ctx, st.sql, int64(id), int64(newParent)); err != nil {
			return mapErr(st.op, err)
		}
	}
	return nil
}

func (q *queries) OrgUsage(ctx context.Context, id tenancy.OrgID) (tenancy.OrgUsage, error) {
	var u tenancy.OrgUsage
	var exists int
	err := q.queryRow(ctx, `SELECT
		(SELECT count(*) FROM orgs WHERE parent_id = ?1),
		(SELECT count(*) FROM devices WHERE org_id = ?1),
		(SELECT count(*) FROM users WHERE org_id = ?1),
		(SELECT count(*) FROM orgs WHERE id = ?1)`, int64(id)).Scan(&u.Children, &u.Devices, &u.Users, &exists)
	if err == nil && exists == 0 {
		err = sql.ErrNoRows
	}
	return u, mapErr("org usage", err)
}

func (q *queries) OrgCounts(ctx context.Context, s tenancy.Scope) (map[tenancy.OrgID]tenancy.OrgUsage, error) {
	cond, args := scopeSQL(s, "o.id")
	rows, err := q.query(ctx, `SELECT o.id, coalesce(c.n_direct, 0), (SELECT count(*) FROM users u WHERE u.org_id = o.id)
		FROM orgs o LEFT JOIN org_device_counts c ON c.org_id = o.id WHERE `+cond, args...)
	if err != nil {
		return nil, mapErr("org counts", err)
	}
	defer rows.Close()
	out := map[tenancy.OrgID]tenancy.OrgUsage{}
	for rows.Next() {
		var id tenancy.OrgID
		var u tenancy.OrgUsage
		if err := rows.Scan(&id, &u.Devices, &u.Users); err != nil {
			return nil, mapErr("org counts", err)
		}
		out[id] = u
	}
	return out, mapErr("org counts", rows.Err())
}
