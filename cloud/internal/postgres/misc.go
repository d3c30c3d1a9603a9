package postgres

import (
	"context"
	"encoding/json"
	"time"

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

// insertID runs an INSERT ... RETURNING id.
func (q *queries) insertID(ctx context.Context, op, query string, a ...any) (int64, error) {
	var id int64
	if err := q.db.QueryRow(ctx, query+` RETURNING id`, a...).Scan(&id); err != nil {
		return 0, mapErr(op, err)
	}
	return id, nil
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
	return listByID(ctx, q, "static tokens", staticTokenCols, "static_tokens", cond, a, f.Page, false, scanStaticToken,
		func(st tenancy.StaticToken) int64 { return int64(st.ID) })
}

// listByID pages a simple table by its integer id.
func listByID[T any](ctx context.Context, q *queries, op, cols, table, cond string, a args, p tenancy.Page, desc bool,
	scan func(scanner) (T, error), id func(T) int64) (tenancy.List[T], error) {
	p = pageSize(p)
	total, err := q.count(ctx, "count "+op, `SELECT count(*) FROM `+table+` WHERE `+cond, a...)
	if err != nil {
		return tenancy.List[T]{}, err
	}
	pw, tail := pageSQL(p, "id", desc, &a)
	rows, err := q.db.Query(ctx, `SELECT `+cols+` FROM `+table+` WHERE `+cond+pw+tail, a...)
	items, err := collect(rows, err, "list "+op, scan)
	if err != nil {
		return tenancy.List[T]{}, err
	}
	l := tenancy.List[T]{Items: items, Total: total}
	if len(items) > 0 {
		l.Next = next(len(items), p.Size, id(items[len(items)-1]))
	}
	return l, nil
}

const locationCols = `id, org_id, owner_id, name, address, lat, lon, users, created_at`

func scanLocation(r scanner) (tenancy.Location, error) {
	var l tenancy.Location
	var addr, users string
	var created int64
	if err := r.Scan(&l.ID, &l.OrgID, &l.OwnerID, &l.Name, &addr, &l.Lat, &l.Lon, &users, &created); err != nil {
		return l, err
	}
	l.CreatedAt = fromMS(created)
	if err := json.Unmarshal([]byte(addr), &l.Address); err != nil {
		return l, err
	}
	return l, json.Unmarshal([]byte(users), &l.Users)
}

func (q *queries) CreateLocation(ctx context.Context, l *tenancy.Location) error {
	id, err := q.insertID(ctx, "create location", `INSERT INTO locations (org_id, owner_id, name, address, lat, lon, users, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon,
		jsonText(nonNil(l.Users)), ms(l.CreatedAt))
	l.ID = tenancy.LocationID(id)
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (q *queries) UpdateLocation(ctx context.Context, l tenancy.Location) error {
	tag, err := q.db.Exec(ctx, `UPDATE locations SET org_id = $1, owner_id = $2, name = $3, address = $4, lat = $5, lon = $6, users = $7 WHERE id = $8`,
		int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon, jsonText(nonNil(l.Users)), int64(l.ID))
	return mustAffect("update location", tag, err)
}

func (q *queries) DeleteLocation(ctx context.Context, id tenancy.LocationID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM locations WHERE id = $1`, int64(id))
	return mustAffect("delete location", tag, err)
}

func (q *queries) GetLocation(ctx context.Context, id tenancy.LocationID) (tenancy.Location, error) {
	l, err := scanLocation(q.db.QueryRow(ctx, `SELECT `+locationCols+` FROM locations WHERE id = $1`, int64(id)))
	return l, mapErr("get location", err)
}

func (q *queries) ListLocations(ctx context.Context, f tenancy.LocationFilter) (tenancy.List[tenancy.Location], error) {
	var a args
	cond := scopeSQL(f.Scope, "org_id", &a)
	if f.OwnerID != 0 {
		cond += " AND owner_id = " + a.add(int64(f.OwnerID))
	}
	return listByID(ctx, q, "locations", locationCols, "locations", cond, a, f.Page, false, scanLocation,
		func(l tenancy.Location) int64 { return int64(l.ID) })
}

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

const invitationCols = `id, user_id, org_id, by_org_id, by_user_id, token_hash, created_at, expires_at, used_at`

func (q *queries) CreateInvitation(ctx context.Context, inv *tenancy.Invitation) error {
	id, err := q.insertID(ctx, "create invitation", `INSERT INTO invitations (user_id, org_id, by_org_id, by_user_id, token_hash,
		created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		int64(inv.UserID), int64(inv.OrgID), int64(inv.ByOrgID), int64(inv.ByUserID), inv.TokenHash[:],
		ms(inv.CreatedAt), ms(inv.ExpiresAt), ms(inv.UsedAt))
	inv.ID = tenancy.InvitationID(id)
	return err
}

func (q *queries) GetInvitationByHash(ctx context.Context, h [32]byte) (tenancy.Invitation, error) {
	var inv tenancy.Invitation
	var hash []byte
	var created, expires, used int64
	err := q.db.QueryRow(ctx, `SELECT `+invitationCols+` FROM invitations WHERE token_hash = $1`, h[:]).Scan(
		&inv.ID, &inv.UserID, &inv.OrgID, &inv.ByOrgID, &inv.ByUserID, &hash, &created, &expires, &used)
	copy(inv.TokenHash[:], hash)
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return inv, mapErr("get invitation", err)
}

func (q *queries) MarkInvitationUsed(ctx context.Context, id tenancy.InvitationID, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE invitations SET used_at = $1 WHERE id = $2 AND used_at = 0`, ms(at), int64(id))
	return mustAffect("mark invitation used", tag, err)
}

func (q *queries) CountInvitations(ctx context.Context, byOrg tenancy.OrgID, since time.Time) (int, error) {
	return q.count(ctx, "count invitations", `SELECT count(*) FROM invitations WHERE by_org_id = $1 AND created_at >= $2`,
		int64(byOrg), ms(since))
}

func (q *queries) CreatePasswordReset(ctx context.Context, r tenancy.PasswordReset) error {
	_, err := q.db.Exec(ctx, `INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5)`, r.TokenHash[:], int64(r.UserID), ms(r.CreatedAt), ms(r.ExpiresAt), ms(r.UsedAt))
	return mapErr("create password reset", err)
}

func (q *queries) UsePasswordReset(ctx context.Context, h [32]byte, now time.Time) (tenancy.PasswordReset, error) {
	var r tenancy.PasswordReset
	var created, expires, used int64
	// One statement: marking and reading cannot be split by another user
	// (a concurrent UPDATE waits, then re-checks used_at).
	err := q.db.QueryRow(ctx, `UPDATE password_resets SET used_at = $2
		WHERE token_hash = $1 AND used_at = 0 AND expires_at > $2
		RETURNING user_id, created_at, expires_at, used_at`, h[:], ms(now)).Scan(&r.UserID, &created, &expires, &used)
	r.TokenHash = h
	r.CreatedAt, r.ExpiresAt, r.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return r, mapErr("use password reset", err)
}

const sessionCols = `id, token_hash, user_id, created_at, expires_at, revoked_at, remote_addr, user_agent`

func scanSession(r scanner) (tenancy.Session, error) {
	var s tenancy.Session
	var hash []byte
	var created, expires, revoked int64
	err := r.Scan(&s.ID, &hash, &s.UserID, &created, &expires, &revoked, &s.RemoteAddr, &s.UserAgent)
	copy(s.TokenHash[:], hash)
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
	return s, err
}

func (q *queries) CreateSession(ctx context.Context, s *tenancy.Session) error {
	id, err := q.insertID(ctx, "create session", `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at,
		remote_addr, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.TokenHash[:], int64(s.UserID), ms(s.CreatedAt),
		ms(s.ExpiresAt), ms(s.RevokedAt), s.RemoteAddr, s.UserAgent)
	s.ID = tenancy.SessionID(id)
	return err
}

func (q *queries) GetSessionByHash(ctx context.Context, h [32]byte) (tenancy.Session, error) {
	s, err := scanSession(q.db.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = $1`, h[:]))
	return s, mapErr("get session", err)
}

