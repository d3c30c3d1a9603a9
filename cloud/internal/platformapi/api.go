// Package platformapi serves Outpost's Platform API (TENANCY.md §10): the
// Blynk-compatible organization, device, user, template and static-token
// endpoints under /api/v1, the OAuth2 client-credentials token endpoint,
// login for people, and the management endpoints Blynk documents no API for
// (roles and permissions, org transfer, locations, suspend, force logout,
// bulk invitations, OAuth clients, audit log).
//
// Every route is declared once in a table (routes) that both registers it
// on the mux and lets a test check the OpenAPI document against it. Errors
// are {"error":{"message":…}} with the status from one table (statusOf).
package platformapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/clientaddr"
	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/ratelimit"
	"outpost/cloud/internal/tenancy"
)

// Mailer delivers mail; mail.Mailbox and mail.SMTP satisfy it.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Options configure the API. Service is required.
type Options struct {
	Service *tenancy.Service
	Mailer  Mailer // nil: mail is logged and dropped
	Logger  *slog.Logger
	// RateLimit is the per-organization quota per minute (negative
	// disables; 0 is refused: the caller states its quota). Unauthenticated endpoints are limited per client
	// address with the same quota.
	RateLimit int
	// Limiter keeps the RateLimit quota (nil: in this process's memory,
	// ratelimit.Keyed). Instances sharing a store pass one kept there
	// (ratelimit.Shared), so together they allow what one would.
	Limiter Limiter
	// MaxBodyBytes bounds request bodies (required; Blynk's limit is 2 MiB).
	MaxBodyBytes int64
	// PublicURL is the base of links put in mails (invitation, reset),
	// required with a Mailer: a link is never built from request headers,
	// which the requester chooses.
	PublicURL string
	// Clients finds the client address of a request (nil: the peer).
	Clients *clientaddr.Resolver
	// AuthCacheTTL is how long a resolved bearer token is remembered
	// (0 disables). See authCache for what it may delay.
	AuthCacheTTL time.Duration
	Now          func() time.Time // nil: time.Now
	// Live serves devices' live state and control writes (nil: none).
	Live Live
	// OTA serves firmware and shipments (nil: those routes answer 404).
	OTA *ota.Service
	// Automations serves the automation routes (nil: they answer 404).
	Automations Automations
	// Webhooks serves the webhook routes (nil: they answer 404).
	Webhooks Webhooks
	// Events resolves device events (nil: the route answers 404).
	Events Events
}

// Limiter is a per-key quota: Allow takes one request from key's quota
// and reports whether there was one.
type Limiter interface{ Allow(key string) bool }

// API is the Platform API handler.
type API struct {
	svc     *tenancy.Service
	mailer  Mailer
	log     *slog.Logger
	limit   Limiter
	clients *clientaddr.Resolver
	auth    *authCache
	maxBody int64
	baseURL string
	now     func() time.Time
	mux     *http.ServeMux
	routes  []route
	live    Live
	ota     *ota.Service

	automations Automations
	webhooks    Webhooks
	events      Events
}

// ForgetTokens empties the bearer-token cache: another cloud instance
// revoked credentials or changed the tenancy, and the next request of
// every token is checked against the store again.
func (a *API) ForgetTokens() { a.auth.invalidate() }

