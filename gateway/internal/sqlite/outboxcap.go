package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"outpost/gateway/internal/hub"
)

// thinWindow is how many of the oldest outbox entries one thinning pass
// looks at; thinChunk how many it deletes per transaction (each holds the
// writer briefly, so group commits go on between chunks).
const (
	thinWindow = 65536
	thinChunk  = 8192
)

// pruneChunk is how many sequence numbers one history-pruning transaction
// covers.
const pruneChunk = 50000

// kickThinner wakes the thinner when the outbox is over its cap or the
// acknowledged history is longer than HistoryMax. It is called after every
// commit and ack, so it only looks at counters.
func (s *Store) kickThinner() {
	if !s.overCap() && !s.historyTooLong() {
		return
	}
	select {
	case s.thinKick <- struct{}{}:
	default:
	}
}

// overCap reports whether the outbox holds more than Options.OutboxMax.
func (s *Store) overCap() bool {
	return s.opts.OutboxMax > 0 && s.outboxN.Load() > s.opts.OutboxMax
}

// historyTooLong reports whether acknowledged history reaches further back
// than Options.HistoryMax.
func (s *Store) historyTooLong() bool {
	return s.opts.HistoryMax > 0 && s.pruneTo() > s.prunedTo.Load()
}

// pruneTo is how far HistoryMax lets history go: never past the latest
// table's cursor, whose entries above it are the pending latest values
// (latest.go).
func (s *Store) pruneTo() int64 {
	return min(s.acked.Load()-s.opts.HistoryMax, s.latestTo.Load())
}

// thinner enforces Options.OutboxMax and Options.HistoryMax off the commit
// path.
func (s *Store) thinner() {
	defer close(s.thinDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.cpStop
		cancel()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.thinKick:
		}
		if s.overCap() {
			if err := s.thin(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("outbox thinning failed", "err", err)
			}
		}
		if err := s.prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("history pruning failed", "err", err)
		}
	}
}

// thin deletes superseded value writes, oldest first, until the outbox is
// at 99 % of its cap. Within a window of the oldest entries, a write whose
// pin is written again later in the same window is superseded; the last
// write of each pin in a window is kept even if a later window supersedes
// it (the check never needs more than one window in memory, and keeping
// too much is the safe side).
func (s *Store) thin(ctx context.Context) error {
	limit := s.opts.OutboxMax
	target := limit - limit/100
	after := s.acked.Load()
	var dropped int64
	for s.outboxN.Load() > target {
		type entry struct {
			seq  int64
			kind hub.Kind
			key  [2]int64
		}
		after = max(after, s.acked.Load())
		rows, err := s.db.QueryContext(ctx, `SELECT seq, kind, device, pin FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, thinWindow)
		if err != nil {
			return fmt.Errorf("sqlite: thin outbox: %w", err)
		}
		var win []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.seq, &e.kind, &e.key[0], &e.key[1]); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: thin outbox: %w", err)
			}
			win = append(win, e)
		}
		if err := closeRows(rows); err != nil {
			return fmt.Errorf("sqlite: thin outbox: %w", err)
		}
		if len(win) == 0 {
			break
		}
		last := make(map[[2]int64]int64)
		for _, e := range win {
			if e.kind == hub.KindWrite {
				last[e.key] = e.seq
			} else if e.kind == hub.KindErase {
				// Only a later write supersedes: a write followed by an
				// erase alone is kept (the safe side).
				delete(last, e.key)
			}
		}
		var victims []int64
		excess := s.outboxN.Load() - target
		for _, e := range win {
			if int64(len(victims)) >= excess {
				break
			}
			if e.kind == hub.KindWrite && last[e.key] > e.seq {
				victims = append(victims, e.seq)
			}
		}
		if len(victims) == 0 {
			// Nothing to thin here: look further. Otherwise look at the
			// oldest entries again (commits may have added more meanwhile,
			// and the oldest superseded writes go first).
			after = win[len(win)-1].seq
		}
		for len(victims) > 0 {
			chunk := victims[:min(thinChunk, len(victims))]
			victims = victims[len(chunk):]
			var n int64
			err := s.write(ctx, func(tx *sql.Tx) error {
				st, err := tx.PrepareContext(ctx, `DELETE FROM outbox WHERE seq = ?`)
				if err != nil {
					return err
				}
				defer st.Close()
				for _, seq := range chunk {
					res, err := st.ExecContext(ctx, seq)
					if err != nil {
						return err
					}
					k, err := res.RowsAffected()
					if err != nil {
						return err
					}
					n += k
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("sqlite: thin outbox: %w", err)
			}
			// Counted once committed: a reader never sees fewer entries
			// counted than the table holds.
			s.outboxN.Add(-n)
			s.thinned.Add(uint64(n))
			dropped += n
		}
	}
	if n := s.outboxN.Load(); n > limit {
		s.log.Warn("outbox over its cap with no history left to thin: keeping latest values and events",
			"entries", n, "cap", limit)
	} else if dropped > 0 {
		s.log.Warn("outbox full: oldest raw history thinned (latest values and events kept)",
			"dropped", dropped, "entries", n, "cap", limit)
	}
	return nil
}

// prune deletes acknowledged history more than HistoryMax sequence numbers
// below the newest acknowledged entry, oldest first, one short transaction
// per pruneChunk sequence numbers so that commits go on meanwhile.
func (s *Store) prune(ctx context.Context) error {
	var n int64
	for s.historyTooLong() {
		from := s.prunedTo.Load()
		to := min(s.pruneTo(), from+pruneChunk)
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq > ? AND seq <= ?`, from, to)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			n += k
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: prune history: %w", err)
		}
		s.prunedTo.Store(to)
	}
	if n > 0 {
		s.pruned.Add(uint64(n))
		s.log.Debug("history pruned", "entries", n, "kept_from_seq", s.prunedTo.Load()+1)
		if err := s.pruneSeconds(ctx); err != nil {
			return fmt.Errorf("sqlite: prune history seconds: %w", err)
		}
	}
	return nil
}

// secondsHorizonRows is how many of the oldest value writes left set the
// time before which the chart's aggregates go (pruneSeconds).
const secondsHorizonRows = 1000

// secondsChunk is how many seconds of aggregates one pruning transaction
// deletes.
const secondsChunk = 60

// pruneSeconds deletes the per-second aggregates (history_seconds) older
// than the raw history that is left: before the earliest ts among its
// oldest secondsHorizonRows value writes. Sequence order is mostly time
// order; taking the earliest of many keeps one device's clock running
// ahead from deleting the aggregates of the others. A chunk of seconds a
// transaction, so that commits go on meanwhile.
func (s *Store) pruneSeconds(ctx context.Context) error {
	var horizon sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT min(ts) / 1000 FROM (
		SELECT ts FROM outbox WHERE kind = 1 ORDER BY seq LIMIT ?)`, secondsHorizonRows).Scan(&horizon)
	if err != nil || !horizon.Valid {
		return err
	}
	for {
		// Most prunes leave no second behind: no write transaction then.
		var oldest sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT min(sec) FROM history_seconds`).Scan(&oldest); err != nil ||
			!oldest.Valid || oldest.Int64 >= horizon.Int64 {
			return err
		}
		var k int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM history_seconds WHERE sec < ?1
				AND sec < (SELECT min(sec) FROM history_seconds) + ?2`, horizon.Int64, secondsChunk)
			if err != nil {
				return err
			}
			k, err = res.RowsAffected()
			return err
		})
		if err != nil || k == 0 {
			return err
		}
	}
}
