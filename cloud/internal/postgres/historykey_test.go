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
