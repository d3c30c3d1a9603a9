package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/ulid"
)

const deviceCols = `d.id, d.org_id, coalesce(d.owner_id, 0), d.template_id, d.name, d.token_hash, d.token,
	coalesce(d.static_token_id, 0), d.created_at, d.updated_at, d.activated_at, coalesce(d.uid, ''),
	coalesce(d.location_id, 0)`

func scanDevice(r scanner) (tenancy.Device, error) {
	var d tenancy.Device
	var hash []byte
	var created, updated, activated int64
	err := r.Scan(&d.ID, &d.OrgID, &d.OwnerID, &d.TemplateID, &d.Name, &hash, &d.Token, &d.StaticToken,
		&created, &updated, &activated, &d.UID, &d.LocationID)
	copy(d.TokenHash[:], hash)
	d.CreatedAt, d.UpdatedAt, d.ActivatedAt = fromMS(created), fromMS(updated), fromMS(activated)
	return d, err
}

// CreateDevice stores d; a device without a UID gets one (the Service
// always sets it; this keeps the column total for other writers).
func (q *queries) CreateDevice(ctx context.Context, d *tenancy.Device) error {
	if d.UID == "" {
		uid, err := ulid.New(time.Now(), rand.Reader)
		if err != nil {
			return err
		}
		d.UID = uid
	}
	res, err := q.exec(ctx, `INSERT INTO devices (org_id, owner_id, template_id, name, token_hash, token,
		static_token_id, created_at, updated_at, activated_at, uid, location_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(d.OrgID), nullID(d.OwnerID), string(d.TemplateID), d.Name, d.TokenHash[:], d.Token, nullID(d.StaticToken),
		ms(d.CreatedAt), ms(d.UpdatedAt), ms(d.ActivatedAt), d.UID, nullID(d.LocationID))
	if err != nil {
		return mapErr("create device", err)
	}
	id, err := res.LastInsertId()
	d.ID = tenancy.DeviceID(id)
	return mapErr("create device", err)
}

func (q *queries) UpdateDevice(ctx context.Context, d tenancy.Device) error {
	res, err := q.exec(ctx, `UPDATE devices SET org_id = ?, owner_id = ?, template_id = ?, name = ?, token_hash = ?,
		token = ?, static_token_id = ?, updated_at = ?, activated_at = ?, location_id = ? WHERE id = ?`,
		int64(d.OrgID), nullID(d.OwnerID), string(d.TemplateID), d.Name, d.TokenHash[:], d.Token, nullID(d.StaticToken),
		ms(d.UpdatedAt), ms(d.ActivatedAt), nullID(d.LocationID), int64(d.ID))
	return mustAffect("update device", res, err)
}

func (q *queries) DeleteDevice(ctx context.Context, id tenancy.DeviceID) error {
	res, err := q.exec(ctx, `DELETE FROM devices WHERE id = ?`, int64(id))
	return mustAffect("delete device", res, err)
}

func (q *queries) GetDevice(ctx context.Context, id tenancy.DeviceID) (tenancy.Device, error) {
	d, err := scanDevice(q.queryRow(ctx, `SELECT `+deviceCols+` FROM devices d WHERE d.id = ?`, int64(id)))
	return d, mapErr("get device", err)
}

func (q *queries) GetDeviceByTokenHash(ctx context.Context, h [32]byte) (tenancy.Device, error) {
	d, err := scanDevice(q.queryRow(ctx, `SELECT `+deviceCols+` FROM devices d WHERE d.token_hash = ?`, h[:]))
	return d, mapErr("get device", err)
}

func (q *queries) GetDeviceByUID(ctx context.Context, uid string) (tenancy.Device, error) {
	d, err := scanDevice(q.queryRow(ctx, `SELECT `+deviceCols+` FROM devices d WHERE d.uid = ?`, uid))
	return d, mapErr("get device", err)
}

// DeviceUIDDeleted reads the tombstones a trigger writes on every device
// deletion (migration 0003).
func (q *queries) DeviceUIDDeleted(ctx context.Context, uid string) (bool, error) {
	n, err := q.count(ctx, "device tombstone", `SELECT count(*) FROM deleted_device_uids WHERE uid = ?`, uid)
	return n > 0, err
}

// ListDevices answers "the devices of this scope" with one indexed query.
// Rows come in id order so pages are keyset ranges. For a subtree there
// are two plans, chosen from the per-org device counts:
//
//   - walk: scan devices in id order and keep those whose org is in the
//     subtree (a closure primary-key probe per row). It stops after one
//     page, so it wins when the subtree holds a large share of all devices
//     (a root Admin).
//   - gather: read the subtree's orgs from the closure and each org's
//     devices from (org_id, id), then sort. It wins for small subtrees.
//
// The walk reads about limit·total/inScope rows, the gather inScope rows.
func (q *queries) ListDevices(ctx context.Context, f tenancy.DeviceFilter) (tenancy.List[tenancy.Device], error) {
	f.Page = pageSize(f.Page)
	if !likeable(f.Query) {
		return tenancy.List[tenancy.Device]{}, nil
	}
	var l tenancy.List[tenancy.Device]
	org := int64(f.Scope.OrgID)

	var extra string
	var extraArgs []any
	if f.TemplateID != "" {
		extra, extraArgs = extra+" AND d.template_id = ?", append(extraArgs, string(f.TemplateID))
	}
	if f.Query != "" {
		extra, extraArgs = extra+` AND d.name LIKE ? ESCAPE '\'`, append(extraArgs, likePattern(f.Query))
	}
	plain := extra == "" && f.OwnerID == 0

	var from, cond string
	var args []any
	switch {
	case f.OwnerID != 0:
		// An owner's devices are few: the owner index, then a scope probe.
		from = "devices d INDEXED BY devices_owner"
		cond, args = "d.owner_id = ?", []any{int64(f.OwnerID)}
		if f.Scope.Subtree {
			cond += " AND EXISTS (SELECT 1 FROM org_closure c WHERE c.ancestor = ? AND c.descendant = d.org_id)"
		} else {
			cond += " AND d.org_id = ?"
		}
		args = append(args, org)
	case !f.Scope.Subtree:
		from, cond, args = "devices d INDEXED BY devices_org", "d.org_id = ?", []any{org}
		if plain {
			n, err := q.count(ctx, "count devices", `SELECT coalesce((SELECT n_direct FROM org_device_counts WHERE org_id = ?), 0)`, org)
			if err != nil {
				return l, err
			}
			l.Total = n
		}
	default:
		inScope, all, err := q.deviceCounts(ctx, org)
		if err != nil {
			return l, err
		}
		if plain {
			l.Total = inScope
		}
		limit := f.Page.Size + f.Page.Offset()
		if int64(inScope)*int64(inScope) >= int64(limit)*int64(all) {
			from = "devices d NOT INDEXED" // rowid order; the primary key still seeks the cursor
			cond = "EXISTS (SELECT 1 FROM org_closure c WHERE c.ancestor = ? AND c.descendant = d.org_id)"
		} else {
			from = "org_closure c CROSS JOIN devices d INDEXED BY devices_org"
			cond = "c.ancestor = ? AND d.org_id = c.descendant"
		}
		args = []any{org}
	}
	cond += extra
	args = append(args, extraArgs...)

	if !plain {
		n, err := q.count(ctx, "count devices", `SELECT count(*) FROM `+from+` WHERE `+cond, args...)
		if err != nil {
			return l, err
		}
		l.Total = n
	}
	pw, tail, pargs := pageSQL(f.Page, "d.id", false, append([]any(nil), args...))
	rows, err := q.query(ctx, `SELECT `+deviceCols+` FROM `+from+` WHERE `+cond+pw+tail, pargs...)
	if err != nil {
		return l, mapErr("list devices", err)
	}
	if l.Items, err = collect(rows, "list devices", scanDevice); err != nil {
		return l, err
	}
	if len(l.Items) > 0 {
		l.Next = next(len(l.Items), f.Page.Size, int64(l.Items[len(l.Items)-1].ID))
	}
	return l, nil
}

// deviceCounts returns the devices in org's subtree and in the whole store
// (the sum over roots), each from maintained counters.
func (q *queries) deviceCounts(ctx context.Context, org int64) (inScope, all int, err error) {
	err = q.queryRow(ctx, `SELECT
		coalesce((SELECT n_subtree FROM org_device_counts WHERE org_id = ?), 0),
		coalesce((SELECT sum(c.n_subtree) FROM orgs o JOIN org_device_counts c ON c.org_id = o.id WHERE o.parent_id IS NULL), 0)`,
		org).Scan(&inScope, &all)
	return inScope, all, mapErr("device counts", err)
}

func (q *queries) ClearOwner(ctx context.Context, owner tenancy.UserID) (int, error) {
	res, err := q.exec(ctx, `UPDATE devices SET owner_id = NULL WHERE owner_id = ?`, int64(owner))
	return affected("clear owner", res, err)
}

func affected(op string, res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return int(n), nil
}
