package platformapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/tenancy"
)

// oauthError is RFC 6749's error shape, which §10 documents for the token
// endpoint (the one place that does not use {"error":{"message"}}).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

type tokenJSON struct {
	AccessToken  string        `json:"access_token"`
	TokenType    string        `json:"token_type"`
	ExpiresIn    int64         `json:"expires_in"`
	RefreshToken string        `json:"refresh_token"`
	OrgID        tenancy.OrgID `json:"orgId"`
}

// oauthToken is POST /oauth2/token: client_credentials (HTTP Basic, or
// client_id/client_secret parameters) and refresh_token grants.
func (c *call) oauthToken() error {
	c.w.Header().Set("Cache-Control", "no-store")
	if err := c.r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return c.json(http.StatusBadRequest, oauthError{"invalid_request", "malformed parameters"})
	}
	var (
		pair tenancy.TokenPair
		err  error
	)
	switch gt := c.r.Form.Get("grant_type"); gt {
	case "client_credentials":
		id, secret, ok := c.r.BasicAuth()
		if !ok {
			id, secret = c.r.Form.Get("client_id"), c.r.Form.Get("client_secret")
		}
		if id == "" || secret == "" {
			return c.json(http.StatusBadRequest, oauthError{"invalid_request", "client credentials are required"})
		}
		pair, err = c.api.svc.IssueClientToken(c.ctx, id, secret)
		if tenancy.CodeOf(err) == tenancy.Unauthenticated {
			return c.json(http.StatusBadRequest, oauthError{"invalid_client", "invalid client credentials"})
		}
	case "refresh_token":
		rt := c.r.Form.Get("refresh_token")
		if rt == "" {
			return c.json(http.StatusBadRequest, oauthError{"invalid_request", "refresh_token is required"})
		}
		pair, err = c.api.svc.RefreshClientToken(c.ctx, rt)
		if tenancy.CodeOf(err) == tenancy.Unauthenticated {
			return c.json(http.StatusBadRequest, oauthError{"invalid_grant", "invalid, used or expired refresh token"})
		}
	case "":
		return c.json(http.StatusBadRequest, oauthError{"invalid_request", "grant_type is required"})
	default:
		return c.json(http.StatusBadRequest, oauthError{"unsupported_grant_type", "unsupported grant_type"})
	}
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, tokenJSON{AccessToken: pair.AccessToken, TokenType: "Bearer",
		ExpiresIn: int64(pair.ExpiresIn.Seconds()), RefreshToken: pair.RefreshToken, OrgID: pair.OrgID})
}

type sessionJSON struct {
	Token     string   `json:"token"`
	TokenType string   `json:"token_type"`
	ExpiresAt int64    `json:"expiresAt"`
	User      userJSON `json:"user"`
}

// login is POST /api/v1/auth/login.
func (c *call) login() error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	res, err := c.api.svc.Login(c.ctx, tenancy.Login{Email: in.Email, Password: in.Password,
		RemoteAddr: c.api.clients.Addr(c.r), UserAgent: c.r.UserAgent()})
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.json(http.StatusOK, sessionJSON{Token: res.Token, TokenType: "Bearer", ExpiresAt: ms(res.Session.ExpiresAt),
		User: toUser(c.api.svc.WithStatus(res.User))})
}

// logout is POST /api/v1/auth/logout: revokes the presented session.
func (c *call) logout() error {
	if err := c.api.svc.Logout(c.ctx, c.token); err != nil {
		return err
	}
	return c.noContent()
}

// me is GET /api/v1/auth/me: the caller's user and permissions.
func (c *call) me() error {
	u, err := c.api.svc.Me(c.ctx, c.actor)
	if err != nil {
		return err
	}
	perms := c.api.svc.Tree().ActorPerms(c.actor)
	return c.json(http.StatusOK, struct {
		userJSON
		Permissions []string `json:"permissions"`
	}{toUser(u), perms.Strings()})
}

// changePassword is POST /api/v1/auth/password (self-service).
func (c *call) changePassword() error {
	var in struct {
		OldPassword string `json:"oldPassword"`
		NewPassword string `json:"newPassword"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if err := c.api.svc.ChangePassword(c.ctx, c.actor, in.OldPassword, in.NewPassword); err != nil {
		return err
	}
	return c.noContent()
}

// requestReset is POST /api/v1/auth/password-reset: mails a reset token.
// It answers 204 whether or not the email exists.
func (c *call) requestReset() error {
	var in struct {
		Email string `json:"email"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	tok, u, err := c.api.svc.RequestPasswordReset(c.ctx, in.Email, c.api.clients.Addr(c.r))
	if err != nil {
		return err
	}
	if tok != "" {
		c.api.send(c, mail.Message{To: u.Email, Subject: "Reset your Outpost password", Body: fmt.Sprintf(
			"Hello %s,\n\nSomeone asked to reset the password of your Outpost account.\n"+
				"Open %s/reset-password?token=%s\nor POST {\"token\":%q,\"password\":\"…\"} to %s/api/v1/auth/password-reset/confirm\n\n"+
				"The link is valid for %s. If you did not ask for it, ignore this message.\n",
			u.Name, c.api.base(c), url.QueryEscape(tok), tok, c.api.base(c), c.api.svc.Config().ResetTTL)})
	}
	return c.noContent()
}

// confirmReset is POST /api/v1/auth/password-reset/confirm.
func (c *call) confirmReset() error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if err := c.api.svc.ResetPassword(c.ctx, in.Token, in.Password, c.api.clients.Addr(c.r)); err != nil {
		return err
	}
	return c.noContent()
}

// acceptInvitation is POST /api/v1/invitations/accept.
func (c *call) acceptInvitation() error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	u, err := c.api.svc.AcceptInvitation(c.ctx, in.Token, in.Password)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toUser(c.api.svc.WithStatus(u)))
}

// base is the public URL for links in mail, never derived from the
// request (New requires it with a mailer).
func (a *API) base(*call) string { return a.baseURL }

// send delivers mail; failures are logged, never returned, because the
// change that caused the mail has already been committed.
func (a *API) send(c *call, m mail.Message) {
	if a.mailer == nil {
		a.log.InfoContext(c.ctx, "mail not configured; message dropped", "to", m.To, "subject", m.Subject)
		return
	}
	if err := a.mailer.Send(c.ctx, m); err != nil {
		a.log.ErrorContext(c.ctx, "mail failed", "to", m.To, "subject", m.Subject, "err", err)
	}
}

func (a *API) inviteMail(c *call, u tenancy.User, token string) mail.Message {
	ttl := a.svc.Config().InviteTTL
	return mail.Message{To: u.Email, Subject: "You are invited to Outpost", Body: fmt.Sprintf(
		"Hello %s,\n\nYou have been invited to an organization on Outpost.\n"+
			"Open %s/accept-invitation?token=%s to set your password,\n"+
			"or POST {\"token\":%q,\"password\":\"…\"} to %s/api/v1/invitations/accept\n\n"+
			"The invitation expires in %d days.\n",
		u.Name, a.base(c), url.QueryEscape(token), token, a.base(c), int(ttl.Hours()/24))}
}
