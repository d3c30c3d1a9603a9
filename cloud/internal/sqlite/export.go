package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// TableRows reads one table for a copy to another store (the PostgreSQL
// store's Import).
type TableRows struct {
	rows *sql.Rows
	vals []any
	err  error
}

// ReadTable reads cols of table ordered by order (an ORDER BY list). The
// names come from the importing store's own schema; they are quoted.
func (s *Store) ReadTable(ctx context.Context, table string, cols []string, order string) (*TableRows, error) {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quote(c)
	}
	var ob []string
	for _, c := range strings.Split(order, ",") {
		ob = append(ob, quote(strings.TrimSpace(c)))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+quote(table)+
		` ORDER BY `+strings.Join(ob, ", "))
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s: %w", table, err)
	}
	return &TableRows{rows: rows, vals: make([]any, len(cols))}, nil
}

// CountRows counts the rows of table.
func (s *Store) CountRows(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", table, err)
	}
	return n, nil
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// Next advances to the next row.
func (r *TableRows) Next() bool { return r.rows.Next() }

// Values returns the row's values: int64, float64, string, []byte or nil.
func (r *TableRows) Values() ([]any, error) {
	ptrs := make([]any, len(r.vals))
	for i := range r.vals {
		ptrs[i] = &r.vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]any, len(r.vals))
	copy(out, r.vals)
	return out, nil
}

// Err is the error that ended the rows, if any.
func (r *TableRows) Err() error { return r.rows.Err() }

// Close releases the rows.
func (r *TableRows) Close() error { return r.rows.Close() }
