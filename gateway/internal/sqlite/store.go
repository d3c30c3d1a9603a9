// Package sqlite is the gateway's local store: templates, devices (token
// hashes only), latest values, raw history, events, device info, widget
// properties, metadata and the outbox the cloud sync drains. Raw history is
// the outbox's value writes, kept once the cloud has acknowledged them (up
// to Options.HistoryMax), so that each record is written once. It implements
// hub.Store on a single SQLite file in WAL mode (modernc.org/sqlite, pure
// Go, so the gateway cross-compiles with CGO_ENABLED=0).
//
// Records from the hub are group-committed: Append queues, one committer
// goroutine writes everything queued in one transaction. See commit.go.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/latency"
	"outpost/internal/migrate"
	"outpost/shared/datastream"
	"outpost/shared/secret"
)

// Errors of the store, for errors.Is.
var (
	ErrDuplicateToken = errors.New("sqlite: a device with this token already exists")
	ErrDuplicateUID   = errors.New("sqlite: a device with this UID already exists")
	ErrClosed         = errors.New("sqlite: store closed")
	ErrNewerSchema    = migrate.ErrNewerSchema
)

// Sync is the SQLite synchronous setting, i.e. when a commit reaches the disk.
type Sync string

const (
	// SyncNormal (the default) fsyncs the WAL only at checkpoints. A
	// committed transaction survives a crash or kill -9 of the process (it
	// is in the OS page cache), but a power loss or kernel panic may roll
	// back the last transactions before the most recent checkpoint; the
	// file is never corrupted. It costs no fsync per commit, which is what
	// makes the group-commit rate possible on an SD card.
	SyncNormal Sync = "NORMAL"
	// SyncFull fsyncs the WAL on every commit: a committed record also
	// survives a power loss, at the price of one fsync per transaction
	// (milliseconds on SD cards; the group commit amortises it).
	SyncFull Sync = "FULL"
)

// Options configure Open. Zero values take the documented defaults.
type Options struct {
	Path   string       // the SQLite file (created if missing)
	Logger *slog.Logger // nil: discard
	// CommitEvery is the group-commit window, default 10ms: under load
	// without waiters a commit starts at most this often. While a writer
	// waits in Flush, commits follow each other back to back instead.
	// Negative: commit as soon as records are queued.
	CommitEvery time.Duration
	MaxBatch    int  // records per transaction, default 4096
	QueueSize   int  // Append blocks when this many records wait, default 65536
	Synchronous Sync // default SyncNormal
	// PinHistoryIndex adds an index on the value writes' (device, pin, ts)
	// so that History reads only the requested pin. Off by default: with
	// writes to many pins in each group commit, that index dirties a page
	// per pin per commit and costs about 40 % of the write throughput.
	// Without it, History scans the whole history (seconds for millions of
	// entries: fine for diagnostics; the installer's charts read
	// Aggregate, which needs no index). Turning it on builds the index at
	// Open (once; slow on a large history).
	PinHistoryIndex bool
	// HistoryMax bounds the raw history kept after the cloud acknowledged
	// it: entries more than HistoryMax sequence numbers below the newest
	// acknowledged one are deleted (so at most HistoryMax are kept).
	// 0 keeps everything (the gateway's config holds the default). Entries
	// the cloud does not have yet are bounded by OutboxMax instead.
	HistoryMax int64
	// OutboxMax caps the outbox (entries not yet acknowledged by the
	// cloud); 0 means no cap. Past it, raw history is thinned oldest-first:
	// a value write is deleted only if a newer write of the same pin
	// follows it in the outbox, so the latest value of every pin, events,
	// online/offline, info, properties and metadata are never dropped.
	// Thinning brings the outbox back to 99 % of the cap.
	OutboxMax int64
}

// Event is a logged device event.
type Event struct {
	ID          int64
	DeviceID    int64
	Code        string
	Description string
	TS          int64
	ResolvedAt  int64 // 0 while open
}

var _ hub.Store = (*Store)(nil)

