package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"outpost/gateway/internal/cloudlink"
	"outpost/gateway/internal/ota"
)

// OTAConfig configures firmware delivery to the site's devices (issue 18).
type OTAConfig struct {
	Dir        string `yaml:"dir"`         // image cache and state; empty: data_dir/ota
	CacheBytes int64  `yaml:"cache_bytes"` // bound of the image cache
	// URL is how devices reach the gateway's device HTTP port, the base of
	// the download links they are sent; empty: http://<first reachable
	// address of http.listen (else blynk.listen)>.
	URL string `yaml:"url"`
}

// withOTA serves /ota/ (firmware downloads) beside the device HTTP API,
// once setupOTA made the delivery.
func (g *Gateway) withOTA(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.ota != nil && strings.HasPrefix(r.URL.Path, "/ota/") {
			g.ota.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// setupOTA makes the delivery once the listeners are bound (the download
// URL names the HTTP port).
func (g *Gateway) setupOTA() error {
	base := g.cfg.OTA.URL
	if base == "" {
		addr := g.addrs.HTTP
		if addr == "" {
			addr = g.addrs.Blynk
		}
		if addr == "" {
			return nil // no HTTP port: nothing to serve images on
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("gateway: ota: %w", err)
		}
		base = "http://" + net.JoinHostPort(ReachableHosts(addr)[0], port)
	}
	dir := g.cfg.OTA.Dir
	if dir == "" {
		dir = filepath.Join(g.cfg.DataDir, "ota")
	}
	d, err := ota.New(ota.Options{Hub: g.hub, Dir: dir, CacheBytes: g.cfg.OTA.CacheBytes,
		URL: strings.TrimRight(base, "/"), Logger: g.log})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.ota = d
	return nil
}

// runOTA runs the delivery until ctx ends.
func (g *Gateway) runOTA(ctx context.Context) error {
	if g.ota == nil {
		return nil
	}
	return g.ota.Run(ctx)
}

// otaSource points the delivery at the cloud's image endpoint.
func (g *Gateway) otaSource(cloudURL, credential string, client *http.Client) {
	if g.ota == nil {
		return
	}
	g.ota.SetSource(ota.Source{BaseURL: strings.TrimRight(cloudURL, "/") + "/api/v1/gateway/firmware",
		Credential: credential, Client: client})
}

// shipments is the cloud link's consumer of shipments (nil without a
// delivery: a typed nil would be called).
func (g *Gateway) shipments() cloudlink.Shipments {
	if g.ota == nil {
		return nil
	}
	return g.ota
}
