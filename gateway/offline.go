package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
)

// DeviceSummary is one line of `outpost-gateway device list`.
type DeviceSummary struct {
	ID             int64
	Name, Template string
}

// Offline opens the gateway's database while no gateway runs, to list
// devices or (add=true) create one. It returns the devices and, for add, the
// new token. With a gateway running, use its installer API instead: the
// running hub would not know a device added behind its back.
func Offline(ctx context.Context, cfg Config, add bool, template, name string) ([]DeviceSummary, string, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("gateway: data dir: %w", err)
	}
	store, err := sqlite.Open(ctx, sqlite.Options{
		Path:       filepath.Join(cfg.DataDir, "gateway.db"),
		Logger:     slog.New(slog.DiscardHandler),
		HistoryMax: cfg.Store.HistoryMaxRecords,
	})
	if err != nil {
		return nil, "", fmt.Errorf("gateway: %w", err)
	}
	defer store.Close()
	h := hub.New(hub.Options{Store: store, Logger: slog.New(slog.DiscardHandler)})
	if err := h.Load(ctx); err != nil {
		return nil, "", fmt.Errorf("gateway: load: %w", err)
	}
	for _, t := range cfg.Templates {
		if err := h.SaveTemplate(ctx, t); err != nil {
			return nil, "", fmt.Errorf("gateway: template %s: %w", t.ID, err)
		}
	}
	var token string
	if add {
		if _, token, err = h.AddDevice(ctx, template, name); err != nil {
			return nil, "", fmt.Errorf("gateway: add device: %w", err)
		}
	}
	var out []DeviceSummary
	for _, d := range h.Devices() {
		out = append(out, DeviceSummary{ID: d.ID, Name: d.Name, Template: d.TemplateID})
	}
	return out, token, nil
}
