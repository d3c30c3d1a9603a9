package postgres

import (
	"context"
	"encoding/json"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

const userCols = `id, org_id, role_id, email, name, title, nick, phone, tz, locale, type, status, is_dev,
	password_hash, created_at, updated_at, last_login_at`

func scanUser(r scanner) (tenancy.User, error) {
	var u tenancy.User
	var dev int64
	var created, updated, login int64
	err := r.Scan(&u.ID, &u.OrgID, &u.RoleID, &u.Email, &u.Name, &u.Title, &u.Nick, &u.Phone, &u.TZ, &u.Locale,
		&u.Type, &u.Status, &dev, &u.PasswordHash, &created, &updated, &login)
	u.IsDev = dev != 0
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMS(created), fromMS(updated), fromMS(login)
	return u, err
}

func (q *queries) CreateUser(ctx context.Context, u *tenancy.User) error {
	var id int64
	err := q.db.QueryRow(ctx, `INSERT INTO users (org_id, role_id, email, name, title, nick, phone, tz, locale,
		type, status, is_dev, password_hash, created_at, updated_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		int64(u.OrgID), int64(u.RoleID), u.Email, u.Name, u.Title, u.Nick, u.Phone, u.TZ, u.Locale, string(u.Type),
		string(u.Status), b2i(u.IsDev), u.PasswordHash, ms(u.CreatedAt), ms(u.UpdatedAt), ms(u.LastLoginAt)).Scan(&id)
	if err != nil {
		return mapErr("create user", err)
	}
	u.ID = tenancy.UserID(id)
	return nil
}

func (q *queries) UpdateUser(ctx context.Context, u tenancy.User) error {
	tag, err := q.db.Exec(ctx, `UPDATE users SET org_id = $1, role_id = $2, name = $3, title = $4, nick = $5, phone = $6,
		tz = $7, locale = $8, type = $9, status = $10, is_dev = $11, password_hash = $12, updated_at = $13, last_login_at = $14
		WHERE id = $15`,
		int64(u.OrgID), int64(u.RoleID), u.Name, u.Title, u.Nick, u.Phone, u.TZ, u.Locale, string(u.Type), string(u.Status),
		b2i(u.IsDev), u.PasswordHash, ms(u.UpdatedAt), ms(u.LastLoginAt), int64(u.ID))
	return mustAffect("update user", tag, err)
}

func (q *queries) DeleteUser(ctx context.Context, id tenancy.UserID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM users WHERE id = $1`, int64(id))
	return mustAffect("delete user", tag, err)
}

func (q *queries) GetUser(ctx context.Context, id tenancy.UserID) (tenancy.User, error) {
	u, err := scanUser(q.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, int64(id)))
	return u, mapErr("get user", err)
}

