package sqlite

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
		f.Page, false, scanStaticToken, func(st tenancy.StaticToken) int64 { return int64(st.ID) })
}

// listByID pages a simple table by its integer id.
func listByID[T any](ctx context.Context, q *queries, op, cols, table, cond string, args []any, p tenancy.Page, desc bool,
	scan func(scanner) (T, error), id func(T) int64) (tenancy.List[T], error) {
	p = pageSize(p)
	total, err := q.count(ctx, "count "+op, `SELECT count(*) FROM `+table+` WHERE `+cond, args...)
	if err != nil {
		return tenancy.List[T]{}, err
	}
	pw, tail, pargs := pageSQL(p, "id", desc, append([]any(nil), args...))
	rows, err := q.query(ctx, `SELECT `+cols+` FROM `+table+` WHERE `+cond+pw+tail, pargs...)
	if err != nil {
		return tenancy.List[T]{}, mapErr("list "+op, err)
	}
	items, err := collect(rows, "list "+op, scan)
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
	res, err := q.exec(ctx, `INSERT INTO locations (org_id, owner_id, name, address, lat, lon, users, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon,
		jsonText(nonNil(l.Users)), ms(l.CreatedAt))
	if err != nil {
		return mapErr("create location", err)
	}
	id, err := res.LastInsertId()
	l.ID = tenancy.LocationID(id)
	return mapErr("create location", err)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (q *queries) UpdateLocation(ctx context.Context, l tenancy.Location) error {
	res, err := q.exec(ctx, `UPDATE locations SET org_id = ?, owner_id = ?, name = ?, address = ?, lat = ?, lon = ?, users = ? WHERE id = ?`,
		int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon, jsonText(nonNil(l.Users)), int64(l.ID))
	return mustAffect("update location", res, err)
}

func (q *queries) DeleteLocation(ctx context.Context, id tenancy.LocationID) error {
	res, err := q.exec(ctx, `DELETE FROM locations WHERE id = ?`, int64(id))
	return mustAffect("delete location", res, err)
}

func (q *queries) GetLocation(ctx context.Context, id tenancy.LocationID) (tenancy.Location, error) {
	l, err := scanLocation(q.queryRow(ctx, `SELECT `+locationCols+` FROM locations WHERE id = ?`, int64(id)))
	return l, mapErr("get location", err)
}

func (q *queries) ListLocations(ctx context.Context, f tenancy.LocationFilter) (tenancy.List[tenancy.Location], error) {
	cond, args := scopeSQL(f.Scope, "org_id")
	if f.OwnerID != 0 {
		cond, args = cond+" AND owner_id = ?", append(args, int64(f.OwnerID))
	}
	return listByID(ctx, q, "locations", locationCols, "locations", cond, args, f.Page, false, scanLocation,
		func(l tenancy.Location) int64 { return int64(l.ID) })
}

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

const invitationCols = `id, user_id, org_id, by_org_id, by_user_id, token_hash, created_at, expires_at, used_at`

func (q *queries) CreateInvitation(ctx context.Context, inv *tenancy.Invitation) error {
	res, err := q.exec(ctx, `INSERT INTO invitations (user_id, org_id, by_org_id, by_user_id, token_hash,
		created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(inv.UserID), int64(inv.OrgID), int64(inv.ByOrgID), int64(inv.ByUserID), inv.TokenHash[:],
		ms(inv.CreatedAt), ms(inv.ExpiresAt), ms(inv.UsedAt))
	if err != nil {
		return mapErr("create invitation", err)
	}
	id, err := res.LastInsertId()
	inv.ID = tenancy.InvitationID(id)
	return mapErr("create invitation", err)
}

func (q *queries) GetInvitationByHash(ctx context.Context, h [32]byte) (tenancy.Invitation, error) {
	var inv tenancy.Invitation
	var hash []byte
	var created, expires, used int64
	err := q.queryRow(ctx, `SELECT `+invitationCols+` FROM invitations WHERE token_hash = ?`, h[:]).Scan(
		&inv.ID, &inv.UserID, &inv.OrgID, &inv.ByOrgID, &inv.ByUserID, &hash, &created, &expires, &used)
	copy(inv.TokenHash[:], hash)
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return inv, mapErr("get invitation", err)
}

func (q *queries) MarkInvitationUsed(ctx context.Context, id tenancy.InvitationID, at time.Time) error {
	res, err := q.exec(ctx, `UPDATE invitations SET used_at = ? WHERE id = ? AND used_at = 0`, ms(at), int64(id))
	return mustAffect("mark invitation used", res, err)
}

func (q *queries) CountInvitations(ctx context.Context, byOrg tenancy.OrgID, since time.Time) (int, error) {
	return q.count(ctx, "count invitations", `SELECT count(*) FROM invitations WHERE by_org_id = ? AND created_at >= ?`,
		int64(byOrg), ms(since))
}

func (q *queries) CreatePasswordReset(ctx context.Context, r tenancy.PasswordReset) error {
	_, err := q.exec(ctx, `INSERT INTO password_resets (token_hash, user_id, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?)`, r.TokenHash[:], int64(r.UserID), ms(r.CreatedAt), ms(r.ExpiresAt), ms(r.UsedAt))
	return mapErr("create password reset", err)
}

func (q *queries) UsePasswordReset(ctx context.Context, h [32]byte, now time.Time) (tenancy.PasswordReset, error) {
	var r tenancy.PasswordReset
	var created, expires, used int64
	// One statement: marking and reading cannot be split by another user.
	err := q.queryRow(ctx, `UPDATE password_resets SET used_at = ?2
		WHERE token_hash = ?1 AND used_at = 0 AND expires_at > ?2
		RETURNING user_id, created_at, expires_at, used_at`, h[:], ms(now)).Scan(&r.UserID, &created, &expires, &used)
	r.TokenHash = h
	r.CreatedAt, r.ExpiresAt, r.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return r, mapErr("use password reset", err)
}

const sessionCols = `id, token_hash, user_id, created_at, expires_at, revoked_at, remote_addr, user_agent`

func (q *queries) CreateSession(ctx context.Context, s *tenancy.Session) error {
	res, err := q.exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at,
		remote_addr, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)`, s.TokenHash[:], int64(s.UserID), ms(s.CreatedAt),
		ms(s.ExpiresAt), ms(s.RevokedAt), s.RemoteAddr, s.UserAgent)
	if err != nil {
		return mapErr("create session", err)
	}
	id, err := res.LastInsertId()
	s.ID = tenancy.SessionID(id)
	return mapErr("create session", err)
}

func (q *queries) GetSessionByHash(ctx context.Context, h [32]byte) (tenancy.Session, error) {
	var s tenancy.Session
	var hash []byte
	var created, expires, revoked int64
	err := q.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = ?`, h[:]).Scan(
		&s.ID, &hash, &s.UserID, &created, &expires, &revoked, &s.RemoteAddr, &s.UserAgent)
	copy(s.TokenHash[:], hash)
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
	return s, mapErr("get session", err)
}

