package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"outpost/gateway/internal/hub"
)

// Group commit
//
// Append puts a record on a bounded channel (blocking when it is full:
// back-pressure, never loss). One committer goroutine takes everything
// queued, up to MaxBatch, and writes it in one transaction on a connection
// it keeps for itself:
//
//  1. every record goes into the outbox, in order, with multi-row INSERTs
//     of prepared statements (binding parameters is the main per-record
//     cost in the pure-Go driver, so it is done once per record, and a
//     chunk of value writes from one source binds only 4 of the 7 columns,
//     see writeKey); the outbox's value writes are also the raw history
//     (see AckOutbox);
//  2. the rare kinds (events, info, properties, metadata) run one
//     prepared statement per record, in order;
//  3. value writes and erases also go to the committer's pending latest
//     values, each pin's last, which reach the latest table at most
//     latestEvery later (see latestEvery).
//
// Two paces (natural group commit):
//
//   - nobody waits (Blynk TCP, MQTT QoS 0: no per-write answer): under
//     load a commit starts at most once per CommitEvery (the window), so
//     batches grow with the load; when idle, a record is committed at once;
//   - a writer waits for its answer (Flush: an HTTP 200 or an MQTT PUBACK
//     is sent only once the write is committed): the next commit starts
//     once the writers the previous commit answered are waiting again (a
//     lone writer: at once), or nothing arrived for crowdGap, and takes
//     everything queued meanwhile, from every device. Starting the moment
//     the previous commit ended took 2 or 3 records a commit from 64 HTTP
//     connections on two cores, each commit costing what 60 do; waiting
//     for the crowd makes commits as large as the number of writers. The
//     window is then only an upper bound: no writer waits for a timer
//     while the writers keep up.
//
// A failed transaction (disk full, I/O error) is rolled back, logged and
// retried with backoff: the batch is never dropped, and its waiters keep
// waiting (back-pressure). Close drains the queue before closing the
// database.

// outboxChunks are the multi-row INSERT sizes, largest first. 128 rows × 7
// columns stays far below SQLite's 32766 parameters.
var outboxChunks = []int{128, 32, 8, 1}

// The committer talks to the driver directly (sql.Conn.Raw), with
// statements prepared on its connection: database/sql converts every
// call's arguments into a fresh []driver.NamedValue, which made it the
// gateway's largest allocator under load (55 % of the bytes, 36 KB per
// 128-row INSERT) and cost 12 % of the commit's CPU.
type committer struct {
	s    *Store
	conn *sql.Conn
	dc   driverConn // valid only inside conn.Raw (see commit)

	outbox      map[int]driver.Stmt // by rows per statement
	writes      map[writeKey]driver.Stmt
	latestN     map[int]driver.Stmt // upsert of distinct pins, by rows per statement
	secondsN    map[int]driver.Stmt // insert of per-second aggregates, by rows per statement
	lastSeq     driver.Stmt
	setCursor   driver.Stmt
	latestErase driver.Stmt
	event       driver.Stmt
	clearOne    driver.Stmt
	clearAll    driver.Stmt
	info        driver.Stmt
	property    driver.Stmt
	meta        driver.Stmt

	batch []hub.Record
	args  []driver.NamedValue
	row   [1]driver.Value

	// Latest values and per-second aggregates not yet in their tables
	// (latest.go, seconds.go).
	pending      map[pinKey]pendingValue
	seconds      map[secKey]secAgg
	pendingSince time.Time // when the oldest pending value came
	forceLatest  bool      // seal and write them in this transaction, due or not
	fl           *flushing // the sealed generation being written, if any
	wroteLatest  bool      // the transaction being written moves the cursor
	secondsStale bool      // a commit failed after noting its batch: read them again
	upRows       []latestRow
}

// driverConn is what the committer needs of the driver's connection.
type driverConn interface {
	driver.ExecerContext
	driver.ConnPrepareContext
}

type pinKey struct {
	device int64
	pin    int
}

