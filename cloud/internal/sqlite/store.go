// Package sqlite is the cloud's tenancy.Store on a SQLite file (modernc.org
// driver, no cgo): WAL mode and pragmas in the DSN, embedded migrations, and
// the org tree kept as a closure table so that scope queries are one
// indexed join.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"outpost/cloud/internal/tenancy"
	"outpost/internal/migrate"
	"outpost/shared/secret"
	"outpost/shared/ulid"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements tenancy.Store.
type Store struct {
	// wmu lets one write transaction of this process at a time take
	// SQLite's one write lock: waiting here is a queue, while connections
	// waiting in busy_timeout poll and were seen to stall for its whole
	// 10 s (20 webhook deliveries finishing at once).
	wmu sync.Mutex
	queries
	db    *sql.DB
	stmts *stmtCache
}

var _ tenancy.Store = (*Store)(nil)

// queries implements tenancy.Tx on the database or inside one transaction,
// running statements prepared once per connection.
type queries struct {
	stmts *stmtCache
	tx    *sql.Tx // nil outside Atomic
}

// stmtCache keeps prepared statements by their text. The text set is
// bounded (queries are built from a fixed set of fragments); past maxStmts
// statements run unprepared instead of growing the cache.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const maxStmts = 512

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		return nil, sql.ErrConnDone // the store is closed
	}
	if st, ok := c.m[query]; ok || len(c.m) >= maxStmts {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// direct is what *sql.DB and *sql.Tx share, for unprepared statements.
type direct interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmt returns the cached statement for query, bound to the transaction if
// any, or nil when the cache is full.
func (q *queries) stmt(ctx context.Context, query string) (*sql.Stmt, direct, error) {
	st, err := q.stmts.get(ctx, query)
	var d direct = q.stmts.db
	if q.tx != nil {
		d = q.tx
		if st != nil {
			// Reuses the statement if already prepared on this connection.
			st = q.tx.StmtContext(ctx, st)
		}
	}
	return st, d, err
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, d, err := q.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return d.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (q *queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, d, err := q.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return d.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// errRow is a row whose preparation failed.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (q *queries) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, d, err := q.stmt(ctx, query)
	switch {
	case err != nil:
		return errRow{err}
	case st == nil:
		return d.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: unusable database path %q", path)
	}
	// Password hashes and token hashes: owner-only, whatever the umask.
	if err := secret.Restrict(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Pragmas live in the DSN so every pooled connection gets them;
	// _txlock=immediate takes the write lock at BEGIN, so two writers
	// queue on busy_timeout instead of failing on lock upgrade.
	v := url.Values{}
	pragmas := []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"}
	if strconv.IntSize == 64 {
		// Reads through a memory map instead of a read call per page: the
		// default 2 MB page cache holds little of 100,000 devices, and a
		// device list page fetching 1,000 rows was mostly system calls
		// (tag filter 20 → 5 ms). 32-bit builds keep their address space.
		pragmas = append(pragmas, "mmap_size(268435456)")
	}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	v.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	// One rule for both stores: internal/migrate (a newer database is refused).
	if _, err := migrate.Apply(ctx, db, migrations, "migrations"); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if err := backfillUIDs(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	c := &stmtCache{db: db, m: map[string]*sql.Stmt{}}
	return &Store{queries: queries{stmts: c}, db: db, stmts: c}, nil
}

// backfillUIDs gives every device created before UIDs existed its ULID
// (from its creation time), once; later opens find none to fill.
func backfillUIDs(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT id, created_at FROM devices WHERE uid IS NULL`)
	if err != nil {
		return fmt.Errorf("sqlite: backfill uids: %w", err)
	}
	type row struct{ id, created int64 }
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.created); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: backfill uids: %w", err)
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(todo) == 0 {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: backfill uids: %w", err)
	}
	defer tx.Rollback()
	for _, r := range todo {
		uid, err := ulid.New(time.UnixMilli(r.created), rand.Reader)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET uid = ? WHERE id = ? AND uid IS NULL`, uid, r.id); err != nil {
			return fmt.Errorf("sqlite: backfill uids: %w", err)
		}
	}
	return tx.Commit()
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// Atomic runs fn in one IMMEDIATE transaction.
func (s *Store) Atomic(ctx context.Context, fn func(tx tenancy.Tx) error) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(&queries{stmts: s.stmts, tx: tx}); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// mapErr turns driver errors into coded ones: missing rows are NotFound,
// unique violations Conflict, dangling references NotFound.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &tenancy.Error{Code: tenancy.NotFound, Message: op + ": not found", Err: err}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &tenancy.Error{Code: tenancy.Conflict, Message: op + ": already in use", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &tenancy.Error{Code: tenancy.NotFound, Message: op + ": referenced object not found", Err: err}
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// mustAffect turns "no row changed" into NotFound.
func mustAffect(op string, res sql.Result, err error) error {
	if err != nil {
		return mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n == 0 {
		return &tenancy.Error{Code: tenancy.NotFound, Message: op + ": not found"}
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullID[T ~int64](v T) any {
	if v == 0 {
		return nil
	}
	return int64(v)
}

// likeable reports whether a query can match a name at all. SQLite's LIKE
// reads its pattern up to a NUL, so "x\x00" would match like "x" and
// "\x00" like "" (everything); no name holds a NUL, so such a query
// matches nothing.
func likeable(q string) bool { return strings.IndexByte(q, 0) < 0 }

// likePattern builds a case-insensitive substring pattern (ESCAPE '\').
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// pageSQL returns the keyset or offset clause for a page ordered by col.
func pageSQL(p tenancy.Page, col string, desc bool, args []any) (where string, tail string, outArgs []any) {
	order := " ORDER BY " + col
	cmp := " > ?"
	if desc {
		order += " DESC"
		cmp = " < ?"
	}
	// Limits are bound, not formatted, so the statement text (the key of
	// the statement cache) does not vary with the page.
	if p.After > 0 {
		args = append(args, p.After, p.Size)
		where = " AND " + col + cmp
		tail = order + " LIMIT ?"
	} else {
		args = append(args, p.Size, p.Offset())
		tail = order + " LIMIT ? OFFSET ?"
	}
	return where, tail, args
}

func pageSize(p tenancy.Page) tenancy.Page {
	if p.Size <= 0 {
		p.Size = tenancy.DefaultPageSize
	}
	return p
}

// scopeSQL restricts col (an org id column) to a Scope.
func scopeSQL(s tenancy.Scope, col string) (string, []any) {
	if s.Subtree {
		return col + " IN (SELECT descendant FROM org_closure WHERE ancestor = ?)", []any{int64(s.OrgID)}
	}
	return col + " = ?", []any{int64(s.OrgID)}
}

// next is the keyset cursor after a full page.
func next(n, size int, last int64) int64 {
	if n == size && n > 0 {
		return last
	}
	return 0
}

func (q *queries) count(ctx context.Context, op, query string, args ...any) (int, error) {
	var n int
	if err := q.queryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, mapErr(op, err)
	}
	return n, nil
}

// listByID pages a simple table by its integer id.
func listByID[T any](ctx context.Context, q *queries, op, cols, table, cond string, args []any, p tenancy.Page, desc, skipTotal bool,
	scan func(scanner) (T, error), id func(T) int64) (tenancy.List[T], error) {
	p = pageSize(p)
	var total int
	if !skipTotal {
		var err error
		if total, err = q.count(ctx, "count "+op, `SELECT count(*) FROM `+table+` WHERE `+cond, args...); err != nil {
			return tenancy.List[T]{}, err
		}
	}
	pw, tail, pargs := pageSQL(p, "id", desc, append([]any(nil), args...))
	rows, err := q.query(ctx, `SELECT `+cols+` FROM `+table+` WHERE `+cond+pw+tail, pargs...)
	if err != nil {
		return tenancy.List[T]{}, mapErr("list "+op, err)
	}
	items, err := collect(rows, "list "+op, scan)
	if err != nil {
		return tenancy.List[T]{}, err
	}
	l := tenancy.List[T]{Items: items, Total: total}
	if len(items) > 0 {
		l.Next = next(len(items), p.Size, id(items[len(items)-1]))
	}
	return l, nil
}
