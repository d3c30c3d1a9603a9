package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"outpost/cloud/internal/tenancy"
)

const orgCols = `id, coalesce(parent_id, 0), root_id, depth, name, description, type, special, can_create_sub,
	tz, phone, unit_system, address, active, created_at, updated_at, history_retention_days`

func scanOrg(r scanner) (tenancy.Org, error) {
	var o tenancy.Org
	var addr string
	var canSub, active int64
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
	var id int64
	err := q.db.QueryRow(ctx, `INSERT INTO orgs (parent_id, root_id, depth, name, description, type, special,
		can_create_sub, tz, phone, unit_system, address, active, created_at, updated_at, history_retention_days)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		nullID(o.ParentID), int64(o.RootID), o.Depth, o.Name, o.Description, string(o.Type), string(o.Special),
		b2i(o.CanCreateSub), o.TZ, o.Phone, o.UnitSystem, jsonText(o.Address), b2i(o.Active), ms(o.CreatedAt), ms(o.UpdatedAt), o.HistoryRetentionDays).Scan(&id)
	if err != nil {
		return mapErr("create org", err)
	}
	o.ID = tenancy.OrgID(id)
	if o.ParentID == 0 {
		o.RootID = o.ID
		if _, err := q.db.Exec(ctx, `UPDATE orgs SET root_id = id WHERE id = $1`, id); err != nil {
			return mapErr("create org", err)
		}
	}
	_, err = q.db.Exec(ctx, `INSERT INTO org_closure (ancestor, descendant, depth)
		SELECT ancestor, $1::bigint, depth + 1 FROM org_closure WHERE descendant = $2::bigint
		UNION ALL SELECT $1::bigint, $1::bigint, 0`, id, int64(o.ParentID))
	if err != nil {
		return mapErr("create org closure", err)
	}
	_, err = q.db.Exec(ctx, `INSERT INTO org_device_counts (org_id) VALUES ($1)`, id)
	return mapErr("create org counts", err)
}

func (q *queries) UpdateOrg(ctx context.Context, o tenancy.Org) error {
	tag, err := q.db.Exec(ctx, `UPDATE orgs SET name = $1, description = $2, type = $3, special = $4, can_create_sub = $5,
		tz = $6, phone = $7, unit_system = $8, address = $9, active = $10, updated_at = $11, history_retention_days = $13 WHERE id = $12`,
		o.Name, o.Description, string(o.Type), string(o.Special), b2i(o.CanCreateSub), o.TZ, o.Phone, o.UnitSystem,
		jsonText(o.Address), b2i(o.Active), ms(o.UpdatedAt), int64(o.ID), o.HistoryRetentionDays)
	return mustAffect("update org", tag, err)
}

func (q *queries) DeleteOrg(ctx context.Context, id tenancy.OrgID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM orgs WHERE id = $1`, int64(id))
	return mustAffect("delete org", tag, err)
}

func (q *queries) GetOrg(ctx context.Context, id tenancy.OrgID) (tenancy.Org, error) {
	o, err := scanOrg(q.db.QueryRow(ctx, `SELECT `+orgCols+` FROM orgs WHERE id = $1`, int64(id)))
	return o, mapErr("get org", err)
}

func (q *queries) AllOrgs(ctx context.Context) ([]tenancy.Org, error) {
	rows, err := q.db.Query(ctx, `SELECT `+orgCols+` FROM orgs ORDER BY id`)
	return collect(rows, err, "all orgs", scanOrg)
}

func (q *queries) ListOrgs(ctx context.Context, f tenancy.OrgFilter) (tenancy.List[tenancy.Org], error) {
	f.Page = pageSize(f.Page)
	if !likeable(f.Query) {
		return tenancy.List[tenancy.Org]{}, nil
	}
	var a args
	var where []string
	if f.Parent != 0 {
		where = append(where, "parent_id = "+a.add(int64(f.Parent)))
	} else {
		where = append(where, scopeSQL(f.Scope, "id", &a))
	}
	if f.Query != "" {
		where = append(where, `name ILIKE `+a.add(likePattern(f.Query))+` ESCAPE '\'`)
	}
	cond := strings.Join(where, " AND ")
	total, err := q.count(ctx, "count orgs", `SELECT count(*) FROM orgs WHERE `+cond, a...)
	if err != nil {
		return tenancy.List[tenancy.Org]{}, err
	}
	pw, tail := pageSQL(f.Page, "id", false, &a)
	rows, err := q.db.Query(ctx, `SELECT `+orgCols+` FROM orgs WHERE `+cond+pw+tail, a...)
	items, err := collect(rows, err, "list orgs", scanOrg)
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
	rows, err := q.db.Query(ctx, `SELECT descendant FROM org_closure WHERE ancestor = $1 ORDER BY depth, descendant`, int64(id))
	out, err := collect(rows, err, "descendants", func(r scanner) (tenancy.OrgID, error) {
		var v int64
		err := r.Scan(&v)
		return tenancy.OrgID(v), err
	})
	if err == nil && len(out) == 0 {
		return nil, &tenancy.Error{Code: tenancy.NotFound, Message: "descendants: org not found"}
	}
	return out, err
}

