package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/tenancy"
)

type loginData struct{ Next, Email string }

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Sign in", Data: loginData{Next: localPath(r.URL.Query().Get("next"))}}
	switch r.URL.Query().Get("done") {
	case "reset":
		v.Notice = "Your password was changed. Sign in with the new one."
	case "out":
		v.Notice = "You are signed out."
	}
	c.render(w, r, http.StatusOK, "login", v)
}

func (c *Console) loginSubmit(w http.ResponseWriter, r *http.Request) {
	email, next := r.PostFormValue("email"), localPath(r.PostFormValue("next"))
	res, err := c.svc.Login(r.Context(), tenancy.Login{Email: email, Password: r.PostFormValue("password"),
		RemoteAddr: c.clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		c.render(w, r, st, "login", view{Title: "Sign in", Error: message(err), Data: loginData{Next: next, Email: email}})
		return
	}
	c.startSession(w, r, res)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, res tenancy.SessionResult) {
	c.setCookie(w, r, sessionCookie, res.Token, res.Session.ExpiresAt)
	clearCookie(w, r, orgCookie) // a new sign-in starts in the home org
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if err := c.svc.Logout(r.Context(), ck.Value); err != nil {
			c.serverError(w, r, err)
			return
		}
	}
	clearCookie(w, r, sessionCookie)
	clearCookie(w, r, orgCookie)
	http.Redirect(w, r, "/login?done=out", http.StatusSeeOther)
}

func (c *Console) forgotPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "forgot", view{Title: "Reset your password", Data: struct{ Sent bool }{}})
}

// forgotSubmit mails a reset link; the answer is the same whether or not
// the address belongs to an account.
func (c *Console) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	if email == "" {
		c.render(w, r, http.StatusBadRequest, "forgot", view{Title: "Reset your password", Error: "Enter your email address.",
			Data: struct{ Sent bool }{}})
		return
	}
	tok, u, err := c.svc.RequestPasswordReset(r.Context(), email, c.clientIP(r))
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	if tok != "" {
		link := c.base + "/reset-password?token=" + url.QueryEscape(tok)
		c.send(r, mail.Message{To: u.Email, Subject: "Reset your Outpost password", Body: fmt.Sprintf(
			"Hello %s,\n\nSomeone asked to reset the password of your Outpost account.\nOpen %s\nto set a new one. "+
				"The link is valid for %s and works once. If you did not ask for it, ignore this message.\n",
			u.Name, link, c.svc.Config().ResetTTL)})
	}
	c.render(w, r, http.StatusOK, "forgot", view{Title: "Reset your password", Data: struct{ Sent bool }{true}})
}

// send delivers mail; a failure is logged, never shown (it would tell
// whether the address exists).
func (c *Console) send(r *http.Request, m mail.Message) {
	if c.mailer == nil {
		c.log.InfoContext(r.Context(), "mail not configured; message dropped", "subject", m.Subject)
		return
	}
	if err := c.mailer.Send(r.Context(), m); err != nil {
		c.log.ErrorContext(r.Context(), "mail failed", "subject", m.Subject, "err", err)
	}
}

type setPasswordData struct {
	Intro, Action, Token, Button string
	Min                          int
}

func (c *Console) resetView(token string) view {
	return view{Title: "Choose a new password", Data: setPasswordData{Intro: "Signing in elsewhere ends when the password changes.",
		Action: "/reset-password", Token: token, Button: "Set password", Min: c.svc.Config().MinPassword}}
}

func (c *Console) inviteView(token string) view {
	return view{Title: "Welcome to Outpost", Data: setPasswordData{Intro: "Choose the password of your new account.",
		Action: "/accept-invitation", Token: token, Button: "Create account", Min: c.svc.Config().MinPassword}}
}

func (c *Console) resetPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		c.errorPage(w, r, nil, http.StatusBadRequest, "Link incomplete", "The reset link has no token; open the link from the mail again.")
		return
	}
	c.render(w, r, http.StatusOK, "setpassword", c.resetView(tok))
}

// checkNew validates a new password and its repetition before the service
// sees it; "" when they are fine.
func checkNew(pw, confirm string) string {
	if pw != confirm {
		return "The two passwords differ."
	}
	return ""
}

func (c *Console) resetSubmit(w http.ResponseWriter, r *http.Request) {
	tok, pw := r.PostFormValue("token"), r.PostFormValue("password")
	v := c.resetView(tok)
	if msg := checkNew(pw, r.PostFormValue("confirm")); msg != "" {
		v.Error = msg
		c.render(w, r, http.StatusBadRequest, "setpassword", v)
		return
	}
	if err := c.svc.ResetPassword(r.Context(), tok, pw, c.clientIP(r)); err != nil {
		if httpStatus(err) == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		v.Error = message(err)
		c.render(w, r, httpStatus(err), "setpassword", v)
		return
	}
	http.Redirect(w, r, "/login?done=reset", http.StatusSeeOther)
}

