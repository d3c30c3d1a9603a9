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

// netListener serves mochi over a net.Listener the caller opened (plain
// TCP, or TLS already wrapped), so tests can use 127.0.0.1:0 and the
// gateway knows the bound address.
type netListener struct {
	id        string
	ln        net.Listener
	log       *slog.Logger
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
		go func() {
			if err := establish(l.id, c); err != nil {
				l.log.Debug("mqtt connection ended", "remote", c.RemoteAddr().String(), "error", err)
			}
		}()
	}
}

func (l *netListener) Close(closeClients listeners.CloseFn) {
	l.closeOnce.Do(func() {
		_ = l.ln.Close()
		closeClients(l.id)
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
	ws.SetReadLimit(wsReadLimit)
	<-l.ready
	if err := l.establish(l.id, &wsConn{Conn: ws.NetConn(), ws: ws}); err != nil {
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

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.closeOnce.Do(func() {
		_ = l.srv.Close() // upgraded connections are hijacked: closeClients ends them
		closeClients(l.id)
	})
}

// wsConn presents a websocket as the byte stream mochi reads MQTT from:
// binary messages concatenated on read, one message per write.
type wsConn struct {
	net.Conn
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
