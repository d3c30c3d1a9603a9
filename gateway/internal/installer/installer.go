// Package installer is the gateway's installer page and API on the
// installer port: the JSON API for scripts under /installer/api/, the
// server-rendered pages an installer opens from a phone (first-start
// password, sign-in, status, devices), and /metrics, /healthz, /readyz.
// The pages use the console's shared assets (shared/webui) so both look
// like one product, and need nothing from the internet.
//
// Authentication:
//   - installer.token, sent as "Authorization: Bearer <token>", opens
//     everything (scripts, Prometheus from another host);
//   - the installer password (bcrypt, in a 0600 file in the data dir)
//     signs a person in; the session is a random id in an HttpOnly,
//     SameSite=Lax cookie, kept in memory (a restart signs everyone out);
//     five wrong passwords from one address make it wait a minute;
//   - without a token, the API answers loopback peers as it always did, and
//     /metrics, /healthz and /readyz answer loopback peers without a
//     session (Prometheus and systemd probes on the box);
//   - until a password or a token exists, a gateway whose installer port
//     listens beyond loopback serves nothing to other hosts; the first-start
//     form takes the password from a loopback peer, or from anyone who
//     also gives the installer token.
//
// CSRF: http.CrossOriginProtection on every state-changing request plus the
// SameSite=Lax cookie, as the console. CSP: the console's strict policy (no
// inline script or style); templates escape everything.
package installer

import (
	"context"
	"crypto/subtle"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
	"outpost/shared/webui"
)

// Hub is what the installer needs of the routing core (satisfied by
// *hub.Hub).
type Hub interface {
	Devices() []hub.Device
	Device(id int64) (hub.Device, bool)
	Templates() []datastream.Template
	Template(id string) (datastream.Template, bool)
	Online(deviceID int64) bool
	AddDevice(ctx context.Context, templateID, name string) (hub.Device, string, error)
	DeleteDevice(ctx context.Context, id int64) error
	UpsertDevice(ctx context.Context, d hub.Device) (hub.Device, error)
	Values(deviceID int64) []hub.PinValue
	ControlWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error)
	Subscribe(fn func(hub.Update)) (cancel func())
}

// Site is what the status page shows of the gateway around the hub.
type Site interface {
	Status(ctx context.Context) Status
}

// Status is the gateway's state for the status page and /readyz.
type Status struct {
	Version   string
	Started   time.Time
	DataDir   string
	DiskFree  uint64 // bytes free on the data dir's file system
	DiskTotal uint64
	DBBytes   int64 // the SQLite file with its WAL
	Cloud     Cloud
	// Addresses devices use (host:port), by transport: "Blynk TCP", …
	Endpoints []Endpoint
	// TLSCA is the local CA file devices pin ("" without one).
	TLSCA string
	// TLSNames and TLSExpires describe the local CA's current leaf;
	// TLSCert is the configured certificate's file instead.
	TLSNames   []string
	TLSExpires time.Time
	TLSCert    string
	// Installer is the installer port's address.
	Installer string
	// Ready: the gateway serves devices (/readyz answers 503 otherwise).
	Ready bool
}

// Endpoint is one address devices connect to.
type Endpoint struct {
	Transport string
	Addr      string // host:port; the box's first address when bound to all
	Wildcard  bool   // bound to every address: the page's own host may be better
}

// Cloud is the cloud link's state.
type Cloud struct {
	Configured bool // cloud.url is set
	URL        string
	GatewayID  string
	ClaimCode  string // while waiting to be claimed
	Claimed    bool
	Connected  bool
	Backlog    int64     // outbox entries the cloud has not acknowledged
	Acked      int64     // highest outbox seq acknowledged
	Failures   uint64    // failed connection attempts
	Since      time.Time // the link last went up or down (zero: unknown)
	LastAck    time.Time // the cloud last acknowledged telemetry (zero: never)
	Org        string    // the organization the site is claimed into
}

