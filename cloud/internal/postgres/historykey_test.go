package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/internal/migrate"
	"outpost/internal/pgtest"
	"outpost/shared/syncproto"
)

// A database whose history names devices by UID (before the history
// keys) keeps its points when the migration gives each UID a key: pages,
// charts and export read them, and a deleted device's points stay keyed.
func TestHistoryKeyMigrationKeepsPoints(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ms, err := migrate.List(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	before := 0 // the last version with device_history.device_uid
	for _, m := range ms {
		if strings.HasSuffix(m.Name, "_history_device_key.sql") {
			before = m.Version - 1
		}
	}
	if before == 0 {
		t.Fatal("no migration named *_history_device_key.sql")
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_version (version bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version > before {
			break
		}
		body, err := fs.ReadFile(migrations, path.Join("migrations", m.Name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	at := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC).UnixMilli()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO schema_version (version) VALUES ($1)`, []any{before}},
		{fmt.Sprintf(`CREATE TABLE device_history_202611 PARTITION OF device_history FOR VALUES FROM (%d) TO (%d)`,
			time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()), nil},
		{`INSERT INTO device_history (device_uid, pin, value, ts, num) SELECT 'UA', g % 2, g::text::bytea, $1::bigint + g * 1000, g
			FROM generate_series(1, 10) g`, []any{at}},
		{`INSERT INTO device_history (device_uid, pin, value, ts, num) VALUES ('UB', 0, 'b', $1::bigint, NULL), ('UB', 0, 'old', 1000, NULL)`,
			[]any{at}},
	} {
		if _, err := conn.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}

	s, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pts, next, err := s.History(ctx, "UA", 1, 0, 3)
	if err != nil || len(pts) != 3 || next == 0 || pts[0].Value != "9" || pts[2].Value != "5" {
		t.Fatalf("UA pin 1 first page: %+v, next %d, %v", pts, next, err)
	}
	pts, _, err = s.History(ctx, "UA", 1, next, 3)
	if err != nil || len(pts) != 2 || pts[0].Value != "3" || pts[1].Value != "1" {
		t.Fatalf("UA pin 1 second page: %+v, %v", pts, err)
	}
	pts, _, err = s.History(ctx, "UB", 0, 0, 10)
	if err != nil || len(pts) != 2 || pts[0].Value != "b" || pts[1].Value != "old" {
		t.Fatalf("UB (the default partition too): %+v, %v", pts, err)
	}
	sr, err := s.Aggregate(ctx, "UA", 0, time.UnixMilli(at), time.UnixMilli(at+20_000), 1)
	if err != nil || len(sr.Buckets) != 1 || sr.Buckets[0].Count != 5 || sr.Buckets[0].Max != 10 || sr.Buckets[0].Last != 10 {
		t.Fatalf("raw aggregate of UA pin 0: %+v, %v", sr, err)
	}
	var n int
	if err := s.ExportHistory(ctx, "UA", 0, time.UnixMilli(0), time.UnixMilli(at+20_000), func(p []telemetry.HistoryPoint) error {
		n += len(p)
		return nil
	}); err != nil || n != 5 {
		t.Fatalf("export of UA pin 0: %d points, %v", n, err)
	}
	if pts, _, err := s.History(ctx, "UC", 0, 0, 10); err != nil || len(pts) != 0 {
		t.Fatalf("a device without history: %+v, %v", pts, err)
	}
}

// A device's history key created by another transaction while Apply runs
// (two instances storing for a device's first points at once) is read,
// not duplicated: Apply waits on the other's insertion, skips its own and
// stores the points under the other's key.
func TestApplyUsesHistoryKeyCreatedMeanwhile(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	st := telemetrytest.NewSite(t, s)
	other, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	var key int64
	if err := other.QueryRow(ctx, `INSERT INTO history_devices (uid) VALUES ($1) RETURNING key`, st.Mine.UID).Scan(&key); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.Apply(ctx, st.GW, 1, []syncproto.Item{{Seq: 1, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: 1,
			Value: "7", TS: telemetrytest.T0.UnixMilli()}}, 1)
	}()
	// Until Apply waits for the other transaction's key.
	for waiting := false; !waiting; {
		select {
		case err := <-done:
			t.Fatalf("Apply returned (%v) before the other transaction ended", err)
		default:
		}
		if err := s.pool.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH served%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var keys, under int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM history_devices WHERE uid = $1),
		(SELECT count(*) FROM device_history WHERE device_key = $2)`, st.Mine.UID, key).Scan(&keys, &under); err != nil {
		t.Fatal(err)
	}
	pts, _, err := s.History(ctx, st.Mine.UID, 1, 0, 10)
	if err != nil || keys != 1 || under != 1 || len(pts) != 1 || pts[0].Value != "7" {
		t.Fatalf("%d keys, %d points under the other's key, history %+v, %v", keys, under, pts, err)
	}
}

// The raw history reads (a page, the next page, a chart from the raw
// points, an export page) can be served by the time index on every
// partition they read: with sequential scans off (the test's tables are
// small enough for the planner to prefer them), no partition is scanned
// row by row.
func TestHistoryReadsUseTheTimeIndex(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	st := telemetrytest.NewSite(t, s)
	base := time.Now().UnixMilli() // in a monthly partition, not the default one
	items := make([]syncproto.Item, 2000)
	for i := range items {
		items[i] = syncproto.Item{Seq: int64(i + 1), Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: i % 4,
			Value: fmt.Sprint(i), TS: base + int64(i)}
	}
	if err := s.Apply(ctx, st.GW, 1, items, int64(len(items))); err != nil {
		t.Fatal(err)
	}
	pts, _, err := s.History(ctx, st.Mine.UID, 1, 0, 10)
	if err != nil || len(pts) != 10 {
		t.Fatalf("history %+v, %v", pts, err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name, sql string
		args      []any
	}{
		{"first page", historyFirstPage, []any{st.Mine.UID, 1, 50}},
		{"next page", historyPage, []any{st.Mine.UID, 1, pts[9].ID, 50}},
		{"raw aggregate", aggregateRaw, []any{int64(7), st.Mine.UID, 1, base, base + 2000}},
		{"export", exportAfter, []any{st.Mine.UID, 1, base, int64(0), base + 2000, exportPage}},
	} {
		var plan []string
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `EXPLAIN (COSTS OFF) `+q.sql, q.args...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		// Every scan of a history partition is an index scan whose
		// condition leads with the device key (the time index) or is the
		// id (the BRIN index: the cursor's point), not a filter.
		scans := 0
		for i, l := range plan {
			if !strings.Contains(l, " on device_history") || strings.Contains(l, "Bitmap Heap Scan") {
				continue
			}
			scans++
			cond := ""
			if i+1 < len(plan) {
				cond = strings.TrimSpace(plan[i+1])
			}
			if !strings.HasPrefix(cond, "Index Cond: ((device_key = ") &&
				!(strings.HasPrefix(cond, "Index Cond: ") && strings.Contains(cond, "id = ")) {
				t.Errorf("%s: %q is not served by an index:\n%s", q.name, strings.TrimSpace(l), strings.Join(plan, "\n"))
				break
			}
		}
		if scans == 0 {
			t.Errorf("%s reads no history partition:\n%s", q.name, strings.Join(plan, "\n"))
		}
	}
}

// A history page's cursor is found through the BRIN index on ids, which
// reads in full the page ranges not summarized yet: once the store has
// summarized them (every summarizeEvery), finding the cursor of a page
// deep in a long history reads a few ranges, not the whole history.
func TestHistoryCursorLookupReadsFewRanges(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	st := telemetrytest.NewSite(t, s)
	now := time.Now()
	base := now.UnixMilli() - 200_000
	const batches, per = 100, 1000
	seq := int64(0)
	for range batches {
		items := make([]syncproto.Item, per)
		for i := range items {
			seq++
			items[i] = syncproto.Item{Seq: seq, Kind: syncproto.KindWrite, Device: st.Mine.UID, Pin: int(seq % 4),
				Value: fmt.Sprint(seq), TS: base + seq}
		}
		if err := s.Apply(ctx, st.GW, 1, items, seq); err != nil {
			t.Fatal(err)
		}
	}
	// A cursor in the middle of pin 1's history.
	var mid telemetry.HistoryPoint
	var before int64
	for range 50 {
		pts, next, err := s.History(ctx, st.Mine.UID, 1, before, 250)
		if err != nil || len(pts) == 0 {
			t.Fatalf("history: %d points, %v", len(pts), err)
		}
		mid, before = pts[len(pts)-1], next
	}
	blocksRead := func() int {
		t.Helper()
		rows, err := s.pool.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) `+historyPage, st.Mine.UID, 1, mid.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range plan {
			if _, b, ok := strings.Cut(l, "Heap Blocks: "); ok {
				for _, f := range strings.Fields(b) {
					var k int
					if _, err := fmt.Sscanf(f[strings.Index(f, "=")+1:], "%d", &k); err == nil {
						n += k
					}
				}
			}
		}
		return n
	}
	// As autovacuum's ANALYZE leaves a partition that took this many rows.
	if _, err := s.pool.Exec(ctx, `ANALYZE device_history`); err != nil {
		t.Fatal(err)
	}
	unsummarized := blocksRead()
	ranges, err := s.SummarizeHistoryIDs(ctx, now)
	if err != nil || ranges == 0 {
		t.Fatalf("summarized %d ranges, %v", ranges, err)
	}
	summarized := blocksRead()
	if summarized == 0 || summarized > 4*32 || summarized >= unsummarized {
		t.Errorf("the cursor lookup reads %d heap blocks once summarized (%d before), want a few ranges of 32", summarized, unsummarized)
	}
	if again, err := s.SummarizeHistoryIDs(ctx, now); err != nil || again != 0 {
		t.Errorf("a second summarization: %d ranges, %v; want none left", again, err)
	}
	// The page is still the one below the cursor.
	pts, _, err := s.History(ctx, st.Mine.UID, 1, mid.ID, 3)
	if err != nil || len(pts) != 3 || pts[0].ID >= mid.ID || !pts[0].TS.Before(mid.TS) {
		t.Fatalf("page below %+v: %+v, %v", mid, pts, err)
	}
}
