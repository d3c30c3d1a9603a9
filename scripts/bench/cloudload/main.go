// Command cloudload measures the cloud's Platform API under load: N
// concurrent keep-alive clients send authenticated
// GET /api/v1/organization/device requests for a bounded time, and it
// reports requests/s, latency percentiles, status counts and (in-process)
// peak RSS and CPU time. It only talks to loopback addresses. The load loop
// uses a lean built-in HTTP/1.1 client (raw.go) so that, on a machine
// shared with the server, the measurement spends its CPU on the server;
// -nethttp uses net/http's client instead.
//
// Against a running cloud (disable or raise its api.rate_limit first, or
// the organization's quota answers 429):
//
//	cloudload -url http://127.0.0.1:8000 -email admin@outpost.local -password … -duration 10s
//
// Or with a cloud started in-process on a generated fixture of 1,111 orgs
// (1/10/100/1,000 per level) and 100,000 devices (kept in -data to reuse):
//
//	cloudload -fixture -data /tmp/cloudload -duration 10s -clients 32
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
