// Package postgres is the cloud's tenancy.Store and telemetry store on
// PostgreSQL (github.com/jackc/pgx/v5 through a pgxpool): the store for a
// cloud of many companies' sites, shared by any number of outpost-cloud
// instances. Its schema mirrors the SQLite store's table for table (see
// migrations/0001_init.sql), its migrations follow internal/migrate's
// naming and version rules, and it passes the same conformance suites
// (tenancytest, telemetrytest, and extrastest for firmware, automations,
// notifications and webhooks).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"outpost/cloud/internal/tenancy"
)

// Options tune the connection pool; zero values keep pgxpool's defaults.
type Options struct {
	MaxConns int32
	MinConns int32
	Logger   *slog.Logger // nil: discard
	// HistoryRetention drops raw history months older than this (0 keeps
	// everything); the chart rollups stay.
	HistoryRetention time.Duration
}

// Store implements tenancy.Store and the cloud's telemetry store.
type Store struct {
	queries
	pool   *pgxpool.Pool
	logger *slog.Logger
	stop   context.CancelFunc // ends maintain
	done   chan struct{}
}

var _ tenancy.Store = (*Store)(nil)

// db is what a pool and a transaction share.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queries implements tenancy.Tx on the pool or inside one transaction.
// Statements are prepared once per connection by pgx's statement cache.
type queries struct {
	db db
}

type scanner interface{ Scan(dest ...any) error }

// Open connects to the database at dsn (a PostgreSQL connection string or
// URL) and brings its schema up to date.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	if opt.MinConns > 0 {
		cfg.MinConns = opt.MinConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{queries: queries{db: pool}, pool: pool, logger: logger.With("component", "postgres"), done: make(chan struct{})}
	if err := s.EnsurePartitions(ctx, time.Now()); err != nil {
		pool.Close()
		return nil, err
	}
	mctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go func() { defer close(s.done); s.maintain(mctx, opt.HistoryRetention) }()
	return s, nil
}

// Close stops the maintenance and closes the pool. Calling it again does
// nothing.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Atomic runs fn in one transaction (READ COMMITTED; the statements that
// must not race, such as single-use tokens, are single UPDATEs).
func (s *Store) Atomic(ctx context.Context, fn func(tx tenancy.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(&queries{db: tx})
	})
}

// mapErr turns driver errors into coded ones: missing rows are NotFound,
// unique violations Conflict, dangling references NotFound.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &tenancy.Error{Code: tenancy.NotFound, Message: op + ": not found", Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return &tenancy.Error{Code: tenancy.Conflict, Message: op + ": already in use", Err: err}
		case "23503": // foreign_key_violation
			return &tenancy.Error{Code: tenancy.NotFound, Message: op + ": referenced object not found", Err: err}
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// mustAffect turns "no row changed" into NotFound.
func mustAffect(op string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return &tenancy.Error{Code: tenancy.NotFound, Message: op + ": not found"}
	}
	return nil
}

func affected(op string, tag pgconn.CommandTag, err error) (int, error) {
	if err != nil {
		return 0, mapErr(op, err)
	}
	return int(tag.RowsAffected()), nil
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

func b2i(b bool) int64 {
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

// args collects the parameters of a query built piece by piece: add
// returns the placeholder ($n) of the value it appends.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// planned is the arguments of a query, and when perValue is set, the
// mode that plans it for its values each time (pgx's exec mode, not a
// cached prepared statement): a device list's plan depends on how
// selective its filters are, and a generic plan made for one tag walked
// 100,000 rows for another. Other queries keep their cached plan.
func (a args) planned(perValue bool) []any {
	if !perValue {
		return a
	}
	return append([]any{pgx.QueryExecModeExec}, a...)
}

// sqlLimit is a LIMIT value as SQLite reads one: negative means none.
func sqlLimit(n int) any {
	if n < 0 {
		return nil
	}
	return n
}

// pgText makes s storable in a text column, which holds neither NUL nor
// invalid UTF-8 (both become U+FFFD): for text the cloud composes from
// what devices sent (a notification quoting a value, an error message),
// where the SQLite store keeps any string.
func pgText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// likeable reports whether a query can match a name at all: PostgreSQL
// text holds no NUL, so such a query matches nothing.
func likeable(q string) bool { return strings.IndexByte(q, 0) < 0 }

// likePattern builds a substring pattern for ILIKE ... ESCAPE '\'.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// pageSQL returns the keyset or offset clauses for a page ordered by col.
func pageSQL(p tenancy.Page, col string, desc bool, a *args) (where, tail string) {
	order := " ORDER BY " + col
	cmp := " > "
	if desc {
		order += " DESC"
		cmp = " < "
	}
	if p.After > 0 {
		where = " AND " + col + cmp + a.add(p.After)
		return where, order + " LIMIT " + a.add(p.Size)
	}
	return "", order + " LIMIT " + a.add(p.Size) + " OFFSET " + a.add(p.Offset())
}

func pageSize(p tenancy.Page) tenancy.Page {
	if p.Size <= 0 {
		p.Size = tenancy.DefaultPageSize
	}
	return p
}

// scopeSQL restricts col (an org id column) to a Scope.
func scopeSQL(s tenancy.Scope, col string, a *args) string {
	if s.Subtree {
		return col + " IN (SELECT descendant FROM org_closure WHERE ancestor = " + a.add(int64(s.OrgID)) + ")"
	}
	return col + " = " + a.add(int64(s.OrgID))
}

// next is the keyset cursor after a full page.
func next(n, size int, last int64) int64 {
	if n == size && n > 0 {
		return last
	}
	return 0
}

func (q *queries) count(ctx context.Context, op, query string, a ...any) (int, error) {
	var n int
	if err := q.db.QueryRow(ctx, query, a...).Scan(&n); err != nil {
		return 0, mapErr(op, err)
	}
	return n, nil
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, err error, op string, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, v)
	}
	return out, mapErr(op, rows.Err())
}

// insertID runs an INSERT ... RETURNING id.
func (q *queries) insertID(ctx context.Context, op, query string, a ...any) (int64, error) {
	var id int64
	if err := q.db.QueryRow(ctx, query+` RETURNING id`, a...).Scan(&id); err != nil {
		return 0, mapErr(op, err)
	}
	return id, nil
}

// listByID pages a simple table by its integer id.
func listByID[T any](ctx context.Context, q *queries, op, cols, table, cond string, a args, p tenancy.Page, desc, skipTotal bool,
	scan func(scanner) (T, error), id func(T) int64) (tenancy.List[T], error) {
	p = pageSize(p)
	var total int
	if !skipTotal {
		var err error
		if total, err = q.count(ctx, "count "+op, `SELECT count(*) FROM `+table+` WHERE `+cond, a...); err != nil {
			return tenancy.List[T]{}, err
		}
	}
	pw, tail := pageSQL(p, "id", desc, &a)
	rows, err := q.db.Query(ctx, `SELECT `+cols+` FROM `+table+` WHERE `+cond+pw+tail, a...)
	items, err := collect(rows, err, "list "+op, scan)
	if err != nil {
		return tenancy.List[T]{}, err
	}
	l := tenancy.List[T]{Items: items, Total: total}
	if len(items) > 0 {
		l.Next = next(len(items), p.Size, id(items[len(items)-1]))
	}
	return l, nil
}
