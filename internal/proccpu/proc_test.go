package proccpu

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Proc
		ok         bool
	}{
		{"plain", "4242 (postgres) S 4200 4242 4242 0 -1 4194560 900 0 0 0 150 25 7 3 20 0 1 0 12345 0 0",
			Proc{PPID: 4200, User: 1500 * time.Millisecond, System: 250 * time.Millisecond, ChildUser: 70 * time.Millisecond, ChildSystem: 30 * time.Millisecond}, true},
		// A command name may hold spaces and parentheses.
		{"odd name", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 2 1 0 0 20 0 1 0 5 0 0",
			Proc{PPID: 1, User: 20 * time.Millisecond, System: 10 * time.Millisecond}, true},
		{"cut short", "7 (x) R 1 7 7", Proc{}, false},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 1 0 0 20", Proc{}, false},
		{"no name", "garbage", Proc{}, false},
	} {
		got, ok := parseStat(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: parseStat = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestOfSelf: this process's own entry reads, with this process's parent.
func TestOfSelf(t *testing.T) {
	p, ok := Of(os.Getpid())
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		if ok {
			t.Fatalf("Of read %+v without /proc", p)
		}
		t.Skip("no /proc here")
	}
	if !ok || p.PPID != os.Getppid() {
		t.Fatalf("Of(self) = %+v, %v; want parent %d", p, ok, os.Getppid())
	}
	if _, ok := Of(-1); ok {
		t.Error("Of(-1) read something")
	}
}
