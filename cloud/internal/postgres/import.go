package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Source is a cloud store whose tables can be read by name: the SQLite
// store, when a cloud moves to PostgreSQL (outpost-cloud migrate-store).
// Both stores have the same tables and columns (migrations/0001_init.sql
// and the later ones).
type Source interface {
	// ReadTable reads cols of table in the order given (an ORDER BY list).
	ReadTable(ctx context.Context, table string, cols []string, order string) (Rows, error)
	// CountRows counts the rows of table.
	CountRows(ctx context.Context, table string) (int64, error)
}

// Rows is a source table being read.
type Rows interface {
	Next() bool
	Values() ([]any, error)
	Err() error
	Close() error
}

// importTables is every table of a cloud, in an order that satisfies the
// foreign keys, with the order rows are copied in (parents before
// children: an org's depth is below its children's).
var importTables = []struct{ name, order string }{
	{"orgs", "depth, id"}, {"org_closure", "ancestor, descendant"}, {"org_device_counts", "org_id"},
	{"users", "id"}, {"roles", "root_id, id"}, {"role_perms", "org_id, role_id"},
	{"templates", "id"}, {"template_orgs", "org_id, template_id"}, {"static_tokens", "id"},
	{"locations", "id"}, {"devices", "id"}, {"org_template_counts", "org_id, template_id"},
	{"tags", "id"}, {"device_tags", "device_id, tag_id"}, {"user_tags", "user_id, tag_id"}, {"invitations", "id"},
	{"password_resets", "token_hash"}, {"sessions", "id"}, {"oauth_clients", "id"},
	{"access_tokens", "token_hash"}, {"refresh_tokens", "token_hash"}, {"gateways", "id"},
	{"audit", "id"}, {"deleted_device_uids", "uid"}, {"telemetry_cursors", "gateway_id, epoch"},
	{"device_values", "device_uid, pin"}, {"device_history", "id"}, {"device_events", "id"},
	{"device_status", "device_uid"}, {"device_props", "device_uid, kind, pin, name"},
	{"history_minutes", "device_uid, pin, minute"}, {"history_hours", "device_uid, pin, hour"},
	{"device_meta", "device_id, name"}, {"ota_firmware", "id"}, {"ota_shipments", "id"},
	{"ota_device_status", "shipment_id, device_id"}, {"automations", "id"}, {"automation_runs", "id"},
	{"notifications", "id"}, {"webhooks", "id"}, {"webhook_deliveries", "id"}, {"webhook_audit_cursor", "id"},
	{"event_counters", "device_uid, code"}, {"event_days", "device_uid"}, {"event_offline", "device_uid"},
}

// Import copies a whole cloud from src into this store, which must hold
// no organization yet, in one transaction: the triggers that maintain the
// copies and counters are off during the copy (src's copies and counters
// come along), identity sequences continue after the copied ids, and the
// row count of every table is compared with src's before the commit.
// It returns the rows copied per table.
func (s *Store) Import(ctx context.Context, src Source) (map[string]int64, error) {
	copied := map[string]int64{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM orgs`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the target already holds %d organizations: import into an empty database", n)
		}
		// The migrations started the webhooks' audit cursor at this empty
		// log's end: src's cursor, which matches its log, replaces it.
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_audit_cursor`); err != nil {
			return err
		}
		for _, t := range importTables {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+t.name+` DISABLE TRIGGER USER`); err != nil {
				return err
			}
		}
		for _, t := range importTables {
			k, err := importTable(ctx, tx, src, t.name, t.order)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			copied[t.name] = k
		}
		for _, t := range importTables {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+t.name+` ENABLE TRIGGER USER`); err != nil {
				return err
			}
			var identity bool
			if err := tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, 'id') IS NOT NULL
				FROM information_schema.columns WHERE table_name = $1 AND column_name = 'id'
				UNION ALL SELECT false LIMIT 1`, t.name).Scan(&identity); err != nil {
				return err
			}
			if identity {
				if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+t.name+`', 'id'),
					coalesce((SELECT max(id) FROM `+t.name+`), 0) + 1, false)`); err != nil {
					return fmt.Errorf("%s: sequence: %w", t.name, err)
				}
			}
			want, err := src.CountRows(ctx, t.name)
			if err != nil {
				return fmt.Errorf("%s: count source: %w", t.name, err)
			}
			var got int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&got); err != nil {
				return err
			}
			if got != want || copied[t.name] != want {
				return fmt.Errorf("%s: %d rows in the source, %d copied, %d in the target", t.name, want, copied[t.name], got)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	return copied, nil
}

// importTable copies one table with COPY, converting each value to the
// column's PostgreSQL type (SQLite keeps NUL-holding text as text, some
// integers as reals and the like).
func importTable(ctx context.Context, tx pgx.Tx, src Source, table, order string) (int64, error) {
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
		ORDER BY ordinal_position`, table)
	if err != nil {
		return 0, err
	}
	var cols, types []string
	for rows.Next() {
		var c, t string
		if err := rows.Scan(&c, &t); err != nil {
			rows.Close()
			return 0, err
		}
		cols, types = append(cols, c), append(types, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	in, err := src.ReadTable(ctx, table, cols, order)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	return tx.CopyFrom(ctx, pgx.Identifier{table}, cols, &converting{Rows: in, types: types})
}

// converting is a source table as pgx.CopyFromSource, each value
// converted to its column's type.
type converting struct {
	Rows
	types []string
}

func (c *converting) Values() ([]any, error) {
	vs, err := c.Rows.Values()
	if err != nil {
		return nil, err
	}
	for i, v := range vs {
		if vs[i], err = convert(v, c.types[i]); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

func convert(v any, pgType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "bytea":
		switch x := v.(type) {
		case string:
			return []byte(x), nil
		case []byte:
			return x, nil
		}
	case "text":
		switch x := v.(type) {
		case string:
			if strings.IndexByte(x, 0) >= 0 {
				return nil, fmt.Errorf("text holds NUL: %q", x)
			}
			return x, nil
		case []byte:
			return string(x), nil
		}
	case "bigint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return int64(x), nil
		}
	case "double precision":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	}
	return nil, fmt.Errorf("cannot store %T in a %s column", v, pgType)
}

// ImportTables names the tables Import copies, in copy order.
func ImportTables() []string {
	out := make([]string, len(importTables))
	for i, t := range importTables {
		out[i] = t.name
	}
	return out
}
