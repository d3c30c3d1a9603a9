package cloud

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"outpost/cloud/internal/postgres"
	"outpost/cloud/internal/sqlite"
)

// MigrateStoreCommand is "outpost-cloud migrate-store": it copies a whole
// cloud (tenancy, credentials, audit, telemetry) from its SQLite file to an
// empty PostgreSQL database, in one transaction, and compares the row
// count of every table before committing. Stop the cloud first: rows
// written during the copy would be missed. It returns the exit code: 0
// done, 1 failure, 2 bad usage.
//
//	outpost-cloud migrate-store --from cloud.db --to 'host=/run/postgresql dbname=outpost'
func MigrateStoreCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("outpost-cloud migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the cloud's SQLite database file (required)")
	to := fs.String("to", "", "PostgreSQL connection string or URL of an empty database (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *from == "" || *to == "" {
		fmt.Fprintln(stderr, "usage: outpost-cloud migrate-store --from CLOUD.DB --to POSTGRES-DSN")
		return 2
	}
	counts, err := MigrateStore(ctx, *from, *to)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var total int64
	for _, t := range counts {
		fmt.Fprintf(stdout, "%-20s %d\n", t.Table, t.Rows)
		total += t.Rows
	}
	fmt.Fprintf(stdout, "copied %d rows; every table's count matches the source\n", total)
	return 0
}

// TableCount is the rows one table held.
type TableCount struct {
	Table string
	Rows  int64
}

// MigrateStore copies the cloud in the SQLite file from into the empty
// PostgreSQL database at dsn and returns the rows copied per table (each
// verified against the source's count).
func MigrateStore(ctx context.Context, from, dsn string) ([]TableCount, error) {
	if _, err := os.Stat(from); err != nil {
		return nil, fmt.Errorf("migrate-store: %w", err)
	}
	src, err := sqlite.Open(ctx, from) // brings an older file up to the newest schema first
	if err != nil {
		return nil, fmt.Errorf("migrate-store: %w", err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
	if err != nil {
		return nil, fmt.Errorf("migrate-store: %w", err)
	}
	defer dst.Close()
	copied, err := dst.Import(ctx, sqliteSource{src})
	if err != nil {
		return nil, fmt.Errorf("migrate-store: %w", err)
	}
	var out []TableCount
	for _, t := range postgres.ImportTables() {
		out = append(out, TableCount{Table: t, Rows: copied[t]})
	}
	return out, nil
}

// sqliteSource reads the SQLite store's tables for the PostgreSQL import.
type sqliteSource struct{ *sqlite.Store }

func (s sqliteSource) ReadTable(ctx context.Context, table string, cols []string, order string) (postgres.Rows, error) {
	rows, err := s.Store.ReadTable(ctx, table, cols, order)
	if err != nil {
		return nil, err
	}
	return rows, nil
}