// Store is the SQLite store. Safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger
	db   *sql.DB

	// writeMu serialises write transactions (the committer's and the admin
	// ones) in Go, so no writer ever waits in SQLite's busy handler.
	writeMu sync.Mutex

	queue    *recordQueue
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closeErr error // set by the committer before done is closed
	cpStop   chan struct{}
	cpDone   chan struct{}

	committed    atomic.Uint64
	transactions atomic.Uint64
	failures     atomic.Uint64
	dropped      atomic.Uint64

	// Flush waiters sleep on the channel of the batch that will hold their
	// records, so a commit wakes only its own waiters: with a thousand
	// devices waiting, waking all of them at every commit cost more than
	// the commits.
	notifyMu     sync.Mutex
	taken        uint64        // records in committed batches and the one being committed
	batchDone    chan struct{} // closed once the batch being committed is committed
	nextDone     chan struct{} // closed once the batch after it is committed
	batchWaiters int64         // Flush calls waiting on batchDone
	nextWaiters  atomic.Int64  // on nextDone (changed under notifyMu; the committer reads it)

	histMu sync.Mutex
	hist   latency.Histogram

	outboxN  atomic.Int64  // committed outbox entries above acked (counted at Open, then kept)
	acked    atomic.Int64  // the cloud has every entry up to this seq (cursor outboxAcked)
	prunedTo atomic.Int64  // no entry at or below this seq is left (HistoryMax pruning)
	latestTo atomic.Int64  // the latest table has every value write up to this seq (cursor latestApplied)
	pruned   atomic.Uint64 // history entries deleted by HistoryMax since Open
	thinned  atomic.Uint64 // history entries dropped by the outbox cap
	thinKick chan struct{}
	thinDone chan struct{}
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open opens (creating if needed) the store at opts.Path, applies pending
// migrations and starts the committer.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite: no path")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CommitEvery == 0 {
		opts.CommitEvery = 10 * time.Millisecond
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 4096
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 65536
	}
	if opts.HistoryMax < 0 {
		return nil, fmt.Errorf("sqlite: HistoryMax %d: want 0 (keep everything) or more", opts.HistoryMax)
	}
	switch opts.Synchronous {
	case "":
		opts.Synchronous = SyncNormal
	case SyncNormal, SyncFull:
	default:
		return nil, fmt.Errorf("sqlite: unknown synchronous setting %q", opts.Synchronous)
	}
	// Device token hashes: owner-only, whatever the umask.
	if err := secret.Restrict(opts.Path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := initFile(ctx, opts.Path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(opts))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", opts.Path, err)
	}
	// One connection stays with the committer; the rest serve reads (WAL
	// readers never block the writer) and the occasional admin write.
	db.SetMaxOpenConns(6)
	db.SetMaxIdleConns(6)
	db.SetConnMaxIdleTime(0)
	s := &Store{
		opts:      opts,
		log:       opts.Logger.With("component", "sqlite"),
		db:        db,
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		batchDone: make(chan struct{}),
		nextDone:  make(chan struct{}),
		cpStop:    make(chan struct{}),
		cpDone:    make(chan struct{}),

		thinKick: make(chan struct{}, 1),
		thinDone: make(chan struct{}),
	}
	s.queue = newRecordQueue(opts.QueueSize)
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.pinHistoryIndex(ctx, opts.PinHistoryIndex); err != nil {
		db.Close()
		return nil, err
	}
	c, err := newCommitter(ctx, s)
	if err != nil {
		db.Close()
		return nil, err
	}
	var acked, n, lowest int64
	err = db.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM sync_cursors WHERE name = ?), 0)`, outboxAcked).Scan(&acked)
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE seq > ?`, acked).Scan(&n)
	}
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT COALESCE(MIN(seq), ?) FROM outbox`, acked+1).Scan(&lowest)
	}
	if err != nil {
		c.close()
		db.Close()
		return nil, fmt.Errorf("sqlite: count outbox: %w", err)
	}
	s.acked.Store(acked)
	s.outboxN.Store(n)
	s.prunedTo.Store(lowest - 1)
	go c.run()
	go s.checkpointer()
	go s.thinner()
	s.kickThinner()
	return s, nil
}

// pageSize is the page size of a new database. Every page a commit
// dirties is written whole to the WAL, one frame (two write calls) per
// page; larger pages mean far fewer frames for the scattered updates of a
// group commit (latest values, history index) and shallower B-trees.
const pageSize = 16384

// initFile gives a new database file its page size before anything else
// touches it: the page size cannot change once the file is in WAL mode,
// and the DSN pragmas run journal_mode first.
func initFile(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if n > 0 {
		return nil
	}
	for _, q := range []string{`PRAGMA page_size = ` + strconv.Itoa(pageSize), `PRAGMA journal_mode = WAL`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: initialise %s: %w", path, err)
		}
	}
	return nil
}

// dsn puts every pragma in the DSN so that each pooled connection gets
// them. busy_timeout only matters for other processes opening the file:
// our own writers are serialised by writeMu.
func dsn(opts Options) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+string(opts.Synchronous)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(MEMORY)")
	// After a WAL reset, a WAL file grown larger than this is truncated.
	q.Add("_pragma", "journal_size_limit(67108864)")
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: opts.Path}).EscapedPath() + "?" + q.Encode()
}

// migrate applies the embedded migrations by the rule of internal/migrate
// (PRAGMA user_version; a newer database is refused). Databases written
// before that rule kept their version in a schema_version table; it is
// adopted once.
func (s *Store) migrate(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.adoptSchemaVersionTable(ctx); err != nil {
		return err
	}
	// Some migrations rewrite the history (0009 aggregates it: about 9 s
	// a million writes on a 2-core server): say so before the wait.
	if have, err := migrate.Version(ctx, s.db); err == nil && have > 0 {
		if ms, err := migrate.List(migrationFS, "migrations"); err == nil && len(ms) > 0 && ms[len(ms)-1].Version > have {
			s.log.Info("migrating the database; with a long history this takes a while",
				"path", s.opts.Path, "from_version", have, "to_version", ms[len(ms)-1].Version)
		}
	}
	applied, err := migrate.Apply(ctx, s.db, migrationFS, "migrations")
	for _, m := range applied {
		s.log.Info("applied migration", "version", m.Version, "file", m.Name)
	}
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", s.opts.Path, err)
	}
	return nil
}

// adoptSchemaVersionTable moves the version of a database written before
// the one rule from its schema_version table into user_version and drops
// the table, in one transaction.
func (s *Store) adoptSchemaVersionTable(ctx context.Context) error {
	have, err := migrate.Version(ctx, s.db)
	if err != nil || have != 0 {
		return err
	}
	var tables int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`).Scan(&tables); err != nil || tables == 0 {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
			return fmt.Errorf("sqlite: schema_version: %w", err)
		}
		if err := migrate.SetVersion(ctx, tx, v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DROP TABLE schema_version`)
		return err
	})
}

// pinHistoryIndex creates or drops the optional per-pin history index.
func (s *Store) pinHistoryIndex(ctx context.Context, on bool) error {
	q := `DROP INDEX IF EXISTS history_pin_ts`
	if on {
		q = `CREATE INDEX IF NOT EXISTS history_pin_ts ON outbox(device, pin, ts) WHERE kind = 1`
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("sqlite: history index: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction; the caller holds writeMu.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a read transaction: one snapshot of the database that
// never waits for the committer (WAL). The driver begins a read-only
// transaction deferred, whatever _txlock says.
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// write runs fn in a write transaction serialised with the committer.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.inTx(ctx, fn)
}

// Load reads everything the hub keeps in memory. Values, metadata and
// properties of devices that no longer exist are left out.
func (s *Store) Load(ctx context.Context) (hub.Snapshot, error) {
	var snap hub.Snapshot
	rows, err := s.db.QueryContext(ctx, `SELECT id, definition FROM templates ORDER BY id`)
	if err != nil {
		return snap, fmt.Errorf("sqlite: load templates: %w", err)
	}
	for rows.Next() {
		var id, def string
		if err := rows.Scan(&id, &def); err != nil {
			rows.Close()
			return snap, fmt.Errorf("sqlite: load templates: %w", err)
		}
		var t datastream.Template
		if err := json.Unmarshal([]byte(def), &t); err != nil {
			rows.Close()
			return snap, fmt.Errorf("sqlite: load template %s: %w", id, err)
		}
		snap.Templates = append(snap.Templates, t)
	}
	if err := closeRows(rows); err != nil {
		return snap, fmt.Errorf("sqlite: load templates: %w", err)
	}

	rows, err = s.db.QueryContext(ctx, `SELECT id, uid, name, template_id, token_hash, created_at FROM devices ORDER BY id`)
	if err != nil {
		return snap, fmt.Errorf("sqlite: load devices: %w", err)
	}
	for rows.Next() {
		var d hub.Device
		var hash []byte
		if err := rows.Scan(&d.ID, &d.UID, &d.Name, &d.TemplateID, &hash, &d.CreatedAt); err != nil {
			rows.Close()
			return snap, fmt.Errorf("sqlite: load devices: %w", err)
		}
		if len(hash) != len(d.TokenHash) {
			rows.Close()
			return snap, fmt.Errorf("sqlite: load devices: device %d has a %d-byte token hash", d.ID, len(hash))
		}
		copy(d.TokenHash[:], hash)
		snap.Devices = append(snap.Devices, d)
	}
	if err := closeRows(rows); err != nil {
		return snap, fmt.Errorf("sqlite: load devices: %w", err)
	}

	// The latest table and the outbox entries it lacks, at one moment.
	err = s.read(ctx, func(tx *sql.Tx) error {
		snap.Values, err = loadLatest(ctx, tx)
		return err
	})
	if err != nil {
		return snap, fmt.Errorf("sqlite: load values: %w", err)
	}

	rows, err = s.db.QueryContext(ctx, `SELECT m.device, m.name, m.value, m.ts FROM meta m
		JOIN devices d ON d.id = m.device ORDER BY m.device, m.name`)
	if err != nil {
		return snap, fmt.Errorf("sqlite: load meta: %w", err)
	}
	for rows.Next() {
		var m hub.MetaValue
		if err := rows.Scan(&m.DeviceID, &m.Name, &m.Value, &m.TS); err != nil {
			rows.Close()
			return snap, fmt.Errorf("sqlite: load meta: %w", err)
		}
		snap.Meta = append(snap.Meta, m)
	}
	if err := closeRows(rows); err != nil {
		return snap, fmt.Errorf("sqlite: load meta: %w", err)
	}

	rows, err = s.db.QueryContext(ctx, `SELECT p.device, p.pin, p.name, p.value FROM properties p
		JOIN devices d ON d.id = p.device ORDER BY p.device, p.pin, p.name`)
	if err != nil {
		return snap, fmt.Errorf("sqlite: load properties: %w", err)
	}
	for rows.Next() {
		var p hub.PropertyValue
		if err := rows.Scan(&p.DeviceID, &p.Pin, &p.Name, &p.Value); err != nil {
			rows.Close()
			return snap, fmt.Errorf("sqlite: load properties: %w", err)
		}
		snap.Properties = append(snap.Properties, p)
	}
	if err := closeRows(rows); err != nil {
		return snap, fmt.Errorf("sqlite: load properties: %w", err)
	}
	return snap, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// SaveTemplate creates or replaces a template (validated first).
func (s *Store) SaveTemplate(ctx context.Context, t datastream.Template) error {
	if err := t.Check(); err != nil {
		return err
	}
	def, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("sqlite: save template %s: %w", t.ID, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO templates(id, definition, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
			t.ID, string(def), time.Now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: save template %s: %w", t.ID, err)
	}
	return nil
}

// SQLite extended result codes the store tells apart.
const (
	sqliteConstraintForeignKey = 787
	sqliteConstraintUnique     = 2067
)

func sqliteCode(err error) int {
	var e interface{ Code() int }
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// CreateDevice inserts a device and returns it with its ID (and CreatedAt,
// if zero) set. A token hash or UID already in use is ErrDuplicateToken or
// ErrDuplicateUID; an unknown template is hub.ErrNoTemplate.
func (s *Store) CreateDevice(ctx context.Context, d hub.Device) (hub.Device, error) {
	if d.UID == "" {
		return d, errors.New("sqlite: create device: empty UID")
	}
	if d.CreatedAt == 0 {
		d.CreatedAt = time.Now().UnixMilli()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO devices(uid, name, template_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			d.UID, d.Name, d.TemplateID, d.TokenHash[:], d.CreatedAt)
		if err != nil {
			return err
		}
		if d.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO device_uids(id, uid) VALUES (?, ?)`, d.ID, d.UID)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("sqlite: create device %q: %w", d.Name, deviceError(err, d))
	}
	return d, nil
}

