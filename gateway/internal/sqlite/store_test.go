package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
	"outpost/shared/datastream"
)

func openTest(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	opts.Path = path
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openWithTemplate is openTest with testTemplate saved, for tests that
// create devices.
func openWithTemplate(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s := openTest(t, path, opts)
	if err := s.SaveTemplate(context.Background(), testTemplate()); err != nil {
		t.Fatal(err)
	}
	return s
}

func testTemplate() datastream.Template {
	return datastream.Template{
		ID:   "TMPLtest0001",
		Name: "Thermostat",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double},
			{Pin: 1, Name: "Where", Type: datastream.Location},
		},
		Events:     []datastream.Event{{Code: "overheat"}},
		MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial Number"}},
	}
}

func testDevice(s *Store, t testing.TB, name string) hub.Device {
	t.Helper()
	d, err := s.CreateDevice(context.Background(), hub.Device{
		UID: "01J" + name, Name: name, TemplateID: "TMPLtest0001",
		TokenHash: sha256.Sum256([]byte("token-" + name)), CreatedAt: 1700000000000,
	})
	if err != nil {
		t.Fatalf("CreateDevice(%s): %v", name, err)
	}
	return d
}

func scalar[T any](t *testing.T, s *Store, q string, args ...any) T {
	t.Helper()
	var v T
	if err := s.db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func TestMigrationsFreshAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openTest(t, path, Options{})
	newest := newestMigration(t)
	if v := scalar[int](t, s, `PRAGMA user_version`); v != newest {
		t.Fatalf("schema version = %d, want %d", v, newest)
	}
	for q, want := range map[string]string{
		`PRAGMA journal_mode`: "wal",
		`PRAGMA foreign_keys`: "1",
		`PRAGMA synchronous`:  "1", // NORMAL
		`PRAGMA page_size`:    strconv.Itoa(pageSize),
	} {
		if got := scalar[string](t, s, q); got != want {
			t.Errorf("%s = %s, want %s", q, got, want)
		}
	}
	if err := s.SaveTemplate(context.Background(), testTemplate()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTest(t, path, Options{Synchronous: SyncFull})
	if v := scalar[int](t, s, `PRAGMA user_version`); v != newest {
		t.Fatalf("schema version after reopen = %d, want %d", v, newest)
	}
	if got := scalar[string](t, s, `PRAGMA synchronous`); got != "2" {
		t.Errorf("synchronous with SyncFull = %s, want 2", got)
	}
	snap, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]datastream.Template{testTemplate()}, snap.Templates); diff != "" {
		t.Errorf("templates after reopen (-want +got):\n%s", diff)
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := Open(context.Background(), Options{}); err == nil {
		t.Error("Open without a path succeeded")
	}
	if _, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "x.db"), Synchronous: "OFF"}); err == nil {
		t.Error("Open with synchronous OFF succeeded")
	}
}