func (q *queries) GetUserByEmail(ctx context.Context, email string) (tenancy.User, error) {
	if !likeable(email) {
		return tenancy.User{}, &tenancy.Error{Code: tenancy.NotFound, Message: "get user: not found"}
	}
	u, err := scanUser(q.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
	return u, mapErr("get user", err)
}

func (q *queries) ListUsers(ctx context.Context, f tenancy.UserFilter) (tenancy.List[tenancy.User], error) {
	f.Page = pageSize(f.Page)
	if !likeable(f.Query) {
		return tenancy.List[tenancy.User]{}, nil
	}
	var a args
	cond := scopeSQL(f.Scope, "org_id", &a)
	if f.RoleID != 0 {
		cond += " AND role_id = " + a.add(int64(f.RoleID))
	}
	if f.TagID != 0 {
		cond += " AND id IN (SELECT user_id FROM user_tags WHERE tag_id = " + a.add(int64(f.TagID)) + ")"
	}
	if f.Query != "" {
		p := a.add(likePattern(f.Query))
		cond += ` AND (name ILIKE ` + p + ` ESCAPE '\' OR email ILIKE ` + p + ` ESCAPE '\')`
	}
	total, err := q.count(ctx, "count users", `SELECT count(*) FROM users WHERE `+cond, a...)
	if err != nil {
		return tenancy.List[tenancy.User]{}, err
	}
	pw, tail := pageSQL(f.Page, "id", false, &a)
	rows, err := q.db.Query(ctx, `SELECT `+userCols+` FROM users WHERE `+cond+pw+tail, a...)
	items, err := collect(rows, err, "list users", scanUser)
	if err != nil {
		return tenancy.List[tenancy.User]{}, err
	}
	l := tenancy.List[tenancy.User]{Items: items, Total: total}
	if len(items) > 0 {
		l.Next = next(len(items), f.Page.Size, int64(items[len(items)-1].ID))
	}
	return l, nil
}

func (q *queries) CreateRole(ctx context.Context, r tenancy.Role) error {
	_, err := q.db.Exec(ctx, `INSERT INTO roles (root_id, id, name, builtin) VALUES ($1, $2, $3, $4)`,
		int64(r.RootID), int64(r.ID), r.Name, b2i(r.BuiltIn))
	return mapErr("create role", err)
}

func (q *queries) UpdateRole(ctx context.Context, r tenancy.Role) error {
	tag, err := q.db.Exec(ctx, `UPDATE roles SET name = $1 WHERE root_id = $2 AND id = $3`, r.Name, int64(r.RootID), int64(r.ID))
	return mustAffect("update role", tag, err)
}

func (q *queries) DeleteRole(ctx context.Context, root tenancy.OrgID, id tenancy.RoleID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM roles WHERE root_id = $1 AND id = $2`, int64(root), int64(id))
	if err := mustAffect("delete role", tag, err); err != nil {
		return err
	}
	_, err = q.db.Exec(ctx, `DELETE FROM role_perms WHERE role_id = $1
		AND org_id IN (SELECT descendant FROM org_closure WHERE ancestor = $2)`, int64(id), int64(root))
	return mapErr("delete role perms", err)
}

func (q *queries) ListRoles(ctx context.Context, root tenancy.OrgID) ([]tenancy.Role, error) {
	rows, err := q.db.Query(ctx, `SELECT root_id, id, name, builtin FROM roles WHERE root_id = $1 ORDER BY id`, int64(root))
	return collect(rows, err, "list roles", func(r scanner) (tenancy.Role, error) {
		var x tenancy.Role
		var b int64
		err := r.Scan(&x.RootID, &x.ID, &x.Name, &b)
		x.BuiltIn = b != 0
		return x, err
	})
}

func (q *queries) SetRolePerms(ctx context.Context, rp tenancy.RolePerms) error {
	_, err := q.db.Exec(ctx, `INSERT INTO role_perms (org_id, role_id, bits) VALUES ($1, $2, $3)
		ON CONFLICT (org_id, role_id) DO UPDATE SET bits = excluded.bits`,
		int64(rp.OrgID), int64(rp.RoleID), int64(rp.Perms.Bits()))
	return mapErr("set role perms", err)
}

func scanRolePerms(r scanner) (tenancy.RolePerms, error) {
	var rp tenancy.RolePerms
	var bits int64
	err := r.Scan(&rp.OrgID, &rp.RoleID, &bits)
	rp.Perms = tenancy.PermSetFromBits(uint64(bits))
	return rp, err
}

func (q *queries) ListRolePerms(ctx context.Context, org tenancy.OrgID) ([]tenancy.RolePerms, error) {
	rows, err := q.db.Query(ctx, `SELECT org_id, role_id, bits FROM role_perms WHERE org_id = $1 ORDER BY role_id`, int64(org))
	return collect(rows, err, "list role perms", scanRolePerms)
}

func (q *queries) AllRolePerms(ctx context.Context) ([]tenancy.RolePerms, error) {
	rows, err := q.db.Query(ctx, `SELECT org_id, role_id, bits FROM role_perms ORDER BY org_id, role_id`)
	return collect(rows, err, "all role perms", scanRolePerms)
}

func (q *queries) ReassignRole(ctx context.Context, root tenancy.OrgID, from, to tenancy.RoleID) (int, error) {
	tag, err := q.db.Exec(ctx, `UPDATE users SET role_id = $1 WHERE role_id = $2
		AND org_id IN (SELECT descendant FROM org_closure WHERE ancestor = $3)`, int64(to), int64(from), int64(root))
	return affected("reassign role", tag, err)
}

const templateCols = `id, root_id, def, description, board_type, connection_type, created_at, updated_at`

func scanTemplate(r scanner) (tenancy.Template, error) {
	var t tenancy.Template
	var def string
	var created, updated int64
	if err := r.Scan(&t.ID, &t.RootID, &def, &t.Description, &t.BoardType, &t.ConnectionType, &created, &updated); err != nil {
		return t, err
	}
	t.CreatedAt, t.UpdatedAt = fromMS(created), fromMS(updated)
	var d datastream.Template
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		return t, err
	}
	t.Def = d
	return t, nil
}

func (q *queries) CreateTemplate(ctx context.Context, t tenancy.Template) error {
	_, err := q.db.Exec(ctx, `INSERT INTO templates (`+templateCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		string(t.ID), int64(t.RootID), jsonText(t.Def), t.Description, t.BoardType, t.ConnectionType, ms(t.CreatedAt), ms(t.UpdatedAt))
	return mapErr("create template", err)
}

func (q *queries) UpdateTemplate(ctx context.Context, t tenancy.Template) error {
	tag, err := q.db.Exec(ctx, `UPDATE templates SET def = $1, description = $2, board_type = $3, connection_type = $4,
		updated_at = $5 WHERE id = $6`, jsonText(t.Def), t.Description, t.BoardType, t.ConnectionType, ms(t.UpdatedAt), string(t.ID))
	return mustAffect("update template", tag, err)
}

func (q *queries) DeleteTemplate(ctx context.Context, id tenancy.TemplateID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM templates WHERE id = $1`, string(id))
	return mustAffect("delete template", tag, err)
}

func (q *queries) GetTemplate(ctx context.Context, id tenancy.TemplateID) (tenancy.Template, error) {
	t, err := scanTemplate(q.db.QueryRow(ctx, `SELECT `+templateCols+` FROM templates WHERE id = $1`, string(id)))
	return t, mapErr("get template", err)
}

// ListTemplates pages by offset: template ids are strings and lists are short.
func (q *queries) ListTemplates(ctx context.Context, f tenancy.TemplateFilter) (tenancy.List[tenancy.Template], error) {
	f.Page = pageSize(f.Page)
	var a args
	cond := "root_id = " + a.add(int64(f.RootID))
	if f.EnabledIn != 0 {
		cond += " AND id IN (SELECT template_id FROM template_orgs WHERE org_id = " + a.add(int64(f.EnabledIn)) + ")"
	}
	total, err := q.count(ctx, "count templates", `SELECT count(*) FROM templates WHERE `+cond, a...)
	if err != nil {
		return tenancy.List[tenancy.Template]{}, err
	}
	tail := ` ORDER BY id COLLATE "C" LIMIT ` + a.add(f.Page.Size) + ` OFFSET ` + a.add(f.Page.Offset())
	rows, err := q.db.Query(ctx, `SELECT `+templateCols+` FROM templates WHERE `+cond+tail, a...)
	items, err := collect(rows, err, "list templates", scanTemplate)
	return tenancy.List[tenancy.Template]{Items: items, Total: total}, err
}

func (q *queries) SetTemplateEnabled(ctx context.Context, org tenancy.OrgID, id tenancy.TemplateID, enabled bool) error {
	var err error
	if enabled {
		_, err = q.db.Exec(ctx, `INSERT INTO template_orgs (org_id, template_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, int64(org), string(id))
	} else {
		_, err = q.db.Exec(ctx, `DELETE FROM template_orgs WHERE org_id = $1 AND template_id = $2`, int64(org), string(id))
	}
	return mapErr("set template enabled", err)
}

// TemplateOrgs reads both indexes by template (migration 0011).
func (q *queries) TemplateOrgs(ctx context.Context, id tenancy.TemplateID) (tenancy.TemplateOrgs, error) {
	var out tenancy.TemplateOrgs
	for _, r := range []struct {
		dst   *[]tenancy.OrgID
		query string
	}{
		{&out.Enabled, `SELECT org_id FROM template_orgs WHERE template_id = $1 ORDER BY org_id`},
		{&out.Used, `SELECT org_id FROM org_template_counts WHERE template_id = $1 AND n_subtree > 0 ORDER BY org_id`},
	} {
		rows, err := q.db.Query(ctx, r.query, string(id))
		orgs, err := collect(rows, err, "template orgs", func(r scanner) (tenancy.OrgID, error) {
			var v int64
			err := r.Scan(&v)
			return tenancy.OrgID(v), err
		})
		if err != nil {
			return out, err
		}
		*r.dst = orgs
	}
	return out, nil
}

func (q *queries) TemplateEnabled(ctx context.Context, org tenancy.OrgID, id tenancy.TemplateID) (bool, error) {
	n, err := q.count(ctx, "template enabled", `SELECT count(*) FROM template_orgs WHERE org_id = $1 AND template_id = $2`, int64(org), string(id))
	return n > 0, err
}