// DeleteDevice removes a device and its values, history, events, info,
// properties and metadata. Records already queued for it are committed
// first; its outbox entries stay for the cloud. Unknown id: hub.ErrNoDevice.
func (s *Store) DeleteDevice(ctx context.Context, id int64) error {
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("sqlite: delete device %d: %w", id, err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return hub.ErrNoDevice
		}
		for _, table := range []string{"latest", "events", "device_info", "properties", "meta"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE device = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete device %d: %w", id, err)
	}
	if err := s.deleteHistory(ctx, id); err != nil {
		return fmt.Errorf("sqlite: delete device %d: history: %w", id, err)
	}
	return nil
}

// deleteHistory removes a device's acknowledged history in sequence
// ranges, one short transaction each, so that commits go on meanwhile
// (there is no device index by default, and history may be large). Its
// entries the cloud does not have yet stay until acknowledged, then age
// out with HistoryMax. Rows left behind by an interruption belong to an id
// that is never reused and are never read.
func (s *Store) deleteHistory(ctx context.Context, id int64) error {
	const step = 50000
	var lo int64
	hi := s.acked.Load()
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MIN(seq), 0) FROM outbox`).Scan(&lo); err != nil {
		return err
	}
	for from := lo; from <= hi; from += step {
		err := s.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq >= ? AND seq < ? AND seq <= ? AND device = ?`, from, from+step, hi, id)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Outbox returns up to limit entries not yet acknowledged with a sequence