func (q *queries) RevokeSession(ctx context.Context, id tenancy.SessionID, at time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0`, ms(at), int64(id))
	n, err := affected("revoke session", tag, err)
	if err != nil || n > 0 {
		return err
	}
	// Revoking twice is fine; revoking nothing is NotFound.
	exists, err := q.count(ctx, "revoke session", `SELECT count(*) FROM sessions WHERE id = $1`, int64(id))
	if err == nil && exists == 0 {
		return &tenancy.Error{Code: tenancy.NotFound, Message: "revoke session: not found"}
	}
	return err
}

func (q *queries) RevokeUserSessions(ctx context.Context, u tenancy.UserID, at time.Time) (int, error) {
	tag, err := q.db.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at = 0`, ms(at), int64(u))
	return affected("revoke user sessions", tag, err)
}

func (q *queries) RevokeOtherSessions(ctx context.Context, u tenancy.UserID, keep tenancy.SessionID, at time.Time) (int, error) {
	tag, err := q.db.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at = 0`,
		ms(at), int64(u), int64(keep))
	return affected("revoke other sessions", tag, err)
}

func (q *queries) ListUserSessions(ctx context.Context, u tenancy.UserID, now time.Time) ([]tenancy.Session, error) {
	rows, err := q.db.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = $1 AND revoked_at = 0 AND expires_at > $2
		ORDER BY created_at DESC, id DESC`, int64(u), ms(now))
	return collect(rows, err, "list sessions", scanSession)
}

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
	id, err := q.insertID(ctx, "create gateway", `INSERT INTO gateways (org_id, name, claim_hash, created_at, claimed_at,
		credential_hash, claim_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		nullID(g.OrgID), g.Name, g.ClaimCodeHash[:], ms(g.CreatedAt), ms(g.ClaimedAt), nullHash(g.CredentialHash), ms(g.ClaimExpiresAt))
	g.ID = tenancy.GatewayID(id)
	return err
}

func (q *queries) UpdateGateway(ctx context.Context, g tenancy.Gateway) error {
	tag, err := q.db.Exec(ctx, `UPDATE gateways SET org_id = $1, name = $2, claim_hash = $3, claimed_at = $4, credential_hash = $5,
		claim_expires_at = $6 WHERE id = $7`,
		nullID(g.OrgID), g.Name, g.ClaimCodeHash[:], ms(g.ClaimedAt), nullHash(g.CredentialHash), ms(g.ClaimExpiresAt), int64(g.ID))
	return mustAffect("update gateway", tag, err)
}

func (q *queries) DeleteGateway(ctx context.Context, id tenancy.GatewayID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM gateways WHERE id = $1`, int64(id))
	return mustAffect("delete gateway", tag, err)
}

