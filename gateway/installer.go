package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"outpost/gateway/internal/installer"
	"outpost/gateway/internal/metrics"
	"outpost/gateway/internal/sqlite"
)

// logLines is how many recent log lines the installer page can show.
const logLines = 3000

// PasswordFile is the installer password's bcrypt hash in data_dir (0600).
const PasswordFile = "installer-password"

// newInstaller builds the installer port's handler: the page, the API for
// scripts (with the gateway's hardware and claim routes) and /metrics.
func (g *Gateway) newInstaller() (*installer.Installer, error) {
	g.started = time.Now()
	in, err := installer.New(installer.Options{
		Hub: g.hub, Site: installerSite{g}, History: installerHistory{g.store}, Logger: g.log, Stats: g.Stats,
		Token:        g.cfg.Installer.Token,
		PasswordFile: filepath.Join(g.cfg.DataDir, PasswordFile),
		Exposed:      g.cfg.Installer.Listen != "" && !isLoopback(g.cfg.Installer.Listen),
		Routes: map[string]http.Handler{
			"GET /installer/api/hardware": http.HandlerFunc(g.hardwareHandler),
			"GET /installer/api/claim":    http.HandlerFunc(g.claimHandler),
		},
		Hardware: installerHardware{g},
		Logs:     g.logs,
		Config:   installerConfig{g},
		ReissueTLS: func() error {
			if g.localCert == nil {
				return errors.New("this gateway serves a configured certificate (blynk.tls_cert) or no TLS port")
			}
			return g.localCert.Reissue()
		},
		Metrics: metrics.Handler(g.metrics),
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return in, nil
}

// installerSite is what the installer page shows of the gateway.
type installerSite struct{ g *Gateway }

func (s installerSite) Status(ctx context.Context) installer.Status {
	g := s.g
	st := installer.Status{Version: Software(), Started: g.started, DataDir: g.cfg.DataDir, TLSCA: g.tlsCA, Ready: g.serving.Load(),
		TLSCert: g.cfg.Blynk.TLSCert, Installer: g.addrs.Installer}
	if g.localCert != nil {
		st.TLSNames, st.TLSExpires = g.localCert.Names(), g.localCert.Expires()
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(g.cfg.DataDir, &fs); err == nil {
		st.DiskFree, st.DiskTotal = fs.Bavail*uint64(fs.Bsize), fs.Blocks*uint64(fs.Bsize)
	}
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(filepath.Join(g.cfg.DataDir, "gateway.db"+suffix)); err == nil {
			st.DBBytes += fi.Size()
		}
	}
	cs := g.cloudStats()
	st.Cloud = installer.Cloud{Configured: g.cfg.Cloud.URL != "", URL: g.cfg.Cloud.URL, Backlog: cs.Backlog,
		Acked: cs.ItemsAcked, Failures: cs.Failures, Connected: cs.Connected}
	if c, ok := g.Claim(); ok {
		st.Cloud.GatewayID, st.Cloud.ClaimCode, st.Cloud.Claimed = c.GatewayID, c.ClaimCode, c.Claimed
	}
	if l := g.link.Load(); l != nil {
		ls := l.Stats()
		st.Cloud.Since, st.Cloud.LastAck, st.Cloud.Org = ls.Since, ls.LastAck, ls.Org
	}
	for _, e := range []struct{ name, addr string }{
		{"Blynk TCP", g.addrs.Blynk}, {"Blynk TLS", g.addrs.BlynkTLS}, {"MQTT", g.addrs.MQTT},
		{"MQTT TLS", g.addrs.MQTTTLS}, {"MQTT websocket", g.addrs.MQTTWS}, {"HTTP API", g.addrs.HTTP},
	} {
		if e.addr == "" {
			continue
		}
		host, port, _ := net.SplitHostPort(e.addr)
		wild := host == "" || net.ParseIP(host).IsUnspecified()
		if hosts := ReachableHosts(e.addr); len(hosts) > 0 {
			st.Endpoints = append(st.Endpoints, installer.Endpoint{Transport: e.name, Addr: net.JoinHostPort(hosts[0], port), Wildcard: wild})
		}
	}
	return st
}

// metrics is what one /metrics scrape reads.
func (g *Gateway) metrics() metrics.Snapshot {
	h, s, b, m := g.hub.Stats(), g.store.Stats(), g.blynk.Stats(), g.broker.Stats()
	counts, total, sum := g.store.CommitLatency(metrics.CommitBounds)
	cs := g.cloudStats()
	return metrics.Snapshot{
		Connections:    map[string]int64{"blynk": b.LoggedIn, "mqtt": m.Connections},
		Devices:        h.Devices,
		Online:         h.Online,
		WritesAccepted: h.WritesAccepted,
		Persisted:      s.Committed,
		CommitCounts:   counts, CommitTotal: total, CommitSum: sum,
		Backlog:         s.Outbox,
		CloudConfigured: g.cfg.Cloud.URL != "",
		CloudConnected:  cs.Connected,
		FloodDrops:      map[string]uint64{"blynk": b.DroppedFlood},
	}
}

// installerHistory gives the installer page the store's history.
type installerHistory struct{ s *sqlite.Store }

func (h installerHistory) Aggregate(ctx context.Context, id int64, pin int, from, to time.Time, n int) ([]installer.Bucket, time.Duration, error) {
	bs, w, err := h.s.Aggregate(ctx, id, pin, from, to, n)
	out := make([]installer.Bucket, len(bs))
	for i, b := range bs {
		out[i] = installer.Bucket(b)
	}
	return out, w, err
}

func (h installerHistory) Events(ctx context.Context, id int64, limit int) ([]installer.Event, error) {
	es, err := h.s.Events(ctx, id, limit)
	out := make([]installer.Event, len(es))
	for i, e := range es {
		out[i] = installer.Event{Code: e.Code, Description: e.Description, TS: time.UnixMilli(e.TS)}
		if e.ResolvedAt != 0 {
			out[i].ResolvedAt = time.UnixMilli(e.ResolvedAt)
		}
	}
	return out, err
}

// installerConfig is the configuration page's view of the gateway.
type installerConfig struct{ g *Gateway }

func (c installerConfig) File() string { return c.g.cfg.File }

// Effective is the configuration in force as YAML, tokens masked.
func (c installerConfig) Effective() (string, error) {
	cfg := c.g.cfg
	mask := func(s *string) {
		if *s != "" {
			*s = "[masked]"
		}
	}
	mask(&cfg.Installer.Token)
	cfg.Devices = slices.Clone(cfg.Devices)
	for i := range cfg.Devices {
		mask(&cfg.Devices[i].Token)
	}
	cfg.GPIO = slices.Clone(cfg.GPIO)
	for i := range cfg.GPIO {
		mask(&cfg.GPIO[i].Token)
	}
	b, err := yaml.Marshal(cfg)
	return string(b), err
}

// Validate checks an edited file as the gateway would read it at start.
func (c installerConfig) Validate(data []byte) error {
	_, err := ParseConfig(bytes.NewReader(data))
	return err
}