// writeKey names an outbox INSERT of value writes from one source, the
// kind, the (empty) name and the source written into the statement as
// literals: a chunk of such records, the whole of a commit under load,
// binds 4 values a row instead of 7. Binding was a quarter of the
// commit's CPU, a text value the dearest (the driver copies it into C
// memory and frees it after the statement) and the driver's largest
// allocation (its list of those copies). BenchmarkCommitBatch/pins=1
// (4,096 writes a commit): 4.1–4.7 → 3.7 cpu-µs a record; pins=4, where
// the latest upsert weighs more, 6.3–6.6 → 5.9–6.3.
type writeKey struct {
	source string
	rows   int
}

// maxWriteSources bounds the sources with their own statements (the
// transports and a few internal writers); others bind all 7 columns.
const maxWriteSources = 8

func newCommitter(ctx context.Context, s *Store) (*committer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: committer connection: %w", err)
	}
	c := &committer{s: s, conn: conn, outbox: make(map[int]driver.Stmt), latestN: make(map[int]driver.Stmt),
		secondsN: make(map[int]driver.Stmt),
		writes:   make(map[writeKey]driver.Stmt)}
	// The checkpointer copies the WAL into the database in the background,
	// so commits never wait for a checkpoint's writes and fsyncs.
	// A larger page cache (32 MiB) for the one connection that writes keeps
	// the latest table and the index ends hot; readers keep the default.
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -32768`); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlite: committer connection: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		d, ok := dc.(driverConn)
		if !ok {
			return fmt.Errorf("driver connection %T cannot prepare and exec with a context", dc)
		}
		return c.prepare(ctx, d)
	})
	if err != nil {
		c.close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	c.batch = make([]hub.Record, 0, s.opts.MaxBatch)
	c.args = make([]driver.NamedValue, 0, outboxChunks[0]*7)
	// What a crash left above the cursor is pending: the first commit
	// that writes the latest values writes it too.
	if err := dropUnfinished(ctx, s.db); err != nil {
		c.close()
		return nil, fmt.Errorf("sqlite: history seconds: %w", err)
	}
	pending, seconds, cursor, err := pendingLatest(ctx, s.db)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("sqlite: latest values: %w", err)
	}
	c.pending, c.seconds = pending, seconds
	c.pendingSince = time.Now()
	s.latestTo.Store(cursor)
	return c, nil
}

// prepare prepares the committer's statements on its connection.
func (c *committer) prepare(ctx context.Context, dc driverConn) error {
	var err error
	prep := func(dst *driver.Stmt, query string) {
		if err != nil {
			return
		}
		var st driver.Stmt
		st, err = dc.PrepareContext(ctx, query)
		if err == nil {
			_, execOK := st.(driver.StmtExecContext)
			_, queryOK := st.(driver.StmtQueryContext)
			if !execOK || !queryOK {
				st.Close()
				err = fmt.Errorf("driver statement %T cannot exec or query with a context", st)
				return
			}
			*dst = st
		}
	}
	for _, n := range outboxChunks {
		var st, lt, sc driver.Stmt
		prep(&st, outboxInsert(n))
		prep(&lt, latestUpsert(n))
		prep(&sc, secondsInsert(n))
		if err == nil {
			c.outbox[n], c.latestN[n], c.secondsN[n] = st, lt, sc
		}
	}
	// The newest sequence number ever given (the newest entry may have
	// left the outbox since).
	prep(&c.lastSeq, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)`)
	prep(&c.setCursor, `INSERT INTO sync_cursors(name, value) VALUES (?, ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value`)
	prep(&c.latestErase, `DELETE FROM latest WHERE device = ? AND pin = ?`)
	prep(&c.event, `INSERT INTO events(device, code, description, ts) VALUES (?, ?, ?, ?)`)
	prep(&c.clearOne, `UPDATE events SET resolved_at = ? WHERE id = (
		SELECT id FROM events WHERE device = ? AND code = ? AND resolved_at IS NULL ORDER BY id DESC LIMIT 1)`)
	prep(&c.clearAll, `UPDATE events SET resolved_at = ? WHERE device = ? AND code = ? AND resolved_at IS NULL`)
	prep(&c.info, `INSERT INTO device_info(device, pairs, ts) VALUES (?, ?, ?)
		ON CONFLICT(device) DO UPDATE SET pairs = excluded.pairs, ts = excluded.ts`)
	prep(&c.property, `INSERT INTO properties(device, pin, name, value, ts) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(device, pin, name) DO UPDATE SET value = excluded.value, ts = excluded.ts`)
	prep(&c.meta, `INSERT INTO meta(device, name, value, ts) VALUES (?, ?, ?, ?)
		ON CONFLICT(device, name) DO UPDATE SET value = excluded.value, ts = excluded.ts`)
	return err
}