func (c *Console) invitePage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		c.errorPage(w, r, nil, http.StatusBadRequest, "Link incomplete", "The invitation link has no token; open the link from the mail again.")
		return
	}
	c.render(w, r, http.StatusOK, "setpassword", c.inviteView(tok))
}

// inviteSubmit sets the invited user's password and signs them in.
func (c *Console) inviteSubmit(w http.ResponseWriter, r *http.Request) {
	tok, pw := r.PostFormValue("token"), r.PostFormValue("password")
	v := c.inviteView(tok)
	if msg := checkNew(pw, r.PostFormValue("confirm")); msg != "" {
		v.Error = msg
		c.render(w, r, http.StatusBadRequest, "setpassword", v)
		return
	}
	u, err := c.svc.AcceptInvitation(r.Context(), tok, pw)
	if err != nil {
		if httpStatus(err) == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		v.Error = message(err)
		c.render(w, r, httpStatus(err), "setpassword", v)
		return
	}
	res, err := c.svc.Login(r.Context(), tenancy.Login{Email: u.Email, Password: pw, RemoteAddr: c.clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	c.startSession(w, r, res)
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

type profileData struct {
	Min      int
	Role     string
	Sessions []sessionRow
}

type sessionRow struct {
	Created, Expires time.Time
	From, Agent      string
	This             bool // the session of this browser
}

func roleName(id tenancy.RoleID) string {
	switch id {
	case tenancy.RoleAdmin:
		return "Admin"
	case tenancy.RoleStaff:
		return "Staff"
	case tenancy.RoleUser:
		return "User"
	}
	return fmt.Sprintf("Custom role %d", id)
}

func (c *Console) profileView(r *http.Request, s *session) view {
	d := profileData{Min: c.svc.Config().MinPassword, Role: roleName(s.user.RoleID)}
	if ses, err := c.svc.Sessions(r.Context(), s.actor); err == nil {
		this := tenancy.HashToken(s.token)
		for _, x := range ses {
			d.Sessions = append(d.Sessions, sessionRow{Created: x.CreatedAt, Expires: x.ExpiresAt, From: x.RemoteAddr,
				Agent: browserName(x.UserAgent), This: x.TokenHash == this})
		}
	} else {
		c.log.WarnContext(r.Context(), "list sessions", "err", err)
	}
	return view{Title: "Profile", Nav: "profile", Data: d}
}

// browserName shortens a User-Agent to what people recognise.
func browserName(ua string) string {
	for _, b := range []struct{ key, name string }{{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client", "Go program"}} {
		if strings.Contains(ua, b.key) {
			return b.name
		}
	}
	if ua == "" {
		return "unknown"
	}
	if len(ua) > 40 {
		return ua[:40] + "…"
	}
	return ua
}

func (c *Console) profilePage(w http.ResponseWriter, r *http.Request, s *session) {
	v := c.profileView(r, s)
	switch r.URL.Query().Get("done") {
	case "name":
		v.Notice = "Your name was saved."
	case "password":
		v.Notice = "Your password was changed."
	}
	c.renderShell(w, r, s, http.StatusOK, "profile", v)
}

func (c *Console) profileSubmit(w http.ResponseWriter, r *http.Request, s *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 100 {
		v := c.profileView(r, s)
		v.Error = "The name must be 1 to 100 characters."
		c.renderShell(w, r, s, http.StatusBadRequest, "profile", v)
		return
	}
	if _, err := c.svc.UpdateUser(r.Context(), s.actor, s.actor.UserID, tenancy.UserUpdate{Name: &name}); err != nil {
		c.formError(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/profile?done=name", http.StatusSeeOther)
}

func (c *Console) passwordSubmit(w http.ResponseWriter, r *http.Request, s *session) {
	if msg := checkNew(r.PostFormValue("new"), r.PostFormValue("confirm")); msg != "" {
		v := c.profileView(r, s)
		v.Error = msg
		c.renderShell(w, r, s, http.StatusBadRequest, "profile", v)
		return
	}
	if err := c.svc.ChangePassword(r.Context(), s.actor, r.PostFormValue("old"), r.PostFormValue("new")); err != nil {
		c.formError(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/profile?done=password", http.StatusSeeOther)
}

// formError re-renders the profile with the service's message.
func (c *Console) formError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if httpStatus(err) == http.StatusInternalServerError {
		c.serverError(w, r, err)
		return
	}
	v := c.profileView(r, s)
	v.Error = message(err)
	c.renderShell(w, r, s, httpStatus(err), "profile", v)
}

func (c *Console) signOutEverywhere(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := c.svc.LogoutEverywhere(r.Context(), s.actor); err != nil {
		c.serverError(w, r, err)
		return
	}
	clearCookie(w, r, sessionCookie)
	clearCookie(w, r, orgCookie)
	http.Redirect(w, r, "/login?done=out", http.StatusSeeOther)
}
