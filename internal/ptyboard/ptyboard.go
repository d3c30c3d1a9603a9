// Package ptyboard is test support: a board on a serial port, simulated
// with a pseudo-terminal. The code under test opens the slave by path (as
// /dev/ttyACM0); the test speaks for the MCU on the master.
package ptyboard

import (
	"os"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Plug makes a raw pty pair and returns the slave's path and the MCU's end
// (in Go's poller, so that closing it ends a blocked Read). Both close when
// the test ends; without pseudo-terminals the test is skipped.
func Plug(t testing.TB) (path string, mcu *os.File) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	// creack/pty leaves the master blocking, outside Go's poller.
	fd, err := unix.Dup(int(master.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	master.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	mcu = os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { mcu.Close(); slave.Close() })
	return slave.Name(), mcu
}
