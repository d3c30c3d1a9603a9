package sqlite

import (
	"context"

	"outpost/cloud/internal/tenancy"
)

const gatewayCols = `id, coalesce(org_id, 0), name, claim_hash, created_at, claimed_at, credential_hash, claim_expires_at`

func scanGateway(r scanner) (tenancy.Gateway, error) {
	var g tenancy.Gateway
	var hash, cred []byte
	var created, claimed, expires int64
	err := r.Scan(&g.ID, &g.OrgID, &g.Name, &hash, &created, &claimed, &cred, &expires)
	copy(g.ClaimCodeHash[:], hash)
	copy(g.CredentialHash[:], cred)
	g.CreatedAt, g.ClaimedAt, g.ClaimExpiresAt = fromMS(created), fromMS(claimed), fromMS(expires)
	return g, err
}

func (q *queries) CreateGateway(ctx context.Context, g *tenancy.Gateway) error {
	res, err := q.exec(ctx, `INSERT INTO gateways (org_id, name, claim_hash, created_at, claimed_at, credential_hash, claim_expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		nullID(g.OrgID), g.Name, g.ClaimCodeHash[:], ms(g.CreatedAt), ms(g.ClaimedAt), nullHash(g.CredentialHash), ms(g.ClaimExpiresAt))
	if err != nil {
		return mapErr("create gateway", err)
	}
	id, err := res.LastInsertId()
	g.ID = tenancy.GatewayID(id)
	return mapErr("create gateway", err)
}

func (q *queries) UpdateGateway(ctx context.Context, g tenancy.Gateway) error {
	res, err := q.exec(ctx, `UPDATE gateways SET org_id = ?, name = ?, claim_hash = ?, claimed_at = ?, credential_hash = ?,
		claim_expires_at = ? WHERE id = ?`,
		nullID(g.OrgID), g.Name, g.ClaimCodeHash[:], ms(g.ClaimedAt), nullHash(g.CredentialHash), ms(g.ClaimExpiresAt), int64(g.ID))
	return mustAffect("update gateway", res, err)
}

func (q *queries) DeleteGateway(ctx context.Context, id tenancy.GatewayID) error {
	res, err := q.exec(ctx, `DELETE FROM gateways WHERE id = ?`, int64(id))
	return mustAffect("delete gateway", res, err)
}

func (q *queries) GetGateway(ctx context.Context, id tenancy.GatewayID) (tenancy.Gateway, error) {
	g, err := scanGateway(q.queryRow(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE id = ?`, int64(id)))
	return g, mapErr("get gateway", err)
}

func (q *queries) GetGatewayByClaimHash(ctx context.Context, h [32]byte) (tenancy.Gateway, error) {
	g, err := scanGateway(q.queryRow(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE claim_hash = ?`, h[:]))
	return g, mapErr("get gateway", err)
}

func (q *queries) GetGatewayByCredentialHash(ctx context.Context, h [32]byte) (tenancy.Gateway, error) {
	if h == ([32]byte{}) {
		return tenancy.Gateway{}, &tenancy.Error{Code: tenancy.NotFound, Message: "get gateway: not found"}
	}
	g, err := scanGateway(q.queryRow(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE credential_hash = ?`, h[:]))
	return g, mapErr("get gateway", err)
}

// nullHash stores a zero hash as NULL (so the unique index ignores it).
func nullHash(h [32]byte) any {
	if h == ([32]byte{}) {
		return nil
	}
	return h[:]
}

func (q *queries) ListGateways(ctx context.Context, f tenancy.GatewayFilter) (tenancy.List[tenancy.Gateway], error) {
	cond, args := scopeSQL(f.Scope, "org_id")
	return listByID(ctx, q, "gateways", gatewayCols, "gateways", cond, args, f.Page, false, f.SkipTotal, scanGateway,
		func(g tenancy.Gateway) int64 { return int64(g.ID) })
}
