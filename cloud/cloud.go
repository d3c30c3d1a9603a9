// Package cloud wires the Outpost cloud together: the tenancy service on
// its SQLite store, the Platform API over HTTP, and mail. It is a library
// first (New, Run, Addr), so one process can run a whole site and tests can
// run the cloud on 127.0.0.1:0; cmd/outpost-cloud is a thin main around it.
package cloud

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/automations"
	"outpost/cloud/internal/clientaddr"
	"outpost/cloud/internal/console"
	"outpost/cloud/internal/events"
	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/metrics"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/platformapi"
	"outpost/cloud/internal/ratelimit"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/secret"
	"outpost/shared/syncproto"
)

// Bootstrap reports the first start: the root organization and first
// Admin created then. Password is set only when it was generated, and only
// in the process that generated it; show it once.
type Bootstrap struct {
	Created    bool // false when the database already had a tree
	OrgID      int64
	OrgName    string
	AdminEmail string
	Password   string // generated password ("" if it came from the config)
}

// Server is a running cloud.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   cloudStore
	svc     *tenancy.Service
	http    *http.Server
	ln      net.Listener
	boot    Bootstrap
	sync    *gatewaysync.Server
	sites   *siteregistry.Registry
	tls     bool // serving HTTPS itself (tls_cert)
	console *console.Console
	// feed carries every applied telemetry change to live subscribers
	// (the console's device pages).
	feed *livefeed.Hub
	// firmware serves shipments and images to the gateways (issue 18).
	firmware *firmwareSites
	// rules runs the automations no single site can run.
	rules *cloudRules
	// hooks sends webhook deliveries from the store's queue;
	// hookTriggers queues them from applied telemetry.
	hooks        *webhooks.Dispatcher
	hookTriggers *hookTriggers
	events       *eventNotifications // the template's event settings (eventnotify.go)
	// eventLog logs the events of cloud automations and people's
	// resolutions; feedOut is the feed it publishes to (the cluster's
	// when instances share the store).
	eventLog *events.Service
	feedOut  publisher
	// notifier stores and mails notifications (the console's bell reads them).
	notifier *notify.Service
	// cluster joins the instances sharing a PostgreSQL store (nil on
	// SQLite).
	cluster *cluster
	// waker wakes the gateways a tenancy change concerns.
	waker *waker
	// draining is set once Run's context ends: /readyz answers 503.
	draining atomic.Bool
	// itemsApplied counts telemetry items stored (/metrics).
	itemsApplied atomic.Int64
}

