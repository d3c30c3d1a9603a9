// Package procmem reads how much memory a process holds, from
// /proc/<pid>/status (Linux), for benchmarks and load tools that report
// memory per connection or per operation.
package procmem

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
)

// Mem is a process's resident set size now and its peak (the kernel's
// high-water mark), in bytes.
type Mem struct {
	RSS, Peak int64
}

// Reader reads one process's figures again and again, keeping its status
// file open, without allocating (a sampler must not grow what it
// measures).
type Reader struct {
	path string
	f    *os.File
	buf  []byte
}

// NewReader reads process pid; pid 0 is this process.
func NewReader(pid int) *Reader {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	return &Reader{path: path, buf: make([]byte, 4096)}
}

// Read returns the process's figures now; false if they cannot be read
// (the process is gone, or this is not Linux).
func (r *Reader) Read() (Mem, bool) {
	if r.f == nil {
		f, err := os.Open(r.path)
		if err != nil {
			return Mem{}, false
		}
		r.f = f
	}
	// The kernel writes the file anew for each read from its start.
	n, err := r.f.ReadAt(r.buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Mem{}, false
	}
	return parseStatus(r.buf[:n])
}

// Close closes the status file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Self returns this process's figures (false where they cannot be read).
func Self() (Mem, bool) {
	r := NewReader(0)
	defer r.Close()
	return r.Read()
}

// parseStatus takes VmRSS and VmHWM from the text of a status file.
func parseStatus(b []byte) (Mem, bool) {
	var m Mem
	found := 0
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &m.RSS
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &m.Peak
		default:
			continue
		}
		kb, ok := kilobytes(line[6:])
		if !ok {
			return Mem{}, false
		}
		*dst = kb << 10
		found++
	}
	return m, found == 2
}

// kilobytes reads "   1234 kB".
func kilobytes(b []byte) (int64, bool) {
	b = bytes.TrimSpace(b)
	digits, ok := bytes.CutSuffix(b, []byte(" kB"))
	if !ok || len(digits) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range bytes.TrimSpace(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
