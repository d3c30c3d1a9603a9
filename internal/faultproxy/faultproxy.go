// Package faultproxy is a TCP proxy for partition tests: it forwards
// connections to a target and can cut them all at once (a reset path) or
// black-hole them (a silent path: connections stay open, nothing flows).
package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards every connection it accepts to its target.
type Proxy struct {
	ln   net.Listener
	hole atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

// Start listens on 127.0.0.1:0 and forwards to target until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			wg.Go(func() { p.pipe(u, c) })
			wg.Go(func() { p.pipe(c, u) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		wg.Wait()
	})
	return p
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Blackhole makes the proxy discard everything, in both directions,
// without closing anything. A connection that was black-holed stays dead
// after Blackhole(false), as a half-open TCP path would; new connections
// flow again.
func (p *Proxy) Blackhole(on bool) { p.hole.Store(on) }

// Cut closes every connection made so far (both ends).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	dead := false
	for {
		n, err := src.Read(buf)
		if n > 0 {
			dead = dead || p.hole.Load()
			if !dead {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
