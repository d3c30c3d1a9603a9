//go:build unix

package blynkserver

import (
	"net"
	"syscall"
)

// rawConn returns the raw socket of a plain TCP connection, else nil. TLS
// and pipes keep their read buffer: TLS may hold decrypted bytes the
// socket no longer shows.
func rawConn(c net.Conn) syscall.RawConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// waitReadable blocks (honouring the read deadline) until the socket has
// bytes or an end to report, without reading them: it peeks one byte.
func waitReadable(rc syscall.RawConn) error {
	return rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EINTR
	})
}
