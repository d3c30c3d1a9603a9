package sqlite

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
	var dev int
	var created, updated, login int64
	err := r.Scan(&u.ID, &u.OrgID, &u.RoleID, &u.Email, &u.Name, &u.Title, &u.Nick, &u.Phone, &u.TZ, &u.Locale,
		&u.Type, &u.Status, &dev, &u.PasswordHash, &created, &updated, &login)
	u.IsDev = dev != 0
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMS(created), fromMS(updated), fromMS(login)
	return u, err
}

func (q *queries) CreateUser(ctx context.Context, u *tenancy.User) error {
	res, err := q.exec(ctx, `INSERT INTO users (org_id, role_id, email, name, title, nick, phone, tz, locale,
		type, status, is_dev, password_hash, created_at, updated_at, last_login_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(u.OrgID), int(u.RoleID), u.Email, u.Name, u.Title, u.Nick, u.Phone, u.TZ, u.Locale, string(u.Type),
		string(u.Status), b2i(u.IsDev), u.PasswordHash, ms(u.CreatedAt), ms(u.UpdatedAt), ms(u.LastLoginAt))
	if err != nil {
		return mapErr("create user", err)
	}
	id, err := res.LastInsertId()
	u.ID = tenancy.UserID(id)
	return mapErr("create user", err)
}

func (q *queries) UpdateUser(ctx context.Context, u tenancy.User) error {
	res, err := q.exec(ctx, `UPDATE users SET org_id = ?, role_id = ?, name = ?, title = ?, nick = ?, phone = ?,
		tz = ?, locale = ?, type = ?, status = ?, is_dev = ?, password_hash = ?, updated_at = ?, last_login_at = ?
		WHERE id = ?`,
		int64(u.OrgID), int(u.RoleID), u.Name, u.Title, u.Nick, u.Phone, u.TZ, u.Locale, string(u.Type), string(u.Status),
		b2i(u.IsDev), u.PasswordHash, ms(u.UpdatedAt), ms(u.LastLoginAt), int64(u.ID))
	return mustAffect("update user", res, err)
}

func (q *queries) DeleteUser(ctx context.Context, id tenancy.UserID) error {
	res, err := q.exec(ctx, `DELETE FROM users WHERE id = ?`, int64(id))
	return mustAffect("delete user", res, err)
}

func (q *queries) GetUser(ctx context.Context, id tenancy.UserID) (tenancy.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, int64(id)))
	return u, mapErr("get user", err)
}

func (q *queries) GetUserByEmail(ctx context.Context, email string) (tenancy.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, email))
	return u, mapErr("get user", err)
}

// ListUsers pages the users of a scope by id. A search of three
// characters or more reads its candidates from the trigram index
// (users_fts), keeps its LIKE terms and probes each candidate's org;
// without one, the count reads the scope's orgs' users_org entries, and a
// scope holding most users walks the table in id order, probing each
// user's org, and stops after the page, where a small scope gathers its
// users org by org and sorts them (about (offset+size)·all/total rows
// read against total).
//
// Patterns are bound inside an expression (the parameter joined to an
// empty string): a LIKE whose pattern is a bare parameter makes SQLite
// prepare the statement again at every bind (in case an index could serve
// a prefix), which cost as much as the search.
func (q *queries) ListUsers(ctx context.Context, f tenancy.UserFilter) (tenancy.List[tenancy.User], error) {
	f.Page = pageSize(f.Page)
	if !likeable(f.Query) {
		return tenancy.List[tenancy.User]{}, nil
	}
	var rest string // the terms besides the scope, as " AND …"
	var restArgs []any
	if f.RoleID != 0 {
		rest, restArgs = rest+" AND role_id = ?", append(restArgs, int(f.RoleID))
	}
	if f.TagID != 0 {
		rest, restArgs = rest+" AND users.id IN (SELECT user_id FROM user_tags WHERE tag_id = ?)", append(restArgs, int64(f.TagID))
	}
	if f.Query != "" {
		p := likePattern(f.Query)
		rest, restArgs = rest+` AND (name LIKE (? || '') ESCAPE '\' OR email LIKE (? || '') ESCAPE '\')`, append(restArgs, p, p)
	}
	org := int64(f.Scope.OrgID)
	scope, probe := "org_id = ?", "org_id = ?"
	if f.Scope.Subtree {
		scope = "org_id IN (SELECT descendant FROM org_closure WHERE ancestor = ?)"
		probe = "EXISTS (SELECT 1 FROM org_closure c WHERE c.ancestor = ? AND c.descendant = users.org_id)"
	}
	search := f.Query != "" && trigramSearch(f.Query)
	cond, args := scope+rest, append([]any{org}, restArgs...)
	countFrom, countArgs := "users WHERE "+cond, args
	switch {
	case search:
		p := likePattern(f.Query)
		cond = `id IN (SELECT rowid FROM users_fts WHERE name LIKE (? || '') UNION SELECT rowid FROM users_fts WHERE email LIKE (? || '')) AND ` + probe + rest
		args = append([]any{p, p, org}, restArgs...)
		countFrom, countArgs = "users WHERE "+cond, args
	case f.Scope.Subtree:
		countFrom = "org_closure c CROSS JOIN users ON users.org_id = c.descendant WHERE c.ancestor = ?" + rest
	}
	count := `(SELECT count(*) FROM ` + countFrom + `)`
	if f.Scope.Subtree && rest == "" {
		// The store's only root holds every user: the table's count.
		count = `CASE WHEN (SELECT count(*) = 1 AND max(id) = ? FROM orgs WHERE parent_id IS NULL) THEN (SELECT count(*) FROM users) ELSE ` + count + ` END`
		countArgs = append([]any{org}, countArgs...)
	}
	var total int
	var maxID int64
	err := q.queryRow(ctx, `SELECT `+count+`, coalesce((SELECT max(id) FROM users), 0)`, countArgs...).Scan(&total, &maxID)
	if err != nil {
		return tenancy.List[tenancy.User]{}, mapErr("count users", err)
	}
	if f.Query == "" && f.Scope.Subtree {
		// The walk: the same rows, the scope a probe per user.
		read := int64(f.Page.Offset()+f.Page.Size) * maxID
		if f.Page.After > 0 {
			read = int64(f.Page.Size) * maxID
		}
		if read <= int64(total)*int64(total) {
			cond = probe + rest
		}
	}
	pw, tail, pargs := pageSQL(f.Page, "id", false, append([]any(nil), args...))
	rows, err := q.query(ctx, `SELECT `+userCols+` FROM users WHERE `+cond+pw+tail, pargs...)
	if err != nil {
		return tenancy.List[tenancy.User]{}, mapErr("list users", err)
	}
	items, err := collect(rows, "list users", scanUser)
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
	_, err := q.exec(ctx, `INSERT INTO roles (root_id, id, name, builtin) VALUES (?, ?, ?, ?)`,
		int64(r.RootID), int(r.ID), r.Name, b2i(r.BuiltIn))
	return mapErr("create role", err)
}

func (q *queries) UpdateRole(ctx context.Context, r tenancy.Role) error {
	res, err := q.exec(ctx, `UPDATE roles SET name = ? WHERE root_id = ? AND id = ?`, r.Name, int64(r.RootID), int(r.ID))
	return mustAffect("update role", res, err)
}

func (q *queries) DeleteRole(ctx context.Context, root tenancy.OrgID, id tenancy.RoleID) error {
	res, err := q.exec(ctx, `DELETE FROM roles WHERE root_id = ? AND id = ?`, int64(root), int(id))
	if err := mustAffect("delete role", res, err); err != nil {
		return err
	}
	_, err = q.exec(ctx, `DELETE FROM role_perms WHERE role_id = ?
		AND org_id IN (SELECT descendant FROM org_closure WHERE ancestor = ?)`, int(id), int64(root))
	return mapErr("delete role perms", err)
}

func (q *queries) ListRoles(ctx context.Context, root tenancy.OrgID) ([]tenancy.Role, error) {
	rows, err := q.query(ctx, `SELECT root_id, id, name, builtin FROM roles WHERE root_id = ? ORDER BY id`, int64(root))
	if err != nil {
		return nil, mapErr("list roles", err)
	}
	return collect(rows, "list roles", func(r scanner) (tenancy.Role, error) {
		var x tenancy.Role
		var b int
		err := r.Scan(&x.RootID, &x.ID, &x.Name, &b)
		x.BuiltIn = b != 0
		return x, err
	})
}

func (q *queries) SetRolePerms(ctx context.Context, rp tenancy.RolePerms) error {
	_, err := q.exec(ctx, `INSERT INTO role_perms (org_id, role_id, bits) VALUES (?, ?, ?)
		ON CONFLICT (org_id, role_id) DO UPDATE SET bits = excluded.bits`,
		int64(rp.OrgID), int(rp.RoleID), int64(rp.Perms.Bits()))
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
	rows, err := q.query(ctx, `SELECT org_id, role_id, bits FROM role_perms WHERE org_id = ? ORDER BY role_id`, int64(org))
	if err != nil {
		return nil, mapErr("list role perms", err)
	}
	return collect(rows, "list role perms", scanRolePerms)
}

func (q *queries) AllRolePerms(ctx context.Context) ([]tenancy.RolePerms, error) {
	rows, err := q.query(ctx, `SELECT org_id, role_id, bits FROM role_perms ORDER BY org_id, role_id`)
	if err != nil {
		return nil, mapErr("all role perms", err)
	}
	return collect(rows, "all role perms", scanRolePerms)
}

func (q *queries) ReassignRole(ctx context.Context, root tenancy.OrgID, from, to tenancy.RoleID) (int, error) {
	res, err := q.exec(ctx, `UPDATE users SET role_id = ? WHERE role_id = ?
		AND org_id IN (SELECT descendant FROM org_closure WHERE ancestor = ?)`, int(to), int(from), int64(root))
	if err != nil {
		return 0, mapErr("reassign role", err)
	}
	n, err := res.RowsAffected()
	return int(n), mapErr("reassign role", err)
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
	_, err := q.exec(ctx, `INSERT INTO templates (`+templateCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		string(t.ID), int64(t.RootID), jsonText(t.Def), t.Description, t.BoardType, t.ConnectionType, ms(t.CreatedAt), ms(t.UpdatedAt))
	return mapErr("create template", err)
}

func (q *queries) UpdateTemplate(ctx context.Context, t tenancy.Template) error {
	res, err := q.exec(ctx, `UPDATE templates SET def = ?, description = ?, board_type = ?, connection_type = ?,
		updated_at = ? WHERE id = ?`, jsonText(t.Def), t.Description, t.BoardType, t.ConnectionType, ms(t.UpdatedAt), string(t.ID))
	return mustAffect("update template", res, err)
}

func (q *queries) DeleteTemplate(ctx context.Context, id tenancy.TemplateID) error {
	res, err := q.exec(ctx, `DELETE FROM templates WHERE id = ?`, string(id))
	return mustAffect("delete template", res, err)
}

func (q *queries) GetTemplate(ctx context.Context, id tenancy.TemplateID) (tenancy.Template, error) {
	t, err := scanTemplate(q.queryRow(ctx, `SELECT `+templateCols+` FROM templates WHERE id = ?`, string(id)))
	return t, mapErr("get template", err)
}

// ListTemplates pages by offset: template ids are strings and lists are short.
func (q *queries) ListTemplates(ctx context.Context, f tenancy.TemplateFilter) (tenancy.List[tenancy.Template], error) {
	f.Page = pageSize(f.Page)
	cond, args := "root_id = ?", []any{int64(f.RootID)}
	if f.EnabledIn != 0 {
		cond, args = cond+" AND id IN (SELECT template_id FROM template_orgs WHERE org_id = ?)", append(args, int64(f.EnabledIn))
	}
	total, err := q.count(ctx, "count templates", `SELECT count(*) FROM templates WHERE `+cond, args...)
	if err != nil {
		return tenancy.List[tenancy.Template]{}, err
	}
	rows, err := q.query(ctx, `SELECT `+templateCols+` FROM templates WHERE `+cond+` ORDER BY id LIMIT ? OFFSET ?`,
		append(args, f.Page.Size, f.Page.Offset())...)
	if err != nil {
		return tenancy.List[tenancy.Template]{}, mapErr("list templates", err)
	}
	items, err := collect(rows, "list templates", scanTemplate)
	return tenancy.List[tenancy.Template]{Items: items, Total: total}, err
}

func (q *queries) SetTemplateEnabled(ctx context.Context, org tenancy.OrgID, id tenancy.TemplateID, enabled bool) error {
	var err error
	if enabled {
		_, err = q.exec(ctx, `INSERT OR IGNORE INTO template_orgs (org_id, template_id) VALUES (?, ?)`, int64(org), string(id))
	} else {
		_, err = q.exec(ctx, `DELETE FROM template_orgs WHERE org_id = ? AND template_id = ?`, int64(org), string(id))
	}
	return mapErr("set template enabled", err)
}

// TemplateOrgs reads both indexes by template (migration 0017).
func (q *queries) TemplateOrgs(ctx context.Context, id tenancy.TemplateID) (tenancy.TemplateOrgs, error) {
	var out tenancy.TemplateOrgs
	for _, r := range []struct {
		dst   *[]tenancy.OrgID
		query string
	}{
		{&out.Enabled, `SELECT org_id FROM template_orgs WHERE template_id = ? ORDER BY org_id`},
		{&out.Used, `SELECT org_id FROM org_template_counts WHERE template_id = ? AND n_subtree > 0 ORDER BY org_id`},
	} {
		rows, err := q.query(ctx, r.query, string(id))
		if err != nil {
			return out, mapErr("template orgs", err)
		}
		if *r.dst, err = collect(rows, "template orgs", func(r scanner) (tenancy.OrgID, error) {
			var v tenancy.OrgID
			return v, r.Scan(&v)
		}); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (q *queries) TemplateEnabled(ctx context.Context, org tenancy.OrgID, id tenancy.TemplateID) (bool, error) {
	n, err := q.count(ctx, "template enabled", `SELECT count(*) FROM template_orgs WHERE org_id = ? AND template_id = ?`, int64(org), string(id))
	return n > 0, err
}
