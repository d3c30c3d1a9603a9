// Command outpost-cloud runs the Outpost cloud: the multi-tenant Platform
// API on a SQLite database, or on PostgreSQL shared by many instances.
//
//	outpost-cloud [-config FILE] [-listen ADDR] [-admin-email E] [-admin-password P]
//	outpost-cloud -check-config [-config FILE]   validate the config and exit
//	outpost-cloud tree create --name N --admin-email E [-config FILE]   add a root tree
//	outpost-cloud migrate-store --from CLOUD.DB --to POSTGRES-DSN        copy a cloud to PostgreSQL
//
// The first start creates the root organization and its first Admin. The
// Admin's email and password come from the flags, else OUTPOST_ADMIN_EMAIL
// and OUTPOST_ADMIN_PASSWORD, else the config; a missing password is
// generated and shown once: on the terminal, or in -admin-password-file
// (admin.password_file), never in a log. The program is cloud.Command.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"outpost/cloud"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main with its environment injected; it runs until ctx ends and
// returns the exit code: 0 clean stop, 1 runtime failure, 2 bad usage or
// configuration.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return cloud.Command{Stdout: stdout, Stderr: stderr, Getenv: getenv, Terminal: isTerminal(stdout)}.Run(ctx, args)
}

// isTerminal reports whether w is an interactive terminal, the one place
// a secret may be printed.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
