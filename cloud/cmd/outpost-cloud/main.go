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
// (admin.password_file), never in a log.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
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
	if len(args) > 0 && args[0] == "tree" {
		return cloud.TreeCommand(ctx, args[1:], getenv, stdout, stderr, isTerminal(stdout))
	}
	if len(args) > 0 && args[0] == "migrate-store" {
		return cloud.MigrateStoreCommand(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("outpost-cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML); defaults apply when absent")
	check := fs.Bool("check-config", false, "validate the config and exit")
	listen := fs.String("listen", "", "Platform API address (overrides the config)")
	email := fs.String("admin-email", "", "first Admin's email on first start (env OUTPOST_ADMIN_EMAIL)")
	password := fs.String("admin-password", "", "first Admin's password on first start (env OUTPOST_ADMIN_PASSWORD)")
	pwFile := fs.String("admin-password-file", "", "file (created 0600) for a generated first Admin password")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h asked for the usage
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return 2
	}
	cfg, err := cloud.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	cfg.Admin.Email = cmp.Or(*email, getenv("OUTPOST_ADMIN_EMAIL"), cfg.Admin.Email)
	cfg.Admin.Password = cmp.Or(*password, getenv("OUTPOST_ADMIN_PASSWORD"), cfg.Admin.Password)
	cfg.Admin.PasswordFile = cmp.Or(*pwFile, cfg.Admin.PasswordFile)
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *check {
		fmt.Fprintln(stdout, "config ok")
		return 0
	}
	terminal := isTerminal(stdout)
	if err := cloud.CheckFirstStart(cfg, terminal); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger := cloud.NewLogger(cfg.Log, stderr)

	srv, err := cloud.New(cfg, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	if b := srv.Bootstrap(); b.Created {
		fmt.Fprintf(stdout, "created root organization %q (id %d) with Admin %s\n", b.OrgName, b.OrgID, b.AdminEmail)
		switch {
		case b.Password != "" && cfg.Admin.PasswordFile != "":
			fmt.Fprintf(stdout, "generated Admin password written to %s — read it, then delete the file\n", cfg.Admin.PasswordFile)
		case b.Password != "" && terminal:
			fmt.Fprintf(stdout, "generated Admin password: %s — shown once, keep it\n", b.Password)
		}
	}
	fmt.Fprintf(stdout, "Platform API on %s/api/v1 (OpenAPI: %s/api/v1/openapi.json)\n", srv.URL(), srv.URL())
	if err := srv.Run(ctx); err != nil {
		logger.Error("cloud failed", "err", err)
		return 1
	}
	return 0
}

// isTerminal reports whether w is an interactive terminal, the one place
// a secret may be printed.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
