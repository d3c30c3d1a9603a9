package postgres

import (
	"context"
	"os"
	"testing"

	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/tenancy/tenancytest"
	"outpost/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// migrated is a database template with the schema applied: each test
// copies it instead of running the migrations again.
func migratedDSN(t testing.TB) string {
	return pgtest.Template(t, "outpost_migrated", func(ctx context.Context, dsn string) error {
		s, err := Open(ctx, dsn, Options{})
		if err != nil {
			return err
		}
		return s.Close()
	})
}

func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), migratedDSN(t), Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	tenancytest.Run(t, func(t *testing.T) tenancy.Store { return newTestStore(t) })
}

func TestTelemetryConformance(t *testing.T) {
	telemetrytest.Run(t, func(t *testing.T) telemetrytest.Store { return newTestStore(t) })
}
