package systemtest

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"outpost/internal/pgtest"
)

var (
	rounds  = flag.Int("sync.rounds", 1, "cut/kill rounds in TestSiteSurvivesPartitionsAndCrashes (scripts/sync/system.sh raises it)")
	keepBin = flag.String("sync.bindir", "", "build the products into this directory and keep them (to symbolize a system-wide profile, e.g. perf record -g)")
)

// binDir holds the product binaries built for this test process; removed
// by TestMain unless -sync.bindir names it.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	binDir = *keepBin
	if binDir == "" {
		var err error
		if binDir, err = os.MkdirTemp("", "outpost-systemtest-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := pgtest.Main(m) // runs the tests; stops the PostgreSQL cluster some start
	if *keepBin == "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
