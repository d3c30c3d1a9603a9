package cloud

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/secret"
)

// Command is the outpost-cloud program with its surroundings injected
// (the main only says whether stdout is a terminal).
type Command struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Terminal reports whether Stdout is an interactive terminal, the one
	// place a secret (a generated password) may be printed.
	Terminal bool
}

// Run runs the command line args (without the program name) until ctx
// ends and returns the exit code: 0 clean stop, 1 runtime failure, 2 bad
// usage or configuration.
func (c Command) Run(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "tree" {
		return treeCommand(ctx, args[1:], c.Getenv, c.Stdout, c.Stderr, c.Terminal)
	}
	if len(args) > 0 && args[0] == "migrate-store" {
		return MigrateStoreCommand(ctx, args[1:], c.Stdout, c.Stderr)
	}
	fs := flag.NewFlagSet("outpost-cloud", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
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
		fmt.Fprintf(c.Stderr, "unexpected arguments: %v\n", fs.Args())
		return 2
	}
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(c.Stderr, err)
		return 2
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	cfg.Admin.Email = cmp.Or(*email, c.Getenv("OUTPOST_ADMIN_EMAIL"), cfg.Admin.Email)
	cfg.Admin.Password = cmp.Or(*password, c.Getenv("OUTPOST_ADMIN_PASSWORD"), cfg.Admin.Password)
	cfg.Admin.PasswordFile = cmp.Or(*pwFile, cfg.Admin.PasswordFile)
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(c.Stderr, err)
		return 2
	}
	if *check {
		fmt.Fprintln(c.Stdout, "config ok")
		return 0
	}
	terminal := c.Terminal
	if err := CheckFirstStart(cfg, terminal); err != nil {
		fmt.Fprintln(c.Stderr, err)
		return 2
	}
	logger := cfg.Log.Logger(c.Stderr)

	srv, err := New(cfg, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	if b := srv.Bootstrap(); b.Created {
		fmt.Fprintf(c.Stdout, "created root organization %q (id %d) with Admin %s\n", b.OrgName, b.OrgID, b.AdminEmail)
		switch {
		case b.Password != "" && cfg.Admin.PasswordFile != "":
			fmt.Fprintf(c.Stdout, "generated Admin password written to %s — read it, then delete the file\n", cfg.Admin.PasswordFile)
		case b.Password != "" && terminal:
			fmt.Fprintf(c.Stdout, "generated Admin password: %s — shown once, keep it\n", b.Password)
		}
	}
	fmt.Fprintf(c.Stdout, "Platform API on %s/api/v1 (OpenAPI: %s/api/v1/openapi.json)\n", srv.URL(), srv.URL())
	if err := srv.Run(ctx); err != nil {
		logger.Error("cloud failed", "err", err)
		return 1
	}
	return 0
}

// treeCommand is "outpost-cloud tree create": it adds another root
// organization tree with its first Admin (a new customer of a multi-tenant
// cloud) to the database the config names. Whoever can run it owns the
// database, so it needs no account; over the API only a super admin may
// do the same (tenancy.Tree.IsSuperAdmin). A running cloud picks the new
// tree up at the new Admin's first request. It returns the exit code: 0
// done, 1 failure, 2 bad usage.
//
//	outpost-cloud tree create --name NAME --admin-email EMAIL [--admin-name N]
//	    [--admin-password P | env OUTPOST_TREE_ADMIN_PASSWORD] [--password-file F] [-config FILE]
//
// A generated password goes to --password-file (created 0600) when given,
// else to stdout once, and only when stdout is a terminal: otherwise the
// command refuses before creating anything.
func treeCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, terminal bool) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: outpost-cloud tree create --name NAME --admin-email EMAIL [--admin-name NAME] [--password-file FILE] [-config FILE]")
		return 2
	}
	fs := flag.NewFlagSet("outpost-cloud tree create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML) naming the database")
	name := fs.String("name", "", "name of the new root organization (required)")
	email := fs.String("admin-email", "", "email of its first Admin (required)")
	adminName := fs.String("admin-name", "Admin", "name of its first Admin")
	password := fs.String("admin-password", "", "the Admin's password (env OUTPOST_TREE_ADMIN_PASSWORD); generated when empty")
	pwFile := fs.String("password-file", "", "write a generated password to this file (0600) instead of stdout")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *name == "" || *email == "" {
		fmt.Fprintln(stderr, "tree create: --name and --admin-email are required, and nothing else")
		return 2
	}
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	pw := *password
	if pw == "" {
		pw = getenv("OUTPOST_TREE_ADMIN_PASSWORD")
	}
	generated := pw == ""
	if generated && *pwFile == "" && !terminal {
		// The one rule for secrets: a terminal or a file the operator names,
		// never an output a log may keep.
		fmt.Fprintln(stderr, "tree create: a generated password is shown only on a terminal: give --password-file or --admin-password")
		return 2
	}
	if generated {
		pw = auth.RandomPassword()
	}
	b, err := createTree(ctx, cfg, TreeSpec{OrgName: *name, AdminEmail: *email, AdminName: *adminName, Password: pw})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "created root organization %q (id %d) with Admin %s\n", b.OrgName, b.OrgID, b.AdminEmail)
	if !generated {
		return 0
	}
	if *pwFile != "" {
		if err := secret.WriteFile(*pwFile, []byte(pw+"\n")); err != nil {
			fmt.Fprintln(stderr, "the tree was created but its Admin password could not be written:", err)
			return 1
		}
		fmt.Fprintf(stdout, "generated Admin password written to %s\n", *pwFile)
		return 0
	}
	fmt.Fprintf(stdout, "generated Admin password: %s — shown once, keep it\n", pw)
	return 0
}

// createTree opens the config's database and bootstraps a tree in it.
func createTree(ctx context.Context, cfg Config, t TreeSpec) (Bootstrap, error) {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return Bootstrap{}, err
	}
	defer store.Close()
	svc, err := tenancy.New(ctx, tenancy.Deps{Store: store, Hasher: auth.Passwords{Cost: cfg.Auth.BcryptCost}},
		tenancy.Config{MaxDepth: cfg.Tenancy.MaxDepth, MinPassword: cfg.Auth.MinPassword})
	if err != nil {
		return Bootstrap{}, fmt.Errorf("cloud: %w", err)
	}
	org, admin, err := svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: t.OrgName, AdminEmail: t.AdminEmail, AdminName: t.AdminName, Password: t.Password})
	if err != nil {
		return Bootstrap{}, fmt.Errorf("cloud: create tree: %w", err)
	}
	return Bootstrap{Created: true, OrgID: int64(org.ID), OrgName: org.Name, AdminEmail: admin.Email}, nil
}