func (c *committer) close() {
	_ = c.conn.Raw(func(any) error {
		for _, st := range c.outbox {
			st.Close()
		}
		for _, st := range c.latestN {
			st.Close()
		}
		for _, st := range c.secondsN {
			st.Close()
		}
		for _, st := range c.writes {
			st.Close()
		}
		for _, st := range []driver.Stmt{c.lastSeq, c.setCursor, c.latestErase,
			c.event, c.clearOne, c.clearAll, c.info, c.property, c.meta} {
			if st != nil {
				st.Close()
			}
		}
		return nil
	})
	c.conn.Close()
}

// arg appends v as the next positional argument.
func (c *committer) arg(v driver.Value) {
	c.args = append(c.args, driver.NamedValue{Ordinal: len(c.args) + 1, Value: v})
}

// exec runs st with the arguments gathered by arg, and clears them.
func (c *committer) exec(ctx context.Context, st driver.Stmt) error {
	_, err := st.(driver.StmtExecContext).ExecContext(ctx, c.args)
	clear(c.args) // no references to the batch's strings kept
	c.args = c.args[:0]
	return err
}

// execArgs runs st with args (for the rare record kinds).
func (c *committer) execArgs(ctx context.Context, st driver.Stmt, args ...driver.Value) error {
	for _, a := range args {
		c.arg(a)
	}
	return c.exec(ctx, st)
}

// execSQL runs a statement that takes no arguments.
func (c *committer) execSQL(ctx context.Context, query string) error {
	_, err := c.dc.ExecContext(ctx, query, nil)
	return err
}

func outboxInsert(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO outbox(kind, device, pin, name, value, ts, source) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?)`)
	}
	return b.String()
}

// writesInsert is outboxInsert for rows value writes with an empty name
// from source, given as literals.
func writesInsert(source string, rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO outbox(kind, device, pin, name, value, ts, source) VALUES `)
	row := fmt.Sprintf("(%d,?,?,'',?,?,'%s')", hub.KindWrite, strings.ReplaceAll(source, "'", "''"))
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// writesStmt returns the statement for n value writes with an empty name
// from source, preparing it on first use; nil when source has none (too
// many sources).
func (c *committer) writesStmt(ctx context.Context, source string, n int) (driver.Stmt, error) {
	k := writeKey{source, n}
	if st, ok := c.writes[k]; ok {
		return st, nil
	}
	if _, ok := c.writes[writeKey{source, outboxChunks[0]}]; !ok && len(c.writes) >= maxWriteSources*len(outboxChunks) {
		return nil, nil
	}
	// Every chunk size at once, so the count above is of sources.
	for _, size := range outboxChunks {
		if _, ok := c.writes[writeKey{source, size}]; ok {
			continue // prepared before a failure to prepare another size
		}
		st, err := c.dc.PrepareContext(ctx, writesInsert(source, size))
		if err != nil {
			return nil, err
		}
		if _, ok := st.(driver.StmtExecContext); !ok {
			st.Close()
			return nil, fmt.Errorf("driver statement %T cannot exec with a context", st)
		}
		c.writes[writeKey{source, size}] = st
	}
	return c.writes[k], nil
}

