package tenancy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"
)

// Login is a person's credentials plus request metadata for the session.
type Login struct {
	Email      string
	Password   string
	RemoteAddr string
	UserAgent  string
}

// SessionResult is a new session; the caller hands Token to the client.
type SessionResult struct {
	Session Session
	Token   string
	User    User
}

// Login checks credentials and opens a session. Wrong email, wrong
// password and a Pending user without password give the same
// Unauthenticated error. A Suspended user is told so (Forbidden), but only
// once the password matched: the password is checked first, for every
// account alike, so that neither the answer nor its timing tells a
// stranger which accounts are suspended. The first login makes a user
// Active. With a Guard, an address or account with too many failures is refused
// with RateLimited (Error.RetryAfter says how long to wait) before the
// password is checked; every failure is logged with the user id (or a hash
// of an unknown email), the address and the reason (a suspended account
// counts as a failure too).
func (s *Service) Login(ctx context.Context, in Login) (SessionResult, error) {
	email := strings.ToLower(strings.TrimSpace(in.Email))
	logFailure := func(reason string, u UserID) {
		who := slog.Int64("user", int64(u))
		if u == 0 { // never the email itself: logs travel further than the database
			h := sha256.Sum256([]byte(email))
			who = slog.String("emailHash", hex.EncodeToString(h[:8]))
		}
		s.log.WarnContext(ctx, "login failed", who, "addr", in.RemoteAddr, "reason", reason)
	}
	fail := func(reason string, u UserID) (SessionResult, error) {
		logFailure(reason, u)
		s.failed(in.RemoteAddr, email)
		return SessionResult{}, Errorf(Unauthenticated, "wrong email or password")
	}
	if err := s.throttled(in.RemoteAddr, email); err != nil {
		logFailure("throttled", 0)
		return SessionResult{}, err
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if errIs(err, NotFound) {
		_ = s.hasher.Verify(s.dummyHash, in.Password)
		return fail("unknown email", 0)
	}
	if err != nil {
		return SessionResult{}, internal("get user", err)
	}
	switch {
	case u.PasswordHash == "":
		_ = s.hasher.Verify(s.dummyHash, in.Password)
		return fail("no password set", u.ID)
	case s.hasher.Verify(u.PasswordHash, in.Password) != nil:
		return fail("wrong password", u.ID)
	case u.Status == StatusSuspended:
		logFailure("suspended", u.ID)
		s.failed(in.RemoteAddr, email)
		return SessionResult{}, forbidden("this account is suspended")
	}
	if s.guard != nil {
		s.guard.Succeeded(in.RemoteAddr, email)
	}
	tok, err := s.newSecret("ses_", 43)
	if err != nil {
		return SessionResult{}, err
	}
	now := s.now().UTC()
	res := SessionResult{Token: tok}
	err = s.atomic(ctx, "login", func(tx Tx) error {
		u, err := tx.GetUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if u.Status == StatusPending || u.Status == StatusActive {
			u.Status = StatusActive
		}
		u.LastLoginAt, u.UpdatedAt = now, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		res.User = u
		res.Session = Session{TokenHash: HashToken(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL),
			RemoteAddr: in.RemoteAddr, UserAgent: in.UserAgent}
		return tx.CreateSession(ctx, &res.Session)
	})
	return res, err
}

// throttled is a RateLimited error (with RetryAfter) while the guard holds
// addr or account back, else nil.
func (s *Service) throttled(addr, account string) error {
	if s.guard == nil {
		return nil
	}
	if d := s.guard.Wait(addr, account); d > 0 {
		return &Error{Code: RateLimited, RetryAfter: d, Message: "too many failed attempts; try again later"}
	}
	return nil
}

// failed records a failed attempt with the guard.
func (s *Service) failed(addr, account string) {
	if s.guard != nil {
		s.guard.Failed(addr, account)
	}
}

// Logout revokes the session holding token; an unknown token is a no-op.
func (s *Service) Logout(ctx context.Context, token string) error {
	ses, err := s.store.GetSessionByHash(ctx, HashToken(token))
	if errIs(err, NotFound) {
		return nil
	}
	if err != nil {
		return internal("get session", err)
	}
	if err := s.store.RevokeSession(ctx, ses.ID, s.now().UTC()); err != nil {
		return internal("revoke session", err)
	}
	s.tellRevoked()
	return nil
}

// SessionActor resolves a session token to its user. Expired, revoked or
// unknown tokens and suspended users are Unauthenticated.
func (s *Service) SessionActor(ctx context.Context, token string) (Actor, User, error) {
	bad := Errorf(Unauthenticated, "session expired or invalid")
	ses, err := s.store.GetSessionByHash(ctx, HashToken(token))
	if errIs(err, NotFound) {
		return Actor{}, User{}, bad
	}
	if err != nil {
		return Actor{}, User{}, internal("get session", err)
	}
	now := s.now()
	if !ses.RevokedAt.IsZero() || !now.Before(ses.ExpiresAt) {
		return Actor{}, User{}, bad
	}
	u, err := s.store.GetUser(ctx, ses.UserID)
	if errIs(err, NotFound) || (err == nil && u.Status == StatusSuspended) {
		return Actor{}, User{}, bad
	}
	if err != nil {
		return Actor{}, User{}, internal("get user", err)
	}
	if !s.tree.Load().Has(u.OrgID) {
		// Another process (the operator's "tree create") added the user's
		// tree to the store after this one loaded it.
		if err := s.Reload(ctx); err != nil {
			return Actor{}, User{}, err
		}
	}
	return Actor{UserID: u.ID, OrgID: u.OrgID, RoleID: u.RoleID, SessionID: ses.ID}, s.WithStatus(u), nil
}

// NewOAuthClient describes an OAuth2 client to create in OrgID.
type NewOAuthClient struct {
	OrgID        OrgID
	Name         string
	RedirectURLs []string
}

// TokenPair is what the OAuth2 token endpoint returns.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	OrgID        OrgID
}

