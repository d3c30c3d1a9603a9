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
)

// While a reader holds an older snapshot (the cloud link reading the
// outbox, the installer drawing a chart), the WAL reset that runs with
// commits paused must not wait for it: every waiting HTTP answer and QoS 1
// PUBACK waits behind that pause. Once the reader is gone, the WAL starts
// again from its beginning.
func TestWALResetDoesNotWaitForReaders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	s := openTest(t, path, Options{CommitEvery: -1})
	write := func(n int) {
		for i := range n {
			s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: 1, Pin: 1, Value: strings.Repeat("v", 2000) + strconv.Itoa(i), TS: int64(i + 1)})
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(50)

	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	reader, err := ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil { // takes its snapshot
		t.Fatal(err)
	}
	write(50) // frames the reader's snapshot does not have

	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A long busy timeout: a checkpoint that waits for the reader would
	// hold commits for all of it.
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 30000`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.resetWAL(conn) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the WAL reset waited for a reader, with commits paused")
	}

	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	before := s.checkpoint(conn, "PASSIVE")
	s.resetWAL(conn)
	write(1)
	if after := s.checkpoint(conn, "PASSIVE"); after >= before {
		t.Fatalf("the WAL did not start again once the reader was gone: %d frames, %d before", after, before)
	}
}