// New opens the store (creating and bootstrapping it on first start),
// builds the API and binds the listen address, so Addr is known before Run.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "cloud")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: store}
	ok := false
	defer func() {
		if !ok {
			store.Close()
		}
	}()

	clients, err := clientaddr.New(cfg.TrustedProxies) // validated
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	lims := newLimits(store, cfg.Now, log)
	guard := lims.guard(ratelimit.LoginLimits{AccountFree: cfg.Auth.LoginAccountFailures,
		AddrFree: cfg.Auth.LoginAddressFailures, Delay: cfg.Auth.LoginDelay, MaxDelay: cfg.Auth.LoginMaxDelay,
		Forget: cfg.Auth.LoginForgetAfter})
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("cloud: tls_cert/tls_key: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.tls = true
	}
	mailer := newMailer(cfg)
	// The sync endpoint needs the service and the service notifies it of
	// changes: the hook finds it through this pointer once it exists.
	var syncp atomic.Pointer[gatewaysync.Server]
	var wakep atomic.Pointer[waker]
	// The API's bearer cache is emptied by revocations and tenancy changes
	// made outside it (the console, other instances).
	var apip atomic.Pointer[platformapi.API]
	forgetTokens := func() {
		if a := apip.Load(); a != nil {
			a.ForgetTokens()
		}
		if cl := s.cluster; cl != nil {
			cl.revoke() // the other instances forget theirs
		}
	}
	s.svc, err = tenancy.New(ctx, tenancy.Deps{
		Store: store, Hasher: auth.Passwords{Cost: cfg.Auth.BcryptCost},
		Notifier: &notifier{store: store, mailer: mailer, log: log}, Logger: logger, Now: cfg.Now, Guard: guard,
		Audited: func(ctx context.Context, es []tenancy.AuditEntry) {
			if h := s.hookTriggers; h != nil {
				h.audited(ctx, es) // device created / transferred webhooks
			}
		},
		Revoked: forgetTokens,
		OnChange: func(c tenancy.Change) {
			forgetTokens() // a suspend, a role change, a deleted OAuth client (the console's too)
			if w := wakep.Load(); w != nil {
				w.changed(c) // the gateways whose view it touched, on every instance
			}
			if r := s.rules; r != nil {
				r.reload() // a device moved: where automations run may change
			}
		},
	}, tenancy.Config{
		MaxDepth: cfg.Tenancy.MaxDepth, InvitesPerDay: cfg.Tenancy.InvitesPerDay, InviteTTL: cfg.Tenancy.InviteTTL,
		ResetTTL: cfg.Auth.ResetTTL, SessionTTL: cfg.Auth.SessionTTL, AccessTokenTTL: cfg.Auth.AccessTokenTTL,
		RefreshTokenTTL: cfg.Auth.RefreshTokenTTL, InactiveAfter: cfg.Tenancy.InactiveAfter, MinPassword: cfg.Auth.MinPassword,
		ClaimCodeTTL: cfg.Gateways.ClaimCodeTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	if err := s.bootstrap(ctx); err != nil {
		return nil, err
	}
	s.sites = siteregistry.New(s.svc, store, cfg.Gateways.CommandTimeout, log)
	s.feed = livefeed.New(livefeed.Options{})
	var feed publisher = s.feed
	if b, ok := store.(bus); ok { // PostgreSQL: other instances may share it
		if s.cluster, err = newCluster(b, s.svc, s.feed, log); err != nil {
			return nil, fmt.Errorf("cloud: %w", err)
		}
		feed = clusterFeed{local: s.feed, c: s.cluster}
	}
	s.feedOut = feed
	s.waker = newWaker(s.svc, syncp.Load, s.cluster, log)
	wakep.Store(s.waker)
	if err := s.wireExtras(cfg, store, mailer, lims, logger); err != nil {
		return nil, err
	}
	if err := s.hookTriggers.fetch(ctx); err != nil { // in force before the first batch is applied
		return nil, fmt.Errorf("cloud: %w", err)
	}
	s.sync, err = gatewaysync.New(gatewaysync.Options{Credentials: s.sites, Tenancy: s.sites,
		Telemetry: feedTelemetry{store: store, feed: feed, applied: &s.itemsApplied,
			observers: []interface{ Observe([]syncproto.Item) }{s.rules.runner, s.events},
			hooks:     s.hookTriggers.pending, kick: s.hooks.Kick},
		Devices: s.sites, Shipments: s.firmware, Logger: logger, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	syncp.Store(s.sync)
	if s.cluster != nil {
		s.cluster.gs = s.sync
		s.sites.Attach(clusterSync{s.cluster}) // writes and releases reach a gateway on any instance
	} else {
		s.sites.Attach(s.sync)
	}
	defer func() {
		if !ok {
			s.sync.Close()
		}
	}()
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cloud: listen: %w", err)
	}
	defer func() {
		if !ok {
			s.ln.Close()
		}
	}()
	publicURL := cfg.PublicURL
	if publicURL == "" { // only with the mailbox (Validate): mail stays on this machine
		publicURL = s.URL()
	}
	autos := automations.New(store, s.svc.Tree, func(c tenancy.Change) { s.waker.changed(c); s.rules.reload() }, cfg.Now)
	autos.Attach(s.rules.runner)
	hooks := webhooks.NewService(store, s.svc.Tree, s.hooks, func() { s.hookTriggers.load(context.Background()); s.announce() })
	apiOpts := platformapi.Options{Service: s.svc, Mailer: mailer, Logger: logger,
		RateLimit: cfg.API.RateLimit, Limiter: lims.quota("api", cfg.API.RateLimit), MaxBodyBytes: cfg.API.MaxBodyBytes, PublicURL: publicURL, AuthCacheTTL: cfg.API.AuthCacheTTL, Now: cfg.Now,
		Live: apiLive{s.sites, store}, Clients: clients, OTA: s.firmware.ota,
		Automations: autos,
		Webhooks:    hooks,
		Events:      apiEvents{s.eventLog}}
	consoleOpts := console.Options{Service: s.svc, Live: consoleLive{s.sites, store}, History: consoleHistory{store},
		Feed: s.feed, Mailer: mailer, Logger: logger, PublicURL: publicURL, ClientAddr: clients.Addr, Now: cfg.Now, OTA: s.firmware.ota,
		Automations: autos, Notify: s.notifier, Webhooks: hooks, Events: s.eventLog}
	api, err := platformapi.New(apiOpts)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	apip.Store(api)
	if s.cluster != nil {
		s.cluster.forgetTokens = api.ForgetTokens
	}
	s.console, err = console.New(consoleOpts)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	perMin := cfg.Gateways.RegisterPerMinute // -1: off (Validate refuses 0)
	mux := http.NewServeMux()
	metricsHandler, err := s.metrics(cfg.MetricsFrom)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	mux.Handle("GET /metrics", metricsHandler)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /api/v1/gateway/sync", s.sync)
	mux.HandleFunc("POST /api/v1/gateway/register", siteregistry.LimitPerAddr(lims.quota("register", perMin), clients.Addr, s.sites.Register))
	mux.HandleFunc("POST /api/v1/gateway/claim-code", s.sites.RenewClaimCode)
	mux.HandleFunc("GET /api/v1/gateway/firmware/{sha256}", s.firmware.download)
	mux.Handle("/api/", api)
	mux.Handle("/oauth2/", api)
	mux.Handle("/", s.console) // the web console for people
	var handler http.Handler = mux
	if s.tls || strings.HasPrefix(publicURL, "https://") {
		handler = hsts(mux)
	}
	s.http = &http.Server{
		Handler:           handler,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ok = true
	return s, nil
}

// bootstrap creates the root org and first Admin when the store is empty.
func (s *Server) bootstrap(ctx context.Context) error {
	if s.svc.Tree().Len() > 0 {
		return nil
	}
	a := s.cfg.Admin
	pw, generated := a.Password, false
	if pw == "" {
		pw, generated = auth.RandomPassword(), true
	}
	org, admin, err := s.svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: a.OrgName, AdminEmail: a.Email,
		AdminName: a.Name, Password: pw, SpecialOrgs: a.SpecialOrgs})
	if err != nil {
		return fmt.Errorf("cloud: first start: %w", err)
	}
	s.boot = Bootstrap{Created: true, OrgID: int64(org.ID), OrgName: org.Name, AdminEmail: admin.Email}
	if generated {
		s.boot.Password = pw
		if a.PasswordFile != "" {
			if err := secret.WriteFile(a.PasswordFile, []byte(pw+"\n")); err != nil {
				return fmt.Errorf("cloud: first start: admin.password_file: %w", err)
			}
		}
	}
	s.log.Info("first start: created root organization and its Admin", "org", org.Name, "orgId", org.ID,
		"email", admin.Email, "generatedPassword", generated)
	return nil
}

// CheckFirstStart refuses a first start (no database yet) that would
// generate the Admin password with nowhere safe to show it: no
// admin.password, no admin.password_file and no terminal. Printed anywhere
// else it would end up in a log (journald keeps a service's stdout).
func CheckFirstStart(cfg Config, terminal bool) error {
	if cfg.Admin.Password != "" || cfg.Admin.PasswordFile != "" || terminal {
		return nil
	}
	if first, err := isFirstStart(cfg); err != nil || !first {
		return err
	}
	return errors.New("first start: the Admin password would be generated but stdout is not a terminal; " +
		"set admin.password_file (or -admin-password-file), or OUTPOST_ADMIN_PASSWORD")
}

// isFirstStart reports whether the store holds no cloud yet: no SQLite
// file, or a PostgreSQL database without organizations.
func isFirstStart(cfg Config) (bool, error) {
	if cfg.Store.Driver != "postgres" {
		_, err := os.Stat(cfg.databasePath())
		return errors.Is(err, os.ErrNotExist), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer st.Close()
	orgs, err := st.AllOrgs(ctx)
	if err != nil {
		return false, fmt.Errorf("cloud: %w", err)
	}
	return len(orgs) == 0, nil
}

// databasePath is the SQLite file: database, else data_dir/cloud.db.
func (c Config) databasePath() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.DataDir, "cloud.db")
}

