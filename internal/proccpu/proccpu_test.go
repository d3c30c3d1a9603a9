package proccpu

import (
	"runtime"
	"testing"
)

// TestSelfCountsWork: spinning for a while shows up as CPU time.
func TestSelfCountsWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no rusage here")
	}
	before := Self()
	x := 0
	for i := range 50_000_000 {
		x ^= i
	}
	if Self() <= before {
		t.Fatalf("CPU time did not grow over a busy loop (%d)", x)
	}
}
