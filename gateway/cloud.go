package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"outpost/gateway/internal/cloudid"
	"outpost/gateway/internal/cloudlink"
	"outpost/shared/capool"
	"outpost/shared/secret"
)

// CloudFile is the file in data_dir that keeps the gateway's cloud identity.
const CloudFile = cloudid.File

// CloudIdentity is what the cloud gave the gateway at registration
// (data_dir/cloud.json).
type CloudIdentity = cloudid.Identity

// ReadCloudIdentity reads data_dir/cloud.json; fs.ErrNotExist means the
// gateway has not registered yet.
func ReadCloudIdentity(dataDir string) (CloudIdentity, error) { return cloudid.Read(dataDir) }

// Software is the version string the gateway reports to the cloud.
func Software() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "outpost-gateway/" + v
}

func (g *Gateway) cloudTLS() (*tls.Config, error) {
	c := g.cfg.Cloud
	if c.TLSCAFile == "" && !c.InsecureSkipVerify {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.TLSCAFile != "" {
		pool, err := capool.Load(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: cloud.tls_ca_file: %w", err)
		}
		t.RootCAs = pool
	}
	return t, nil
}

// runCloud registers the gateway if it has no identity for the configured
// cloud, shows the claim code until the site is claimed and keeps the cloud
// link up; a site released in the cloud registers again and shows its new
// claim code. Nothing else waits for it: the site works offline meanwhile.
func (g *Gateway) runCloud(ctx context.Context) error {
	tlsCfg, err := g.cloudTLS()
	if err != nil {
		return err
	}
	// A clone: the transport adds "h2" to its config's NextProtos, and the
	// websocket dialer, sharing it, would then offer HTTP/2 to an HTTPS
	// cloud and fail.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsCfg.Clone(), Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()

	for {
		err := g.runLink(ctx, client, tlsCfg)
		if !errors.Is(err, cloudlink.ErrRevoked) {
			return err
		}
		// Released (or revoked) in the cloud: this identity is dead. Drop
		// it and register again, so the site shows a new claim code.
		g.log.Warn("the cloud no longer knows this gateway (released or revoked): registering again", "err", err)
		if err := os.Remove(filepath.Join(g.cfg.DataDir, CloudFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("gateway: drop the released identity: %w", err)
		}
		// The next claim may be into another org: start from a snapshot.
		if err := g.store.SetCursor(ctx, cloudlink.CursorTenancy, 0); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		g.link.Store(nil)
		g.setIdentity(CloudIdentity{})
	}
}

// revokedAfter is how many sessions in a row the cloud must refuse the
// credential as unknown (HTTP 401) before the gateway registers again; one
// refusal could be a cloud restored from an old backup for a moment.
const revokedAfter = 3

// runLink runs the link under the saved identity (registering first if
// there is none) until ctx is done or the cloud refuses the credential
// revokedAfter times in a row (an error matching cloudlink.ErrRevoked).
func (g *Gateway) runLink(ctx context.Context, client *http.Client, tlsCfg *tls.Config) error {
	cfg := g.cfg.Cloud
	id, err := ReadCloudIdentity(g.cfg.DataDir)
	switch {
	case err == nil && id.CloudURL != cfg.URL:
		g.log.Warn("cloud.url changed since registration: registering again", "was", id.CloudURL, "now", cfg.URL)
		id = CloudIdentity{}
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
	default:
		return err
	}
	if id.Credential == "" {
		if id, err = g.registerLoop(ctx, client); err != nil {
			return err
		}
	}
	g.setIdentity(id)
	if !id.Claimed {
		// The code itself is shown by `outpost-gateway claim-code` and the
		// installer page, never logged: logs travel further.
		g.log.Info("this site is not claimed yet: claim it in the cloud with the code that `outpost-gateway claim-code` prints",
			"claim_code_prefix", secret.Prefix(id.ClaimCode), "gateway_id", id.GatewayID, "cloud", cfg.URL)
	}

	link, err := cloudlink.New(cloudlink.Options{
		URL:        cloudid.SyncURL(cfg.URL),
		Credential: id.Credential,
		GatewayID:  id.GatewayID,
		Software:   Software(),
		Hub:        g.hub,
		Store:      g.store,
		Shipments:  g.shipments(),
		Logger:     g.log,
		TLS:        tlsCfg,

		IdleTimeout:  cfg.IdleTimeout,
		StatusEvery:  cfg.StatusEvery,
		RevokedAfter: revokedAfter,

		OnAutomations: g.rules.SetAutomations,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.link.Store(link)
	g.otaSource(cfg.URL, id.Credential, client)
	linkCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !id.Claimed {
		go g.watchClaim(linkCtx, link, client)
	}
	return link.Run(linkCtx)
}

func (g *Gateway) registerLoop(ctx context.Context, client *http.Client) (CloudIdentity, error) {
	name := g.cfg.Cloud.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	if name == "" {
		name = "outpost-gateway"
	}
	start := time.Now()
	for {
		id, err := cloudid.Register(ctx, client, g.cfg.Cloud.URL, name, Software())
		if err == nil {
			if err := cloudid.Write(g.cfg.DataDir, id); err != nil {
				return id, err
			}
			g.log.Info("registered with the cloud", "gateway_id", id.GatewayID, "cloud", id.CloudURL)
			return id, nil
		}
		if errors.Is(err, cloudid.ErrRefused) {
			g.log.Error("cloud registration refused; will retry", "err", err)
		} else {
			g.log.Warn("cloud registration failed; will retry", "err", err)
		}
		d := cloudlink.Backoff(time.Since(start), time.Second, 30*time.Second, g.rand())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return id, ctx.Err()
		case <-t.C:
		}
	}
}

// renewClaimBefore is how long before its expiry a claim code is
// replaced, so an installer never types a code that dies on the way.
const renewClaimBefore = 5 * time.Minute

// watchClaim records the claim once the cloud accepted the link, so the
// claim code stops being shown; until then it replaces the code before it
// expires.
func (g *Gateway) watchClaim(ctx context.Context, link *cloudlink.Link, client *http.Client) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var retryAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if link.Stats().Connects == 0 {
			g.cloudMu.Lock()
			id := g.cloudID
			g.cloudMu.Unlock()
			now := time.Now()
			if now.Before(retryAt) || now.Before(time.UnixMilli(id.ClaimCodeExpiresAt).Add(-renewClaimBefore)) {
				continue
			}
			if err := g.renewClaimCode(ctx, client, id); err != nil {
				g.log.Warn("could not renew the claim code; will retry", "err", err)
				retryAt = now.Add(time.Minute)
			}
			continue
		}
		g.cloudMu.Lock()
		g.cloudID.Claimed = true
		id := g.cloudID
		g.cloudMu.Unlock()
		if err := cloudid.Write(g.cfg.DataDir, id); err != nil {
			g.log.Error("could not record the claim", "err", err)
		}
		g.log.Info("site claimed: the cloud accepted the gateway", "gateway_id", id.GatewayID)
		return
	}
}

// renewClaimCode asks the cloud for a new claim code (the old one expires)
// and shows it: saved in cloud.json for `claim-code` and the installer page.
func (g *Gateway) renewClaimCode(ctx context.Context, client *http.Client, id CloudIdentity) error {
	renewed, err := cloudid.RenewClaimCode(ctx, client, id)
	if err != nil {
		return err
	}
	g.cloudMu.Lock()
	if g.cloudID.Credential != id.Credential { // registered again meanwhile
		g.cloudMu.Unlock()
		return nil
	}
	id = g.cloudID
	id.ClaimCode, id.ClaimCodeExpiresAt = renewed.ClaimCode, renewed.ClaimCodeExpiresAt
	// On disk first, then shown: the installer page never shows a code
	// that `outpost-gateway claim-code` (reading cloud.json) does not print.
	if err := cloudid.Write(g.cfg.DataDir, id); err != nil {
		g.cloudMu.Unlock()
		return err
	}
	g.cloudID = id
	g.cloudMu.Unlock()
	g.log.Info("new claim code issued (the old one expires): `outpost-gateway claim-code` prints it",
		"claim_code_prefix", secret.Prefix(id.ClaimCode), "expires", time.UnixMilli(id.ClaimCodeExpiresAt).UTC())
	return nil
}

func (g *Gateway) setIdentity(id CloudIdentity) {
	g.cloudMu.Lock()
	g.cloudID = id
	g.cloudMu.Unlock()
}

// ClaimStatus is what GET /installer/api/claim answers.
type ClaimStatus struct {
	GatewayID string `json:"gatewayId"`
	ClaimCode string `json:"claimCode"`
	Claimed   bool   `json:"claimed"`
	Connected bool   `json:"connected"`
}

// Claim returns the site's claim status; ok is false without cloud.url.
// Before the registration succeeded the id and code are empty.
func (g *Gateway) Claim() (st ClaimStatus, ok bool) {
	if g.cfg.Cloud.URL == "" {
		return st, false
	}
	g.cloudMu.Lock()
	id := g.cloudID
	g.cloudMu.Unlock()
	st = ClaimStatus{GatewayID: id.GatewayID, ClaimCode: id.ClaimCode, Claimed: id.Claimed}
	if l := g.link.Load(); l != nil {
		s := l.Stats()
		st.Connected = s.Connected
		st.Claimed = st.Claimed || s.Connects > 0
	}
	if st.Claimed {
		st.ClaimCode = "" // spent: the cloud rotates it on release
	}
	return st, true
}

// claimHandler serves GET /installer/api/claim.
func (g *Gateway) claimHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	st, ok := g.Claim()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"message":"No cloud is configured (cloud.url)."}}`))
		return
	}
	json.NewEncoder(w).Encode(st)
}

// CloudStats are the cloud link's counters (/installer/api/stats "cloud").
type CloudStats struct {
	Connected      bool   `json:"connected"`
	Claimed        bool   `json:"claimed"`
	Connects       uint64 `json:"connects"`
	Failures       uint64 `json:"failures"`
	ItemsSent      uint64 `json:"itemsSent"`
	ItemsAcked     int64  `json:"itemsAcked"` // highest outbox seq the cloud acknowledged
	Skipped        uint64 `json:"skipped"`
	Backlog        int64  `json:"backlog"` // outbox entries waiting
	Thinned        uint64 `json:"thinned"` // history entries dropped by the outbox cap
	TenancyVersion int64  `json:"tenancyVersion"`
	Commands       uint64 `json:"commands"`
}

func (g *Gateway) cloudStats() *CloudStats {
	st := g.store.Stats()
	cs := &CloudStats{Backlog: st.Outbox, Thinned: st.Thinned}
	if g.cfg.Cloud.URL == "" {
		return cs
	}
	c, _ := g.Claim()
	cs.Claimed = c.Claimed
	if l := g.link.Load(); l != nil {
		s := l.Stats()
		cs.Connected, cs.Connects, cs.Failures = s.Connected, s.Connects, s.Failures
		cs.ItemsSent, cs.ItemsAcked, cs.Skipped = s.ItemsSent, s.ItemsAcked, s.Skipped
		cs.TenancyVersion, cs.Commands = s.TenancyVersion, s.Commands
	}
	return cs
}
