package cloud

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// firmwareSites is the cloud's side of firmware delivery to the sites:
// the shipments each gateway is sent and the image download, which a
// gateway calls once per image with its credential (Range resumes it).
type firmwareSites struct {
	svc *tenancy.Service
	ota *ota.Service
	log *slog.Logger
	// served counts image bytes sent to gateways (for the "one image per
	// site" figure and its test).
	served atomic.Int64
}

func newFirmware(cfg Config, svc *tenancy.Service, store ota.Store, onChange func(tenancy.Change), log *slog.Logger) (*firmwareSites, error) {
	dir := cfg.Firmware.Dir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "firmware")
	}
	o, err := ota.New(ota.Options{Tenancy: svc, Store: store, Blobs: ota.DirBlobs{Dir: dir},
		MaxImageBytes: cfg.Firmware.MaxImageBytes, Now: cfg.Now, OnChange: onChange})
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	return &firmwareSites{svc: svc, ota: o, log: log}, nil
}

// GatewayShipments implements gatewaysync.Shipments.
func (f *firmwareSites) GatewayShipments(ctx context.Context, gatewayID string) (syncproto.Shipments, error) {
	id, err := strconv.ParseInt(gatewayID, 10, 64)
	if err != nil {
		return syncproto.Shipments{}, fmt.Errorf("cloud: gateway id %q: %w", gatewayID, err)
	}
	// Most of the time nothing ships: skip reading the gateway's view
	// (the tenancy push has just read it once).
	if active, err := f.ota.AnyActive(ctx); err != nil || !active {
		return syncproto.Shipments{Items: []syncproto.Shipment{}}, err
	}
	v, err := f.svc.GatewayView(ctx, tenancy.GatewayID(id))
	if err != nil {
		return syncproto.Shipments{}, err
	}
	return f.ota.SiteShipments(ctx, v)
}

// countingBlob counts the bytes read from an image.
type countingBlob struct {
	ota.Blob
	n *atomic.Int64
}

func (c countingBlob) Read(p []byte) (int, error) {
	n, err := c.Blob.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// download is GET /api/v1/gateway/firmware/{sha256}: the image, to a
// gateway whose shipments name it, with Range support (http.ServeContent).
func (f *firmwareSites) download(w http.ResponseWriter, r *http.Request) {
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, "missing bearer credential", http.StatusUnauthorized)
		return
	}
	g, err := f.svc.AuthenticateGateway(r.Context(), strings.TrimSpace(cred))
	if err != nil {
		http.Error(w, "unknown or unclaimed gateway", http.StatusUnauthorized)
		return
	}
	var sum [32]byte
	if b, err := hex.DecodeString(r.PathValue("sha256")); err != nil || len(b) != 32 {
		http.Error(w, "not found", http.StatusNotFound)
		return
	} else {
		copy(sum[:], b)
	}
	v, err := f.svc.GatewayView(r.Context(), g.ID)
	if err == nil {
		ok, err = f.ota.GatewayMayFetch(r.Context(), v, sum)
	}
	if err != nil {
		f.log.Error("firmware download", "gateway", g.ID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	b, err := f.ota.Blobs().Open(r.Context(), sum)
	if errors.Is(err, ota.ErrNoBlob) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		f.log.Error("firmware download", "gateway", g.ID, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer b.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("x-sha256", base64.StdEncoding.EncodeToString(sum[:]))
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	http.ServeContent(w, r, "", time.Time{}, io.ReadSeeker(countingBlob{b, &f.served}))
}

// FirmwareBytesServed is how many image bytes the cloud sent to gateways.
func (s *Server) FirmwareBytesServed() int64 { return s.firmware.served.Load() }