// Options configure the installer.
type Options struct {
	Hub  Hub
	Site Site
	// History serves the device page's chart; nil leaves it empty.
	History History
	Logger  *slog.Logger
	// Stats returns the gateway's counters, served as JSON by /installer/api/stats.
	Stats func() any
	// Token, if set, opens everything as `Authorization: Bearer <token>`.
	Token string
	// PasswordFile holds the bcrypt hash of the installer's password.
	PasswordFile string
	// Exposed: the installer port listens beyond loopback.
	Exposed bool
	// Routes adds the gateway's own API routes (pattern → handler),
	// served behind the same authentication as the API.
	Routes map[string]http.Handler
	// ReissueTLS signs a new TLS certificate for the box's names now.
	ReissueTLS func() error
	// Config is the configuration page's source (nil: no such page).
	Config Config
	// Logs is the recent log lines (nil: no logs page).
	Logs Logs
	// Hardware is the box's ports and pins (nil: no hardware page).
	Hardware Hardware
	// Metrics serves /metrics (nil: 404).
	Metrics http.Handler
	// BcryptCost is the password hash's cost (0: bcrypt's default).
	BcryptCost int
	Now        func() time.Time
}

// Installer is the installer port's http.Handler.
type Installer struct {
	o       Options
	log     *slog.Logger
	assets  *webui.Assets
	pages   map[string]*template.Template
	handler http.Handler
	api     http.Handler

	pwMu   sync.Mutex
	pwHash []byte // nil until the first-start form set it

	sessMu   sync.Mutex
	sessions map[string]time.Time // id → expiry

	failMu sync.Mutex
	fails  map[string]failures // failed sign-ins by peer address

	drainMu sync.Mutex
	drain   drainSample
	down    time.Time // the cloud was first seen unreachable; zero while reachable

	done chan struct{}
	once sync.Once
}

// New builds the installer: it reads the password file and parses the
// templates.
func New(o Options) (*Installer, error) {
	if o.Hub == nil || o.Site == nil {
		return nil, errors.New("installer: Hub and Site are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	in := &Installer{o: o, log: o.Logger.With("component", "installer"), sessions: map[string]time.Time{}, fails: map[string]failures{},
		done: make(chan struct{})}
	var err error
	if in.pwHash, err = readPassword(o.PasswordFile); err != nil {
		return nil, err
	}
	own, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	if in.assets, err = webui.New("/static", webui.Static(), own); err != nil {
		return nil, err
	}
	if in.pages, err = webui.ParsePages(templateFS, "templates", in.funcs()); err != nil {
		return nil, err
	}
	in.api = newAPI(o.Hub, in.log, o.Stats, o.Routes)
	mux := http.NewServeMux()
	in.routes(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	in.handler = securityHeaders(in.gate(cop.Handler(mux)))
	return in, nil
}

// ServeHTTP implements http.Handler.
func (in *Installer) ServeHTTP(w http.ResponseWriter, r *http.Request) { in.handler.ServeHTTP(w, r) }

// Close ends the live streams so that a graceful shutdown need not wait.
func (in *Installer) Close() { in.once.Do(func() { close(in.done) }) }

// PageWeight is the gzipped size of the JavaScript and CSS of the heaviest
// page (the device page).
func (in *Installer) PageWeight() int { return in.assets.GzipSize(devicePageAssets...) }

const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const maxForm = 64 << 10

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// gate refuses every request from another host while an exposed installer
// has neither a password nor a token: nobody on the network may be the one
// who sets the password.
func (in *Installer) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if in.o.Exposed && in.o.Token == "" && !in.hasPassword() && !loopbackPeer(r) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "The installer page is not set up yet. Set its password from the box itself "+
				"(http://127.0.0.1:<installer port>/), or set installer.token in the gateway's configuration.",
				http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackPeer tells whether the request came from this box.
func loopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// localRequest tells whether a request may use what is granted to this
// box alone: from a loopback peer, and addressed to a loopback name. A web
// page elsewhere can make a browser on the box reach 127.0.0.1 under its
// own host name (DNS rebinding); its Host header then names that host.
func localRequest(r *http.Request) bool {
	if !loopbackPeer(r) {
		return false
	}
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// tokenOK tells whether the request carries the installer token.
func (in *Installer) tokenOK(r *http.Request) bool {
	if in.o.Token == "" {
		return false
	}
	want := []byte("Bearer " + in.o.Token)
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1
}

// apiAuth is the API's rule, unchanged for scripts: the token when one is
// configured, else a loopback peer; a signed-in browser too.
func (in *Installer) apiAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if in.tokenOK(r) || in.sessionOK(r) || (in.o.Token == "" && localRequest(r)) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="outpost-installer"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized.")
	})
}