// New builds the API and registers every route.
func New(o Options) (*API, error) {
	if o.Service == nil {
		return nil, errors.New("platformapi: Service is required")
	}
	if o.Mailer != nil && o.PublicURL == "" {
		return nil, errors.New("platformapi: PublicURL is required to mail links")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// Defaults live in the cloud's config (cloud.Defaults); here only
	// explicit values.
	if o.RateLimit == 0 {
		return nil, errors.New("platformapi: RateLimit is required (negative disables)")
	}
	if o.MaxBodyBytes <= 0 {
		return nil, fmt.Errorf("platformapi: MaxBodyBytes %d: want a positive limit", o.MaxBodyBytes)
	}
	if o.AuthCacheTTL < 0 {
		return nil, fmt.Errorf("platformapi: AuthCacheTTL %v: want 0 (off) or more", o.AuthCacheTTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Limiter == nil {
		o.Limiter = ratelimit.NewKeyed(o.RateLimit, o.Now)
	}
	a := &API{
		svc: o.Service, mailer: o.Mailer, log: o.Logger.With("component", "platformapi"),
		limit: o.Limiter, clients: o.Clients, auth: newAuthCache(o.AuthCacheTTL, o.Now), maxBody: o.MaxBodyBytes,
		baseURL: strings.TrimRight(o.PublicURL, "/"), now: o.Now, mux: http.NewServeMux(), live: o.Live,
		ota:         o.OTA,
		automations: o.Automations, webhooks: o.Webhooks, events: o.Events,
	}
	a.routes = a.routeTable()
	paths := map[string]bool{}
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" "+rt.path, a.wrap(rt))
		paths[rt.path] = true
	}
	// A known path with another method answers 405, anything else 404, both
	// in the API's error shape rather than the mux's plain text.
	for p := range paths {
		a.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		})
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Route describes one registered endpoint.
type Route struct {
	Method, Path string
}

// Routes lists every registered endpoint (method and path pattern).
func (a *API) Routes() []Route {
	out := make([]Route, len(a.routes))
	for i, r := range a.routes {
		out[i] = Route{Method: r.method, Path: r.path}
	}
	return out
}

// access says who may call a route.
type access int

const (
	public     access = iota // no credentials (login, token, reset, openapi)
	anyone                   // a person's session or an OAuth client token
	peopleOnly               // a person's session only
)

// route is one row of the route table.
type route struct {
	method, path string
	access       access
	h            func(c *call) error
}

// call carries one request through a handler.
type call struct {
	api   *API
	w     http.ResponseWriter
	r     *http.Request
	actor tenancy.Actor
	token string // the bearer token presented, if any
	ctx   context.Context
}

// wrap adds authentication, rate limiting, body limits and error rendering.
func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{api: a, w: w, r: r, ctx: r.Context()}
		defer func() {
			// A bug must cost one request a 500, not the connection; the
			// stack goes to the log.
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.log.ErrorContext(c.ctx, "handler panic", "method", r.Method, "path", r.URL.Path, "panic", p,
					"stack", string(debug.Stack()))
				c.beforeAnswer()
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		if r.Body != nil {
			limit := a.maxBody
			if rt.path == firmwareUploadPath && a.ota != nil {
				limit = a.ota.MaxImageBytes()
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		key := "ip:" + a.clients.Addr(r)
		if rt.access != public {
			if err := c.authenticate(rt.access); err != nil {
				// Failed credentials count against the client address, so
				// guessing tokens is throttled like any public endpoint.
				if tenancy.CodeOf(err) == tenancy.Unauthenticated && !a.limit.Allow(key) {
					w.Header().Set("Retry-After", "60")
					writeError(w, http.StatusTooManyRequests, "rate limit exceeded, try again later")
					return
				}
				c.fail(err)
				return
			}
			key = "org:" + strconv.FormatInt(int64(c.actor.OrgID), 10)
		}
		if !a.limit.Allow(key) {
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusTooManyRequests, "rate limit exceeded, try again later")
			return
		}
		if err := rt.h(c); err != nil {
			c.fail(err)
		}
	})
}

// authenticate resolves the bearer token to an actor: "ses_" tokens are
// people's sessions, anything else an OAuth access token.
func (c *call) authenticate(acc access) error {
	h := c.r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		if tok, ok = strings.CutPrefix(h, "bearer "); !ok {
			c.w.Header().Set("WWW-Authenticate", `Bearer realm="outpost"`)
			return tenancy.Errorf(tenancy.Unauthenticated, "missing bearer token")
		}
	}
	tok = strings.TrimSpace(tok)
	c.token = tok
	actor, ok, key, gen := c.api.auth.get(tok)
	if !ok {
		var err error
		if strings.HasPrefix(tok, "ses_") {
			actor, _, err = c.api.svc.SessionActor(c.ctx, tok)
		} else {
			actor, err = c.api.svc.TokenActor(c.ctx, tok)
		}
		if err != nil {
			c.w.Header().Set("WWW-Authenticate", `Bearer realm="outpost", error="invalid_token"`)
			return err
		}
		c.api.auth.put(key, actor, gen)
	}
	c.actor = actor
	if acc == peopleOnly && c.actor.IsClient() {
		return tenancy.Errorf(tenancy.Forbidden, "this endpoint is for people, not OAuth clients")
	}
	return nil
}

// fail renders err with the status from the one table; internal causes are
// logged, never shown.
func (c *call) fail(err error) {
	c.beforeAnswer()
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(c.w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	st := httpStatus(err)
	if c.ctx.Err() != nil && errors.Is(err, c.ctx.Err()) {
		// The client went away (or the server is shutting down); nobody
		// reads this answer and nothing failed on our side.
		c.api.log.DebugContext(c.ctx, "request abandoned", "method", c.r.Method, "path", c.r.URL.Path)
		writeError(c.w, st, "request cancelled")
		return
	}
	var te *tenancy.Error
	if errors.As(err, &te) && te.RetryAfter > 0 {
		c.w.Header().Set("Retry-After", strconv.FormatInt(int64((te.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if st == http.StatusInternalServerError {
		c.api.log.ErrorContext(c.ctx, "request failed", "method", c.r.Method, "path", c.r.URL.Path, "err", err)
	}
	writeError(c.w, st, publicMessage(err))
}

type errorBody struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	var b errorBody
	b.Error.Message = msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// beforeAnswer runs once the request's change (if any) is committed and
// before the client can see the answer: a mutating request empties the
// auth cache here, so the client's next request sees its effect.
func (c *call) beforeAnswer() {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		c.api.auth.invalidate()
	}
}

// json writes v with status.
func (c *call) json(status int, v any) error {
	c.beforeAnswer()
	writeJSON(c.w, status, v)
	return nil
}

// noContent answers 204.
func (c *call) noContent() error {
	c.beforeAnswer()
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