// number above after, in order. Sequence numbers follow commit order and
// are never reused.
func (s *Store) Outbox(ctx context.Context, after int64, limit int) ([]hub.OutboxEntry, error) {
	if limit <= 0 {
		limit = 1000
	}
	after = max(after, s.acked.Load())
	rows, err := s.db.QueryContext(ctx, `SELECT o.seq, o.kind, o.device, o.pin, o.name, o.value, o.ts, o.source,
		COALESCE(u.uid, '') FROM outbox o LEFT JOIN device_uids u ON u.id = o.device
		WHERE o.seq > ? ORDER BY o.seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: outbox: %w", err)
	}
	var out []hub.OutboxEntry
	for rows.Next() {
		var e hub.OutboxEntry
		r := &e.Record
		if err := rows.Scan(&e.Seq, &r.Kind, &r.DeviceID, &r.Pin, &r.Name, &r.Value, &r.TS, &r.Source, &e.UID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: outbox: %w", err)
		}
		out = append(out, e)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("sqlite: outbox: %w", err)
	}
	return out, nil
}

// outboxAcked names the sync cursor below which the cloud has everything.
const outboxAcked = "outbox_acked"

// AckOutbox marks the entries up to and including upTo as acknowledged:
// the cloud has them. Value writes stay as history (see HistoryMax); the
// other kinds are deleted, but for erases the latest table does not have
// yet (latest.go), which stay among the history until pruned (readers of
// history take value writes only).
func (s *Store) AckOutbox(ctx context.Context, upTo int64) error {
	// acked only changes under writeMu: a concurrent ack cannot count the
	// same entries twice.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	from := s.acked.Load()
	if upTo <= from {
		return nil
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE seq > ? AND seq <= ?`, from, upTo).Scan(&n); err != nil {
			return err
		}
		// An erase the latest table does not have yet stays (until
		// pruned), or the write it erased would come back at Load.
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq > ? AND seq <= ? AND kind <> ?
			AND NOT (kind = ? AND seq > ?)`, from, upTo, int64(hub.KindWrite), int64(hub.KindErase), s.latestTo.Load()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sync_cursors(name, value) VALUES (?, ?)
			ON CONFLICT(name) DO UPDATE SET value = excluded.value`, outboxAcked, upTo); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: ack outbox up to %d: %w", upTo, err)
	}
	s.acked.Store(upTo)
	s.outboxN.Add(-n)
	s.kickThinner()
	return nil
}

