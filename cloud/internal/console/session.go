package console

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/httpstatus"
	"outpost/cloud/internal/tenancy"
)

// Cookie names. The session cookie holds the tenancy session token; the
// org cookie the organization the user switched into (checked against the
// user's scope on every request, so forging it reaches nothing new).
const (
	sessionCookie = "outpost_session"
	orgCookie     = "outpost_org"
)

// session is the signed-in request's context.
type session struct {
	token string
	actor tenancy.Actor
	user  tenancy.User
	tree  *tenancy.Tree
	perms tenancy.PermSet
	org   tenancy.OrgID // the current organization (home org or one below it)
}

// can reports whether the user may do p on a resource.
func (s *session) can(p tenancy.Permission, r tenancy.Resource) bool {
	return tenancy.Decide(s.tree, s.actor, p, r) == nil
}

type authedHandler func(w http.ResponseWriter, r *http.Request, s *session)

// auth resolves the session cookie; pages without one redirect to the
// sign-in page (with the page to come back to), other requests get 401.
func (c *Console) auth(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ck, err := r.Cookie(sessionCookie)
		var s *session
		if err == nil && ck.Value != "" {
			a, u, err := c.svc.SessionActor(r.Context(), ck.Value)
			switch tenancy.CodeOf(err) {
			case "":
				t := c.svc.Tree()
				s = &session{token: ck.Value, actor: a, user: u, tree: t, perms: t.ActorPerms(a), org: a.OrgID}
			case tenancy.Unauthenticated:
				clearCookie(w, r, sessionCookie)
			default:
				c.serverError(w, r, err)
				return
			}
		}
		if s == nil {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/live") && !strings.Contains(r.URL.Path, ".csv") &&
				!strings.HasSuffix(r.URL.Path, "/series") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if ck, err := r.Cookie(orgCookie); err == nil {
			if id, err := strconv.ParseInt(ck.Value, 10, 64); err == nil && s.tree.InScope(s.actor, tenancy.OrgID(id)) {
				s.org = tenancy.OrgID(id)
			}
		}
		h(w, r, s)
	})
}

// secure tells whether cookies get the Secure attribute.
func (c *Console) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(c.base, "https://")
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires, HttpOnly: true,
		Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

// localPath keeps a post-login redirect on this site: a path, never
// "//host" or a scheme.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/devices"
	}
	return next
}

// clientIP is the address login throttling and session lists see.
func (c *Console) clientIP(r *http.Request) string {
	if c.addr != nil {
		return c.addr(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// switchOrg is POST /org: the organization the pages show.
func (c *Console) switchOrg(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.FormValue("org"), 10, 64)
	if err != nil || !s.tree.InScope(s.actor, tenancy.OrgID(id)) {
		c.notFound(w, r, s)
		return
	}
	c.setCookie(w, r, orgCookie, strconv.FormatInt(id, 10), time.Time{})
	back := r.FormValue("back")
	if back == "" || strings.HasPrefix(back, "/devices/") || strings.HasPrefix(back, "/sites/") {
		back = "/devices" // a detail page of another org would not be in the new one
	}
	http.Redirect(w, r, localPath(back), http.StatusSeeOther)
}

// httpStatus is the status of err, by the Platform API's own table.
func httpStatus(err error) int { return httpstatus.Of(err) }

// message is what a user may read about err.
func message(err error) string {
	return httpstatus.Message(err, "Something went wrong on our side; it has been logged.")
}
