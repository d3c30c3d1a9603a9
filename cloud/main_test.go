package cloud

import (
	"os"
	"testing"

	"outpost/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster the tests that use one start.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
