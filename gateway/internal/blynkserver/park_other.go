//go:build !unix

package blynkserver

import (
	"net"
	"syscall"
)

// rawConn: sessions on this platform always keep their read buffer.
func rawConn(net.Conn) syscall.RawConn { return nil }

func waitReadable(syscall.RawConn) error { return nil }
