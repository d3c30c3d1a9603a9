package proccpu

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Proc is what /proc/<pid>/stat says of a process's CPU use (Linux).
type Proc struct {
	PPID int
	// User and System are its own CPU time; ChildUser and ChildSystem
	// those of its exited children that it waited for.
	User, System, ChildUser, ChildSystem time.Duration
}

// CPU is the process's own user plus system time.
func (p Proc) CPU() time.Duration { return p.User + p.System }

// userHZ is the unit of the times in /proc/<pid>/stat: 100 on Linux,
// whatever the kernel's tick.
const userHZ = 100

// Of reads process pid's /proc/<pid>/stat; false if there is none (the
// process is gone, or this is not Linux).
func Of(pid int) (Proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Proc{}, false
	}
	return parseStat(string(b))
}

// parseStat reads the fields of a stat line that follow the command name
// (which may hold spaces and parentheses: the last ')' ends it).
func parseStat(line string) (Proc, bool) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return Proc{}, false
	}
	f := strings.Fields(line[i+1:])
	if len(f) < 15 {
		return Proc{}, false
	}
	// f[0] is the state, f[1] the parent; f[11..14] utime, stime,
	// cutime, cstime in clock ticks.
	var n [4]int64
	for k := range n {
		v, err := strconv.ParseInt(f[11+k], 10, 64)
		if err != nil {
			return Proc{}, false
		}
		n[k] = v
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Proc{}, false
	}
	tick := time.Second / userHZ
	return Proc{PPID: ppid, User: time.Duration(n[0]) * tick, System: time.Duration(n[1]) * tick,
		ChildUser: time.Duration(n[2]) * tick, ChildSystem: time.Duration(n[3]) * tick}, true
}