func (q *queries) RevokeSession(ctx context.Context, id tenancy.SessionID, at time.Time) error {
	res, err := q.exec(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, ms(at), int64(id))
	n, err := affected("revoke session", res, err)
	if err != nil || n > 0 {
		return err
	}
	// Revoking twice is fine; revoking nothing is NotFound.
	exists, err := q.count(ctx, "revoke session", `SELECT count(*) FROM sessions WHERE id = ?`, int64(id))
	if err == nil && exists == 0 {
		return &tenancy.Error{Code: tenancy.NotFound, Message: "revoke session: not found"}
	}
	return err
}

func (q *queries) RevokeUserSessions(ctx context.Context, u tenancy.UserID, at time.Time) (int, error) {
	res, err := q.exec(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0`, ms(at), int64(u))
	return affected("revoke user sessions", res, err)
}

func (q *queries) RevokeOtherSessions(ctx context.Context, u tenancy.UserID, keep tenancy.SessionID, at time.Time) (int, error) {
	res, err := q.exec(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id != ? AND revoked_at = 0`,
		ms(at), int64(u), int64(keep))
	return affected("revoke other sessions", res, err)
}

func (q *queries) ListUserSessions(ctx context.Context, u tenancy.UserID, now time.Time) ([]tenancy.Session, error) {
	rows, err := q.query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = ? AND revoked_at = 0 AND expires_at > ?
		ORDER BY created_at DESC, id DESC`, int64(u), ms(now))
	if err != nil {
		return nil, mapErr("list sessions", err)
	}
	defer rows.Close()
	var out []tenancy.Session
	for rows.Next() {
		var s tenancy.Session
		var hash []byte
		var created, expires, revoked int64
		if err := rows.Scan(&s.ID, &hash, &s.UserID, &created, &expires, &revoked, &s.RemoteAddr, &s.UserAgent); err != nil {
			return nil, mapErr("list sessions", err)
		}
		copy(s.TokenHash[:], hash)
		s.CreatedAt, s.ExpiresAt, s.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
		out = append(out, s)
	}
	return out, mapErr("list sessions", rows.Err())
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
	_, err := q.exec(ctx, `INSERT INTO oauth_clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, int64(c.OrgID), c.Name, c.SecretHash[:], jsonText(nonNil(c.RedirectURLs)), int64(c.CreatedBy), ms(c.CreatedAt))
	return mapErr("create oauth client", err)
}

