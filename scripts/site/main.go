// Command site runs a whole Outpost site in one process: the cloud, the
// gateway claimed into a demo client org, demo devices and simulated ones
// (package internal/demosite). State lives in -data (default
// ./outpost-site) and survives restarts.
//
//	go run ./scripts/site
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"outpost/internal/demosite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main with its surroundings injected; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return demosite.Run(ctx, args, stdout, stderr)
}
