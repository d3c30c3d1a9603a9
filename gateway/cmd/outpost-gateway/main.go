// Command outpost-gateway runs the Outpost edge gateway.
//
//	outpost-gateway [-config FILE]                 run the gateway
//	outpost-gateway -check-config [-config FILE]   validate the config and exit
//	outpost-gateway device add -template T -name N [-config FILE]
//	                                               create a device, print its token once
//	outpost-gateway device list [-config FILE]
//	outpost-gateway claim-code [-config FILE]      print the code that claims this site in the cloud
//
// The program is gateway.Command; this main opens the host's hardware.
package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"outpost/firmware-bridge/hostdrivers"
	"outpost/gateway"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its output injected; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	f, ok := stdout.(*os.File)
	return gateway.Command{Stdout: stdout, Stderr: stderr, Terminal: ok && term.IsTerminal(int(f.Fd())),
		Hardware: hostdrivers.Host}.Run(args)
}
