package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"outpost/internal/pgtest"
)

// storeEnv set to "postgres" makes every cloud of this test binary run on
// a fresh PostgreSQL database instead of a SQLite file.
const storeEnv = "OUTPOST_E2E_STORE"

// TestScenariosAndIsolationOnPostgres runs the §13 scenarios and the
// isolation matrix again with the cloud on PostgreSQL: this test binary,
// re-run with OUTPOST_E2E_STORE=postgres.
func TestScenariosAndIsolationOnPostgres(t *testing.T) {
	if os.Getenv(storeEnv) != "" {
		t.Skip("this is the PostgreSQL run")
	}
	if _, err := pgtest.Bin(); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", `^(TestScenario\d+\w*|TestIsolationMatrix)$`, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), storeEnv+"=postgres")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("on PostgreSQL: %v\n%s", err, out)
	}
	passed := regexp.MustCompile(`--- PASS: (TestScenario\d+|TestIsolationMatrix)`).FindAll(out, -1)
	if len(passed) < 10 || regexp.MustCompile(`--- SKIP`).Match(out) {
		t.Fatalf("on PostgreSQL %d scenario and isolation tests passed (some skipped?):\n%s", len(passed), out)
	}
	t.Logf("%d scenario and isolation tests passed on PostgreSQL", len(passed))
}
