// Package poll is the one way tests wait for something another goroutine
// or process makes true: call a condition until it holds or a deadline
// passes, then fail the test saying what was awaited. Polling, not sleeping
// for a guessed time, keeps tests both fast and free of timing
// assumptions; the deadline only bounds a test that would otherwise hang.
package poll

import (
	"testing"
	"time"
)

// Timeout is the deadline of Until and NoError: generous, since the
// machines that run the tests may be loaded.
const Timeout = 10 * time.Second

// Until calls cond until it returns true, failing the test after Timeout.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, what, Timeout, cond)
}

// Within calls cond until it returns true, failing the test after d.
func Within(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if err := wait(d, func() error {
		if cond() {
			return nil
		}
		return errFalse
	}); err != nil {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// NoError calls f until it returns nil, failing the test after Timeout
// with f's last error.
func NoError(t testing.TB, what string, f func() error) {
	t.Helper()
	if err := wait(Timeout, f); err != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", Timeout, what, err)
	}
}

type falseError struct{}

func (falseError) Error() string { return "condition false" }

var errFalse error = falseError{}

// wait calls f until it returns nil or d has passed, and returns its last
// error. The interval starts at 1 ms, so a fast condition is seen at once,
// and doubles up to 20 ms, so a slow one costs little CPU.
func wait(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	interval := time.Millisecond
	for {
		err := f()
		if err == nil || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(interval) // the polling interval, not a wait for an event
		interval = min(2*interval, 20*time.Millisecond)
	}
}
