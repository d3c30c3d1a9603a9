package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
)

// TestAggregate: buckets of the value writes of one pin, with avg, min,
// max, the last value by time and the count; other pins, other devices and
// writes outside the range do not count.
func TestAggregate(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d, other := testDevice(s, t, "one"), testDevice(s, t, "two")
	base := time.UnixMilli(1_700_000_000_000)
	w := func(dev int64, pin int, at time.Duration, v string) {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: dev, Pin: pin, Value: v, TS: base.Add(at).UnixMilli()})
	}
	// Bucket 0 (0..10 s): 1, 5, 3 (3 is the latest even though appended first).
	w(d.ID, 0, 9*time.Second, "3")
	w(d.ID, 0, 1*time.Second, "1")
	w(d.ID, 0, 2*time.Second, "5")
	// Bucket 2 (20..30 s): 10. Bucket 1 stays empty: a gap.
	w(d.ID, 0, 25*time.Second, "10")
	w(d.ID, 1, 3*time.Second, "99")     // other pin
	w(other.ID, 0, 3*time.Second, "99") // other device
	w(d.ID, 0, 100*time.Second, "99")   // after the range
	w(d.ID, 0, -time.Second, "99")      // before it
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	bs, width, err := s.Aggregate(ctx, d.ID, 0, base, base.Add(100*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if width != 10*time.Second {
		t.Errorf("width = %v, want 10s", width)
	}
	want := []Bucket{
		{Start: base, Avg: 3, Min: 1, Max: 5, Last: 3, Count: 3},
		{Start: base.Add(20 * time.Second), Avg: 10, Min: 10, Max: 10, Last: 10, Count: 1},
	}
	if len(bs) != len(want) {
		t.Fatalf("buckets = %+v, want %+v", bs, want)
	}
	for i := range want {
		if !bs[i].Start.Equal(want[i].Start) || bs[i].Avg != want[i].Avg || bs[i].Min != want[i].Min ||
			bs[i].Max != want[i].Max || bs[i].Last != want[i].Last || bs[i].Count != want[i].Count {
			t.Errorf("bucket %d = %+v, want %+v", i, bs[i], want[i])
		}
	}
	// Buckets are at least a second wide however many are asked for.
	if _, width, _ := s.Aggregate(ctx, d.ID, 0, base, base.Add(time.Minute), 1000); width != time.Second {
		t.Errorf("width of a minute in 1000 buckets = %v, want 1s", width)
	}
	// A range within a second widens to the whole second.
	if bs, _, _ := s.Aggregate(ctx, d.ID, 0, base.Add(1500*time.Millisecond), base.Add(1900*time.Millisecond), 10); len(bs) != 1 ||
		!bs[0].Start.Equal(base.Add(time.Second)) || bs[0].Count != 1 || bs[0].Last != 1 {
		t.Errorf("aggregate of 1.5 s to 1.9 s = %+v, want the second from 1 s with the write at 1 s", bs)
	}
}

// TestAggregateAcrossTheCursor: writes of one second reach the chart at
// once (from the outbox, above the cursor) and keep counting once when
// the committer moves them into history_seconds, in two generations (two
// rows of the same second); and after a restart.
func TestAggregateAcrossTheCursor(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openWithTemplate(t, path, Options{})
	d := testDevice(s, t, "one")
	sec := time.UnixMilli(1_700_000_000_000)
	w := func(at time.Duration, v string) {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 2, Value: v, TS: sec.Add(at).UnixMilli()})
	}
	check := func(when string, want Bucket) {
		t.Helper()
		bs, _, err := s.Aggregate(ctx, d.ID, 2, sec, sec.Add(time.Minute), 60)
		if err != nil {
			t.Fatal(err)
		}
		want.Start = sec
		if len(bs) != 1 || bs[0] != want {
			t.Errorf("%s: buckets = %+v, want [%+v]", when, bs, want)
		}
	}
	rows := func() int64 {
		return scalar[int64](t, s, `SELECT COALESCE(SUM(n), 0) FROM history_seconds WHERE device = ?`, d.ID)
	}
	w(100*time.Millisecond, "1")
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("at once", Bucket{Avg: 1, Min: 1, Max: 1, Last: 1, Count: 1})
	waitLatestApplied(t, s)
	if n := rows(); n != 1 {
		t.Fatalf("history_seconds counts %d writes after the cursor moved, want 1", n)
	}
	check("from the table", Bucket{Avg: 1, Min: 1, Max: 1, Last: 1, Count: 1})

	w(900*time.Millisecond, "5") // the newest: Last
	w(50*time.Millisecond, "3")
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := Bucket{Avg: 3, Min: 1, Max: 5, Last: 5, Count: 3}
	check("half in the table", want)
	waitLatestApplied(t, s)
	if n := rows(); n != 3 {
		t.Errorf("history_seconds counts %d writes, want 3", n)
	}
	check("all in the table", want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, Options{})
	check("after reopening", want)

	// The chart reads its range of the table by key and the outbox above
	// the cursor by sequence number: neither scans.
	plan := queryPlan(t, s, `SELECT count(*) FROM history_seconds WHERE sec >= 1 AND sec < 2 AND device = 1 AND pin = 2`) +
		queryPlan(t, s, `SELECT count(*) FROM outbox WHERE seq > 5 AND kind = 1 AND device = 1 AND pin = 2 AND ts >= 0 AND ts < 5`)
	if strings.Contains(plan, "SCAN") {
		t.Errorf("query plan %q scans", plan)
	}
}

