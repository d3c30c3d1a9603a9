// Package bridge connects device bridges — an MCU on a serial line, a group
// of the appliance's GPIO pins — to an Outpost gateway as ordinary Blynk
// device connections (docs/architecture.md principle 4), and keeps track of them for
// the installer.
//
// A bridge never talks to the hub directly: it opens a connection through a
// Connector and speaks the Blynk binary protocol on it, so the gateway's
// session code, token check and rate limits apply exactly as for a TCP
// device. In-process the connection is one end of a net.Pipe whose other end
// is served by the gateway (InProcess); standalone it is a TCP or TLS
// connection to a remote gateway (Dialer).
package bridge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"
)

// Gateway serves one Blynk device session on an existing connection and
// returns when the session ends. *blynkserver.Server satisfies it.
type Gateway interface {
	ServeConn(ctx context.Context, c net.Conn, transport string)
}

// Connector opens a new device connection to the gateway. The bridge logs
// in on it and closes it when the device session ends.
type Connector interface {
	Connect(ctx context.Context) (net.Conn, error)
}

// ConnectorFunc adapts a function to Connector.
type ConnectorFunc func(ctx context.Context) (net.Conn, error)

// Connect calls f.
func (f ConnectorFunc) Connect(ctx context.Context) (net.Conn, error) { return f(ctx) }

// InProcess returns a Connector that hands one end of a net.Pipe to gw,
// labelled with transport ("serial", "gpio"), for every connection. Closing
// the returned connection waits until gw.ServeConn has returned, so when a
// bridge starts a new session the previous one is fully detached (the
// device went offline) and no goroutine outlives the bridge.
func InProcess(gw Gateway, transport string) Connector {
	return ConnectorFunc(func(ctx context.Context) (net.Conn, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bridgeEnd, gatewayEnd := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer gatewayEnd.Close()
			gw.ServeConn(ctx, gatewayEnd, transport)
		}()
		return &pipeConn{Conn: bridgeEnd, done: done}, nil
	})
}

// pipeConn is the bridge's end of an in-process session.
type pipeConn struct {
	net.Conn
	done chan struct{}
	once sync.Once
	err  error
}

func (c *pipeConn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		<-c.done
	})
	return c.err
}

// Dialer connects to a remote gateway's Blynk listener over TCP, or TLS
// when TLS is set.
type Dialer struct {
	Addr    string        // host:port of the gateway's Blynk (TCP) or Blynk TLS listener
	TLS     *tls.Config   // nil: plain TCP
	Timeout time.Duration // connect (and TLS handshake) timeout; 0 means 10s
}

// Connect dials the gateway.
func (d Dialer) Connect(ctx context.Context) (net.Conn, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nd := &net.Dialer{}
	if d.TLS == nil {
		c, err := nd.DialContext(ctx, "tcp", d.Addr)
		if err != nil {
			return nil, fmt.Errorf("bridge: dial %s: %w", d.Addr, err)
		}
		return c, nil
	}
	td := &tls.Dialer{NetDialer: nd, Config: d.TLS}
	c, err := td.DialContext(ctx, "tcp", d.Addr)
	if err != nil {
		return nil, fmt.Errorf("bridge: dial tls %s: %w", d.Addr, err)
	}
	return c, nil
}

// Backoff yields exponentially growing delays between Min and Max. The zero
// value uses 100ms and 1s, which brings a replugged device back within 2s.
// Not safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// Next returns the delay to wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi < lo {
		hi = max(lo, time.Second)
	}
	if b.next < lo {
		b.next = lo
	}
	d := b.next
	b.next = min(b.next*2, hi)
	return d
}

// Reset starts the sequence again from Min (after a success).
func (b *Backoff) Reset() { b.next = 0 }

// Wait sleeps for the next delay or until ctx is done.
func (b *Backoff) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
