package postgres

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
	id, err := q.insertID(ctx, "create static token", `INSERT INTO static_tokens (qr, org_id, template_id, device_id, status, owner_id,
		claimed_org_id, created_at, claimed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		st.QR, int64(st.OrgID), string(st.TemplateID), int64(st.DeviceID), string(st.Status), int64(st.OwnerID),
		int64(st.ClaimedOrgID), ms(st.CreatedAt), ms(st.ClaimedAt))
	st.ID = tenancy.StaticTokenID(id)
	return err
}

func (q *queries) UpdateStaticToken(ctx context.Context, st tenancy.StaticToken) error {
	tag, err := q.db.Exec(ctx, `UPDATE static_tokens SET device_id = $1, status = $2, owner_id = $3, claimed_org_id = $4,
		claimed_at = $5 WHERE id = $6`, int64(st.DeviceID), string(st.Status), int64(st.OwnerID), int64(st.ClaimedOrgID),
		ms(st.ClaimedAt), int64(st.ID))
	return mustAffect("update static token", tag, err)
}

func (q *queries) DeleteStaticToken(ctx context.Context, id tenancy.StaticTokenID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM static_tokens WHERE id = $1`, int64(id))
	return mustAffect("delete static token", tag, err)
}

func (q *queries) GetStaticToken(ctx context.Context, id tenancy.StaticTokenID) (tenancy.StaticToken, error) {
	st, err := scanStaticToken(q.db.QueryRow(ctx, `SELECT `+staticTokenCols+` FROM static_tokens WHERE id = $1`, int64(id)))
	return st, mapErr("get static token", err)
}

func (q *queries) GetStaticTokenByQR(ctx context.Context, qr string) (tenancy.StaticToken, error) {
	if !likeable(qr) {
		return tenancy.StaticToken{}, &tenancy.Error{Code: tenancy.NotFound, Message: "get static token: not found"}
	}
	st, err := scanStaticToken(q.db.QueryRow(ctx, `SELECT `+staticTokenCols+` FROM static_tokens WHERE qr = $1`, qr))
	return st, mapErr("get static token", err)
}

func (q *queries) ListStaticTokens(ctx context.Context, f tenancy.StaticTokenFilter) (tenancy.List[tenancy.StaticToken], error) {
	var a args
	cond := "org_id = " + a.add(int64(f.OrgID))
	if f.Status != "" {
		cond += " AND status = " + a.add(string(f.Status))
	}
	return listByID(ctx, q, "static tokens", staticTokenCols, "static_tokens", cond, a, f.Page, false, false, scanStaticToken,
		func(st tenancy.StaticToken) int64 { return int64(st.ID) })
}
