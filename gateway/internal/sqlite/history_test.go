package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
)

func historyValues(t *testing.T, s *Store, dev int64, pin int) []string {
	t.Helper()
	h, err := s.History(context.Background(), dev, pin, 0, 1<<62, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, v := range h {
		vs = append(vs, v.Value)
	}
	return vs
}

func seqs(n int, f func(i int) string) []string {
	var out []string
	for i := range n {
		out = append(out, f(i))
	}
	return out
}

// TestAckKeepsHistory: what the cloud acknowledged leaves the outbox but
// stays as history, across a restart; the other kinds leave entirely.
func TestAckKeepsHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openWithTemplate(t, path, Options{})
	d := testDevice(s, t, "one")
	for i := range 5 {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: strconv.Itoa(i), TS: int64(100 + i)})
		s.Append(hub.Record{Kind: hub.KindOnline, DeviceID: d.ID, Name: "tcp", TS: int64(100 + i)})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := s.Outbox(ctx, 0, 100)
	if err != nil || len(out) != 10 {
		t.Fatalf("outbox = %d entries, %v; want 10", len(out), err)
	}
	if err := s.AckOutbox(ctx, out[5].Seq); err != nil { // the first three writes and three onlines
		t.Fatal(err)
	}
	if n, _ := s.OutboxLen(ctx); n != 4 {
		t.Errorf("OutboxLen after acking 6 of 10 = %d, want 4", n)
	}
	if rest, _ := s.Outbox(ctx, 0, 100); len(rest) != 4 || rest[0].Seq != out[6].Seq {
		t.Errorf("outbox after ack = %+v, want the last 4 entries", rest)
	}
	want := []string{"0", "1", "2", "3", "4"}
	if got := historyValues(t, s, d.ID, 0); !slices.Equal(got, want) {
		t.Errorf("history after ack = %q, want %q", got, want)
	}
	if n := scalar[int](t, s, `SELECT COUNT(*) FROM outbox WHERE kind = 8`); n != 2 {
		t.Errorf("%d online records left, want the 2 not acknowledged", n)
	}
	// Acking again, or less, changes nothing.
	if err := s.AckOutbox(ctx, out[2].Seq); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxLen(ctx); n != 4 {
		t.Errorf("OutboxLen after a stale ack = %d, want 4", n)
	}
	s.Close()

	s = openTest(t, path, Options{})
	if n, _ := s.OutboxLen(ctx); n != 4 {
		t.Errorf("OutboxLen after reopen = %d, want 4", n)
	}
	if got := historyValues(t, s, d.ID, 0); !slices.Equal(got, want) {
		t.Errorf("history after reopen = %q, want %q", got, want)
	}
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: "5", TS: 200})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if rest, _ := s.Outbox(ctx, 0, 100); len(rest) != 5 || rest[4].Seq != out[9].Seq+1 {
		t.Errorf("outbox after reopen and a write = %+v, want 5 entries ending at seq %d", rest, out[9].Seq+1)
	}
}

// TestHistoryMaxPrunes: acknowledged history is kept up to HistoryMax
// entries, oldest deleted first; what the cloud does not have is never
// pruned.
func TestHistoryMaxPrunes(t *testing.T) {
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{HistoryMax: 10})
	d := testDevice(s, t, "one")
	write := func(from, to int) {
		for i := from; i < to; i++ {
			s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: strconv.Itoa(i), TS: int64(i)})
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 50)
	out, _ := s.Outbox(ctx, 0, 100)
	if err := s.AckOutbox(ctx, out[len(out)-1].Seq); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "40 records pruned", func() bool { return s.Stats().Pruned == 40 })
	want := seqs(10, func(i int) string { return strconv.Itoa(40 + i) })
	if got := historyValues(t, s, d.ID, 0); !slices.Equal(got, want) {
		t.Errorf("history after pruning = %q, want the last 10 %q", got, want)
	}

	// 30 more the cloud has not acknowledged: all stay.
	write(50, 80)
	if got := len(historyValues(t, s, d.ID, 0)); got != 40 {
		t.Errorf("history holds %d entries, want 10 acknowledged + 30 waiting", got)
	}
	if n, _ := s.OutboxLen(ctx); n != 30 {
		t.Errorf("OutboxLen = %d, want 30", n)
	}
	if p := s.Stats().Pruned; p != 40 {
		t.Errorf("Pruned = %d after writes without ack, want still 40", p)
	}
}