// TestRestartKeepsEverything: every Kind is stored and what the hub loads
// after a restart is the latest state.
func TestRestartKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openWithTemplate(t, path, Options{})
	d1, d2 := testDevice(s, t, "one"), testDevice(s, t, "two")
	recs := []hub.Record{
		{Kind: hub.KindOnline, DeviceID: d1.ID, Name: "tcp", TS: 1, Source: "tcp"},
		{Kind: hub.KindWrite, DeviceID: d1.ID, Pin: 0, Value: "20.5", TS: 10, Source: "tcp"},
		{Kind: hub.KindWrite, DeviceID: d1.ID, Pin: 0, Value: "21", TS: 20, Source: "tcp"},
		{Kind: hub.KindWrite, DeviceID: d1.ID, Pin: 1, Value: "24.75\x0059.4", TS: 20, Source: "mqtt"},
		{Kind: hub.KindWrite, DeviceID: d1.ID, Pin: 5, Value: "gone", TS: 21, Source: "http"},
		{Kind: hub.KindErase, DeviceID: d1.ID, Pin: 5, TS: 22, Source: "mqtt"},
		{Kind: hub.KindWrite, DeviceID: d2.ID, Pin: 0, Value: "\xff raw bytes", TS: 23, Source: "http"},
		{Kind: hub.KindEvent, DeviceID: d1.ID, Name: "overheat", Value: "too hot", TS: 30, Source: "tcp"},
		{Kind: hub.KindEvent, DeviceID: d1.ID, Name: "overheat", Value: "hotter", TS: 31, Source: "tcp"},
		{Kind: hub.KindClear, DeviceID: d1.ID, Name: "overheat", TS: 32, Source: "tcp"},
		{Kind: hub.KindInfo, DeviceID: d1.ID, Value: "ver\x001.4.0\x00h-beat\x0010", TS: 33, Source: "tcp"},
		{Kind: hub.KindProperty, DeviceID: d1.ID, Pin: 0, Name: "label", Value: "Temp", TS: 34, Source: "tcp"},
		{Kind: hub.KindProperty, DeviceID: d1.ID, Pin: 0, Name: "label", Value: "Temperature", TS: 35, Source: "tcp"},
		{Kind: hub.KindMeta, DeviceID: d1.ID, Name: "Serial Number", Value: "SN1", TS: 36, Source: "tcp"},
		{Kind: hub.KindOffline, DeviceID: d1.ID, TS: 37, Source: "tcp"},
	}
	for _, r := range recs {
		s.Append(r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, path, Options{})
	wantValues := []hub.PinValue{
		{DeviceID: d1.ID, Pin: 0, Value: "21", TS: 20},
		{DeviceID: d1.ID, Pin: 1, Value: "24.75\x0059.4", TS: 20},
		{DeviceID: d2.ID, Pin: 0, Value: "\xff raw bytes", TS: 23},
	}
	// Close wrote the pending latest values into the table.
	if diff := cmp.Diff(wantValues, latestTable(t, s)); diff != "" {
		t.Errorf("latest table after Close (-want +got):\n%s", diff)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]hub.Device{d1, d2}, snap.Devices); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantValues, snap.Values); diff != "" {
		t.Errorf("latest values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]hub.MetaValue{{DeviceID: d1.ID, Name: "Serial Number", Value: "SN1", TS: 36}}, snap.Meta); diff != "" {
		t.Errorf("meta (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]hub.PropertyValue{{DeviceID: d1.ID, Pin: 0, Name: "label", Value: "Temperature"}}, snap.Properties); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}

	hist, err := s.History(ctx, d1.ID, 0, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantHist := []hub.PinValue{{DeviceID: d1.ID, Pin: 0, Value: "20.5", TS: 10}, {DeviceID: d1.ID, Pin: 0, Value: "21", TS: 20}}
	if diff := cmp.Diff(wantHist, hist); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if hist, _ := s.History(ctx, d1.ID, 0, 15, 100, 0); len(hist) != 1 || hist[0].TS != 20 {
		t.Errorf("history from ts 15 = %v, want the write at 20", hist)
	}

	events, err := s.Events(ctx, d1.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents := []Event{
		{ID: 2, DeviceID: d1.ID, Code: "overheat", Description: "hotter", TS: 31, ResolvedAt: 32}, // clear resolves the latest open one
		{ID: 1, DeviceID: d1.ID, Code: "overheat", Description: "too hot", TS: 30},
	}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	info, err := s.DeviceInfo(ctx, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ver", "1.4.0", "h-beat", "10"}, info); diff != "" {
		t.Errorf("device info (-want +got):\n%s", diff)
	}
	if info, err := s.DeviceInfo(ctx, d2.ID); info != nil || err != nil {
		t.Errorf("device info of a silent device = %v, %v", info, err)
	}

	out, err := s.Outbox(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(recs) {
		t.Fatalf("outbox has %d entries, want %d", len(out), len(recs))
	}
	for i, e := range out {
		if e.Seq != int64(i+1) {
			t.Errorf("outbox[%d].Seq = %d, want %d", i, e.Seq, i+1)
		}
		if diff := cmp.Diff(recs[i], e.Record); diff != "" {
			t.Errorf("outbox[%d] (-want +got):\n%s", i, diff)
		}
	}
}

func TestClearAll(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	for i, r := range []hub.Record{
		{Kind: hub.KindEvent, DeviceID: 1, Name: "overheat", Value: "a", TS: 1},
		{Kind: hub.KindEvent, DeviceID: 1, Name: "overheat", Value: "b", TS: 2},
		{Kind: hub.KindEvent, DeviceID: 1, Name: "other", Value: "c", TS: 3},
		{Kind: hub.KindClear, DeviceID: 1, Name: "overheat", Value: "all", TS: 9},
	} {
		s.Append(r)
		_ = i
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := s.Events(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, e := range events {
		got[e.Description] = e.ResolvedAt
	}
	if diff := cmp.Diff(map[string]int64{"a": 9, "b": 9, "c": 0}, got); diff != "" {
		t.Errorf("resolved_at by event (-want +got):\n%s", diff)
	}
}

// TestLatestOrderWithinBatch: the last write to a pin wins, and an erase
// between writes is applied in order, even inside one transaction. Load
// has the values at once (the outbox entries the latest table lacks), the
// table within latestEvery, and a reopened store the same.
func TestLatestOrderWithinBatch(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		recs []hub.Record
		want []hub.PinValue
	}{
		{"last write wins", []hub.Record{
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 3, Value: "1", TS: 5},
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 3, Value: "2", TS: 4},
		}, []hub.PinValue{{DeviceID: 1, Pin: 3, Value: "2", TS: 4}}},
		{"last write wins, several pins", []hub.Record{
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 3, Value: "1", TS: 5},
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 4, Value: "x", TS: 5},
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 5, Value: "y", TS: 5},
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 3, Value: "2", TS: 4},
		}, []hub.PinValue{{DeviceID: 1, Pin: 3, Value: "2", TS: 4}, {DeviceID: 1, Pin: 4, Value: "x", TS: 5}, {DeviceID: 1, Pin: 5, Value: "y", TS: 5}}},
		{"write erase write", []hub.Record{
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 3, Value: "1", TS: 1},
			{Kind: hub.KindErase, DeviceID: 1, Pin: 3, TS: 2},
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 3, Value: "3", TS: 3},
			{Kind: hub.KindWrite, DeviceID: 1, Pin: 4, Value: "4", TS: 3},
			{Kind: hub.KindErase, DeviceID: 1, Pin: 4, TS: 4},
		}, []hub.PinValue{{DeviceID: 1, Pin: 3, Value: "3", TS: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gw.db")
			s := openWithTemplate(t, path, Options{})
			testDevice(s, t, "one")
			// Park the committer on the write lock with a first record, queue
			// the test records behind it: they make up the next batch.
			s.writeMu.Lock()
			s.Append(hub.Record{Kind: hub.KindOnline, DeviceID: 99})
			poll.Until(t, "an empty queue", func() bool { return s.queue.len() == 0 })
			for _, r := range tc.recs {
				s.Append(r)
			}
			s.writeMu.Unlock()
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			load := func(when string) {
				t.Helper()
				snap, err := s.Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, snap.Values); diff != "" {
					t.Errorf("Load %s (-want +got):\n%s", when, diff)
				}
			}
			load("at once")
			waitLatestApplied(t, s)
			if diff := cmp.Diff(tc.want, latestTable(t, s)); diff != "" {
				t.Errorf("latest table (-want +got):\n%s", diff)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTest(t, path, Options{})
			load("after reopening")
		})
	}
}

