package pgtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
	pm := strconv.Itoa(c.cmd.Process.Pid)
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range paths {
		f := procStat(p)
		if len(f) < 15 || f[1] != pm && filepath.Base(filepath.Dir(p)) != pm { // f[1]: the parent
			continue
		}
		for _, i := range []int{11, 12} { // utime, stime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	if f := procStat("/proc/" + pm + "/stat"); len(f) >= 15 {
		for _, i := range []int{13, 14} { // cutime, cstime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ: 100 on Linux
}

// procStat returns the fields of a /proc/<pid>/stat file after the
// command name (which may hold spaces): f[0] is the state, nil if
// unreadable.
func procStat(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}
