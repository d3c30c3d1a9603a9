// Package proccpu reads the CPU time the running process, or another one
// (Linux), has used, for benchmarks and load tools that report CPU per
// operation: on a shared machine that moves far less with other load than
// wall-clock rates.
package proccpu

import "time"

// Self returns the user plus system CPU time of this process so far (0
// where the system does not say).
func Self() time.Duration { return self() }
