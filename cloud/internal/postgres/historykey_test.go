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
	"outpost/internal/migrate"
	"outpost/internal/pgtest"
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
