// Package fakeserver is a minimal in-process Blynk server for testing
// clients of the binary protocol (devicesim, the firmware bridges, load
// tools) without the gateway, which those packages may not import. It
// follows docs/protocol.md where a client can tell: login answers 200 or 9,
// PING/INTERNAL/PROPERTY/GROUP/EVENT_* get 200, a good HARDWARE write gets
// nothing and a bad one 2, HARDWARE_SYNC answers "vw" per stored pin with the
// request id. It records every frame and every write it receives. It serves
// TCP listeners (Serve, Start) and single connections such as one end of a
// net.Pipe (ServeConn, the bridges' in-process gateway).
package fakeserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"outpost/shared/blynk"
)

// Received is one frame the server read, with the token of its connection.
type Received struct {
	Token string
	Msg   blynk.Message // Body is a copy
	At    time.Time
}

// Write is one accepted "vw" write.
type Write struct {
	Token string
	Pin   int
	Value string // the values joined by NUL, as on the wire
	At    time.Time
}

// Server accepts Blynk device connections.
type Server struct {
	tokens map[string]bool
	// OnWrite, if set before Serve, is called for every accepted "vw" write
	// (on the connection's goroutine; it must not block).
	OnWrite func(Write)
	// DiscardWrites, if set before Serve, keeps accepted "vw" writes out of
	// Received and Writes (they are still counted and stored), for load tests.
	DiscardWrites bool

	writeCount atomic.Uint64

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever received or conns change
	received []Received
	writes   []Write
	logins   map[string]int // token → accepted logins
	conns    map[string]*conn
	values   map[string]map[int][][]byte // token → pin → latest values
	lns      []net.Listener
	wg       sync.WaitGroup
	closed   bool
}

type conn struct {
	c   net.Conn
	mu  sync.Mutex
	w   *blynk.Writer
	ids blynk.IDs
}

func (c *conn) send(m blynk.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(m)
}

func (c *conn) sendNew(cmd blynk.Command, body []byte) (uint16, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.ids.Next()
	return id, c.w.Write(blynk.Message{Cmd: cmd, ID: id, Body: body})
}

// New returns a server that accepts the given tokens.
func New(tokens ...string) *Server {
	s := &Server{
		tokens:  map[string]bool{},
		changed: make(chan struct{}),
		conns:   map[string]*conn{},
		values:  map[string]map[int][][]byte{},
		logins:  map[string]int{},
	}
	for _, t := range tokens {
		s.tokens[t] = true
	}
	return s
}

// Start returns a server for tokens listening on 127.0.0.1:0 in the
// background.
func Start(tokens ...string) (*Server, net.Addr, error) {
	s := New(tokens...)
	addr, err := s.Start()
	return s, addr, err
}

// Start listens on 127.0.0.1:0 and serves in the background. Set the
// exported fields before calling it.
func (s *Server) Start() (net.Addr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go s.Serve(ln)
	return ln.Addr(), nil
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return net.ErrClosed
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

// ServeConn serves one connection until it fails, the client misbehaves,
// ctx is done or the server is closed. transport is ignored: the argument
// makes *Server a bridge.Gateway, the bridges' in-process connector.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, transport string) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	s.serveConn(c)
}

// Close stops the listeners and every connection, and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for _, c := range s.conns {
		c.c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) record(token string, m blynk.Message) {
	if m.Body != nil {
		m.Body = bytes.Clone(m.Body)
	}
	s.mu.Lock()
	s.received = append(s.received, Received{Token: token, Msg: m, At: time.Now()})
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Server) serveConn(nc net.Conn) {
	defer nc.Close()
	r := blynk.NewReader(nc, 4096)
	c := &conn{c: nc, w: blynk.NewWriter(nc)}
	m, err := r.Next()
	if err != nil {
		return
	}
	if m.Cmd != blynk.CmdHWLogin && m.Cmd != blynk.CmdLogin {
		return // anything before login: close (§7.2)
	}
	token := string(m.Body)
	s.record(token, m)
	if !s.tokens[token] {
		c.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusInvalidToken})
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if old := s.conns[token]; old != nil {
		old.c.Close() // a new login replaces the old connection
	}
	s.conns[token] = c
	s.logins[token]++
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.conns[token] == c {
			delete(s.conns, token)
			s.notifyLocked()
		}
		s.mu.Unlock()
	}()
	if err := c.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusSuccess}); err != nil {
		return
	}
	var values [][]byte
	for {
		m, err := r.Next()
		if err != nil {
			return
		}
		if !(s.DiscardWrites && m.Cmd == blynk.CmdHardware) {
			s.record(token, m)
		}
		ok := blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusSuccess}
		switch m.Cmd {
		case blynk.CmdPing, blynk.CmdInternal, blynk.CmdGroup, blynk.CmdEventLog, blynk.CmdEventClear:
			err = c.send(ok)
		case blynk.CmdHWLogin, blynk.CmdLogin:
			err = c.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusAlreadyRegistered})
		case blynk.CmdProperty:
			if _, perr := blynk.ParseProperty(nil, m.Body); perr != nil {
				ok.Status = blynk.StatusIllegalCommandBody
			}
			err = c.send(ok)
		case blynk.CmdHardware:
			h, herr := blynk.ParseHardware(values, m.Body)
			values = h.Values
			switch {
			case herr != nil:
				err = c.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusIllegalCommand})
			case h.Op == blynk.OpVirtualWrite:
				w := s.store(token, h.Pin, h.Values)
				if s.OnWrite != nil {
					s.OnWrite(w)
				}
			}
		case blynk.CmdHardwareSync:
			err = s.sync(c, token, m)
		case blynk.CmdResponse:
		default:
			err = c.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusIllegalCommand})
		}
		if err != nil {
			return
		}
	}
}

