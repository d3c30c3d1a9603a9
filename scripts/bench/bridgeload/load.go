package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"outpost/firmware-bridge/bridge"
	"outpost/firmware-bridge/serialbridge"
	"outpost/internal/procmem"
	"outpost/shared/blynk"
)

func run(addr, token string, n int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Direct: the gateway's own cost.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	direct, err := pings(newPeer(c), token, n)
	c.Close()
	if err != nil {
		return fmt.Errorf("direct: %w", err)
	}

	master, slave, err := pty.Open()
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	if err := makeRaw(slave); err != nil {
		return err
	}
	b := serialbridge.New(serialbridge.Options{
		Name: "bridgeload", Port: slave.Name(),
		Open: func(context.Context) (io.ReadWriteCloser, error) {
			return os.OpenFile(slave.Name(), os.O_RDWR|unix.O_NOCTTY, 0)
		},
		Connector: bridge.Dialer{Addr: addr},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	for b.Status().State != bridge.StateWaiting {
		time.Sleep(time.Millisecond)
	}
	mcu := newPeer(master)
	viaBridge, err := pings(mcu, token, n)
	if err != nil {
		return fmt.Errorf("via bridge: %w", err)
	}
	rate, err := stream(mcu, n)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	cancel()
	<-done

	const frameLen = 12 // "vw\0 1\0 42" + header
	fmt.Printf("ping RTT direct TCP     p50 %v  p99 %v\n", pct(direct, 50), pct(direct, 99))
	fmt.Printf("ping RTT through bridge p50 %v  p99 %v\n", pct(viaBridge, 50), pct(viaBridge, 99))
	fmt.Printf("bridge adds per direction (p50) ≈ %v\n", (pct(viaBridge, 50)-pct(direct, 50))/2)
	fmt.Printf("vw frames through bridge: %.0f frames/s (pty)\n", rate)
	for _, baud := range []int{115200, 1000000} {
		fmt.Printf("wire at %7d baud: %v per %d-byte frame, %d frames/s max\n",
			baud, time.Duration(frameLen*10)*time.Second/time.Duration(baud), frameLen, baud/10/frameLen)
	}
	fmt.Printf("peak RSS %s\n", peakRSS())
	return nil
}

// peer is one end speaking Blynk: a TCP connection or the MCU's UART.
type peer struct {
	w  *blynk.Writer
	rd *blynk.Reader
}

func newPeer(c io.ReadWriter) *peer { return &peer{w: blynk.NewWriter(c), rd: blynk.NewReader(c, 0)} }

// pings logs in on c and measures n ping round trips.
func pings(p *peer, token string, n int) ([]time.Duration, error) {
	w, rd := p.w, p.rd
	if err := w.Write(blynk.Message{Cmd: blynk.CmdHWLogin, ID: 1, Body: []byte(token)}); err != nil {
		return nil, err
	}
	if err := await(rd, 1); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	out := make([]time.Duration, 0, n)
	for i := range n {
		id := uint16(i%60000 + 2)
		t0 := time.Now()
		if err := w.Write(blynk.Message{Cmd: blynk.CmdPing, ID: id}); err != nil {
			return nil, err
		}
		if err := await(rd, id); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out, nil
}

// stream writes n vw frames then a ping, and returns frames/s until the pong.
// The gateway handles a session's frames in order, so the pong means all
// frames were processed. Keep n within the gateway's flood burst or raise
// its flood_rate/flood_burst: frames over the limit are dropped, not slowed.
func stream(p *peer, n int) (float64, error) {
	w, rd := p.w, p.rd
	t0 := time.Now()
	for i := range n {
		if err := w.Write(blynk.Message{Cmd: blynk.CmdHardware, ID: uint16(i%60000 + 2), Body: []byte("vw\x001\x0042")}); err != nil {
			return 0, err
		}
	}
	if err := w.Write(blynk.Message{Cmd: blynk.CmdPing, ID: 65000}); err != nil {
		return 0, err
	}
	if err := await(rd, 65000); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func await(rd *blynk.Reader, id uint16) error {
	for {
		m, err := rd.Next()
		if err != nil {
			return err
		}
		if m.Cmd == blynk.CmdResponse && m.ID == id {
			if m.Status != blynk.StatusSuccess {
				return m.Status
			}
			return nil
		}
		if m.Cmd == blynk.CmdResponse && m.Status == blynk.StatusQuotaLimit {
			return errors.New("gateway flood limit hit: raise blynk.flood_rate/flood_burst for this run")
		}
	}
}

func pct(d []time.Duration, p int) time.Duration { return d[(len(d)-1)*p/100] }

func makeRaw(f *os.File) error {
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio)
}

func peakRSS() string {
	m, ok := procmem.Self()
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%d kB", m.Peak>>10)
}
