// Package pgtest gives tests a real PostgreSQL: one private, throwaway
// cluster per test binary (initdb in a temporary directory, a Unix socket
// in that directory and no TCP listener), and a fresh database per test.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	dsn := pgtest.Database(t) // skips the test when PostgreSQL is absent
//
// The cluster starts on the first Database call and stops when Main
// returns; a test binary killed on the way takes the server with it (the
// server gets SIGQUIT, PostgreSQL's immediate shutdown, when the test
// process dies). When the test runs as root, the cluster runs as the
// `postgres` user: PostgreSQL refuses to run as root.
//
// Binaries are looked up on PATH, then under /usr/lib/postgresql/*/bin
// (Debian installs them there, off PATH). Tests skip, saying so, only when
// they are absent; a cluster that fails to start fails the test.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned by Bin when PostgreSQL is not installed.
var ErrNoBinaries = errors.New("pgtest: PostgreSQL's initdb and postgres were found neither on PATH nor under /usr/lib/postgresql/*/bin")

// Bin returns the directory holding initdb and postgres.
func Bin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir = filepath.Dir(real) // /usr/local/bin/initdb -> the version's bin
		}
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first (numeric, so 9 < 15).
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Cluster is a running private PostgreSQL.
type Cluster struct {
	dir    string // temporary directory: data/, the socket, the log
	cmd    *exec.Cmd
	exited chan struct{}
	admin  string // DSN of the maintenance database
	n      atomic.Int64
}

// SocketDir is the directory of the cluster's Unix socket.
func (c *Cluster) SocketDir() string { return c.dir }

// DSN is the connection string of database name.
func (c *Cluster) DSN(name string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", c.dir, name)
}

// Start initialises and starts a cluster in a new temporary directory.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	base := os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs a postgres user to run the cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The postgres user must reach the directory: a root-only TMPDIR
		// would not do.
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgtest")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{dir: dir, exited: make(chan struct{})}
	c.admin = c.DSN("postgres")
	fail := func(err error) (*Cluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w\n%s", err, out))
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	defer logf.Close()
	// Durability is not what tests check: fsync off makes the cluster fast
	// on a loaded machine. Benchmarks that must count each commit's flush
	// set PGTEST_DURABLE=1 (PostgreSQL's defaults). No TCP listener; the
	// socket lives in dir.
	args := []string{"-D", data, "-c", "listen_addresses=", "-c", "unix_socket_directories=" + dir, "-p", "5432",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB"}
	if os.Getenv("PGTEST_DURABLE") != "1" {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	// PGTEST_CONF adds settings (name=value, space-separated), e.g. the
	// memory and WAL sizes of a production server for a benchmark.
	for _, kv := range strings.Fields(os.Getenv("PGTEST_CONF")) {
		args = append(args, "-c", kv)
	}
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		return fail(fmt.Errorf("pgtest: start postgres: %w", err))
	}
	go func() { c.cmd.Wait(); close(c.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.admin)
		if err == nil {
			conn.Close(ctx)
			return c, nil
		}
		select {
		case <-c.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return fail(fmt.Errorf("pgtest: postgres exited: %s", log))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("pgtest: postgres not accepting connections: %w", err)
		}
	}
}

// Stop shuts the cluster down (fast shutdown) and removes its directory.
func (c *Cluster) Stop() {
	if c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
	os.RemoveAll(c.dir)
}

// CreateDatabase creates a new database, a copy of template ("" is
// PostgreSQL's template1), and returns its DSN.
func (c *Cluster) CreateDatabase(ctx context.Context, template string) (string, error) {
	name := fmt.Sprintf("test_%d", c.n.Add(1))
	q := "CREATE DATABASE " + name
	if template != "" {
		q += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if err := c.exec(ctx, q); err != nil {
		return "", err
	}
	return c.DSN(name), nil
}

// DropDatabase drops a database, closing its remaining connections.
func (c *Cluster) DropDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	return c.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)")
}

func (c *Cluster) exec(ctx context.Context, q string) error {
	conn, err := pgx.Connect(ctx, c.admin)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("pgtest: %s: %w", q, err)
	}
	return nil
}

// The test binary's cluster, started on first use.
var (
	mu       sync.Mutex
	shared   *Cluster
	startErr error
	started  bool
	inMain   bool
	templMu  sync.Mutex
	template = map[string]error{}
)

// Main runs the tests and stops the binary's cluster afterwards; call it
// from TestMain.
func Main(m *testing.M) int {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
	return code
}

// Shared returns the test binary's cluster, starting it on first use. It
// skips the test when PostgreSQL is not installed and fails it when the
// cluster cannot start.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !inMain {
		t.Fatal("pgtest: call pgtest.Main from the package's TestMain")
	}
	if !started {
		started = true
		shared, startErr = Start(context.Background())
	}
	switch {
	case errors.Is(startErr, ErrNoBinaries):
		t.Skip(startErr.Error() + " (Debian: apt-get install postgresql)")
	case startErr != nil:
		t.Fatal(startErr)
	}
	return shared
}

// Database returns the DSN of a new, empty database for this test,
// dropped when the test ends.
func Database(t testing.TB) string {
	return fromTemplate(t, "")
}

// Template returns the DSN of a new database copied from the template
// name, which setup fills once per test binary (for instance by running
// migrations): tests then start from a migrated database without paying
// for the migrations each time.
func Template(t testing.TB, name string, setup func(ctx context.Context, dsn string) error) string {
	t.Helper()
	c := Shared(t)
	templMu.Lock()
	err, done := template[name]
	if !done {
		err = makeTemplate(c, name, setup)
		template[name] = err
	}
	templMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return fromTemplate(t, name)
}

func makeTemplate(c *Cluster, name string, setup func(ctx context.Context, dsn string) error) error {
	ctx := context.Background()
	if strings.ContainsAny(name, `"`) || name == "" {
		return fmt.Errorf("pgtest: bad template name %q", name)
	}
	if err := c.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return err
	}
	// setup closes its connections before returning: a template with open
	// connections cannot be copied.
	if err := setup(ctx, c.DSN(name)); err != nil {
		return fmt.Errorf("pgtest: template %s: %w", name, err)
	}
	return nil
}

func fromTemplate(t testing.TB, name string) string {
	t.Helper()
	c := Shared(t)
	dsn, err := c.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.DropDatabase(context.Background(), dsn); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return dsn
}