func (q *queries) GetOAuthClient(ctx context.Context, id string) (tenancy.OAuthClient, error) {
	c, err := scanClient(q.queryRow(ctx, `SELECT `+clientCols+` FROM oauth_clients WHERE id = ?`, id))
	return c, mapErr("get oauth client", err)
}

func (q *queries) ListOAuthClients(ctx context.Context, org tenancy.OrgID) ([]tenancy.OAuthClient, error) {
	rows, err := q.query(ctx, `SELECT `+clientCols+` FROM oauth_clients WHERE org_id = ? ORDER BY created_at, id`, int64(org))
	if err != nil {
		return nil, mapErr("list oauth clients", err)
	}
	return collect(rows, "list oauth clients", scanClient)
}

func (q *queries) DeleteOAuthClient(ctx context.Context, id string) error {
	res, err := q.exec(ctx, `DELETE FROM oauth_clients WHERE id = ?`, id)
	return mustAffect("delete oauth client", res, err)
}

func (q *queries) CreateAccessToken(ctx context.Context, t tenancy.AccessToken) error {
	_, err := q.exec(ctx, `INSERT INTO access_tokens (token_hash, client_id, org_id, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?)`, t.TokenHash[:], t.ClientID, int64(t.OrgID), ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.RevokedAt))
	return mapErr("create access token", err)
}

func (q *queries) GetAccessTokenByHash(ctx context.Context, h [32]byte) (tenancy.AccessToken, error) {
	var t tenancy.AccessToken
	var created, expires, revoked int64
	err := q.queryRow(ctx, `SELECT client_id, org_id, created_at, expires_at, revoked_at FROM access_tokens
		WHERE token_hash = ?`, h[:]).Scan(&t.ClientID, &t.OrgID, &created, &expires, &revoked)
	t.TokenHash = h
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
	return t, mapErr("get access token", err)
}

func (q *queries) CreateRefreshToken(ctx context.Context, t tenancy.RefreshToken) error {
	_, err := q.exec(ctx, `INSERT INTO refresh_tokens (token_hash, client_id, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?)`, t.TokenHash[:], t.ClientID, ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.UsedAt))
	return mapErr("create refresh token", err)
}

func (q *queries) UseRefreshToken(ctx context.Context, h [32]byte, now time.Time) (tenancy.RefreshToken, error) {
	var t tenancy.RefreshToken
	var created, expires, used int64
	err := q.queryRow(ctx, `UPDATE refresh_tokens SET used_at = ?2
		WHERE token_hash = ?1 AND used_at = 0 AND expires_at > ?2
		RETURNING client_id, created_at, expires_at, used_at`, h[:], ms(now)).Scan(&t.ClientID, &created, &expires, &used)
	t.TokenHash = h
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return t, mapErr("use refresh token", err)
}

