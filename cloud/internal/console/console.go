// Package console is Outpost's web console for people: server-rendered
// html/template pages (embedded), a little of our own ES-module JavaScript
// for live values, charts and control writes, and the shared assets of
// shared/webui. It calls the tenancy service in process, so every page and
// every action goes through the same Decide authorization as the Platform
// API; what a user may not do is not offered, and refused (403/404) when
// forged.
//
// Security decisions:
//   - Sessions are the people's sessions of the tenancy service (the same
//     as the API's bearer "ses_" tokens), carried in an HttpOnly,
//     SameSite=Lax cookie, Secure when the request came over TLS or the
//     public URL is https.
//   - CSRF: every state-changing request passes the standard library's
//     http.CrossOriginProtection (Go 1.25+), which refuses non-safe requests
//     whose Sec-Fetch-Site or Origin header names another origin, on top of
//     the SameSite=Lax cookie. We chose it over a synchronizer token because
//     it needs no per-session state or hidden fields in every form and
//     covers fetch() writes the same way; every browser the console
//     supports sends Sec-Fetch-Site, and a request with neither header is
//     not a browser and carries no ambient cookie on a victim's behalf.
//   - Content-Security-Policy: default-src 'none'; scripts, styles and
//     connections only from this origin; no inline script or style, so the
//     pages hold no <script> body and no style attribute. Templates escape
//     everything; no user data is ever converted to template.HTML.
package console

import (
	"context"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/webui"
)

// Mailer delivers mail (password reset links).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Options configure the console. Service is required; a nil Live, History
// or Feed leaves the matching parts of the device page empty.
type Options struct {
	Service *tenancy.Service
	Live    Live
	History History
	Feed    Feed
	Mailer  Mailer
	Logger  *slog.Logger
	// PublicURL is the base of links in mails (required with a Mailer):
	// never taken from a request, whose Host header a requester controls.
	PublicURL string
	// ClientAddr is the client's address behind trusted proxies (the same
	// rule as the Platform API's); nil: the peer's address.
	ClientAddr func(*http.Request) string
	Now        func() time.Time
	// OTA serves the firmware pages (nil: none).
	OTA *ota.Service
	// Notify serves the bell and the notifications page (nil: none);
	// Automations the automation pages (nil: none).
	Notify      Notifications
	Automations Automations
	// Webhooks serves the webhook pages (nil: none).
	Webhooks *webhooks.Service
	// Events lists open events and resolves them (nil: no open events
	// are shown and nothing can be resolved).
	Events Events
}

// Console is the console's http.Handler.
type Console struct {
	svc     *tenancy.Service
	live    Live
	hist    History
	feed    Feed
	mailer  Mailer
	log     *slog.Logger
	base    string
	addr    func(*http.Request) string
	now     func() time.Time
	assets  *webui.Assets
	pages   map[string]*template.Template
	frags   *template.Template // the partials, for Console.fragment
	handler http.Handler
	memo    *memo // short-lived lists for the header and filters
	ota     *ota.Service
	notes   Notifications
	autos   Automations
	hooks   *webhooks.Service
	events  Events

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close: live streams end
}