// TreeSpec describes another organization tree: a new root organization
// and its first Admin (a new customer of a multi-tenant cloud).
type TreeSpec struct {
	OrgName, AdminEmail, AdminName, Password string
}

// CreateTree creates a new root organization with its first Admin; it is
// how an operator adds a customer. Trees never see each other.
func (s *Server) CreateTree(ctx context.Context, t TreeSpec) (Bootstrap, error) {
	pw, generated := t.Password, false
	if pw == "" {
		pw, generated = auth.RandomPassword(), true
	}
	org, admin, err := s.svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: t.OrgName, AdminEmail: t.AdminEmail,
		AdminName: t.AdminName, Password: pw})
	if err != nil {
		return Bootstrap{}, fmt.Errorf("cloud: create tree: %w", err)
	}
	b := Bootstrap{Created: true, OrgID: int64(org.ID), OrgName: org.Name, AdminEmail: admin.Email}
	if generated {
		b.Password = pw
	}
	return b, nil
}

// Bootstrap reports what the first start created (Created is false on
// later starts).
func (s *Server) Bootstrap() Bootstrap { return s.boot }

// Addr is the bound Platform API address, e.g. "127.0.0.1:41234".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the Platform API base URL, e.g. "http://127.0.0.1:41234"
// ("https://…" with tls_cert); the console is served at its root.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// hsts tells browsers to use HTTPS only for a year. It is sent when the
// cloud serves TLS itself or public_url is https (a TLS proxy in front);
// browsers ignore it on plain http, so a local health check is unaffected.
func hsts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

