// Command blynkload is a load tool for the gateway's Blynk TCP/TLS server: it
// opens N simulated devices, each writing a timestamp to a virtual pin R
// times a second, and reports msgs/s sent, accepted and persisted (from the
// gateway's stats endpoint), write→committed latency (from the store),
// server→device latency (HTTP updates sent to a sample of devices and timed
// on receipt), and the gateway's peak RSS. It runs for a bounded time and
// only talks to loopback addresses unless -allow-remote is given.
//
//	blynkload -addr 127.0.0.1:8080 -tokens tokens.txt -devices 1000 -rate 200 \
//	  -duration 20s -stats http://127.0.0.1:8083/installer/api/stats \
//	  -http http://127.0.0.1:8082 -pid $GATEWAY_PID
package main

import (
	"os"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}
