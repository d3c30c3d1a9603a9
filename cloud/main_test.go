package cloud

import (
	"fmt"
	"os"
	"testing"

	"outpost/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster the tests that use one start; in
// BenchmarkTenThousandSites's child process it runs the gateways instead.
func TestMain(m *testing.M) {
	if list := os.Getenv(sitesEnv); list != "" {
		if err := siteClients(list); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m))
}