// latestTable reads the latest table as it is.
func latestTable(t *testing.T, s *Store) []hub.PinValue {
	t.Helper()
	rows, err := s.db.Query(`SELECT device, pin, value, ts FROM latest ORDER BY device, pin`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []hub.PinValue
	for rows.Next() {
		var v hub.PinValue
		if err := rows.Scan(&v.DeviceID, &v.Pin, &v.Value, &v.TS); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestAckKeepsPendingErases: an acknowledged erase stays in the outbox
// until the latest table has it, or the value it erased would come back.
func TestAckKeepsPendingErases(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d := testDevice(s, t, "one")
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: "1", TS: 1, Source: "tcp"})
	s.Append(hub.Record{Kind: hub.KindErase, DeviceID: d.ID, Pin: 0, TS: 2, Source: "tcp"})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, scalar[int64](t, s, `SELECT MAX(seq) FROM outbox`)); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Values) != 0 {
		t.Errorf("Load after the erase was acknowledged = %v, want no values", snap.Values)
	}
}

// TestManyPendingLatestValues: when latestMaxPending pins wait, the next
// commit seals them without waiting for latestEvery, and the commits
// that follow write them a slice each. Between slices, Load still has
// every value and the chart counts every write once.
func TestManyPendingLatestValues(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	const pins = 256
	devices := (latestMaxPending + pins - 1) / pins
	var ids []int64
	for i := range devices {
		ids = append(ids, testDevice(s, t, strconv.Itoa(i)).ID)
	}
	// A committer of the test's own, so that the test says when it commits.
	c, err := newCommitter(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	base := time.UnixMilli(1_700_000_000_000)
	batch := make([]hub.Record, latestMaxPending)
	for i := range batch {
		batch[i] = hub.Record{Kind: hub.KindWrite, DeviceID: ids[i/pins], Pin: i % pins, Value: "1", TS: base.UnixMilli(), Source: "tcp"}
	}
	if err := c.commit(batch); err != nil {
		t.Fatal(err)
	}
	commits := 0
	for {
		if err := c.commit(nil); err != nil {
			t.Fatal(err)
		}
		commits++
		snap, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Values) != latestMaxPending {
			t.Fatalf("after %d commits, Load has %d values, want %d", commits, len(snap.Values), latestMaxPending)
		}
		for _, id := range []int64{ids[0], ids[len(ids)-1]} {
			bs, _, err := s.Aggregate(ctx, id, 0, base, base.Add(time.Second), 1)
			if err != nil || len(bs) != 1 || bs[0].Count != 1 {
				t.Fatalf("after %d commits, the chart of device %d = %+v, %v; want one write", commits, id, bs, err)
			}
		}
		if c.fl == nil {
			break
		}
		if commits > 20 {
			t.Fatalf("pending values not written after %d commits", commits)
		}
	}
	if commits < 2 {
		t.Errorf("all written by one commit, want slices")
	}
	if n := scalar[int](t, s, `SELECT COUNT(*) FROM latest`); n != latestMaxPending {
		t.Errorf("latest table has %d rows, want %d", n, latestMaxPending)
	}
	if n := scalar[int](t, s, `SELECT SUM(n) FROM history_seconds`); n != latestMaxPending {
		t.Errorf("history_seconds counts %d writes, want %d", n, latestMaxPending)
	}
}

