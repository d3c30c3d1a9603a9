package procmem

import (
	"os"
	"os/exec"
	"testing"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Mem
		ok         bool
	}{
		{"both", "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t4\n", Mem{RSS: 1024 << 10, Peak: 2048 << 10}, true},
		{"no newline at the end", "VmRSS:\t1 kB\nVmHWM:\t2 kB", Mem{RSS: 1 << 10, Peak: 2 << 10}, true},
		{"a kernel thread has neither", "Name:\tkthreadd\nState:\tS\n", Mem{}, false},
		{"not kB", "VmRSS:\t1 MB\nVmHWM:\t2 kB\n", Mem{}, false},
		{"not a number", "VmRSS:\tx kB\nVmHWM:\t2 kB\n", Mem{}, false},
	} {
		got, ok := parseStatus([]byte(tc.text))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: parseStatus = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestReadProcesses: this process and a child read, a gone one does not,
// and reading again does not allocate.
func TestReadProcesses(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc here")
	}
	m, ok := Self()
	if !ok || m.RSS <= 0 || m.Peak < m.RSS {
		t.Fatalf("Self() = %+v, %v", m, ok)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	r := NewReader(cmd.Process.Pid)
	defer r.Close()
	if m, ok := r.Read(); !ok || m.RSS <= 0 {
		t.Errorf("a child: %+v, %v", m, ok)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if m, ok := r.Read(); ok {
		t.Errorf("a process that is gone: %+v", m)
	}
	self := NewReader(0)
	defer self.Close()
	self.Read()
	if n := testing.AllocsPerRun(20, func() { self.Read() }); n > 0 {
		t.Errorf("Read allocates %.0f times", n)
	}
}

var sink []byte

// TestReaderSeesGrowth: each Read is of the process now, not of when the
// file was opened.
func TestReaderSeesGrowth(t *testing.T) {
	r := NewReader(0)
	defer r.Close()
	before, ok := r.Read()
	if !ok {
		t.Skip("no /proc here")
	}
	sink = make([]byte, 64<<20)
	for i := range sink {
		sink[i] = 1
	}
	after, _ := r.Read()
	sink = nil
	if after.RSS-before.RSS < 60<<20 {
		t.Errorf("RSS %d → %d bytes after touching 64 MiB", before.RSS, after.RSS)
	}
}
