package pgtest

import (
	"path/filepath"
	"strconv"
	"time"

	"outpost/internal/proccpu"
)

// CPU returns the user+system CPU time the cluster's processes have used
// so far: the postmaster, its live processes (backends, WAL writer,
// checkpointer...) and those that exited. With the test process's own
// CPU time it gives a benchmark's CPU per operation, server included,
// which other load on a shared machine distorts far less than wall-clock
// throughput. It reads /proc (Linux); elsewhere it returns 0.
func (c *Cluster) CPU() time.Duration {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	// The postmaster's children (each its own session) are found by
	// parent; the exited ones count in its children's times.
	pm := c.cmd.Process.Pid
	paths, _ := filepath.Glob("/proc/[0-9]*")
	var cpu time.Duration
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		if st, ok := proccpu.Of(pid); ok && (pid == pm || st.PPID == pm) {
			cpu += st.CPU()
			if pid == pm {
				cpu += st.ChildUser + st.ChildSystem
			}
		}
	}
	return cpu
}
