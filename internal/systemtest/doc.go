// Package systemtest holds the cross-system tests of Outpost: the real
// outpost-cloud and outpost-gateway binaries, built by the test and run as
// processes on 127.0.0.1, configured by their config files and driven
// through the Platform API and the gateway's installer API, with simulated
// Blynk devices (shared/devicesim) on each gateway. Running the products
// as processes keeps within Go's internal-package rule (no package may
// import both gateway/internal/... and cloud/internal/...) and makes a
// SIGKILL of either side a real process kill. It has no code of its own
// outside tests.
package systemtest