// TestCrashMidGenerationCountsOnce: a crash while a generation was being
// written leaves some of its rows, beyond the cursor; the next start
// removes them, since its writes are pending again.
func TestCrashMidGenerationCountsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openWithTemplate(t, path, Options{})
	d := testDevice(s, t, "one")
	sec := time.UnixMilli(1_700_000_000_000)
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: "4", TS: sec.UnixMilli()})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What the crash left: a write above the cursor, the first slice of the
	// generation that was writing it, and a write after that generation.
	s = openTest(t, path, Options{})
	applied := scalar[int64](t, s, `SELECT value FROM sync_cursors WHERE name = 'latest_applied'`)
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO outbox(kind, device, pin, value, ts) VALUES (1, ?1, 0, '6', ?2), (1, ?1, 0, '8', ?2 + 1);
		INSERT INTO history_seconds(sec, device, pin, upto, n, total, lo, hi, last_ts, last) VALUES (?2 / 1000, ?1, 0, ?3, 1, 6, 6, 6, ?2, '6');
		INSERT INTO sync_cursors(name, value) VALUES ('latest_flushing', ?3) ON CONFLICT(name) DO UPDATE SET value = excluded.value`,
		d.ID, sec.UnixMilli()+1, applied+1)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path, Options{})
	for _, when := range []string{"at start", "once written again"} {
		bs, _, err := s.Aggregate(ctx, d.ID, 0, sec, sec.Add(time.Second), 1)
		if err != nil || len(bs) != 1 || bs[0].Count != 3 || bs[0].Avg != 6 {
			t.Errorf("%s: chart = %+v, %v; want 3 writes averaging 6", when, bs, err)
		}
		waitLatestApplied(t, s)
	}
	if n := scalar[int64](t, s, `SELECT SUM(n) FROM history_seconds`); n != 3 {
		t.Errorf("history_seconds counts %d writes, want 3", n)
	}
}

// TestPruneDropsOldSeconds: pruning the raw history also drops the
// aggregates of the seconds it no longer has.
func TestPruneDropsOldSeconds(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{HistoryMax: 10})
	d := testDevice(s, t, "one")
	base := time.UnixMilli(1_700_000_000_000)
	for i := range 50 {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: strconv.Itoa(i), TS: base.Add(time.Duration(i) * time.Second).UnixMilli()})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitLatestApplied(t, s)
	out, _ := s.Outbox(ctx, 0, 100)
	if err := s.AckOutbox(ctx, out[len(out)-1].Seq); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the aggregates of the 40 pruned seconds gone", func() bool {
		return scalar[int64](t, s, `SELECT count(*) FROM history_seconds`) == 10
	})
	bs, _, err := s.Aggregate(ctx, d.ID, 0, base, base.Add(time.Minute), 60)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 10 || !bs[0].Start.Equal(base.Add(40*time.Second)) || bs[0].Last != 40 {
		t.Errorf("buckets after pruning = %+v, want the 10 seconds from 40 s", bs)
	}
}

func queryPlan(t *testing.T, s *Store, q string) string {
	t.Helper()
	rows, err := s.db.Query(`EXPLAIN QUERY PLAN ` + q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "; "
	}
	return plan
}