// CreateOAuthClient creates a client acting for OrgID and below
// (OAUTH_CLIENTS_CREATE). The secret is returned once; only its hash is kept.
func (s *Service) CreateOAuthClient(ctx context.Context, a Actor, in NewOAuthClient) (OAuthClient, string, error) {
	if in.OrgID == 0 {
		in.OrgID = a.OrgID
	}
	if err := s.decide(a, OAuthClientsCreate, OrgResource(in.OrgID), "organization"); err != nil {
		return OAuthClient{}, "", err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validName("client name", in.Name, 1, 64); err != nil {
		return OAuthClient{}, "", err
	}
	if len(in.RedirectURLs) > 11 {
		return OAuthClient{}, "", invalid("at most 11 redirect URLs")
	}
	id, err := s.newSecret("oc_", 24)
	if err != nil {
		return OAuthClient{}, "", err
	}
	secret, err := s.newSecret("", 48)
	if err != nil {
		return OAuthClient{}, "", err
	}
	c := OAuthClient{ID: id, OrgID: in.OrgID, Name: in.Name, SecretHash: HashToken(secret), RedirectURLs: in.RedirectURLs,
		CreatedBy: a.UserID, CreatedAt: s.now().UTC()}
	err = s.atomic(ctx, "create oauth client", func(tx Tx) error {
		if err := tx.CreateOAuthClient(ctx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, c.OrgID, "oauth_client.create", "oauth_client", c.ID, nil, c)
	})
	if err != nil {
		return OAuthClient{}, "", err
	}
	return c, secret, nil
}

// OAuthClients lists the clients of an org (OAUTH_CLIENTS_VIEW).
func (s *Service) OAuthClients(ctx context.Context, a Actor, org OrgID) ([]OAuthClient, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, OAuthClientsView, OrgResource(org), "organization"); err != nil {
		return nil, err
	}
	cs, err := s.store.ListOAuthClients(ctx, org)
	if err != nil {
		return nil, internal("list oauth clients", err)
	}
	return cs, nil
}

// DeleteOAuthClient deletes a client and its tokens (OAUTH_CLIENTS_DELETE).
func (s *Service) DeleteOAuthClient(ctx context.Context, a Actor, id string) error {
	return s.atomic(ctx, "delete oauth client", func(tx Tx) error {
		c, err := tx.GetOAuthClient(ctx, id)
		if errIs(err, NotFound) {
			return notFound("client")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, OAuthClientsDelete, Resource{OrgID: c.OrgID}, "client"); err != nil {
			return err
		}
		if err := tx.DeleteOAuthClient(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, c.OrgID, "oauth_client.delete", "oauth_client", id, c, nil)
	})
}

