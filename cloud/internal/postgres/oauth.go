package postgres

import (
	"context"
	"encoding/json"
	"time"

	"outpost/cloud/internal/tenancy"
)

const clientCols = `id, org_id, name, secret_hash, redirect_urls, created_by, created_at`

func scanClient(r scanner) (tenancy.OAuthClient, error) {
	var c tenancy.OAuthClient
	var hash []byte
	var urls string
	var created int64
	if err := r.Scan(&c.ID, &c.OrgID, &c.Name, &hash, &urls, &c.CreatedBy, &created); err != nil {
		return c, err
	}
	copy(c.SecretHash[:], hash)
	c.CreatedAt = fromMS(created)
	return c, json.Unmarshal([]byte(urls), &c.RedirectURLs)
}

func (q *queries) CreateOAuthClient(ctx context.Context, c tenancy.OAuthClient) error {
	_, err := q.db.Exec(ctx, `INSERT INTO oauth_clients (`+clientCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, int64(c.OrgID), c.Name, c.SecretHash[:], jsonText(nonNil(c.RedirectURLs)), int64(c.CreatedBy), ms(c.CreatedAt))
	return mapErr("create oauth client", err)
}

func (q *queries) GetOAuthClient(ctx context.Context, id string) (tenancy.OAuthClient, error) {
	if !likeable(id) {
		return tenancy.OAuthClient{}, &tenancy.Error{Code: tenancy.NotFound, Message: "get oauth client: not found"}
	}
	c, err := scanClient(q.db.QueryRow(ctx, `SELECT `+clientCols+` FROM oauth_clients WHERE id = $1`, id))
	return c, mapErr("get oauth client", err)
}

func (q *queries) ListOAuthClients(ctx context.Context, org tenancy.OrgID) ([]tenancy.OAuthClient, error) {
	rows, err := q.db.Query(ctx, `SELECT `+clientCols+` FROM oauth_clients WHERE org_id = $1 ORDER BY created_at, id COLLATE "C"`, int64(org))
	return collect(rows, err, "list oauth clients", scanClient)
}

func (q *queries) DeleteOAuthClient(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM oauth_clients WHERE id = $1`, id)
	return mustAffect("delete oauth client", tag, err)
}

func (q *queries) CreateAccessToken(ctx context.Context, t tenancy.AccessToken) error {
	_, err := q.db.Exec(ctx, `INSERT INTO access_tokens (token_hash, client_id, org_id, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, t.TokenHash[:], t.ClientID, int64(t.OrgID), ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.RevokedAt))
	return mapErr("create access token", err)
}

func (q *queries) GetAccessTokenByHash(ctx context.Context, h [32]byte) (tenancy.AccessToken, error) {
	var t tenancy.AccessToken
	var created, expires, revoked int64
	err := q.db.QueryRow(ctx, `SELECT client_id, org_id, created_at, expires_at, revoked_at FROM access_tokens
		WHERE token_hash = $1`, h[:]).Scan(&t.ClientID, &t.OrgID, &created, &expires, &revoked)
	t.TokenHash = h
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
	return t, mapErr("get access token", err)
}

func (q *queries) CreateRefreshToken(ctx context.Context, t tenancy.RefreshToken) error {
	_, err := q.db.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, client_id, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5)`, t.TokenHash[:], t.ClientID, ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.UsedAt))
	return mapErr("create refresh token", err)
}

func (q *queries) UseRefreshToken(ctx context.Context, h [32]byte, now time.Time) (tenancy.RefreshToken, error) {
	var t tenancy.RefreshToken
	var created, expires, used int64
	err := q.db.QueryRow(ctx, `UPDATE refresh_tokens SET used_at = $2
		WHERE token_hash = $1 AND used_at = 0 AND expires_at > $2
		RETURNING client_id, created_at, expires_at, used_at`, h[:], ms(now)).Scan(&t.ClientID, &created, &expires, &used)
	t.TokenHash = h
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return t, mapErr("use refresh token", err)
}

func (q *queries) RevokeClientTokens(ctx context.Context, client string, at time.Time) error {
	if _, err := q.db.Exec(ctx, `UPDATE access_tokens SET revoked_at = $1 WHERE client_id = $2 AND revoked_at = 0`, ms(at), client); err != nil {
		return mapErr("revoke client tokens", err)
	}
	_, err := q.db.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE client_id = $2 AND used_at = 0`, ms(at), client)
	return mapErr("revoke client tokens", err)
}

func (q *queries) RevokeCreatorTokens(ctx context.Context, u tenancy.UserID, at time.Time) error {
	const mine = `client_id IN (SELECT id FROM oauth_clients WHERE created_by = $2)`
	if _, err := q.db.Exec(ctx, `UPDATE access_tokens SET revoked_at = $1 WHERE revoked_at = 0 AND `+mine, ms(at), int64(u)); err != nil {
		return mapErr("revoke creator tokens", err)
	}
	_, err := q.db.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE used_at = 0 AND `+mine, ms(at), int64(u))
	return mapErr("revoke creator tokens", err)
}