// probeAuth guards /metrics, /healthz and /readyz: loopback peers without a
// session, others with the token (or a session).
func (in *Installer) probeAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if localRequest(r) || in.tokenOK(r) || in.sessionOK(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="outpost-installer"`)
		http.Error(w, "Unauthorized.", http.StatusUnauthorized)
	})
}

// page guards a page: without a password the first-start form comes
// first; without a session the sign-in form.
func (in *Installer) page(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if in.tokenOK(r) || in.sessionOK(r) {
			h(w, r)
			return
		}
		if r.Method != http.MethodGet || strings.HasSuffix(r.URL.Path, "/live") || strings.HasSuffix(r.URL.Path, "/series") {
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if !in.hasPassword() {
			http.Redirect(w, r, "/setup", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

func (in *Installer) routes(mux *http.ServeMux) {
	mux.Handle("/installer/api/", in.apiAuth(in.api))
	mux.Handle("GET /static/", in.assets)
	mux.Handle("GET /metrics", in.probeAuth(in.metricsHandler()))
	mux.Handle("GET /healthz", in.probeAuth(http.HandlerFunc(in.healthz)))
	mux.Handle("GET /readyz", in.probeAuth(http.HandlerFunc(in.readyz)))

	mux.HandleFunc("GET /setup", in.setupPage)
	mux.HandleFunc("POST /setup", in.setupSubmit)
	mux.HandleFunc("GET /login", in.loginPage)
	mux.HandleFunc("POST /login", in.loginSubmit)
	mux.HandleFunc("POST /logout", in.logout)

	mux.Handle("GET /{$}", in.page(in.statusPage))
	mux.Handle("GET /status/live", in.page(in.statusLive))
	mux.Handle("GET /ca.crt", in.page(in.caCert))
	mux.Handle("GET /devices", in.page(in.devicesPage))
	mux.Handle("POST /devices", in.page(in.addDevice))
	mux.Handle("GET /devices/live", in.page(in.devicesLive))
	mux.Handle("GET /devices/{id}", in.page(in.devicePage))
	mux.Handle("GET /devices/{id}/live", in.page(in.deviceLive))
	mux.Handle("GET /devices/{id}/series", in.page(in.deviceSeries))
	mux.Handle("POST /devices/{id}/write", in.page(in.deviceWrite))
	mux.Handle("POST /devices/{id}/delete", in.page(in.deleteDevice))
	mux.Handle("POST /devices/{id}/rename", in.page(in.renameDevice))
	mux.Handle("GET /network", in.page(in.networkPage))
	mux.Handle("POST /network/reissue", in.page(in.reissueTLS))
	mux.Handle("GET /config", in.page(in.configPage))
	mux.Handle("POST /config/validate", in.page(in.validateConfig))
	mux.Handle("GET /logs", in.page(in.logsPage))
	mux.Handle("GET /logs/live", in.page(in.logsLive))
	mux.Handle("GET /hardware", in.page(in.hardwarePage))
	mux.Handle("GET /hardware/live", in.page(in.hardwareLive))
	mux.Handle("POST /hardware/serial/bind", in.page(in.bindSerial))
	mux.Handle("POST /hardware/serial/unbind", in.page(in.unbindSerial))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		in.errorPage(w, r, http.StatusNotFound, "Not found", "This page does not exist.")
	})
}

// caCert serves the local CA's certificate that TLS devices pin.
func (in *Installer) caCert(w http.ResponseWriter, r *http.Request) {
	ca := in.o.Site.Status(r.Context()).TLSCA
	if ca == "" {
		in.errorPage(w, r, http.StatusNotFound, "No local CA", "This gateway serves a configured certificate (blynk.tls_cert) or no TLS port.")
		return
	}
	w.Header().Set("Content-Type", "application/x-x509-ca-cert")
	w.Header().Set("Content-Disposition", `attachment; filename="ca.crt"`)
	http.ServeFile(w, r, ca)
}

func (in *Installer) metricsHandler() http.Handler {
	if in.o.Metrics == nil {
		return http.NotFoundHandler()
	}
	return in.o.Metrics
}

func (in *Installer) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (in *Installer) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !in.o.Site.Status(r.Context()).Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready\n"))
		return
	}
	w.Write([]byte("ready\n"))
}