// store keeps an accepted write as the pin's value and in Writes.
func (s *Server) store(token string, pin int, values [][]byte) Write {
	w := Write{Token: token, Pin: pin, Value: string(bytes.Join(values, []byte{0})), At: time.Now()}
	s.writeCount.Add(1)
	s.mu.Lock()
	s.setLocked(token, pin, values)
	if !s.DiscardWrites {
		s.writes = append(s.writes, w)
	}
	s.notifyLocked()
	s.mu.Unlock()
	return w
}

func (s *Server) setLocked(token string, pin int, values [][]byte) {
	cp := make([][]byte, len(values))
	for i, v := range values {
		cp[i] = bytes.Clone(v)
	}
	if s.values[token] == nil {
		s.values[token] = map[int][][]byte{}
	}
	s.values[token][pin] = cp
}

// SetValue stores the pin's value that HARDWARE_SYNC returns, as if it had
// been written before the device connected.
func (s *Server) SetValue(token string, pin int, values ...string) {
	b := make([][]byte, len(values))
	for i, v := range values {
		b[i] = []byte(v)
	}
	s.mu.Lock()
	s.setLocked(token, pin, b)
	s.notifyLocked()
	s.mu.Unlock()
}

// sync answers HARDWARE_SYNC with one vw per stored pin, reusing the id.
func (s *Server) sync(c *conn, token string, m blynk.Message) error {
	all, pins, err := blynk.ParseSync(nil, m.Body)
	if err != nil {
		return c.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusIllegalCommand})
	}
	s.mu.Lock()
	stored := s.values[token]
	if all {
		pins = pins[:0]
		for p := range stored {
			pins = append(pins, p)
		}
		slices.Sort(pins)
	}
	var bodies [][]byte
	for _, p := range pins {
		if v, ok := stored[p]; ok {
			bodies = append(bodies, blynk.AppendHardware(nil, blynk.OpVirtualWrite, p, v...))
		}
	}
	s.mu.Unlock()
	for _, b := range bodies {
		if err := c.send(blynk.Message{Cmd: blynk.CmdHardware, ID: m.ID, Body: b}); err != nil {
			return err
		}
	}
	return nil
}

// ErrNotConnected is returned when no connection is logged in with a token.
var ErrNotConnected = errors.New("fakeserver: device not connected")

func (s *Server) conn(token string) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[token]
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotConnected, token)
	}
	return c, nil
}

// Send sends a frame with the connection's next server id and returns it.
func (s *Server) Send(token string, cmd blynk.Command, body []byte) (uint16, error) {
	c, err := s.conn(token)
	if err != nil {
		return 0, err
	}
	return c.sendNew(cmd, body)
}

// SendRaw writes m as given (any id, even 0).
func (s *Server) SendRaw(token string, m blynk.Message) error {
	c, err := s.conn(token)
	if err != nil {
		return err
	}
	return c.send(m)
}

// VirtualWrite sends HARDWARE "vw pin values…" to the device (a control
// write) and, like a server, keeps the values as the pin's for later syncs.
func (s *Server) VirtualWrite(token string, pin int, values ...string) (uint16, error) {
	s.SetValue(token, pin, values...)
	return s.Send(token, blynk.CmdHardware, blynk.AppendVirtualWrite(nil, pin, values...))
}

// Kick closes the device's connection from the server side, as a
// heartbeat timeout or a restart would.
func (s *Server) Kick(token string) {
	if c, err := s.conn(token); err == nil {
		c.c.Close()
	}
}

// Logins counts the logins accepted for token.
func (s *Server) Logins(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins[token]
}

// Connected reports whether a device is logged in with token.
func (s *Server) Connected(token string) bool {
	_, err := s.conn(token)
	return err == nil
}

// WriteCount counts accepted "vw" writes, DiscardWrites or not.
func (s *Server) WriteCount() uint64 { return s.writeCount.Load() }

// Writes returns a copy of the accepted "vw" writes kept so far.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// Received returns a copy of every frame received so far.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// Value returns the latest values written to a pin.
func (s *Server) Value(token string, pin int) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[token][pin]
	out := make([]string, len(v))
	for i, b := range v {
		out[i] = string(b)
	}
	return out, ok
}

// Wait blocks until cond (called with no lock held) is true after some
// change to the received frames, stored values or connections, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitFrame waits for a frame from token matching match and returns it.
func (s *Server) WaitFrame(ctx context.Context, token string, match func(blynk.Message) bool) (Received, error) {
	var got Received
	err := s.Wait(ctx, func() bool {
		for _, r := range s.Received() {
			if r.Token == token && match(r.Msg) {
				got = r
				return true
			}
		}
		return false
	})
	return got, err
}