// TestPendingLatestValuesSurvivePruning: history pruning never deletes
// outbox entries the latest table does not have yet, so that Load and a
// store reopened after a crash still find those values.
func TestPendingLatestValuesSurvivePruning(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{HistoryMax: 1})
	d := testDevice(s, t, "one")
	var want []hub.PinValue
	for pin := range 3 {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: pin, Value: strconv.Itoa(pin), TS: int64(10 + pin), Source: "tcp"})
		want = append(want, hub.PinValue{DeviceID: d.ID, Pin: pin, Value: strconv.Itoa(pin), TS: int64(10 + pin)})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	newest := scalar[int64](t, s, `SELECT MAX(seq) FROM outbox`)
	if err := s.AckOutbox(ctx, newest); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		if err := s.prune(ctx); err != nil {
			t.Fatal(err)
		}
		snap, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, snap.Values); diff != "" {
			t.Errorf("Load %s (-want +got):\n%s", when, diff)
		}
	}
	check("with the values pending")
	waitLatestApplied(t, s)
	check("once the table has them")
	if n := scalar[int64](t, s, `SELECT COUNT(*) FROM outbox`); n != 1 {
		t.Errorf("%d entries left after pruning to HistoryMax 1, want 1", n)
	}
}

func TestGroupCommitBatches(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	const writers, each = 8, 2000
	for w := range writers {
		testDevice(s, t, strconv.Itoa(w)) // ids 1..writers
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: int64(w + 1), Pin: i % 10, Value: strconv.Itoa(i),
					TS: int64(i), Source: "tcp", Enqueued: time.Now().UnixNano()})
			}
		}()
	}
	wg.Wait()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.QueueLen != 0 {
		t.Errorf("queue length %d after Flush", st.QueueLen)
	}
	if st.Committed != writers*each {
		t.Fatalf("committed %d records, want %d", st.Committed, writers*each)
	}
	if st.Transactions >= st.Committed/10 {
		t.Errorf("%d transactions for %d records: group commit did not batch", st.Transactions, st.Committed)
	}
	if st.P50Ms <= 0 || st.P99Ms < st.P50Ms {
		t.Errorf("latency p50 %v ms, p99 %v ms: not measured", st.P50Ms, st.P99Ms)
	}
	if n := scalar[int](t, s, `SELECT COUNT(*) FROM history`); n != writers*each {
		t.Errorf("history has %d rows, want %d", n, writers*each)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(snap.Values); n != writers*10 {
		t.Errorf("Load has %d latest values, want %d", n, writers*10)
	}
}