func (q *queries) GetGateway(ctx context.Context, id tenancy.GatewayID) (tenancy.Gateway, error) {
	g, err := scanGateway(q.db.QueryRow(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE id = $1`, int64(id)))
	return g, mapErr("get gateway", err)
}

func (q *queries) GetGatewayByClaimHash(ctx context.Context, h [32]byte) (tenancy.Gateway, error) {
	g, err := scanGateway(q.db.QueryRow(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE claim_hash = $1`, h[:]))
	return g, mapErr("get gateway", err)
}

func (q *queries) GetGatewayByCredentialHash(ctx context.Context, h [32]byte) (tenancy.Gateway, error) {
	if h == ([32]byte{}) {
		return tenancy.Gateway{}, &tenancy.Error{Code: tenancy.NotFound, Message: "get gateway: not found"}
	}
	g, err := scanGateway(q.db.QueryRow(ctx, `SELECT `+gatewayCols+` FROM gateways WHERE credential_hash = $1`, h[:]))
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
	var a args
	cond := scopeSQL(f.Scope, "org_id", &a)
	return listByID(ctx, q, "gateways", gatewayCols, "gateways", cond, a, f.Page, false, scanGateway,
		func(g tenancy.Gateway) int64 { return int64(g.ID) })
}

const auditCols = `id, at, org_id, user_id, client_id, action, object_type, object_id, before, after`

func scanAudit(r scanner) (tenancy.AuditEntry, error) {
	var e tenancy.AuditEntry
	var at int64
	var before, after *string
	err := r.Scan(&e.ID, &at, &e.OrgID, &e.UserID, &e.ClientID, &e.Action, &e.ObjectType, &e.ObjectID, &before, &after)
	e.At = fromMS(at)
	if before != nil {
		e.Before = json.RawMessage(*before)
	}
	if after != nil {
		e.After = json.RawMessage(*after)
	}
	return e, err
}

func rawOrNil(m json.RawMessage) any {
	if m == nil {
		return nil
	}
	return string(m)
}

