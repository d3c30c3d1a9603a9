package broker

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// connSet is the client connections a listener handed to mochi and that
// have not ended yet. The broker shuts down by closing these sockets
// itself rather than through mochi's closeListenerClients, which (v2.7.9)
// sends DISCONNECT, illegal towards MQTT 3.1.1 clients and final for
// libmosquitto's reconnect loop, and can deadlock: Clients.GetByListener
// read-locks the client map twice, and a Clients.Delete waiting in between
// blocks both (mochi issue #488). Closing the socket ends each client's
// read loop, which detaches it from the hub as any disconnect does.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// add records c; after closeAll it closes c at once and returns false.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeAll closes every recorded connection and any added later.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

// netListener serves mochi over a net.Listener the caller opened (plain
// TCP, or TLS already wrapped), so tests can use 127.0.0.1:0 and the
// gateway knows the bound address.
type netListener struct {
	id        string
	ln        net.Listener
	log       *slog.Logger
	conns     connSet
	closeOnce sync.Once
}

var _ listeners.Listener = (*netListener)(nil)

func newNetListener(id string, ln net.Listener) *netListener {
	return &netListener{id: id, ln: ln}
}

func (l *netListener) ID() string       { return l.id }
func (l *netListener) Address() string  { return l.ln.Addr().String() }
func (l *netListener) Protocol() string { return l.id }

func (l *netListener) Init(log *slog.Logger) error {
	l.log = log
	return nil
}

// Serve accepts until the listener is closed; each connection runs in its
// own goroutine for its lifetime.
func (l *netListener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if !l.conns.add(c) {
			continue
		}
		go func() {
			defer l.conns.remove(c)
			if err := establish(l.id, &keepaliveConn{Conn: c}); err != nil {
				l.log.Debug("mqtt connection ended", "remote", c.RemoteAddr().String(), "error", err)
			}
		}()
	}
}

// Close stops accepting and closes every client connection of the
// listener; mochi's closeClients is deliberately not called (see connSet).
func (l *netListener) Close(listeners.CloseFn) {
	l.closeOnce.Do(func() {
		_ = l.ln.Close()
		l.conns.closeAll()
	})
}

// wsListener serves MQTT over websocket at /mqtt (subprotocol "mqtt") on a
// net.Listener the caller opened.
type wsListener struct {
	id        string
	ln        net.Listener
	log       *slog.Logger
	srv       *http.Server
	upgrader  websocket.Upgrader
	establish listeners.EstablishFn
	ready     chan struct{}
	conns     connSet // the hijacked sockets of upgraded connections
	closeOnce sync.Once
}

var _ listeners.Listener = (*wsListener)(nil)

// wsReadLimit bounds one websocket message; mochi enforces the MQTT packet
// limit inside it.
const wsReadLimit = 64 << 10

func newWSListener(id string, ln net.Listener) *wsListener {
	return &wsListener{
		id: id,
		ln: ln,
		upgrader: websocket.Upgrader{
			Subprotocols: []string{"mqtt"},
			// Devices and scripts send no cookies; any origin may connect.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		ready: make(chan struct{}),
	}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Address() string  { return l.ln.Addr().String() }
func (l *wsListener) Protocol() string { return "ws" }

func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	mux := http.NewServeMux()
	mux.HandleFunc("/mqtt", l.handle)
	l.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// Until the upgrade; the websocket then sets its own deadlines.
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return nil
}

func (l *wsListener) handle(w http.ResponseWriter, r *http.Request) {
	ws, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	defer ws.Close()
	nc := ws.NetConn()
	if !l.conns.add(nc) {
		return
	}
	defer l.conns.remove(nc)
	ws.SetReadLimit(wsReadLimit)
	<-l.ready
	if err := l.establish(l.id, &keepaliveConn{Conn: &wsConn{Conn: nc, ws: ws}}); err != nil {
		l.log.Debug("mqtt websocket connection ended", "remote", r.RemoteAddr, "error", err)
	}
}

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.establish = establish
	close(l.ready)
	if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		l.log.Error("websocket listener stopped", "error", err)
	}
}

// Close stops the HTTP server and closes the upgraded (hijacked)
// connections, which http.Server.Close leaves alone; mochi's closeClients
// is not called (see connSet).
func (l *wsListener) Close(listeners.CloseFn) {
	l.closeOnce.Do(func() {
		_ = l.srv.Close()
		l.conns.closeAll()
	})
}

// wsConn presents a websocket as the byte stream mochi reads MQTT from:
// binary messages concatenated on read, one message per write.
type wsConn struct {
	net.Conn
	connSlot
	ws *websocket.Conn
	r  io.Reader
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errors.New("broker: websocket text frame; MQTT needs binary")
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// Write is serialised by mochi (one writer per client at a time).
func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetDeadline sets only the read deadline: mochi calls it from the reader
// goroutine (keepalive), and gorilla's write deadline may not be changed
// while another goroutine writes. Keepalive is a read-side timeout anyway.
func (c *wsConn) SetDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline is a no-op for the same reason as SetDeadline.
func (c *wsConn) SetWriteDeadline(time.Time) error { return nil }

// keepaliveConn passes on only the deadline changes that matter. mochi
// moves a connection's deadline to 1.5 × keepalive from now before every
// packet it reads (SetDeadline resets the runtime's read and write
// timers): 2 % of the gateway's CPU with 1,000 devices publishing at QoS
// 1. Here a deadline is set an eighth of its distance later than asked,
// and the requests that fall inside that margin are dropped, so a device
// publishing several times a second moves the timers once every few
// seconds. A silent device is still dropped, at most an eighth of the
// keepalive interval later than mochi would (an idle 60 s keepalive:
// after 90 to 101 s instead of 90 s); never earlier. mochi calls
// SetDeadline from the client's read goroutine only.
type keepaliveConn struct {
	net.Conn
	connSlot
	set   time.Time     // the deadline in force; zero: none
	slack time.Duration // how far set lies beyond the deadline asked for
}

func (c *keepaliveConn) SetDeadline(t time.Time) error {
	if t.IsZero() {
		if c.set.IsZero() {
			return nil
		}
	} else if !c.set.IsZero() && !t.After(c.set) && c.set.Sub(t) <= c.slack {
		return nil // what is in force is at most slack beyond t
	}
	c.slack = 0
	if !t.IsZero() {
		c.slack = max(time.Until(t)/8, 0)
		t = t.Add(c.slack)
	}
	c.set = t
	return c.Conn.SetDeadline(t)
}
