package serialbridge

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/devicesim/fakeserver"
)

// A pty moves bytes at memory speed whatever baud rate is set, so these
// benchmarks measure what the bridge adds (framing, validation, the hop to
// the gateway session), and report only that. Compare with the time the
// same frame takes on a real UART (8N1: 10 bits a byte); the frame used
// below, a 12-byte "vw 1 42", takes:
//
//	baud        wire time   frames/s at most
//	115,200     1.04 ms     960
//	1,000,000   120 µs      8,333

func quietRig(b *testing.B, onWrite func(fakeserver.Write)) (*rig, *mcu) {
	r := newRig(b, func(o *Options) { o.Logger = slog.New(slog.DiscardHandler) })
	r.gw.OnWrite = onWrite
	m := r.sock.plug(b)
	poll.Until(b, "port open", func() bool { return r.bridge.Status().State == "waiting" })
	m.login(b, token)
	return r, m
}

// BenchmarkPtyBaseline is one frame through the bare pty (MCU side to the
// port side), without the bridge: the part of the bridge benchmarks that
// is the pty's own cost.
func BenchmarkPtyBaseline(b *testing.B) {
	sock := &socket{}
	m := sock.plug(b)
	port, err := sock.open(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer port.Close()
	f := frame(blynk.CmdHardware, 2, "vw\x001\x0042")
	buf := make([]byte, len(f))
	for b.Loop() {
		m.raw(b, f)
		if _, err := io.ReadFull(port, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteLatency is one vw frame from the MCU until the gateway
// session has parsed it, one at a time (ns/op = latency).
func BenchmarkWriteLatency(b *testing.B) {
	got := make(chan struct{}, 1)
	_, m := quietRig(b, func(fakeserver.Write) { got <- struct{}{} })
	f := frame(blynk.CmdHardware, 2, "vw\x001\x0042")
	for b.Loop() {
		m.raw(b, f)
		<-got
	}
}

// BenchmarkDownLatency is one vw from the gateway until the MCU has it.
func BenchmarkDownLatency(b *testing.B) {
	r, m := quietRig(b, nil)
	for b.Loop() {
		r.gw.VirtualWrite(token, 5, "1")
		<-m.in
	}
}

// BenchmarkThroughput streams frames from the MCU as fast as the pty takes
// them (frames/s; the wire's own limits are in the table above).
func BenchmarkThroughput(b *testing.B) {
	done := make(chan struct{}, 1024)
	_, m := quietRig(b, func(fakeserver.Write) { done <- struct{}{} })
	f := frame(blynk.CmdHardware, 2, "vw\x001\x0042")
	batch := make([]byte, 0, 64*len(f))
	for range 64 {
		batch = append(batch, f...)
	}
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		n := min(64, b.N-sent)
		if _, err := m.f.Write(batch[:n*len(f)]); err != nil {
			b.Fatal(err)
		}
		for range n {
			<-done
		}
		sent += n
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
}
