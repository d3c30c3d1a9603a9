// Package gateway wires the edge appliance together: the SQLite store, the
// hub, the Blynk TCP/TLS server, the MQTT broker, the HTTP APIs and, with
// cloud.url set, the link to the Outpost cloud (cloud.go). It is a
// library first (docs/architecture.md principle 1): New binds every listener so the
// caller knows the addresses, Run serves until the context ends. Mains,
// tests and the one-command site all use it.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"outpost/firmware-bridge/bridge"
	"outpost/gateway/internal/blynkserver"
	"outpost/gateway/internal/broker"
	"outpost/gateway/internal/certs"
	"outpost/gateway/internal/cloudlink"
	"outpost/gateway/internal/deviceapi"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/installer"
	"outpost/gateway/internal/logring"
	"outpost/gateway/internal/ota"
	"outpost/gateway/internal/rules"
	"outpost/gateway/internal/sqlite"
	"outpost/shared/secret"
)

// Addrs are the addresses the gateway listens on ("" when disabled).
type Addrs struct {
	Blynk, BlynkTLS       string
	MQTT, MQTTTLS, MQTTWS string
	HTTP, Installer       string
}

// Gateway is a running edge appliance.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	store  *sqlite.Store
	hub    *hub.Hub
	blynk  *blynkserver.Server
	broker *broker.Broker
	tlsCfg *tls.Config
	tlsCA  string // the local CA's file; "" with a configured certificate

	localCert *certs.Local // nil with a configured certificate or no TLS

	lnBlynk, lnBlynkTLS         net.Listener
	lnMQTT, lnMQTTTLS, lnMQTTWS net.Listener
	lnHTTP, lnInstaller         net.Listener
	deviceAPI                   http.Handler
	installer                   *installer.Installer
	pageSerial                  pageSerial // serial ports bound from the installer page
	logs                        *logring.Ring
	serving                     atomic.Bool // Run is serving: /readyz
	started                     time.Time
	ota                         *ota.Delivery // nil without an HTTP port
	addrs                       Addrs
	hw                          Hardware
	bridges                     *bridge.Manager
	rules                       *rules.Runner // the automations the cloud placed here

	link    atomic.Pointer[cloudlink.Link] // set once registered (cloud.url)
	cloudMu sync.Mutex
	cloudID CloudIdentity
}

// rand is the jitter source of the registration retries.
func (g *Gateway) rand() float64 { return rand.Float64() }

// NewDevice is a device created at start-up from the config, with the token
// generated for it. The token is shown once; only its hash is stored.
type NewDevice struct {
	Name, Template, Token string
}