func (q *queries) RevokeClientTokens(ctx context.Context, client string, at time.Time) error {
	if _, err := q.exec(ctx, `UPDATE access_tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at = 0`, ms(at), client); err != nil {
		return mapErr("revoke client tokens", err)
	}
	_, err := q.exec(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE client_id = ? AND used_at = 0`, ms(at), client)
	return mapErr("revoke client tokens", err)
}

func (q *queries) RevokeCreatorTokens(ctx context.Context, u tenancy.UserID, at time.Time) error {
	const mine = `client_id IN (SELECT id FROM oauth_clients WHERE created_by = ?)`
	if _, err := q.exec(ctx, `UPDATE access_tokens SET revoked_at = ? WHERE revoked_at = 0 AND `+mine, ms(at), int64(u)); err != nil {
		return mapErr("revoke creator tokens", err)
	}
	_, err := q.exec(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE used_at = 0 AND `+mine, ms(at), int64(u))
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
	return listByID(ctx, q, "gateways", gatewayCols, "gateways", cond, args, f.Page, false, scanGateway,
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
	res, err := q.exec(ctx, `INSERT INTO audit (at, org_id, user_id, client_id, action, object_type, object_id, before, after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ms(e.At), int64(e.OrgID), int64(e.UserID), e.ClientID, e.Action, e.ObjectType,
		e.ObjectID, rawOrNil(e.Before), rawOrNil(e.After))
	if err != nil {
		return mapErr("append audit", err)
	}
	id, err := res.LastInsertId()
	e.ID = tenancy.AuditID(id)
	return mapErr("append audit", err)
}

func (q *queries) ListAudit(ctx context.Context, f tenancy.AuditFilter) (tenancy.List[tenancy.AuditEntry], error) {
	cond, args := scopeSQL(f.Scope, "org_id")
	table := "audit"
	if f.ObjectType != "" {
		table = "audit INDEXED BY audit_object"
		cond, args = "object_type = ? AND object_id = ? AND "+cond, append([]any{f.ObjectType, f.ObjectID}, args...)
	}
	if f.UserID != 0 {
		cond, args = cond+" AND user_id = ?", append(args, int64(f.UserID))
	}
	if f.Action != "" {
		cond, args = cond+" AND action = ?", append(args, f.Action)
	}
	if !f.Since.IsZero() {
		cond, args = cond+" AND at >= ?", append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		cond, args = cond+" AND at < ?", append(args, ms(f.Until))
	}
	if !f.SkipTotal {
		return listByID(ctx, q, "audit", auditCols, table, cond, args, f.Page, true, scanAudit,
			func(e tenancy.AuditEntry) int64 { return int64(e.ID) })
	}
	p := pageSize(f.Page)
	pw, tail, pargs := pageSQL(p, "id", true, args)
	rows, err := q.query(ctx, `SELECT `+auditCols+` FROM `+table+` WHERE `+cond+pw+tail, pargs...)
	if err != nil {
		return tenancy.List[tenancy.AuditEntry]{}, mapErr("list audit", err)
	}
	items, err := collect(rows, "list audit", scanAudit)
	if err != nil {
		return tenancy.List[tenancy.AuditEntry]{}, err
	}
	l := tenancy.List[tenancy.AuditEntry]{Items: items}
	if len(items) > 0 {
		l.Next = next(len(items), p.Size, int64(items[len(items)-1].ID))
	}
	return l, nil
}

func (q *queries) LastAuditID(ctx context.Context) (tenancy.AuditID, error) {
	var id int64
	err := q.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM audit`).Scan(&id)
	return tenancy.AuditID(id), mapErr("last audit id", err)
}

func (q *queries) SetDeviceMeta(ctx context.Context, d tenancy.DeviceID, m tenancy.DeviceMeta) error {
	if _, err := q.GetDevice(ctx, d); err != nil {
		return err
	}
	_, err := q.exec(ctx, `INSERT INTO device_meta (device_id, name, value, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
		updated_by = excluded.updated_by`, int64(d), m.Name, m.Value, ms(m.UpdatedAt), int64(m.UpdatedBy))
	return mapErr("set device metadata", err)
}

func scanDeviceMeta(r scanner) (tenancy.DeviceMeta, error) {
	var m tenancy.DeviceMeta
	var at int64
	err := r.Scan(&m.Name, &m.Value, &at, &m.UpdatedBy)
	m.UpdatedAt = fromMS(at)
	return m, err
}

func (q *queries) DeviceMeta(ctx context.Context, d tenancy.DeviceID) ([]tenancy.DeviceMeta, error) {
	rows, err := q.query(ctx, `SELECT name, value, updated_at, updated_by FROM device_meta WHERE device_id = ? ORDER BY name`, int64(d))
	if err != nil {
		return nil, mapErr("device metadata", err)
	}
	return collect(rows, "device metadata", scanDeviceMeta)
}

func (q *queries) SubtreeDeviceMeta(ctx context.Context, org tenancy.OrgID) (map[tenancy.DeviceID][]tenancy.DeviceMeta, error) {
	// Driven by the values (few devices have any), not by the subtree's
	// devices, which the view has read already.
	rows, err := q.query(ctx, `SELECT m.device_id, m.name, m.value, m.updated_at, m.updated_by
		FROM device_meta m CROSS JOIN devices d ON d.id = m.device_id
		WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = ?) ORDER BY m.device_id, m.name`, int64(org))
	if err != nil {
		return nil, mapErr("subtree device metadata", err)
	}
	defer rows.Close()
	out := map[tenancy.DeviceID][]tenancy.DeviceMeta{}
	for rows.Next() {
		var id int64
		var m tenancy.DeviceMeta
		var at int64
		if err := rows.Scan(&id, &m.Name, &m.Value, &at, &m.UpdatedBy); err != nil {
			return nil, mapErr("subtree device metadata", err)
		}
		m.UpdatedAt = fromMS(at)
		out[tenancy.DeviceID(id)] = append(out[tenancy.DeviceID(id)], m)
	}
	return out, mapErr("subtree device metadata", rows.Err())
}
