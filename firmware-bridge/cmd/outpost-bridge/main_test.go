package main

import (
	"io"
	"testing"
)

// -h is a request, not a mistake: exit 0; an unknown flag is 2.
func TestFlagExitCodes(t *testing.T) {
	for args, want := range map[string]int{"-h": 0, "-nope": 2} {
		if code := run([]string{args}, io.Discard, io.Discard); code != want {
			t.Errorf("%s: exit %d, want %d", args, code, want)
		}
	}
}