// New opens the store, loads the hub, seeds templates and devices from the
// config and binds every listener. Close it with Run's context or Close.
func New(ctx context.Context, cfg Config, logger *slog.Logger, opts ...Option) (g *Gateway, created []NewDevice, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("gateway: invalid config: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("gateway: data dir: %w", err)
	}
	// The installer page's Logs: the last lines, kept in memory.
	logs := logring.New(logLines)
	logger = slog.New(logs.Handler(logger.Handler(), slog.LevelInfo))
	g = &Gateway{cfg: cfg, log: logger, logs: logs}
	for _, o := range opts {
		o(g)
	}
	partial := g // the named result is nil on error returns
	defer func() {
		if err != nil {
			partial.Close()
		}
	}()

	g.store, err = sqlite.Open(ctx, sqlite.Options{
		Path:        filepath.Join(cfg.DataDir, "gateway.db"),
		Logger:      logger,
		CommitEvery: cfg.Store.CommitInterval,
		MaxBatch:    cfg.Store.MaxBatch,
		Synchronous: sqlite.Sync(strings.ToUpper(cfg.Store.Synchronous)),
		OutboxMax:   cfg.Cloud.OutboxMaxRecords,
		HistoryMax:  cfg.Store.HistoryMaxRecords,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	g.hub = hub.New(hub.Options{Store: g.store, Logger: logger})
	if err := g.hub.Load(ctx); err != nil {
		return nil, nil, fmt.Errorf("gateway: load: %w", err)
	}
	if g.rules, err = rules.New(rules.Options{Hub: g.hub, Logger: logger}); err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	if created, err = g.seed(ctx); err != nil {
		return nil, nil, err
	}

	if cfg.Blynk.TLSListen != "" || cfg.MQTT.TLSListen != "" {
		if err := g.setupTLS(); err != nil {
			return nil, nil, err
		}
	}

	g.deviceAPI = g.withOTA(deviceapi.New(deviceapi.Options{Hub: g.hub, Logger: logger}))
	if g.installer, err = g.newInstaller(); err != nil {
		return nil, nil, err
	}
	var sniffHTTP http.Handler
	if cfg.Blynk.ServeHTTP == nil || *cfg.Blynk.ServeHTTP {
		sniffHTTP = g.deviceAPI
	}
	g.blynk = blynkserver.New(blynkserver.Options{
		Hub:                 g.hub,
		Logger:              logger,
		HeartbeatMultiplier: cfg.Blynk.HeartbeatMultiplier,
		DefaultHeartbeat:    cfg.Blynk.DefaultHeartbeat,
		Rate:                cfg.Blynk.FloodRate,
		Burst:               cfg.Blynk.FloodBurst,
		MaxBody:             cfg.Blynk.MaxBody,
		LoginTimeout:        cfg.Blynk.LoginTimeout,
		HTTP:                sniffHTTP,
	})
	if cfg.Cloud.URL != "" {
		if _, err := g.cloudTLS(); err != nil {
			return nil, nil, err
		}
		// A site registered before shows its claim code from the start.
		if id, err := ReadCloudIdentity(cfg.DataDir); err == nil && id.CloudURL == cfg.Cloud.URL {
			g.cloudID = id
		}
	}
	if err := g.setupBridges(ctx); err != nil {
		return nil, nil, err
	}
	g.broker, err = broker.New(broker.Options{
		Hub: g.hub, Logger: logger, MaxMessage: cfg.MQTT.MaxMessage,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: mqtt: %w", err)
	}

	listen := func(addr string, useTLS bool, ln *net.Listener, out *string) error {
		if addr == "" {
			return nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("gateway: listen %s: %w", addr, err)
		}
		*out = l.Addr().String()
		if useTLS {
			l = tls.NewListener(l, g.tlsCfg)
		}
		*ln = l
		return nil
	}
	for _, l := range []struct {
		addr string
		tls  bool
		ln   *net.Listener
		out  *string
	}{
		{cfg.Blynk.Listen, false, &g.lnBlynk, &g.addrs.Blynk},
		{cfg.Blynk.TLSListen, true, &g.lnBlynkTLS, &g.addrs.BlynkTLS},
		{cfg.MQTT.Listen, false, &g.lnMQTT, &g.addrs.MQTT},
		{cfg.MQTT.TLSListen, true, &g.lnMQTTTLS, &g.addrs.MQTTTLS},
		{cfg.MQTT.WSListen, false, &g.lnMQTTWS, &g.addrs.MQTTWS},
		{cfg.HTTP.Listen, false, &g.lnHTTP, &g.addrs.HTTP},
		{cfg.Installer.Listen, false, &g.lnInstaller, &g.addrs.Installer},
	} {
		if err := listen(l.addr, l.tls, l.ln, l.out); err != nil {
			return nil, nil, err
		}
	}
	if err := g.setupOTA(); err != nil {
		return nil, nil, err
	}
	return g, created, nil
}

// setupTLS serves the configured pair (blynk.tls_cert, never written), or
// else a leaf of the gateway's local CA in data_dir/tls, valid for this
// box's names and blynk.tls_hosts and issued again when they change.
func (g *Gateway) setupTLS() error {
	g.tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	if g.cfg.Blynk.TLSCert != "" {
		cert, err := certs.Load(g.cfg.Blynk.TLSCert, g.cfg.Blynk.TLSKey)
		if err != nil {
			return fmt.Errorf("gateway: tls: %w", err)
		}
		g.tlsCfg.Certificates = []tls.Certificate{cert}
		return nil
	}
	local, err := certs.OpenLocal(certs.Options{Dir: filepath.Join(g.cfg.DataDir, "tls"), Hosts: g.cfg.Blynk.TLSHosts, Logger: g.log})
	if err != nil {
		return fmt.Errorf("gateway: tls: %w", err)
	}
	g.tlsCA, g.localCert = local.CAPath(), local
	g.tlsCfg.GetCertificate = local.GetCertificate
	g.log.Info("TLS certificate of the local CA; devices that check it pin the CA file",
		"component", "certs", "ca", g.tlsCA, "names", strings.Join(local.Names(), ","))
	return nil
}

// TLSCA is the CA file devices pin to check the gateway's TLS certificate,
// "" when the certificate is configured (blynk.tls_cert) or TLS is off.
func (g *Gateway) TLSCA() string { return g.tlsCA }

// seed saves the config's templates and creates its devices that do not
// exist yet (matched by name; by token when one is given).
func (g *Gateway) seed(ctx context.Context) ([]NewDevice, error) {
	for _, t := range g.cfg.Templates {
		if err := g.hub.SaveTemplate(ctx, t); err != nil {
			return nil, fmt.Errorf("gateway: template %s: %w", t.ID, err)
		}
	}
	byName := map[string]bool{}
	for _, d := range g.hub.Devices() {
		byName[d.Name] = true
	}
	var created []NewDevice
	for _, d := range g.cfg.Devices {
		if _, ok := g.hub.Template(d.Template); !ok {
			return nil, fmt.Errorf("gateway: device %q: template %q is not defined", d.Name, d.Template)
		}
		if d.Token != "" {
			if _, err := g.hub.AddDeviceWithToken(ctx, d.Template, d.Name, d.Token); err != nil {
				return nil, fmt.Errorf("gateway: device %q: %w", d.Name, err)
			}
			continue
		}
		if byName[d.Name] {
			continue
		}
		_, token, err := g.hub.AddDevice(ctx, d.Template, d.Name)
		if err != nil {
			return nil, fmt.Errorf("gateway: device %q: %w", d.Name, err)
		}
		g.log.Info("device created", "device", d.Name, "template", d.Template, "token_prefix", secret.Prefix(token))
		created = append(created, NewDevice{Name: d.Name, Template: d.Template, Token: token})
	}
	return created, nil
}

// Addrs returns the bound addresses.
func (g *Gateway) Addrs() Addrs { return g.addrs }

// AddDevice creates a device and returns its token (shown once).
func (g *Gateway) AddDevice(ctx context.Context, template, name string) (id int64, token string, err error) {
	d, token, err := g.hub.AddDevice(ctx, template, name)
	return d.ID, token, err
}

// Stats is what /installer/api/stats reports. Keys are camelCase and
// stable: load tools read them (scripts/bench).
type Stats struct {
	Hub   HubStats          `json:"hub"`
	Store StoreStats        `json:"store"`
	Blynk blynkserver.Stats `json:"blynk"`
	MQTT  broker.Stats      `json:"mqtt"`
	Cloud *CloudStats       `json:"cloud"`
	Rules rules.Stats       `json:"rules"`
}

// HubStats are the routing core's counters.
type HubStats struct {
	Devices        int    `json:"devices"`
	Online         int    `json:"online"`
	WritesAccepted uint64 `json:"writesAccepted"`
	ControlWrites  uint64 `json:"controlWrites"`
	Deliveries     uint64 `json:"deliveries"`
	Dropped        uint64 `json:"dropped"` // wrong type, arity, no datastream, bad pin
}

// StoreStats are the SQLite store's counters.
type StoreStats struct {
	Committed    uint64  `json:"committed"`
	Transactions uint64  `json:"transactions"`
	Failures     uint64  `json:"failures"`
	QueueLen     int     `json:"queueLen"`
	CommitP50Ms  float64 `json:"commitP50Ms"`
	CommitP99Ms  float64 `json:"commitP99Ms"`
}

// Stats returns counters of every part.
func (g *Gateway) Stats() any {
	h, s := g.hub.Stats(), g.store.Stats()
	return Stats{
		Hub: HubStats{Devices: h.Devices, Online: h.Online, WritesAccepted: h.WritesAccepted,
			ControlWrites: h.ControlWrites, Deliveries: h.Deliveries,
			Dropped: h.DroppedWrongType + h.DroppedArity + h.DroppedNoDatastream + h.DroppedBadPin},
		Store: StoreStats{Committed: s.Committed, Transactions: s.Transactions, Failures: s.Failures,
			QueueLen: s.QueueLen, CommitP50Ms: s.P50Ms, CommitP99Ms: s.P99Ms},
		Blynk: g.blynk.Stats(),
		MQTT:  g.broker.Stats(),
		Cloud: g.cloudStats(),
		Rules: g.rules.Stats(),
	}
}

// Run serves until ctx is done, then shuts everything down and commits what
// is queued. It returns the first error that stopped a server.
func (g *Gateway) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
				g.log.Error("server stopped", "server", name, "err", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	if g.lnBlynk != nil {
		run("blynk", func() error { return g.blynk.Serve(ctx, g.lnBlynk, "tcp") })
	}
	if g.lnBlynkTLS != nil {
		run("blynk-tls", func() error { return g.blynk.Serve(ctx, g.lnBlynkTLS, "tls") })
	}
	if g.lnMQTT != nil || g.lnMQTTTLS != nil || g.lnMQTTWS != nil {
		run("mqtt", func() error {
			return g.broker.Serve(ctx, broker.Listeners{TCP: g.lnMQTT, TLS: g.lnMQTTTLS, WS: g.lnMQTTWS})
		})
	}
	serveHTTP := func(name string, ln net.Listener, h http.Handler) {
		if ln == nil {
			return
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: min(10*time.Second, g.cfg.HTTP.ReadTimeout),
			ReadTimeout: g.cfg.HTTP.ReadTimeout, IdleTimeout: g.cfg.HTTP.IdleTimeout,
			ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
		run(name, func() error { return srv.Serve(ln) })
		// Serve returns as soon as Shutdown starts; Shutdown returns when
		// the handlers are done. Run waits for the latter before it closes
		// the store those handlers use.
		run(name+" shutdown", func() error {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			if err := srv.Shutdown(sctx); err != nil {
				g.log.Warn("requests still running at shutdown", "server", name, "err", err)
			}
			return nil
		})
	}
	run("bridges", func() error { return g.bridges.Run(ctx) })
	run("ota", func() error { return g.runOTA(ctx) })
	run("rules", func() error { return g.rules.Run(ctx) })
	serveHTTP("http", g.lnHTTP, g.deviceAPI)
	serveHTTP("installer", g.lnInstaller, g.installer)
	context.AfterFunc(ctx, g.installer.Close) // live pages end; shutdown need not wait for them
	if g.cfg.Cloud.URL != "" {
		run("cloud", func() error { return g.runCloud(ctx) })
	}

	g.log.Info("gateway running",
		"blynk", g.addrs.Blynk, "blynk_tls", g.addrs.BlynkTLS,
		"mqtt", g.addrs.MQTT, "mqtt_tls", g.addrs.MQTTTLS, "mqtt_ws", g.addrs.MQTTWS,
		"http", g.addrs.HTTP, "installer", g.addrs.Installer)
	g.serving.Store(true) // /readyz
	<-ctx.Done()
	g.serving.Store(false)
	wg.Wait()
	if err := g.Close(); err != nil {
		errs = append(errs, err)
	}
	g.log.Info("gateway stopped")
	return errors.Join(errs...)
}

// Close releases listeners and commits and closes the store. Run calls it;
// call it yourself only for a Gateway that was never run.
func (g *Gateway) Close() error {
	for _, ln := range []net.Listener{g.lnBlynk, g.lnBlynkTLS, g.lnMQTT, g.lnMQTTTLS, g.lnMQTTWS, g.lnHTTP, g.lnInstaller} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if g.store != nil {
		s := g.store
		g.store = nil
		if err := s.Close(); err != nil {
			return fmt.Errorf("gateway: close store: %w", err)
		}
	}
	return nil
}