// waitLatestApplied waits until the latest table holds every value write
// committed so far (its cursor reached the newest outbox entry).
func waitLatestApplied(t *testing.T, s *Store) {
	t.Helper()
	newest := scalar[int64](t, s, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`)
	// Both the row and the store's copy, which the committer sets just
	// after the commit (pruning reads the copy).
	poll.Until(t, "the latest table's cursor at the newest outbox entry", func() bool {
		return scalar[int64](t, s, `SELECT value FROM sync_cursors WHERE name = 'latest_applied'`) >= newest &&
			s.latestTo.Load() >= newest
	})
}

func TestFlush(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "gw.db"), Options{CommitEvery: time.Hour})
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush with nothing queued: %v", err)
	}
	// A window of an hour: only Flush makes the second record commit soon.
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: "1", TS: 1})
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: "2", TS: 2})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Outbox(ctx, 0, 10); len(out) != 2 {
		t.Fatalf("after Flush the outbox has %d entries, want 2", len(out))
	}

	// A commit that cannot proceed: Flush honours its context.
	s.writeMu.Lock()
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: "3", TS: 3})
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	err := s.Flush(short)
	cancel()
	s.writeMu.Unlock()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush while the commit is blocked = %v, want DeadlineExceeded", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Outbox(ctx, 0, 10); len(out) != 3 {
		t.Fatalf("outbox has %d entries, want 3", len(out))
	}
}

func TestCloseDrains(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s, err := Open(ctx, Options{Path: path, CommitEvery: time.Hour, QueueSize: 16, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100 // more than the queue holds: Append blocks, never drops
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: i % 256, Value: strconv.Itoa(i), TS: int64(i)})
		}
	}()
	<-done
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: "late"}) // must not panic
	if st := s.Stats(); st.Dropped != 1 || st.Committed != n {
		t.Errorf("after Close: committed %d dropped %d, want %d and 1", st.Committed, st.Dropped, n)
	}

	s = openTest(t, path, Options{})
	if got := scalar[int](t, s, `SELECT COUNT(*) FROM outbox`); got != n {
		t.Fatalf("after reopen the outbox has %d records, want %d", got, n)
	}
}

// Close does not wait for appenders held back by a full queue (the store
// may be stuck): their records are dropped, counted, and no Flush
// reports them stored; what the queue held is committed.
func TestCloseDropsAppendsWaitingForRoom(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s, err := Open(ctx, Options{Path: path, CommitEvery: time.Hour, QueueSize: 2, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(i int) hub.Record {
		return hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: i, Value: strconv.Itoa(i), TS: int64(i)}
	}
	s.writeMu.Lock() // the committer stalls on its first commit
	s.Append(rec(0))
	poll.Until(t, "the committer holds the first record", func() bool { return s.queue.len() == 0 })
	s.Append(rec(1))
	s.Append(rec(2)) // the queue is full
	appended := make(chan struct{})
	go func() { s.Append(rec(3)); close(appended) }()
	poll.Until(t, "an appender waits for room", func() bool {
		s.queue.mu.Lock()
		defer s.queue.mu.Unlock()
		return s.queue.blocked == 1
	})
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case <-appended: // released by Close, not by room
	case <-time.After(time.Minute):
		t.Fatal("Close is waiting for the appender that waits for room")
	}
	s.writeMu.Unlock()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := s.Stats(); st.Committed != 3 || st.Dropped != 1 {
		t.Errorf("committed %d dropped %d, want 3 and 1", st.Committed, st.Dropped)
	}
	if err := s.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after a dropped record = %v, want ErrClosed", err)
	}
	s = openTest(t, path, Options{})
	if got := scalar[int](t, s, `SELECT COUNT(*) FROM outbox`); got != 3 {
		t.Fatalf("after reopen the outbox has %d records, want 3", got)
	}
}

func TestOutboxOrderAndAck(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	for i := range 10 {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 0, Value: strconv.Itoa(i), TS: int64(i)})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var seen []string
	var after int64
	for {
		page, err := s.Outbox(ctx, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("seq %d after %d: out of order", e.Seq, after)
			}
			after = e.Seq
			seen = append(seen, e.Record.Value)
		}
	}
	if diff := cmp.Diff([]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, seen); diff != "" {
		t.Fatalf("outbox order (-want +got):\n%s", diff)
	}
	if err := s.AckOutbox(ctx, 4); err != nil {
		t.Fatal(err)
	}
	page, _ := s.Outbox(ctx, 0, 100)
	if len(page) != 6 || page[0].Seq != 5 {
		t.Fatalf("after ack of 4 the outbox starts at %v, want 6 entries from seq 5", page)
	}
	// Acknowledge everything: new entries continue the sequence.
	if err := s.AckOutbox(ctx, after); err != nil {
		t.Fatal(err)
	}
	s.Append(hub.Record{Kind: hub.KindOnline, DeviceID: 1, Name: "tcp"})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page, _ = s.Outbox(ctx, 0, 100)
	if len(page) != 1 || page[0].Seq != after+1 {
		t.Fatalf("after acking all, the next entry is %v, want seq %d", page, after+1)
	}
}

func TestDevices(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d1 := testDevice(s, t, "one")
	if d1.ID <= 0 {
		t.Fatalf("created device has id %d", d1.ID)
	}

	dup := hub.Device{UID: "01Jother", Name: "copy", TemplateID: "TMPLtest0001", TokenHash: d1.TokenHash}
	if _, err := s.CreateDevice(ctx, dup); !errors.Is(err, ErrDuplicateToken) {
		t.Errorf("same token hash: %v, want ErrDuplicateToken", err)
	}
	dup = hub.Device{UID: d1.UID, Name: "copy", TemplateID: "TMPLtest0001", TokenHash: sha256.Sum256([]byte("x"))}
	if _, err := s.CreateDevice(ctx, dup); !errors.Is(err, ErrDuplicateUID) {
		t.Errorf("same UID: %v, want ErrDuplicateUID", err)
	}
	dup = hub.Device{UID: "01Jnew", Name: "new", TemplateID: "TMPLnope", TokenHash: sha256.Sum256([]byte("y"))}
	if _, err := s.CreateDevice(ctx, dup); !errors.Is(err, hub.ErrNoTemplate) {
		t.Errorf("unknown template: %v, want hub.ErrNoTemplate", err)
	}

	// Delete removes the device and its data; records arriving for it later
	// don't come back at Load; its id is never reused.
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d1.ID, Pin: 0, Value: "1", TS: 1})
	s.Append(hub.Record{Kind: hub.KindMeta, DeviceID: d1.ID, Name: "Serial Number", Value: "SN", TS: 1})
	if err := s.DeleteDevice(ctx, d1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDevice(ctx, d1.ID); !errors.Is(err, hub.ErrNoDevice) {
		t.Errorf("second delete: %v, want hub.ErrNoDevice", err)
	}
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d1.ID, Pin: 0, Value: "2", TS: 2})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Devices) != 0 || len(snap.Values) != 0 || len(snap.Meta) != 0 {
		t.Errorf("after delete Load = %+v, want no devices, values or meta", snap)
	}
	if h, err := s.History(ctx, d1.ID, 0, 0, 10, 0); len(h) != 0 || err != nil {
		t.Errorf("history after delete = %v, %v; want none", h, err)
	}
	// The cloud still gets what the device sent, before and after.
	var sent []string
	out, err := s.Outbox(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out {
		if e.Record.DeviceID == d1.ID && e.Record.Kind == hub.KindWrite {
			sent = append(sent, e.Record.Value)
		}
	}
	if !slices.Equal(sent, []string{"1", "2"}) {
		t.Errorf("deleted device's writes in the outbox = %q, want [1 2]", sent)
	}
	// Its values that were pending for the latest table do not reach it.
	waitLatestApplied(t, s)
	if n := scalar[int](t, s, fmt.Sprintf(`SELECT COUNT(*) FROM latest WHERE device = %d`, d1.ID)); n != 0 {
		t.Errorf("the deleted device has %d rows in the latest table", n)
	}
	d2 := testDevice(s, t, "two")
	if d2.ID <= d1.ID {
		t.Errorf("new device got id %d, reusing deleted %d", d2.ID, d1.ID)
	}
}

func TestSaveTemplate(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	bad := testTemplate()
	bad.Datastreams[1].Pin = 0
	if err := s.SaveTemplate(ctx, bad); !errors.Is(err, datastream.ErrBadTemplate) {
		t.Fatalf("invalid template: %v, want ErrBadTemplate", err)
	}
	tpl := testTemplate()
	if err := s.SaveTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	testDevice(s, t, "one") // a device uses it: replacing must still work
	tpl.Name = "Renamed"
	tpl.Datastreams = append(tpl.Datastreams, datastream.Datastream{Pin: 2, Name: "Power", Type: datastream.Boolean})
	if err := s.SaveTemplate(ctx, tpl); err != nil {
		t.Fatalf("replace template: %v", err)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]datastream.Template{tpl}, snap.Templates); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
}

// TestCommitFailureRetried: a failing transaction is retried until it
// succeeds; nothing is lost.
func TestCommitFailureRetried(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d := testDevice(s, t, "one")
	failing := failInserts(t, s, "outbox")
	failing(true)
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 2, Value: "kept", TS: 1})
	poll.Until(t, "two failed commits", func() bool { return s.Stats().Failures >= 2 })
	failing(false)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.History(ctx, d.ID, 2, 0, 10, 0); len(h) != 1 || h[0].Value != "kept" {
		t.Fatalf("after the failures cleared, history = %v", h)
	}
	// The chart counts the write once, however often its commit was tried.
	waitLatestApplied(t, s)
	if bs, _, err := s.Aggregate(ctx, d.ID, 2, time.UnixMilli(0), time.UnixMilli(1000), 1); err != nil || len(bs) != 1 || bs[0].Count != 1 {
		t.Errorf("chart after the failures = %+v, %v; want one write", bs, err)
	}
}

// failInserts makes inserts into table fail, as a full disk would, while
// the returned switch is on.
func failInserts(t *testing.T, s *Store, table string) func(on bool) {
	t.Helper()
	s.writeMu.Lock()
	_, err := s.db.Exec(`CREATE TABLE fail_ctl(on_ INTEGER);
		INSERT INTO fail_ctl VALUES (0);
		CREATE TRIGGER fail BEFORE INSERT ON ` + table + ` WHEN (SELECT on_ FROM fail_ctl) = 1
		BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END;`)
	s.writeMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return func(on bool) {
		t.Helper()
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		if _, err := s.db.Exec(`UPDATE fail_ctl SET on_ = ?`, on); err != nil {
			t.Fatal(err)
		}
	}
}

// TestChartCountsRetriedCommitOnce: a commit that fails while writing a
// slice of the chart's aggregates is retried with the same writes; they
// count once.
func TestChartCountsRetriedCommitOnce(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d := testDevice(s, t, "one")
	failing := failInserts(t, s, "history_seconds")
	// A committer of the test's own, so that the test says when it commits.
	c, err := newCommitter(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	// latestMaxPending pins: the next commits write them in slices.
	batch := make([]hub.Record, latestMaxPending)
	for pin := range batch {
		batch[pin] = hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: pin, Value: "1", TS: 1}
	}
	if err := c.commit(batch); err != nil {
		t.Fatal(err)
	}
	failing(true)
	for i := 0; c.commit(nil) == nil; i++ {
		if i > 20 {
			t.Fatal("no slice of aggregates failed")
		}
	}
	// A write's commit fails on its slice after counting the write; it is
	// retried and succeeds.
	one := []hub.Record{{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: "1", TS: 2}}
	if err := c.commit(one); err == nil {
		t.Fatal("commit succeeded with the aggregates failing")
	}
	failing(false)
	if err := c.commit(one); err != nil {
		t.Fatal(err)
	}
	c.writePending()
	if n := scalar[int64](t, s, `SELECT COALESCE(SUM(n), 0) FROM history_seconds`); n != latestMaxPending+1 {
		t.Errorf("history_seconds counts %d writes, want %d", n, latestMaxPending+1)
	}
}

func TestPinHistoryIndexOption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.db")
	indexes := func(s *Store) int {
		return scalar[int](t, s, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name = 'history_pin_ts'`)
	}
	s := openTest(t, path, Options{PinHistoryIndex: true})
	if indexes(s) != 1 {
		t.Fatal("PinHistoryIndex did not create history_pin_ts")
	}
	s.Close()
	s = openTest(t, path, Options{})
	if indexes(s) != 0 {
		t.Fatal("history_pin_ts kept without PinHistoryIndex")
	}
}

