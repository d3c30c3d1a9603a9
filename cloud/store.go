package cloud

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"outpost/cloud/internal/automations"
	"outpost/cloud/internal/events"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/postgres"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
)

// cloudStore is what the cloud needs of its store: the tenancy, the
// telemetry gateways send, and the stores of firmware updates,
// notifications, webhooks and automations. cloud/internal/sqlite and
// cloud/internal/postgres both provide it (and pass the same conformance
// suites: tenancytest, telemetrytest and extrastest).
type cloudStore interface {
	tenancy.Store
	ota.Store
	notify.Store
	notify.CounterStore
	webhooks.Store
	webhooks.ServiceStore
	automations.Store
	automations.RunnerStore
	hookStore
	events.Store
	telemetry.Store
	telemetryApplier
	retentionStore
	// Ready reports whether the store answers with the schema this
	// program has (/readyz).
	Ready(ctx context.Context) error
}

var (
	_ cloudStore = (*sqlite.Store)(nil)
	_ cloudStore = (*postgres.Store)(nil)
)

// openStore opens the store the config names: the SQLite file (created if
// needed) or the PostgreSQL database, migrated either way.
func openStore(ctx context.Context, cfg Config) (cloudStore, error) {
	if cfg.Store.Driver == "postgres" {
		s, err := postgres.Open(ctx, cfg.Store.DSN, postgres.Options{
			MaxConns: int32(cfg.Store.MaxConns), MinConns: int32(cfg.Store.MinConns), HistoryRetention: cfg.Store.HistoryRetention})
		if err != nil {
			return nil, fmt.Errorf("cloud: %w", err)
		}
		return s, nil
	}
	dbPath := cfg.databasePath()
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o750); err != nil {
		return nil, fmt.Errorf("cloud: data directory: %w", err)
	}
	s, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	return s, nil
}