// TestMigrationMovesHistoryIntoOutbox opens a database written by the
// previous schema (history in its own table, next to the outbox, which
// duplicates the writes it holds) and checks that nothing is lost or
// doubled: old history stays history, the outbox still drains the same
// entries in order.
func TestMigrationMovesHistoryIntoOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	if err := initFile(ctx, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(Options{Path: path, Synchronous: SyncNormal}))
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	for v, name := range []string{"0001_init.sql", "0002_sync_cursors.sql", "0003_device_uids.sql", "0004_tenancy_cache.sql"} {
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(body))
		exec(`INSERT INTO schema_version VALUES (?, 0)`, v+1)
	}
	exec(`INSERT INTO templates VALUES ('TMPLtest0001', '{"id":"TMPLtest0001","name":"T"}', 0)`)
	exec(`INSERT INTO devices(id, uid, name, template_id, token_hash, created_at) VALUES (1, '01Jone', 'one', 'TMPLtest0001', x'00', 0)`)
	// Writes 0..5 were committed; the cloud acknowledged 0..2 (their
	// outbox rows deleted). 3..5 wait, as does an event.
	for i := range 6 {
		exec(`INSERT INTO history(device, pin, ts, value) VALUES (1, 0, ?, ?)`, 100+i, strconv.Itoa(i))
	}
	exec(`INSERT INTO outbox(seq, kind, device, pin, name, value, ts, source) VALUES (1, 1, 1, 0, '', '0', 100, 'tcp')`)
	exec(`DELETE FROM outbox`) // acknowledged: the sequence goes on from 1
	for i := 3; i < 6; i++ {
		exec(`INSERT INTO outbox(seq, kind, device, pin, name, value, ts, source) VALUES (?, 1, 1, 0, '', ?, ?, 'tcp')`, i+4, strconv.Itoa(i), 100+i)
	}
	exec(`INSERT INTO outbox(seq, kind, device, pin, name, value, ts, source) VALUES (10, 3, 1, 0, 'overheat', '', 106, '')`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path, Options{})
	want := seqs(6, strconv.Itoa)
	if got := historyValues(t, s, 1, 0); !slices.Equal(got, want) {
		t.Errorf("history after migration = %q, want %q (each once)", got, want)
	}
	out, err := s.Outbox(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range out {
		got = append(got, strconv.FormatInt(e.Seq, 10)+":"+e.Record.Value+e.Record.Name)
	}
	if want := []string{"7:3", "8:4", "9:5", "10:overheat"}; !slices.Equal(got, want) {
		t.Errorf("outbox after migration = %q, want %q", got, want)
	}
	if n, _ := s.OutboxLen(ctx); n != 4 {
		t.Errorf("OutboxLen = %d, want 4", n)
	}
	if n := scalar[int](t, s, `SELECT COUNT(*) FROM history`); n != 6 {
		t.Errorf("the history view counts %d rows, want 6", n)
	}
	// New entries continue the sequence; acknowledging all keeps history.
	s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 0, Value: "6", TS: 200})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, 11); err != nil {
		t.Fatal(err)
	}
	if got := historyValues(t, s, 1, 0); !slices.Equal(got, seqs(7, strconv.Itoa)) {
		t.Errorf("history after acking everything = %q", got)
	}
	if n, _ := s.OutboxLen(ctx); n != 0 {
		t.Errorf("OutboxLen after acking everything = %d", n)
	}
}