// RotateOAuthClientSecret gives a client a new secret (OAUTH_CLIENTS_EDIT),
// returned once. The old secret and every token issued with it stop
// working at once: the client is recreated under the same id with the new
// secret's hash (the store has no secret update, and deleting a client
// revokes its tokens).
func (s *Service) RotateOAuthClientSecret(ctx context.Context, a Actor, id string) (OAuthClient, string, error) {
	secret, err := s.newSecret("", 48)
	if err != nil {
		return OAuthClient{}, "", err
	}
	var c OAuthClient
	err = s.atomic(ctx, "rotate oauth client secret", func(tx Tx) error {
		before, err := tx.GetOAuthClient(ctx, id)
		if errIs(err, NotFound) {
			return notFound("client")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, OAuthClientsEdit, Resource{OrgID: before.OrgID}, "client"); err != nil {
			return err
		}
		c = before
		c.SecretHash = HashToken(secret)
		if err := tx.DeleteOAuthClient(ctx, id); err != nil {
			return err
		}
		if err := tx.CreateOAuthClient(ctx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, c.OrgID, "oauth_client.rotate", "oauth_client", c.ID, nil, map[string]string{"secret": "rotated"})
	})
	if err != nil {
		return OAuthClient{}, "", err
	}
	return c, secret, nil
}

// IssueClientToken is the client_credentials grant. Bad credentials are
// Unauthenticated.
func (s *Service) IssueClientToken(ctx context.Context, clientID, secret string) (TokenPair, error) {
	c, err := s.store.GetOAuthClient(ctx, clientID)
	h := HashToken(secret)
	if errIs(err, NotFound) || (err == nil && subtle.ConstantTimeCompare(h[:], c.SecretHash[:]) != 1) {
		return TokenPair{}, Errorf(Unauthenticated, "invalid client credentials")
	}
	if err != nil {
		return TokenPair{}, internal("get client", err)
	}
	return s.issuePair(ctx, c)
}

func (s *Service) issuePair(ctx context.Context, c OAuthClient) (TokenPair, error) {
	at, err := s.newSecret("at_", 43)
	if err != nil {
		return TokenPair{}, err
	}
	rt, err := s.newSecret("rt_", 43)
	if err != nil {
		return TokenPair{}, err
	}
	now := s.now().UTC()
	err = s.atomic(ctx, "issue token", func(tx Tx) error {
		if err := tx.CreateAccessToken(ctx, AccessToken{TokenHash: HashToken(at), ClientID: c.ID, OrgID: c.OrgID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.AccessTokenTTL)}); err != nil {
			return err
		}
		return tx.CreateRefreshToken(ctx, RefreshToken{TokenHash: HashToken(rt), ClientID: c.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL)})
	})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: at, RefreshToken: rt, ExpiresIn: s.cfg.AccessTokenTTL, OrgID: c.OrgID}, nil
}

// RefreshClientToken is the refresh_token grant: the refresh token is
// single use.
func (s *Service) RefreshClientToken(ctx context.Context, refresh string) (TokenPair, error) {
	var c OAuthClient
	err := s.atomic(ctx, "refresh token", func(tx Tx) error {
		rt, err := tx.UseRefreshToken(ctx, HashToken(refresh), s.now().UTC())
		if err != nil {
			return err
		}
		c, err = tx.GetOAuthClient(ctx, rt.ClientID)
		return err
	})
	if errIs(err, NotFound) {
		return TokenPair{}, Errorf(Unauthenticated, "invalid or expired refresh token")
	}
	if err != nil {
		return TokenPair{}, err
	}
	return s.issuePair(ctx, c)
}

// TokenActor resolves an OAuth access token to its client actor.
func (s *Service) TokenActor(ctx context.Context, access string) (Actor, error) {
	bad := Errorf(Unauthenticated, "invalid or expired access token")
	t, err := s.store.GetAccessTokenByHash(ctx, HashToken(access))
	if errIs(err, NotFound) {
		return Actor{}, bad
	}
	if err != nil {
		return Actor{}, internal("get token", err)
	}
	if !t.RevokedAt.IsZero() || !s.now().Before(t.ExpiresAt) || !s.tree.Load().Has(t.OrgID) {
		return Actor{}, bad
	}
	return Actor{ClientID: t.ClientID, OrgID: t.OrgID}, nil
}

// Sessions lists the acting user's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, a Actor) ([]Session, error) {
	if a.UserID == 0 {
		return nil, forbidden("only people have sessions")
	}
	ses, err := s.store.ListUserSessions(ctx, a.UserID, s.now().UTC())
	if err != nil {
		return nil, internal("list sessions", err)
	}
	return ses, nil
}

// LogoutEverywhere revokes every session of the acting user, this one
// included (the console's "sign out everywhere").
func (s *Service) LogoutEverywhere(ctx context.Context, a Actor) (int, error) {
	if a.UserID == 0 {
		return 0, forbidden("only people have sessions")
	}
	n, err := s.store.RevokeUserSessions(ctx, a.UserID, s.now().UTC())
	if err != nil {
		return n, internal("revoke sessions", err)
	}
	s.tellRevoked()
	return n, nil
}