func (q *queries) AppendAudit(ctx context.Context, e *tenancy.AuditEntry) error {
	id, err := q.insertID(ctx, "append audit", `INSERT INTO audit (at, org_id, user_id, client_id, action, object_type, object_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, ms(e.At), int64(e.OrgID), int64(e.UserID), e.ClientID, e.Action, e.ObjectType,
		e.ObjectID, rawOrNil(e.Before), rawOrNil(e.After))
	e.ID = tenancy.AuditID(id)
	return err
}

func (q *queries) ListAudit(ctx context.Context, f tenancy.AuditFilter) (tenancy.List[tenancy.AuditEntry], error) {
	var a args
	cond := ""
	if f.ObjectType != "" {
		cond = "object_type = " + a.add(f.ObjectType) + " AND object_id = " + a.add(f.ObjectID) + " AND "
	}
	cond += scopeSQL(f.Scope, "org_id", &a)
	if f.UserID != 0 {
		cond += " AND user_id = " + a.add(int64(f.UserID))
	}
	if f.Action != "" {
		cond += " AND action = " + a.add(f.Action)
	}
	if !f.Since.IsZero() {
		cond += " AND at >= " + a.add(ms(f.Since))
	}
	if !f.Until.IsZero() {
		cond += " AND at < " + a.add(ms(f.Until))
	}
	if !f.SkipTotal {
		return listByID(ctx, q, "audit", auditCols, "audit", cond, a, f.Page, true, scanAudit,
			func(e tenancy.AuditEntry) int64 { return int64(e.ID) })
	}
	p := pageSize(f.Page)
	pw, tail := pageSQL(p, "id", true, &a)
	rows, err := q.db.Query(ctx, `SELECT `+auditCols+` FROM audit WHERE `+cond+pw+tail, a...)
	items, err := collectT(rows, err, "list audit", scanAudit)
	if err != nil {
		return tenancy.List[tenancy.AuditEntry]{}, err
	}
	l := tenancy.List[tenancy.AuditEntry]{Items: items}
	if len(items) > 0 {
		l.Next = next(len(items), p.Size, int64(items[len(items)-1].ID))
	}
	return l, nil
}

func (q *queries) SetDeviceMeta(ctx context.Context, d tenancy.DeviceID, m tenancy.DeviceMeta) error {
	if _, err := q.GetDevice(ctx, d); err != nil {
		return err
	}
	_, err := q.db.Exec(ctx, `INSERT INTO device_meta (device_id, name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
		updated_by = excluded.updated_by`, int64(d), m.Name, m.Value, ms(m.UpdatedAt), int64(m.UpdatedBy))
	return mapErr("set device metadata", err)
}

func scanDeviceMeta(r scanner) (tenancy.DeviceMeta, error) {
	var m tenancy.DeviceMeta
	var at, by int64
	err := r.Scan(&m.Name, &m.Value, &at, &by)
	m.UpdatedAt, m.UpdatedBy = fromMS(at), tenancy.UserID(by)
	return m, err
}

func (q *queries) DeviceMeta(ctx context.Context, d tenancy.DeviceID) ([]tenancy.DeviceMeta, error) {
	rows, err := q.db.Query(ctx, `SELECT name, value, updated_at, updated_by FROM device_meta WHERE device_id = $1 ORDER BY name`, int64(d))
	return collectT(rows, err, "device metadata", scanDeviceMeta)
}

func (q *queries) SubtreeDeviceMeta(ctx context.Context, org tenancy.OrgID) (map[tenancy.DeviceID][]tenancy.DeviceMeta, error) {
	// Driven by the values (few devices have any), not by the subtree's
	// devices, which the view has read already.
	rows, err := q.db.Query(ctx, `SELECT m.device_id, m.name, m.value, m.updated_at, m.updated_by
		FROM device_meta m JOIN devices d ON d.id = m.device_id
		WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1) ORDER BY m.device_id, m.name`, int64(org))
	type row struct {
		id int64
		m  tenancy.DeviceMeta
	}
	all, err := collectT(rows, err, "subtree device metadata", func(r scanner) (row, error) {
		var x row
		var at, by int64
		err := r.Scan(&x.id, &x.m.Name, &x.m.Value, &at, &by)
		x.m.UpdatedAt, x.m.UpdatedBy = fromMS(at), tenancy.UserID(by)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	out := map[tenancy.DeviceID][]tenancy.DeviceMeta{}
	for _, x := range all {
		out[tenancy.DeviceID(x.id)] = append(out[tenancy.DeviceID(x.id)], x.m)
	}
	return out, nil
}

func (q *queries) LastAuditID(ctx context.Context) (tenancy.AuditID, error) {
	var id int64
	err := q.db.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM audit`).Scan(&id)
	return tenancy.AuditID(id), mapErr("last audit id", err)
}