func TestSyncCursorsAndOutboxLen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openTest(t, path, Options{})
	if v, err := s.Cursor(ctx, "tenancy_version"); v != 0 || err != nil {
		t.Fatalf("unknown cursor = %d, %v; want 0", v, err)
	}
	if err := s.SetCursor(ctx, "tenancy_version", 41); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "tenancy_version", 42); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxLen(ctx); n != 0 || err != nil {
		t.Fatalf("empty OutboxLen = %d, %v", n, err)
	}
	for i := range 7 {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Value: strconv.Itoa(i)})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxLen(ctx); n != 4 || err != nil {
		t.Fatalf("OutboxLen after acking 3 of 7 = %d, %v; want 4", n, err)
	}
	s.Close()
	s = openTest(t, path, Options{})
	if v, err := s.Cursor(ctx, "tenancy_version"); v != 42 || err != nil {
		t.Fatalf("cursor after reopen = %d, %v; want 42", v, err)
	}
}

func TestUpdateDevice(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	d1, d2 := testDevice(s, t, "one"), testDevice(s, t, "two")
	d1.Name, d1.TokenHash = "renamed", sha256.Sum256([]byte("new token"))
	if err := s.UpdateDevice(ctx, d1); err != nil {
		t.Fatal(err)
	}
	d2.TokenHash = d1.TokenHash
	if err := s.UpdateDevice(ctx, d2); !errors.Is(err, ErrDuplicateToken) {
		t.Errorf("token taken: %v, want ErrDuplicateToken", err)
	}
	if err := s.UpdateDevice(ctx, hub.Device{ID: 999, UID: "x", TemplateID: "TMPLtest0001"}); !errors.Is(err, hub.ErrNoDevice) {
		t.Errorf("unknown device: %v, want hub.ErrNoDevice", err)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d1, snap.Devices[0]); diff != "" {
		t.Errorf("updated device (-want +got):\n%s", diff)
	}
}

func TestTenancyCacheSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openTest(t, path, Options{})
	if b, err := s.TenancyCache(ctx, "orgs"); b != nil || err != nil {
		t.Fatalf("unknown kind = %q, %v; want nil", b, err)
	}
	if err := s.SetTenancyCache(ctx, 5, map[string][]byte{"orgs": []byte(`[1]`), "owners": []byte(`[2]`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTenancyCache(ctx, 6, map[string][]byte{"orgs": []byte(`[1,3]`)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, path, Options{})
	for kind, want := range map[string]string{"orgs": `[1,3]`, "owners": `[2]`} {
		if b, err := s.TenancyCache(ctx, kind); string(b) != want || err != nil {
			t.Errorf("%s after reopen = %q, %v; want %q", kind, b, err, want)
		}
	}
}

// TestFlushWaitsForTheCommit: Flush returns only once the record is
// committed (what a transport's acknowledgement waits for), and a waiting
// writer does not wait for the window: commit_interval is only an upper
// bound then. A record dropped after Close never gets a success.
func TestFlushWaitsForTheCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openTest(t, path, Options{CommitEvery: time.Hour})
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	inFile := func() int {
		var n int
		if err := ro.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for round := 1; round <= 3; round++ {
		s.writeMu.Lock() // the next commit cannot proceed
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: strconv.Itoa(round), TS: int64(round)})
		flushed := make(chan error, 1)
		go func() { flushed <- s.Flush(ctx) }()
		poll.Until(t, "a waiting writer and an empty queue", func() bool { return s.Stats().QueueLen == 0 && s.nextWaiters.Load()+s.batchWaitersNow() > 0 })
		select {
		case err := <-flushed:
			t.Fatalf("round %d: Flush returned %v before the commit", round, err)
		default:
		}
		if n := inFile(); n != round-1 {
			t.Fatalf("round %d: %d records in the file before the commit", round, n)
		}
		s.writeMu.Unlock()
		if err := <-flushed; err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if n := inFile(); n != round {
			t.Fatalf("round %d: Flush returned with %d records in the file", round, n)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: "late", TS: 9})
	if err := s.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after a dropped Append = %v, want ErrClosed", err)
	}
}

