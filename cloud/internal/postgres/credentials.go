package postgres

import (
	"context"
	"time"

	"outpost/cloud/internal/tenancy"
)

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
