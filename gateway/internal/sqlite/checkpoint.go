package sqlite

import (
	"context"
	"time"
)

// checkpointEvery is how often the checkpointer runs when commits happen.
const checkpointEvery = 250 * time.Millisecond

// checkpointer runs PASSIVE WAL checkpoints on its own connection while
// commits continue (WAL lets one checkpoint run beside the writer). Only
// it writes the database file and fsyncs it; the committer just appends to
// the WAL. SQLite restarts the WAL from the beginning once a checkpoint has
// copied all of it, so the WAL stays bounded under a steady load.
func (s *Store) checkpointer() {
	defer close(s.cpDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-s.cpStop:
			return
		case <-t.C:
		}
		if n := s.transactions.Load(); n != last {
			last = n
			s.checkpoint("PASSIVE")
		}
	}
}

func (s *Store) checkpoint(mode string) {
	var busy, logFrames, done int
	err := s.db.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &logFrames, &done)
	if err != nil {
		s.log.Warn("WAL checkpoint failed", "mode", mode, "err", err)
	}
}