// TestNaturalGroupCommit: writers that wait for their commit share commits
// (many records per transaction) with a window of an hour, which only
// records nobody waits for would wait for.
func TestNaturalGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "gw.db"), Options{CommitEvery: time.Hour})
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: int64(w + 1), Pin: 0, Value: strconv.Itoa(i), TS: int64(i + 1)})
				if err := s.Flush(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Committed != writers*each {
		t.Fatalf("committed %d records, want %d", st.Committed, writers*each)
	}
	if st.Transactions >= st.Committed {
		t.Errorf("%d transactions for %d records: waiting writers did not share commits", st.Transactions, st.Committed)
	}
	t.Logf("%d records in %d transactions", st.Committed, st.Transactions)
}

func (s *Store) batchWaitersNow() int64 {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.batchWaiters
}

// gateway.db holds device token hashes: it and its WAL companions are
// owner-only whatever the umask.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	s := openWithTemplate(t, path, Options{})
	testDevice(s, t, "a")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestOutboxRowsWhicheverStatement: value writes of one source go through
// statements with the kind, name and source as literals (writesInsert);
// the outbox must read back exactly as the 7-column statement writes it,
// in order, for mixed chunks, a quoted source and more sources than get
// their own statements.
func TestOutboxRowsWhicheverStatement(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	var want []hub.Record
	add := func(r hub.Record) {
		s.Append(r)
		r.Enqueued = 0
		want = append(want, r)
	}
	ts := int64(1)
	write := func(src string, n int) {
		for i := range n {
			add(hub.Record{Kind: hub.KindWrite, DeviceID: int64(1 + i%3), Pin: i % 2, Value: strconv.Itoa(i), TS: ts, Source: src})
			ts++
		}
	}
	write("mqtt", 300)                                                                                     // chunks of 128, 32, 8, 1 of one source
	add(hub.Record{Kind: hub.KindEvent, DeviceID: 1, Name: "alarm", Value: "hot", TS: ts, Source: "mqtt"}) // not a plain write
	write("it's", 9)                                                                                       // a source that needs quoting
	add(hub.Record{Kind: hub.KindWrite, DeviceID: 2, Pin: 1, Name: "named", Value: "v", TS: ts, Source: "http"})
	for i := range maxWriteSources + 3 { // past the sources with their own statements
		write("src"+strconv.Itoa(i), 8)
		if err := s.Flush(ctx); err != nil { // one commit each: chunks of one source
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := s.Outbox(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var got []hub.Record
	for _, e := range page {
		if e.Record.Kind == hub.KindWrite || e.Record.Kind == hub.KindEvent {
			got = append(got, e.Record)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outbox (-want +got):\n%s", diff)
	}
	if n := scalar[int](t, s, `SELECT COUNT(*) FROM outbox WHERE kind = 1 AND typeof(name) = 'text' AND typeof(source) = 'text' AND typeof(kind) = 'integer'`); n != len(want)-1 {
		t.Errorf("%d value writes with text name and source, want %d", n, len(want)-1)
	}
}
