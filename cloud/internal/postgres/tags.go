package postgres

import (
	"context"

	"outpost/cloud/internal/tenancy"
)

func scanTag(r scanner) (tenancy.Tag, error) {
	var t tenancy.Tag
	return t, r.Scan(&t.ID, &t.OrgID, &t.Name, &t.OwnerID)
}

func (q *queries) CreateTag(ctx context.Context, t *tenancy.Tag) error {
	id, err := q.insertID(ctx, "create tag", `INSERT INTO tags (org_id, name, owner_id) VALUES ($1, $2, $3)`,
		int64(t.OrgID), t.Name, int64(t.OwnerID))
	t.ID = tenancy.TagID(id)
	return err
}

func (q *queries) RenameTag(ctx context.Context, id tenancy.TagID, name string) error {
	tag, err := q.db.Exec(ctx, `UPDATE tags SET name = $1 WHERE id = $2`, name, int64(id))
	return mustAffect("rename tag", tag, err)
}

func (q *queries) DeleteTag(ctx context.Context, id tenancy.TagID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM tags WHERE id = $1`, int64(id))
	return mustAffect("delete tag", tag, err)
}

func (q *queries) GetTag(ctx context.Context, id tenancy.TagID) (tenancy.Tag, error) {
	t, err := scanTag(q.db.QueryRow(ctx, `SELECT id, org_id, name, owner_id FROM tags WHERE id = $1`, int64(id)))
	return t, mapErr("get tag", err)
}

func (q *queries) ListTags(ctx context.Context, org tenancy.OrgID) ([]tenancy.Tag, error) {
	rows, err := q.db.Query(ctx, `SELECT id, org_id, name, owner_id FROM tags WHERE org_id = $1 ORDER BY id`, int64(org))
	return collect(rows, err, "list tags", scanTag)
}

func (q *queries) SetDeviceTags(ctx context.Context, d tenancy.DeviceID, tags []tenancy.TagID) error {
	if _, err := q.GetDevice(ctx, d); err != nil {
		return err
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM device_tags WHERE device_id = $1`, int64(d)); err != nil {
		return mapErr("set device tags", err)
	}
	if len(tags) == 0 {
		return nil
	}
	ids := make([]int64, len(tags))
	for i, t := range tags {
		ids[i] = int64(t)
	}
	_, err := q.db.Exec(ctx, `INSERT INTO device_tags (device_id, tag_id) SELECT $1, unnest($2::bigint[])
		ON CONFLICT DO NOTHING`, int64(d), ids)
	return mapErr("set device tags", err)
}

func (q *queries) DeviceTags(ctx context.Context, d tenancy.DeviceID) ([]tenancy.Tag, error) {
	rows, err := q.db.Query(ctx, `SELECT t.id, t.org_id, t.name, t.owner_id FROM device_tags dt
		JOIN tags t ON t.id = dt.tag_id WHERE dt.device_id = $1 ORDER BY t.id`, int64(d))
	return collect(rows, err, "device tags", scanTag)
}

func (q *queries) SetUserTags(ctx context.Context, u tenancy.UserID, tags []tenancy.TagID) error {
	if _, err := q.GetUser(ctx, u); err != nil {
		return err
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM user_tags WHERE user_id = $1`, int64(u)); err != nil {
		return mapErr("set user tags", err)
	}
	if len(tags) == 0 {
		return nil
	}
	ids := make([]int64, len(tags))
	for i, t := range tags {
		ids[i] = int64(t)
	}
	_, err := q.db.Exec(ctx, `INSERT INTO user_tags (user_id, tag_id) SELECT $1, unnest($2::bigint[])
		ON CONFLICT DO NOTHING`, int64(u), ids)
	return mapErr("set user tags", err)
}

func (q *queries) UserTags(ctx context.Context, users []tenancy.UserID) (map[tenancy.UserID][]tenancy.Tag, error) {
	out := map[tenancy.UserID][]tenancy.Tag{}
	if len(users) == 0 {
		return out, nil
	}
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = int64(u)
	}
	type row struct {
		user tenancy.UserID
		tag  tenancy.Tag
	}
	rows, err := q.db.Query(ctx, `SELECT ut.user_id, t.id, t.org_id, t.name, t.owner_id FROM user_tags ut
		JOIN tags t ON t.id = ut.tag_id WHERE ut.user_id = ANY($1) ORDER BY ut.user_id, t.id`, ids)
	rs, err := collect(rows, err, "user tags", func(r scanner) (row, error) {
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
