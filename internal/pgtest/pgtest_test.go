package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// Each test gets its own database; the cluster listens on a socket in its
// private directory only.
func TestDatabasesAreSeparate(t *testing.T) {
	ctx := context.Background()
	a, b := Database(t), Database(t)
	if a == b {
		t.Fatalf("two databases share a DSN: %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE x (v int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("table of one database seen in the other: %d, %v", n, err)
	}
	var listen string
	if err := ca.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "" {
		t.Fatalf("listen_addresses = %q, %v; want no TCP listener", listen, err)
	}
	if _, err := os.Stat(filepath.Join(Shared(t).SocketDir(), ".s.PGSQL.5432")); err != nil {
		t.Fatalf("socket not in the cluster's directory: %v", err)
	}
}

// A template is set up once and copied for each test.
func TestTemplate(t *testing.T) {
	ctx := context.Background()
	setups := 0
	setup := func(ctx context.Context, dsn string) error {
		setups++
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "CREATE TABLE seeded (v int); INSERT INTO seeded VALUES (7)")
		return err
	}
	for range 2 {
		dsn := Template(t, "seeded_tpl", setup)
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		var v int
		if err := c.QueryRow(ctx, "SELECT v FROM seeded").Scan(&v); err != nil || v != 7 {
			t.Fatalf("copy of the template: %d, %v", v, err)
		}
		if _, err := c.Exec(ctx, "UPDATE seeded SET v = 8"); err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
	}
	if setups != 1 {
		t.Fatalf("template set up %d times, want once", setups)
	}
}

func TestBinFindsInstalledPostgres(t *testing.T) {
	dir, err := Bin()
	if err != nil {
		t.Skip(err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("Bin() = %s without %s", dir, name)
		}
	}
}