// New builds the console and parses every page template (an error names
// the broken template).
func New(o Options) (*Console, error) {
	if o.Service == nil {
		return nil, errors.New("console: Service is required")
	}
	if o.Mailer != nil && o.PublicURL == "" {
		return nil, errors.New("console: PublicURL is required with a Mailer (links in mail are never built from requests)")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	own, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	assets, err := webui.New("/static", webui.Static(), own)
	if err != nil {
		return nil, err
	}
	c := &Console{svc: o.Service, live: o.Live, hist: o.History, feed: o.Feed, mailer: o.Mailer,
		log: o.Logger.With("component", "console"), base: strings.TrimRight(o.PublicURL, "/"), now: o.Now, addr: o.ClientAddr,
		assets: assets, done: make(chan struct{}), memo: &memo{ttl: 10 * time.Second, now: o.Now}, ota: o.OTA,
		notes: o.Notify, autos: o.Automations, hooks: o.Webhooks, events: o.Events}
	if c.pages, err = webui.ParsePages(templateFS, "templates", c.funcs(), "partials.html"); err != nil {
		return nil, err
	}
	if c.frags, err = template.New("partials").Funcs(c.funcs()).ParseFS(templateFS, "templates/partials.html"); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	c.routes(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	c.handler = securityHeaders(cop.Handler(mux), c.bodyLimit)
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// Close ends the live streams (server-sent events) so that a graceful
// shutdown need not wait for them.
func (c *Console) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
}

// PageWeight is the gzipped size of the JavaScript and CSS the device page
// loads, the heaviest page.
func (c *Console) PageWeight() int {
	return c.assets.GzipSize(devicePageAssets...)
}

const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxForm bounds a request body: the console's forms are small. A bulk
// invitation's CSV (1,000 rows at most) may take up to maxUpload.
const (
	maxForm   = 64 << 10
	maxUpload = 1 << 20
)

// bodyLimit is the largest request body a path takes.
func (c *Console) bodyLimit(path string) int64 {
	switch {
	case path == "/users/import":
		return maxUpload
	case path == firmwareUploadPath && c.ota != nil:
		return c.ota.MaxImageBytes() + maxForm // the image and the form around it
	}
	return maxForm
}

func securityHeaders(h http.Handler, limit func(path string) int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit(r.URL.Path))
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

func (c *Console) routes(mux *http.ServeMux) {
	mux.Handle("GET /static/", c.assets)
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.loginSubmit)
	mux.HandleFunc("POST /logout", c.logout)
	mux.HandleFunc("GET /forgot-password", c.forgotPage)
	mux.HandleFunc("POST /forgot-password", c.forgotSubmit)
	mux.HandleFunc("GET /reset-password", c.resetPage)
	mux.HandleFunc("POST /reset-password", c.resetSubmit)
	mux.HandleFunc("GET /accept-invitation", c.invitePage)
	mux.HandleFunc("POST /accept-invitation", c.inviteSubmit)

	mux.Handle("GET /{$}", c.auth(func(w http.ResponseWriter, r *http.Request, s *session) {
		http.Redirect(w, r, "/devices", http.StatusSeeOther)
	}))
	mux.Handle("GET /profile", c.auth(c.profilePage))
	mux.Handle("POST /profile", c.auth(c.profileSubmit))
	mux.Handle("POST /profile/password", c.auth(c.passwordSubmit))
	mux.Handle("POST /profile/sign-out-everywhere", c.auth(c.signOutEverywhere))
	mux.Handle("POST /org", c.auth(c.switchOrg))
	mux.Handle("GET /orgs", c.auth(c.orgsPage))
	c.adminRoutes(mux)

	mux.Handle("GET /devices", c.auth(c.devicesPage))
	mux.Handle("GET /devices/{id}", c.auth(c.devicePage))
	mux.Handle("GET /devices/{id}/{tab}", c.auth(c.devicePage))
	mux.Handle("GET /devices/{id}/live", c.auth(c.deviceLive))
	mux.Handle("POST /devices/{id}/write", c.auth(c.deviceWrite))
	mux.Handle("POST /devices/{id}/meta", c.auth(c.deviceMetaSubmit))
	mux.Handle("POST /devices/{id}/events/{event}/resolve", c.auth(c.resolveEvent))
	mux.Handle("GET /devices/{id}/series", c.auth(c.deviceSeries))
	mux.Handle("GET /devices/{id}/export.csv", c.auth(c.deviceExport))

	mux.Handle("GET /sites", c.auth(c.sitesPage))
	mux.Handle("POST /sites/claim", c.auth(c.siteClaim))
	mux.Handle("GET /sites/{id}", c.auth(c.sitePage))
	mux.Handle("POST /sites/{id}/release", c.auth(c.siteRelease))
	c.otaRoutes(mux)
	c.webhookRoutes(mux)

	c.catalogRoutes(mux)
	c.automationRoutes(mux)

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r, nil)
	})
}