// metrics serves /metrics to the peers in from (loopback when empty).
func (s *Server) metrics(from []string) (http.Handler, error) {
	if len(from) == 0 {
		from = []string{"127.0.0.0/8", "::1"}
	}
	peers, err := clientaddr.New(from)
	if err != nil {
		return nil, err
	}
	counters := []metrics.Counter{{Name: "telemetry_items_applied_total", Help: "Telemetry items stored from gateways by this instance.",
		Value: func() float64 { return float64(s.itemsApplied.Load()) }}}
	counters = append(counters,
		metrics.Counter{Name: "tenancy_wakes_targeted_total", Help: "Tenancy changes that woke only the gateways whose view they touched.",
			Value: func() float64 { return float64(s.waker.targeted.Load()) }},
		metrics.Counter{Name: "tenancy_wakes_all_total", Help: "Tenancy changes not attributed, that woke every gateway.",
			Value: func() float64 { return float64(s.waker.everyone.Load()) }},
		metrics.Counter{Name: "tenancy_gateways_named_total", Help: "Gateways named by targeted tenancy wakes (connected here or not).",
			Value: func() float64 { return float64(s.waker.named.Load()) }},
		metrics.Counter{Name: "gateway_wakes_total", Help: "Gateway connections woken here to re-read their tenancy view.",
			Value: func() float64 { return float64(s.sync.Wakes()) }},
		metrics.Counter{Name: "gateway_view_reads_total", Help: "Gateway tenancy views read by this instance (connections and wakes).",
			Value: func() float64 { return float64(s.sync.ViewReads()) }})
	if c := s.cluster; c != nil {
		counters = append(counters,
			metrics.Counter{Name: "cluster_messages_sent_total", Help: "Messages this instance sent to the others.",
				Value: func() float64 { return float64(c.sent.Load()) }},
			metrics.Counter{Name: "cluster_messages_received_total", Help: "Messages this instance received from the others.",
				Value: func() float64 { return float64(c.received.Load()) }})
	}
	h, err := metrics.Handler([]metrics.Gauge{
		{Name: "gateways_connected", Help: "Gateways whose websocket is connected to this instance.", Value: func() float64 {
			n := 0
			for _, st := range s.sync.Sites() {
				if st.Connected {
					n++
				}
			}
			return float64(n)
		}},
		{Name: "live_subscribers", Help: "Open live-feed subscriptions (console device pages) on this instance.",
			Value: func() float64 { return float64(s.feed.Subscribers()) }},
	}, counters)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !peers.PeerListed(r) {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

// healthz answers 200 while the process serves: a load balancer's
// liveness check.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz answers 200 when this instance can serve: the store answers with
// the schema this program has, and it is not draining (503 otherwise, so a
// load balancer sends new connections elsewhere).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.store.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		http.Error(w, "store not ready", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// ConsoleURL is where people open the web console.
func (s *Server) ConsoleURL() string { return s.URL() + "/" }

// Run serves until ctx is cancelled, then shuts down gracefully (in-flight
// requests get up to 10 s) and closes the store.
func (s *Server) Run(ctx context.Context) error {
	stopExtras := s.runExtras(ctx)
	defer stopExtras()
	errc := make(chan error, 1)
	go func() {
		if s.tls {
			errc <- s.http.ServeTLS(s.ln, "", "") // the certificate is in TLSConfig
			return
		}
		errc <- s.http.Serve(s.ln)
	}()
	s.log.Info("platform API listening", "addr", s.Addr())
	stopCluster := func() {}
	if s.cluster != nil {
		cctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.cluster.run(cctx); close(done) }()
		stopCluster = func() { stop(); <-done }
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.draining.Store(true)
		// Hijacked websockets and live streams would hold Shutdown: end them
		// first. A gateway whose link closes reconnects, through the load
		// balancer, to another instance.
		s.sync.Close()
		s.console.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.http.Shutdown(sctx)
		cancel()
		if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.sync.Close()
	stopExtras()
	stopCluster()
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close releases the listener and store of a Server whose Run was never
// called.
func (s *Server) Close() error {
	s.sync.Close()
	return errors.Join(s.ln.Close(), s.store.Close())
}

// newMailer picks SMTP when configured, else the mailbox directory.
func newMailer(cfg Config) platformapi.Mailer {
	if cfg.Mail.SMTP.Addr != "" {
		return &mail.SMTP{Addr: cfg.Mail.SMTP.Addr, From: cfg.Mail.From, Username: cfg.Mail.SMTP.Username,
			Password: cfg.Mail.SMTP.Password}
	}
	dir := cfg.Mail.Mailbox
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "mailbox")
	}
	return &mail.Mailbox{Dir: dir, From: cfg.Mail.From}
}

// Mails returns the messages the cloud has written to its mailbox
// directory dir (mail.mailbox, by default data_dir/mailbox), oldest first,
// those to the address to only unless to is empty: what a demo or a test
// reads instead of an inbox.
func Mails(dir, to string) ([]string, error) { return mail.Delivered(dir, to) }

// notifier mails people when something happens to them or their devices
// (device transfers notify both parties, §4).
type notifier struct {
	store  cloudStore
	mailer platformapi.Mailer
	log    *slog.Logger
}

func (n *notifier) Notify(ctx context.Context, note tenancy.Notification) {
	u, err := n.store.GetUser(ctx, note.UserID)
	if err != nil {
		n.log.WarnContext(ctx, "notification: user lookup failed", "user", note.UserID, "err", err)
		return
	}
	m := mail.Message{To: u.Email, Subject: "Outpost: " + note.Message, Body: fmt.Sprintf(
		"Hello %s,\n\n%s.\n\n(event %s", u.Name, note.Message, note.Kind)}
	if note.DeviceID != 0 {
		m.Body += fmt.Sprintf(", device %d", note.DeviceID)
	}
	m.Body += ")\n"
	if err := n.mailer.Send(ctx, m); err != nil {
		n.log.WarnContext(ctx, "notification mail failed", "to", u.Email, "err", err)
	}
}
