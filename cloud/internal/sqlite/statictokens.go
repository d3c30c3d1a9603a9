package sqlite

import (
	"context"

	"outpost/cloud/internal/tenancy"
)

const staticTokenCols = `id, qr, org_id, template_id, device_id, status, owner_id, claimed_org_id, created_at, claimed_at`

func scanStaticToken(r scanner) (tenancy.StaticToken, error) {
	var st tenancy.StaticToken
	var created, claimed int64
	err := r.Scan(&st.ID, &st.QR, &st.OrgID, &st.TemplateID, &st.DeviceID, &st.Status, &st.OwnerID, &st.ClaimedOrgID, &created, &claimed)
	st.CreatedAt, st.ClaimedAt = fromMS(created), fromMS(claimed)
	return st, err
}

func (q *queries) CreateStaticToken(ctx context.Context, st *tenancy.StaticToken) error {
	res, err := q.exec(ctx, `INSERT INTO static_tokens (qr, org_id, template_id, device_id, status, owner_id,
		claimed_org_id, created_at, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		st.QR, int64(st.OrgID), string(st.TemplateID), int64(st.DeviceID), string(st.Status), int64(st.OwnerID),
		int64(st.ClaimedOrgID), ms(st.CreatedAt), ms(st.ClaimedAt))
	if err != nil {
		return mapErr("create static token", err)
	}
	id, err := res.LastInsertId()
	st.ID = tenancy.StaticTokenID(id)
	return mapErr("create static token", err)
}

func (q *queries) UpdateStaticToken(ctx context.Context, st tenancy.StaticToken) error {
	res, err := q.exec(ctx, `UPDATE static_tokens SET device_id = ?, status = ?, owner_id = ?, claimed_org_id = ?,
		claimed_at = ? WHERE id = ?`, int64(st.DeviceID), string(st.Status), int64(st.OwnerID), int64(st.ClaimedOrgID),
		ms(st.ClaimedAt), int64(st.ID))
	return mustAffect("update static token", res, err)
}

func (q *queries) DeleteStaticToken(ctx context.Context, id tenancy.StaticTokenID) error {
	res, err := q.exec(ctx, `DELETE FROM static_tokens WHERE id = ?`, int64(id))
	return mustAffect("delete static token", res, err)
}

func (q *queries) GetStaticToken(ctx context.Context, id tenancy.StaticTokenID) (tenancy.StaticToken, error) {
	st, err := scanStaticToken(q.queryRow(ctx, `SELECT `+staticTokenCols+` FROM static_tokens WHERE id = ?`, int64(id)))
	return st, mapErr("get static token", err)
}

func (q *queries) GetStaticTokenByQR(ctx context.Context, qr string) (tenancy.StaticToken, error) {
	st, err := scanStaticToken(q.queryRow(ctx, `SELECT `+staticTokenCols+` FROM static_tokens WHERE qr = ?`, qr))
	return st, mapErr("get static token", err)
}

func (q *queries) ListStaticTokens(ctx context.Context, f tenancy.StaticTokenFilter) (tenancy.List[tenancy.StaticToken], error) {
	cond, args := "org_id = ?", []any{int64(f.OrgID)}
	if f.Status != "" {
		cond, args = cond+" AND status = ?", append(args, string(f.Status))
	}
	return listByID(ctx, q, "static tokens", staticTokenCols, "static_tokens", cond, args,
		f.Page, false, false, scanStaticToken, func(st tenancy.StaticToken) int64 { return int64(st.ID) })
}
