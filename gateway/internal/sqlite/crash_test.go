package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
)

const crashChildEnv = "OUTPOST_SQLITE_CRASH_CHILD"

// crashDevices is how many devices the crash child writes for.
const crashDevices = 50

// TestMain runs, when crashChildEnv names a database, the child of
// TestCrashDurability instead of the tests.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path) // exits
	}
	os.Exit(m.Run())
}

// TestCrashDurability runs this test binary again as a child that appends
// records as fast as it can and, after each Flush, prints how many were
// committed. The parent SIGKILLs it mid-load, reopens the file and checks
// that it is intact and holds every record reported committed.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	// The devices the child writes for (latest values are kept for
	// existing devices only).
	s := openWithTemplate(t, path, Options{})
	for i := range crashDevices {
		if d := testDevice(s, t, strconv.Itoa(i)); d.ID != int64(i+1) {
			t.Fatalf("device %d got id %d", i, d.ID)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0]) // TestMain runs the child
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed int64
	reports := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "committed ")
		if !ok {
			continue
		}
		if committed, err = strconv.ParseInt(n, 10, 64); err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		if reports++; reports == 30 {
			break // the child is still appending: kill it now
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if reports < 30 {
		t.Fatalf("child stopped after %d reports", reports)
	}
	t.Logf("child killed after reporting %d records committed", committed)

	s = openTest(t, path, Options{})
	if ok := scalar[string](t, s, `PRAGMA integrity_check`); ok != "ok" {
		t.Fatalf("integrity_check after kill -9: %s", ok)
	}
	// Records are numbered 1..n by TS; all reported ones must be there.
	for _, table := range []string{"history", "outbox"} {
		q := fmt.Sprintf(`SELECT COUNT(*) FROM %s WHERE ts BETWEEN 1 AND %d`, table, committed)
		if got := scalar[int64](t, s, q); got != committed {
			t.Errorf("%s holds %d of the %d records reported committed", table, got, committed)
		}
	}
	// The latest values the hub loads: the table, which lags up to
	// latestEvery behind, and the outbox entries above its cursor.
	snap, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var newest int64
	for _, v := range snap.Values {
		newest = max(newest, v.TS)
	}
	if newest < committed {
		t.Errorf("latest values end at ts %d, want ≥ %d", newest, committed)
	}
	// The reopened store writes what the crash left pending.
	waitLatestApplied(t, s)
	if got := scalar[int64](t, s, `SELECT MAX(ts) FROM latest`); got < committed {
		t.Errorf("latest table ends at ts %d, want ≥ %d", got, committed)
	}
	// And the chart's aggregates: every value write in the outbox counted
	// once, none lost with the child's memory, none twice.
	writes, sum := scalar[int64](t, s, `SELECT COUNT(*) FROM outbox WHERE kind = 1`),
		scalar[float64](t, s, `SELECT TOTAL(CAST(value AS REAL)) FROM outbox WHERE kind = 1`)
	if n, total := scalar[int64](t, s, `SELECT COALESCE(SUM(n), 0) FROM history_seconds`),
		scalar[float64](t, s, `SELECT TOTAL(total) FROM history_seconds`); n != writes || total != sum {
		t.Errorf("history_seconds counts %d writes summing to %v, the outbox holds %d summing to %v", n, total, writes, sum)
	}
}

func crashChild(path string) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Path: path, CommitEvery: 2 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	deadline := time.Now().Add(20 * time.Second) // the parent kills us long before
	for k := int64(1); time.Now().Before(deadline); k++ {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: k%crashDevices + 1, Pin: int(k % 8), Value: strconv.FormatInt(k, 10),
			TS: k, Source: "tcp", Enqueued: time.Now().UnixNano()})
		if k%500 == 0 {
			if err := s.Flush(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				os.Exit(2)
			}
			fmt.Printf("committed %d\n", k)
		}
	}
	os.Exit(3)
}