func (q *queries) MoveOrg(ctx context.Context, id, newParent tenancy.OrgID) error {
	var cyc int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM org_closure WHERE ancestor = $1 AND descendant = $2`, int64(id), int64(newParent)).Scan(&cyc)
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
	// ancestor of the new parent (including the parent itself). The
	// subtree's devices leave the old ancestors' counts and join the new
	// ones'; (id, id) is the only closure row kept by the unlink.
	shift := `UPDATE org_device_counts SET
		n_subtree = org_device_counts.n_subtree %[1]s m.n_subtree,
		n_online_subtree = org_device_counts.n_online_subtree %[1]s m.n_online_subtree
		FROM org_device_counts m
		WHERE m.org_id = $1 AND org_device_counts.org_id IN
			(SELECT ancestor FROM org_closure WHERE descendant = $1 AND ancestor <> $1)`
	steps := []struct{ op, sql string }{
		{"move org: uncount", fmt.Sprintf(shift, "-")},
		{"move org: uncount templates", `UPDATE org_template_counts SET n_subtree = org_template_counts.n_subtree - m.n_subtree
			FROM org_template_counts m
			WHERE m.org_id = $1 AND m.template_id = org_template_counts.template_id
			AND org_template_counts.org_id IN (SELECT ancestor FROM org_closure WHERE descendant = $1 AND ancestor <> $1)`},
		{"move org: unlink", `DELETE FROM org_closure
			WHERE descendant IN (SELECT descendant FROM org_closure WHERE ancestor = $1)
			  AND ancestor NOT IN (SELECT descendant FROM org_closure WHERE ancestor = $1)`},
		{"move org: link", `INSERT INTO org_closure (ancestor, descendant, depth)
			SELECT p.ancestor, s.descendant, p.depth + s.depth + 1
			FROM org_closure p, org_closure s WHERE p.descendant = $2 AND s.ancestor = $1`},
		{"move org: count", fmt.Sprintf(shift, "+")},
		{"move org: count templates", `INSERT INTO org_template_counts (org_id, template_id, n_subtree)
			SELECT c.ancestor, m.template_id, m.n_subtree FROM org_closure c, org_template_counts m
			WHERE c.descendant = $1 AND c.ancestor <> $1 AND m.org_id = $1
			ON CONFLICT (org_id, template_id) DO UPDATE SET n_subtree = org_template_counts.n_subtree + excluded.n_subtree`},
		{"move org: parent", `UPDATE orgs SET parent_id = $2 WHERE id = $1`},
		{"move org: depth", `UPDATE orgs SET
			depth = (SELECT count(*) FROM org_closure c WHERE c.descendant = orgs.id),
			root_id = (SELECT c.ancestor FROM org_closure c WHERE c.descendant = orgs.id ORDER BY c.depth DESC LIMIT 1)
			WHERE id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)`},
	}
	for _, st := range steps {
		a := []any{int64(id), int64(newParent)}
		if !strings.Contains(st.sql, "$2") {
			a = a[:1]
		}
		if _, err := q.db.Exec(ctx, st.sql, a...); err != nil {
			return mapErr(st.op, err)
		}
	}
	return nil
}

func (q *queries) OrgUsage(ctx context.Context, id tenancy.OrgID) (tenancy.OrgUsage, error) {
	var u tenancy.OrgUsage
	var exists int
	err := q.db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM orgs WHERE parent_id = $1),
		(SELECT count(*) FROM devices WHERE org_id = $1),
		(SELECT count(*) FROM users WHERE org_id = $1),
		(SELECT count(*) FROM orgs WHERE id = $1)`, int64(id)).Scan(&u.Children, &u.Devices, &u.Users, &exists)
	if err == nil && exists == 0 {
		err = pgx.ErrNoRows
	}
	return u, mapErr("org usage", err)
}

func (q *queries) OrgCounts(ctx context.Context, s tenancy.Scope) (map[tenancy.OrgID]tenancy.OrgUsage, error) {
	var a args
	cond := scopeSQL(s, "o.id", &a)
	rows, err := q.db.Query(ctx, `SELECT o.id, coalesce(c.n_direct, 0), (SELECT count(*) FROM users u WHERE u.org_id = o.id)
		FROM orgs o LEFT JOIN org_device_counts c ON c.org_id = o.id WHERE `+cond, a...)
	type row struct {
		id tenancy.OrgID
		u  tenancy.OrgUsage
	}
	all, err := collectT(rows, err, "org counts", func(r scanner) (row, error) {
		var x row
		var id, devices, users int64
		err := r.Scan(&id, &devices, &users)
		x.id, x.u.Devices, x.u.Users = tenancy.OrgID(id), int(devices), int(users)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[tenancy.OrgID]tenancy.OrgUsage, len(all))
	for _, x := range all {
		out[x.id] = x.u
	}
	return out, nil
}
