// Command screenshots takes screenshots of the console's main pages at
// 1440 px and 375 px wide (and the device page in dark mode) into a
// folder. It builds and starts the one-command demo site (scripts/site)
// on free ports in a temporary directory, signs in as its admin in
// headless chromium and waits until the simulated devices have reported.
//
//	go run ./scripts/screenshots -out /tmp/shots
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	out := flag.String("out", "screenshots", "directory for the PNG files")
	wait := flag.Duration("wait", 20*time.Second, "how long the simulated devices write before the shots")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}
