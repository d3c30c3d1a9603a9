package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves line echo on 127.0.0.1:0.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, msg string) (string, error) {
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestProxy(t *testing.T) {
	p := Start(t, echo(t))
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	c, r := dial()
	if got, err := roundTrip(c, r, "one"); err != nil || got != "one\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}

	// Black-holed: the write succeeds, nothing comes back, nothing closes.
	p.Blackhole(true)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var ne net.Error
	if got, err := roundTrip(c, r, "two"); !errors.As(err, &ne) || !ne.Timeout() || got != "" {
		t.Fatalf("black-holed: %q, %v; want a read timeout", got, err)
	}
	p.Blackhole(false)
	c2, r2 := dial()
	if got, err := roundTrip(c2, r2, "three"); err != nil || got != "three\n" {
		t.Fatalf("a new connection after the black hole: %q, %v", got, err)
	}

	// Cut: the client sees its connection end.
	p.Cut()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r2.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("after Cut: read %v, want EOF", err)
	}
}
