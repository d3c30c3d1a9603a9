package sqlite

import (
	"context"
	"database/sql"
	"time"
)

const (
	// checkpointEvery is how often the checkpointer runs while commits happen.
	checkpointEvery = 250 * time.Millisecond
	// walResetFrames bounds the WAL (32 MiB of 16 KiB pages): past it, the
	// checkpointer briefly holds the write lock so that a checkpoint can
	// catch up and the WAL restarts from its beginning.
	walResetFrames = 2048
)

// checkpointer runs PASSIVE WAL checkpoints on its own connection while
// commits continue (WAL lets a checkpoint run beside the writer), so that
// commits only append to the WAL and never wait for a checkpoint's writes
// and fsyncs. Under a steady load the writer keeps appending frames behind
// each passive checkpoint, and SQLite restarts the WAL only after one has
// copied all of it; so when the WAL has grown past walResetFrames, one
// checkpoint runs with commits paused (resetWAL).
func (s *Store) checkpointer() {
	defer close(s.cpDone)
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		s.log.Error("checkpointer has no connection: the WAL will only be checkpointed at Close", "err", err)
		<-s.cpStop
		return
	}
	defer conn.Close()
	// A checkpoint must not wait long for a lock while commits are
	// paused: give up quickly (and retry at the next tick).
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 100`); err != nil {
		s.log.Warn("checkpointer busy_timeout", "err", err)
	}
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-s.cpStop:
			return
		case <-t.C:
		}
		n := s.transactions.Load()
		if n == last {
			continue
		}
		last = n
		if frames := s.checkpoint(conn, "PASSIVE"); frames > walResetFrames {
			s.resetWAL(conn)
		}
	}
}

// resetWAL lets the WAL start again from its beginning: with commits
// paused, a PASSIVE checkpoint copies the frames the last one left, and
// the next commit, finding the WAL wholly copied and no reader in it,
// writes from its start. Not a RESTART checkpoint: that also waits (the
// busy timeout) for readers of an older snapshot — the cloud link's
// outbox reads, the installer's charts — with every commit, and so every
// waiting HTTP answer and QoS 1 PUBACK, held behind it. A reader in the
// WAL only postpones the reset to a later tick.
func (s *Store) resetWAL(q queryRower) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.checkpoint(q, "PASSIVE")
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkpoint runs one checkpoint and returns the WAL size in frames.
func (s *Store) checkpoint(q queryRower, mode string) int {
	var busy, logFrames, copied int
	err := q.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &logFrames, &copied)
	if err != nil {
		s.log.Warn("WAL checkpoint failed", "mode", mode, "err", err)
	}
	return logFrames
}