// plainWrites reports whether every record of chunk is a value write with
// an empty name from the first one's source.
func plainWrites(chunk []hub.Record) bool {
	src := chunk[0].Source
	for i := range chunk {
		if r := &chunk[i]; r.Kind != hub.KindWrite || r.Name != "" || r.Source != src {
			return false
		}
	}
	return true
}

// latestUpsert upserts rows latest values of devices that exist: a
// device deleted while its values were pending leaves no rows behind.
func latestUpsert(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO latest(device, pin, value, ts) SELECT column1, column2, column3, column4 FROM (VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?)`)
	}
	b.WriteString(`) WHERE column1 IN (SELECT id FROM devices)
		ON CONFLICT(device, pin) DO UPDATE SET value = excluded.value, ts = excluded.ts`)
	return b.String()
}

// chunkSize is the largest of outboxChunks that n rows fill.
func chunkSize(n int) int {
	for _, size := range outboxChunks {
		if n >= size {
			return size
		}
	}
	return 1
}

// Append queues a record for the next group commit. It blocks only while
// the queue is full. A record appended once Close has begun (one still
// waiting for room then included: Close does not wait for a store that
// may be stuck) is dropped with an error log line and counted in
// Stats.Dropped; a Flush then returns ErrClosed, so no acknowledgement
// claims it.
func (s *Store) Append(r hub.Record) {
	// The queue counts r in accepted as it takes it in, so Flush then
	// waits for every record ahead of the caller's (see Flush).
	if !s.queue.push(r) {
		s.dropped.Add(1)
		s.log.Error("record appended after Close: dropped", "kind", r.Kind, "device", r.DeviceID, "pin", r.Pin)
	}
}

// Flush waits until every record appended before the call is committed:
// what a transport calls before it acknowledges a write. While writers
// wait, the window is not waited for (see gather). A record appended after
// Close was dropped: Flush then returns ErrClosed, never a success for it.
func (s *Store) Flush(ctx context.Context) error {
	// Records are committed in queue order and each was counted as the
	// queue took it in, so once committed reaches this count, all of ours
	// are in.
	target := s.queue.accepted.Load()
	for {
		s.notifyMu.Lock()
		if s.committed.Load() >= target {
			s.notifyMu.Unlock()
			if s.dropped.Load() > 0 {
				return ErrClosed
			}
			return nil
		}
		ch := s.nextDone
		if target <= s.taken {
			ch = s.batchDone // ours is being committed
			s.batchWaiters++
		} else {
			s.nextWaiters.Add(1)
		}
		s.notifyMu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch: // the committer no longer counts us
		case <-ctx.Done():
			s.unwait(ch)
			return ctx.Err()
		case <-s.done:
			if s.committed.Load() >= target && s.dropped.Load() == 0 {
				return nil
			}
			if s.closeErr != nil {
				return s.closeErr
			}
			return ErrClosed
		}
	}
}

// unwait uncounts a Flush that stops waiting on ch before it was closed.
func (s *Store) unwait(ch chan struct{}) {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	select {
	case <-ch: // closed: the committer uncounted it
	default:
		if ch == s.nextDone {
			s.nextWaiters.Add(-1)
		} else if ch == s.batchDone {
			s.batchWaiters--
		}
	}
}

// Close commits everything queued, stops the committer and closes the
// database. Appends after Close are dropped (and logged).
func (s *Store) Close() error {
	if s.queue.close() {
		<-s.done
		return nil
	}
	close(s.stop)
	<-s.done
	close(s.cpStop)
	<-s.cpDone
	<-s.thinDone
	// A final full checkpoint leaves a small WAL behind for the next start.
	s.checkpoint(s.db, "TRUNCATE")
	return errors.Join(s.closeErr, s.db.Close())
}

func (c *committer) run() {
	s := c.s
	defer close(s.done)
	defer c.close()
	window := s.opts.CommitEvery
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lastStart, lastEnd time.Time
	var expect int64 // writers that waited for the last commit: expected back
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for {
		batch := c.batch[:0]
		if d, ok := c.flushDue(); ok {
			idle.Reset(d)
		}
		select {
		case <-s.queue.ready:
		case <-idle.C:
			c.writePending() // no commit came to take them
			continue
		case <-s.stop:
			idle.Stop()
			if c.drain() && (len(c.pending) > 0 || c.fl != nil) {
				c.writePending()
			}
			return
		}
		idle.Stop()
		batch = c.fill(batch)
		if len(batch) == 0 {
			continue // taken by the previous fill
		}
		if time.Since(lastEnd) > window {
			expect = 0 // after a pause, nobody is on the way
		}
		batch = c.gather(batch, window, lastStart, expect, timer)
		expect = s.nextWaiters.Load()
		lastStart = time.Now()
		if !c.commitRetrying(batch) {
			c.abandon(len(batch))
			return
		}
		lastEnd = time.Now()
	}
}

// gather adds records to batch until it is time to commit:
//
//   - while writers wait in Flush (they answer a device): once as many
//     wait as waited for the previous commit, i.e. the writers that commit
//     answered are back with their next writes (natural group commit: no
//     timer while the writers keep up; a lone writer at once); sooner
//     when nothing arrived for crowdGap (writers that went away), and at
//     most window after the gather began;
//   - otherwise once window has passed since the previous commit began
//     (at once when idle);
//   - at MaxBatch records, or when Close begins.
func (c *committer) gather(batch []hub.Record, window time.Duration, lastStart time.Time, expect int64, timer *time.Timer) []hub.Record {
	s := c.s
	if window <= 0 {
		return batch
	}
	begin := time.Now()
	last := begin // when a record or a writer last arrived
	var armed time.Time
	defer timer.Stop()
	for len(batch) < s.opts.MaxBatch {
		deadline := lastStart.Add(window)
		if n := s.nextWaiters.Load(); n > 0 {
			if n >= expect {
				return batch
			}
			deadline = begin.Add(window)
			if d := last.Add(crowdGap); d.Before(deadline) {
				deadline = d
			}
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return batch
		}
		if !deadline.Equal(armed) {
			timer.Reset(wait)
			armed = deadline
		}
		select {
		case <-s.queue.ready:
			n := len(batch)
			batch = c.fill(batch)
			if len(batch) > n {
				last = time.Now()
			}
		case <-timer.C:
			return batch
		case <-s.kick: // a writer began waiting: look again
			last = time.Now()
		case <-s.stop:
			return batch
		}
	}
	return batch
}

// crowdGap ends the wait for the writers of the previous commit when
// nothing arrived for that long: some went away.
const crowdGap = time.Millisecond

// fill adds what is queued right now, up to MaxBatch, without waiting.
func (c *committer) fill(batch []hub.Record) []hub.Record {
	if room := c.s.opts.MaxBatch - len(batch); room > 0 {
		return c.s.queue.take(batch, room)
	}
	return batch
}

// drain commits everything left in the queue once Close has stopped
// Appends, and reports whether it could.
func (c *committer) drain() bool {
	for {
		batch := c.fill(c.batch[:0])
		if len(batch) == 0 {
			return true
		}
		if !c.commitRetrying(batch) {
			c.abandon(len(batch))
			return false
		}
	}
}

// abandon reports what Close could not commit after retrying: it is not
// silent, Close returns the error.
func (c *committer) abandon(inBatch int) {
	left := inBatch + c.s.queue.len()
	c.s.closeErr = fmt.Errorf("sqlite: closing with %d records not committed: %w", left, c.s.closeErr)
	c.s.log.Error("records not committed at close", "records", left, "err", c.s.closeErr)
}

// commitRetrying commits batch, retrying with backoff until it succeeds.
// Once Close was called it gives up after a few attempts (returning false
// with closeErr set) so that a dead disk cannot hang shutdown forever.
func (c *committer) commitRetrying(batch []hub.Record) bool {
	s := c.s
	s.notifyMu.Lock()
	s.taken += uint64(len(batch))
	s.batchDone = s.nextDone
	s.batchWaiters = s.nextWaiters.Swap(0)
	s.nextDone = make(chan struct{})
	s.notifyMu.Unlock()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := c.commit(batch)
		if err == nil {
			s.notifyMu.Lock()
			s.committed.Add(uint64(len(batch)))
			close(s.batchDone) // wakes this batch's waiters
			s.batchWaiters = 0
			s.notifyMu.Unlock()
			return true
		}
		s.failures.Add(1)
		s.log.Error("group commit failed, will retry", "records", len(batch), "attempt", attempt, "err", err)
		stopping := false
		select {
		case <-s.stop:
			stopping = true
		default:
		}
		if stopping && attempt >= 5 {
			s.closeErr = err
			return false
		}
		time.Sleep(backoff) // the committer has nothing else to do meanwhile
		backoff = min(2*backoff, 5*time.Second)
	}
}

// commit writes batch in one transaction and counts it; commitRetrying
// wakes the batch's waiters (BenchmarkCommitBatch calls commit alone).
func (c *committer) commit(batch []hub.Record) error {
	s := c.s
	ctx := context.Background()
	c.wroteLatest = false
	if err := c.reloadSeconds(ctx); err != nil {
		return err
	}
	s.writeMu.Lock()
	err := c.conn.Raw(func(dc any) error {
		c.dc = dc.(driverConn) // checked in newCommitter
		defer func() { c.dc = nil }()
		return c.tx(ctx, batch)
	})
	if err != nil {
		c.secondsStale = true
	} else if c.fl != nil {
		c.sliceCommitted()
	}
	s.writeMu.Unlock()
	if err != nil {
		return err
	}
	if len(batch) == 0 {
		s.kickThinner() // pruning waits for the latest table's cursor
		return nil
	}
	now := time.Now().UnixNano()
	s.histMu.Lock()
	for i := range batch {
		if e := batch[i].Enqueued; e > 0 {
			s.hist.Record(now - e)
		}
	}
	s.histMu.Unlock()
	s.transactions.Add(1)
	s.outboxN.Add(int64(len(batch)))
	s.kickThinner()
	return nil
}

func (c *committer) tx(ctx context.Context, batch []hub.Record) (err error) {
	if err := c.execSQL(ctx, `BEGIN IMMEDIATE`); err != nil {
		// A transaction left open by a failed rollback would make every
		// retry fail the same way: end it.
		c.execSQL(ctx, `ROLLBACK`)
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			c.args = c.args[:0]
			if rerr := c.execSQL(ctx, `ROLLBACK`); rerr != nil {
				c.s.log.Warn("rollback failed", "err", rerr)
			}
		}
	}()
	if c.fl == nil && c.latestDue() {
		if err := c.seal(ctx); err != nil {
			return fmt.Errorf("latest: %w", err)
		}
	}
	if err := c.writeBatch(ctx, batch); err != nil {
		return err
	}
	if c.fl != nil {
		if err := c.writeSlice(ctx); err != nil {
			return fmt.Errorf("latest: %w", err)
		}
	}
	if err := c.execSQL(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (c *committer) writeBatch(ctx context.Context, batch []hub.Record) error {
	others := 0
	for i := 0; i < len(batch); {
		n := chunkSize(len(batch) - i)
		chunk := batch[i : i+n]
		if plainWrites(chunk) {
			st, err := c.writesStmt(ctx, chunk[0].Source, n)
			if err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
			if st != nil {
				for j := range chunk {
					r := &chunk[j]
					c.arg(r.DeviceID)
					c.arg(int64(r.Pin))
					c.arg(r.Value)
					c.arg(r.TS)
				}
				if err := c.exec(ctx, st); err != nil {
					return fmt.Errorf("outbox: %w", err)
				}
				i += n
				continue
			}
		}
		for j := range chunk {
			r := &chunk[j]
			if r.Kind != hub.KindWrite && r.Kind != hub.KindErase {
				others++
			}
			c.arg(int64(r.Kind))
			c.arg(r.DeviceID)
			c.arg(int64(r.Pin))
			c.arg(r.Name)
			c.arg(r.Value)
			c.arg(r.TS)
			c.arg(r.Source)
		}
		if err := c.exec(ctx, c.outbox[n]); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		i += n
	}
	if others > 0 {
		for i := range batch {
			if err := c.apply(ctx, &batch[i]); err != nil {
				return err
			}
		}
	}
	c.note(batch)
	c.noteSeconds(batch)
	return nil
}

// queryInt runs st, which takes no arguments, and returns its one integer.
func (c *committer) queryInt(ctx context.Context, st driver.Stmt) (int64, error) {
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if err := rows.Next(c.row[:]); err != nil {
		return 0, err
	}
	n, ok := c.row[0].(int64)
	if !ok {
		return 0, fmt.Errorf("got %T, want an integer", c.row[0])
	}
	return n, nil
}

// apply writes the tables of one record of a rare kind (value writes and
// erases reach the latest table through note).
func (c *committer) apply(ctx context.Context, r *hub.Record) error {
	var err error
	pin := int64(r.Pin)
	switch r.Kind {
	case hub.KindEvent:
		err = c.execArgs(ctx, c.event, r.DeviceID, r.Name, r.Value, r.TS)
	case hub.KindClear:
		if r.Value == "all" {
			err = c.execArgs(ctx, c.clearAll, r.TS, r.DeviceID, r.Name)
		} else {
			err = c.execArgs(ctx, c.clearOne, r.TS, r.DeviceID, r.Name)
		}
	case hub.KindInfo:
		err = c.execArgs(ctx, c.info, r.DeviceID, r.Value, r.TS)
	case hub.KindProperty:
		err = c.execArgs(ctx, c.property, r.DeviceID, pin, r.Name, r.Value, r.TS)
	case hub.KindMeta:
		err = c.execArgs(ctx, c.meta, r.DeviceID, r.Name, r.Value, r.TS)
	}
	// KindOnline, KindOffline and unknown kinds live in the outbox only.
	if err != nil {
		return fmt.Errorf("record kind %d device %d: %w", r.Kind, r.DeviceID, err)
	}
	return nil
}

// Stats are the store's counters.
type Stats struct {
	Committed    uint64  // records committed
	Transactions uint64  // group-commit transactions
	Failures     uint64  // failed transaction attempts (each retried)
	Dropped      uint64  // records appended after Close
	QueueLen     int     // records waiting now
	P50Ms, P99Ms float64 // Append → committed latency since Open (from Record.Enqueued)
	Outbox       int64   // entries waiting for the cloud
	Thinned      uint64  // history entries dropped by the outbox cap since Open
	Pruned       uint64  // acknowledged history entries deleted by HistoryMax since Open
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Committed:    s.committed.Load(),
		Transactions: s.transactions.Load(),
		Failures:     s.failures.Load(),
		Dropped:      s.dropped.Load(),
		QueueLen:     s.queue.len(),
		Outbox:       s.outboxN.Load(),
		Thinned:      s.thinned.Load(),
		Pruned:       s.pruned.Load(),
	}
	s.histMu.Lock()
	st.P50Ms = float64(s.hist.Quantile(0.50)) / 1e6
	st.P99Ms = float64(s.hist.Quantile(0.99)) / 1e6
	s.histMu.Unlock()
	return st
}

// CommitLatency is the Append → committed latency histogram since Open:
// how many records committed within each bound (ascending, cumulative),
// how many in all and their summed latency (estimated from the buckets).
func (s *Store) CommitLatency(bounds []time.Duration) (counts []uint64, total uint64, sum time.Duration) {
	ns := make([]uint64, len(bounds))
	for i, b := range bounds {
		ns[i] = uint64(max(b, 0))
	}
	s.histMu.Lock()
	defer s.histMu.Unlock()
	c, t, sm := s.hist.Cumulative(ns)
	return c, t, time.Duration(sm)
}
