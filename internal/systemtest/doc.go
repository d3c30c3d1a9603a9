// Package systemtest holds the cross-system tests of Outpost: a cloud and
// several gateways, each the real code, talking over real sockets on
// 127.0.0.1. It has no code of its own outside tests.
//
// Go's internal-package rule lets no single package import both
// gateway/internal/... and cloud/internal/..., so until the gateway and
// cloud wiring packages expose the sync link, the tests run each side as a
// process: the test binaries of gateway/internal/cloudlink (a gateway on a
// real hub and SQLite store, its devices counting upwards) and of
// cloud/internal/gatewaysync (the real endpoint with a durable test
// telemetry file), started in their helper modes. That also makes SIGKILL
// of either side a real process kill.
package systemtest
