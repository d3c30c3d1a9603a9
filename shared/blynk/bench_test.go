package blynk

import (
	"io"
	"testing"
)

// loopReader serves the same bytes forever, so a benchmark measures the
// decoder rather than the source.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// vwStream is 64 frames "vw 7 23.5000000", as a device sends them.
func vwStream() []byte {
	var b []byte
	for i := range 64 {
		b, _ = AppendMessage(b, Message{Cmd: CmdHardware, ID: uint16(i + 1), Body: AppendVirtualWrite(nil, 7, "23.5000000")})
	}
	return b
}

func BenchmarkReadVirtualWrite(b *testing.B) {
	r := NewReader(&loopReader{data: vwStream()}, 4096)
	var values [][]byte
	b.ReportAllocs()
	b.SetBytes(HeaderSize + int64(len("vw\x007\x0023.5000000")))
	for b.Loop() {
		m, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		h, err := ParseHardware(values, m.Body)
		if err != nil || h.Pin != 7 {
			b.Fatal(h, err)
		}
		values = h.Values
	}
}

func BenchmarkReadFields(b *testing.B) {
	r := NewReader(&loopReader{data: vwStream()}, 4096)
	var fields [][]byte
	b.ReportAllocs()
	for b.Loop() {
		m, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		fields = Fields(fields, m.Body)
		if len(fields) != 3 {
			b.Fatal(fields)
		}
	}
}

func BenchmarkWriteVirtualWrite(b *testing.B) {
	w := NewWriter(io.Discard)
	var body []byte
	var ids IDs
	b.ReportAllocs()
	for b.Loop() {
		body = AppendVirtualWrite(body[:0], 7, "23.5000000")
		if err := w.Write(Message{Cmd: CmdHardware, ID: ids.Next(), Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	var out, body []byte
	b.ReportAllocs()
	for b.Loop() {
		body = AppendVirtualWrite(body[:0], 7, "23.5000000")
		var err error
		if out, err = AppendMessage(out[:0], Message{Cmd: CmdHardware, ID: 1, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}
