//go:build unix

package sqlite

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of this process, so that a
// benchmark can report CPU per record, which other load on the machine
// distorts far less than wall-clock throughput.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
