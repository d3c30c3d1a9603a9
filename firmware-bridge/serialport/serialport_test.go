package serialport

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/creack/pty"

	"outpost/firmware-bridge/serialbridge"
)

// TestOpenerOnPty opens a pseudo-terminal through go.bug.st/serial, as the
// mains do with a real port, and passes bytes both ways.
func TestOpenerOnPty(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	cfg, err := serialbridge.PortConfig{Path: slave.Name()}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	port, err := Opener(cfg)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	if n, ok := port.(interface{ Name() string }); !ok || n.Name() != slave.Name() {
		t.Errorf("port name not reported")
	}
	frame := []byte{0x1d, 0x00, 0x01, 0x00, 0x02, '\r', '\n'} // bytes a cooked tty would mangle
	if _, err := master.Write(frame); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(frame))
	if _, err := io.ReadFull(port, got); err != nil || string(got) != string(frame) {
		t.Fatalf("read %x %v, want %x (raw mode)", got, err, frame)
	}
	if _, err := port.Write(frame); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(master, got); err != nil || string(got) != string(frame) {
		t.Fatalf("master read %x %v", got, err)
	}
}

func TestOpenerVIDPIDNotPresent(t *testing.T) {
	cfg, _ := serialbridge.PortConfig{VIDPID: "ffff:fffe"}.Normalize()
	_, err := Opener(cfg)(context.Background())
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err %v, want ErrNotFound", err)
	}
}