// History returns the raw values of one pin with from ≤ ts ≤ to, oldest
// first, at most limit (default 1000).
func (s *Store) History(ctx context.Context, deviceID int64, pin int, from, to int64, limit int) ([]hub.PinValue, error) {
	if limit <= 0 {
		limit = 1000
	}
	// A deleted device's entries the cloud has not acknowledged yet are
	// still here, waiting: they are no longer its history.
	rows, err := s.db.QueryContext(ctx, `SELECT ts, value FROM outbox
		WHERE kind = 1 AND device = ? AND pin = ? AND ts BETWEEN ? AND ?
		AND EXISTS (SELECT 1 FROM devices WHERE id = ?) ORDER BY ts LIMIT ?`, deviceID, pin, from, to, deviceID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history: %w", err)
	}
	var out []hub.PinValue
	for rows.Next() {
		v := hub.PinValue{DeviceID: deviceID, Pin: pin}
		if err := rows.Scan(&v.TS, &v.Value); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: history: %w", err)
		}
		out = append(out, v)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("sqlite: history: %w", err)
	}
	return out, nil
}

// Events returns a device's events, newest first, at most limit (default 100).
func (s *Store) Events(ctx context.Context, deviceID int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, code, description, ts, COALESCE(resolved_at, 0) FROM events
		WHERE device = ? ORDER BY id DESC LIMIT ?`, deviceID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	var out []Event
	for rows.Next() {
		e := Event{DeviceID: deviceID}
		if err := rows.Scan(&e.ID, &e.Code, &e.Description, &e.TS, &e.ResolvedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: events: %w", err)
		}
		out = append(out, e)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("sqlite: events: %w", err)
	}
	return out, nil
}

// DeviceInfo returns the info pairs (k1, v1, k2, v2, …) the device sent
// last, or nil.
func (s *Store) DeviceInfo(ctx context.Context, deviceID int64) ([]string, error) {
	var pairs string
	err := s.db.QueryRowContext(ctx, `SELECT pairs FROM device_info WHERE device = ?`, deviceID).Scan(&pairs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: device info: %w", err)
	}
	if pairs == "" {
		return []string{}, nil
	}
	return strings.Split(pairs, "\x00"), nil
}
