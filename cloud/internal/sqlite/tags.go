package sqlite

import (
	"context"
	"strings"

	"outpost/cloud/internal/tenancy"
)

func scanTag(r scanner) (tenancy.Tag, error) {
	var t tenancy.Tag
	return t, r.Scan(&t.ID, &t.OrgID, &t.Name, &t.OwnerID)
}

func (q *queries) CreateTag(ctx context.Context, t *tenancy.Tag) error {
	res, err := q.exec(ctx, `INSERT INTO tags (org_id, name, owner_id) VALUES (?, ?, ?)`, int64(t.OrgID), t.Name, int64(t.OwnerID))
	if err != nil {
		return mapErr("create tag", err)
	}
	id, err := res.LastInsertId()
	t.ID = tenancy.TagID(id)
	return mapErr("create tag", err)
}

func (q *queries) DeleteTag(ctx context.Context, id tenancy.TagID) error {
	res, err := q.exec(ctx, `DELETE FROM tags WHERE id = ?`, int64(id))
	return mustAffect("delete tag", res, err)
}

func (q *queries) RenameTag(ctx context.Context, id tenancy.TagID, name string) error {
	res, err := q.exec(ctx, `UPDATE tags SET name = ? WHERE id = ?`, name, int64(id))
	if err != nil {
		return mapErr("rename tag", err)
	}
	return mustAffect("rename tag", res, nil)
}

func (q *queries) GetTag(ctx context.Context, id tenancy.TagID) (tenancy.Tag, error) {
	t, err := scanTag(q.queryRow(ctx, `SELECT id, org_id, name, owner_id FROM tags WHERE id = ?`, int64(id)))
	return t, mapErr("get tag", err)
}

func (q *queries) ListTags(ctx context.Context, org tenancy.OrgID) ([]tenancy.Tag, error) {
	rows, err := q.query(ctx, `SELECT id, org_id, name, owner_id FROM tags WHERE org_id = ? ORDER BY id`, int64(org))
	if err != nil {
		return nil, mapErr("list tags", err)
	}
	return collect(rows, "list tags", scanTag)
}

func (q *queries) SetDeviceTags(ctx context.Context, d tenancy.DeviceID, tags []tenancy.TagID) error {
	if _, err := q.GetDevice(ctx, d); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `DELETE FROM device_tags WHERE device_id = ?`, int64(d)); err != nil {
		return mapErr("set device tags", err)
	}
	for _, t := range tags {
		if _, err := q.exec(ctx, `INSERT OR IGNORE INTO device_tags (device_id, tag_id) VALUES (?, ?)`, int64(d), int64(t)); err != nil {
			return mapErr("set device tags", err)
		}
	}
	return nil
}

func (q *queries) DeviceTags(ctx context.Context, d tenancy.DeviceID) ([]tenancy.Tag, error) {
	rows, err := q.query(ctx, `SELECT t.id, t.org_id, t.name, t.owner_id FROM device_tags dt
		JOIN tags t ON t.id = dt.tag_id WHERE dt.device_id = ? ORDER BY t.id`, int64(d))
	if err != nil {
		return nil, mapErr("device tags", err)
	}
	return collect(rows, "device tags", scanTag)
}

func (q *queries) SetUserTags(ctx context.Context, u tenancy.UserID, tags []tenancy.TagID) error {
	if _, err := q.GetUser(ctx, u); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `DELETE FROM user_tags WHERE user_id = ?`, int64(u)); err != nil {
		return mapErr("set user tags", err)
	}
	for _, t := range tags {
		if _, err := q.exec(ctx, `INSERT OR IGNORE INTO user_tags (user_id, tag_id) VALUES (?, ?)`, int64(u), int64(t)); err != nil {
			return mapErr("set user tags", err)
		}
	}
	return nil
}

func (q *queries) UserTags(ctx context.Context, users []tenancy.UserID) (map[tenancy.UserID][]tenancy.Tag, error) {
	out := map[tenancy.UserID][]tenancy.Tag{}
	if len(users) == 0 {
		return out, nil
	}
	args := make([]any, len(users))
	for i, u := range users {
		args[i] = int64(u)
	}
	rows, err := q.query(ctx, `SELECT ut.user_id, t.id, t.org_id, t.name, t.owner_id FROM user_tags ut
		JOIN tags t ON t.id = ut.tag_id WHERE ut.user_id IN (?`+strings.Repeat(", ?", len(users)-1)+`) ORDER BY ut.user_id, t.id`, args...)
	if err != nil {
		return nil, mapErr("user tags", err)
	}
	type row struct {
		user tenancy.UserID
		tag  tenancy.Tag
	}
	rs, err := collect(rows, "user tags", func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.user, &x.tag.ID, &x.tag.OrgID, &x.tag.Name, &x.tag.OwnerID)
	})
	if err != nil {
		return nil, err
	}
	for _, x := range rs {
		out[x.user] = append(out[x.user], x.tag)
	}
	return out, nil
}
