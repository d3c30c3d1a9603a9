// Package blynkserver serves Blynk devices over the binary protocol (TCP,
// TLS, or any byte stream a bridge hands it): one session per connection,
// login, heartbeat and offline detection, the flood limit, and every device
// command of PROTOCOL.md §1 turned into hub calls, with Outpost's decisions
// of PROTOCOL.md §7.
//
// A session costs one reader goroutine and a 512-byte read buffer that
// grows only for large bodies; a writer goroutine exists only while there
// is something to send. A plain-TCP session quiet for a couple of seconds
// parks: it gives its read buffer back and waits for the socket on a fresh
// goroutine with a minimal stack. Ten thousand idle devices cost about
// 5 KB each (BenchmarkIdleSessions).
//
// Decisions beyond PROTOCOL.md §7: dw/aw/vr/dr/ar/pm from a device are
// ignored and counted (templates have virtual pins only, and Outpost never
// sends dr/ar); BRIDGE and the removed notification commands get
// RESPONSE 2; an unknown event code or metadata field gets 11; metadata set
// by the device is echoed back like any metadata change; PING and
// RESPONSE frames are outside the flood limit, which a device's
// connections share.
package blynkserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"outpost/gateway/internal/hub"

	"outpost/gateway/internal/loginlog"
)

// Hub is what sessions need of the hub (satisfied by *hub.Hub).
type Hub interface {
	Authenticate(token string) (hub.Device, error)
	Attach(deviceID int64, c hub.Conn) (detach func())
	DeviceWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error)
	SyncAll(deviceID int64) []hub.PinValue
	SyncPins(deviceID int64, pins []int) []hub.PinValue
	LogEvent(deviceID int64, code, description string, ts int64, source string) error
	ClearEvent(deviceID int64, code string, all bool, source string) error
	SetInfo(deviceID int64, pairs []string, source string)
	SetProperty(deviceID int64, pin int, name string, items [][]byte, source string) error
	SetMeta(deviceID int64, name, value, source string) error
	Meta(deviceID int64, name string) (string, error)
}

// Options configure a Server. Zero values take the defaults shown.
type Options struct {
	Hub                 Hub
	Logger              *slog.Logger
	HeartbeatMultiplier float64       // 1.5 (PROTOCOL.md §7.3)
	DefaultHeartbeat    time.Duration // 45s, until the info message says h-beat
	Rate                float64       // flood limit: messages/s sustained, 100 (§7.4)
	Burst               int           // 200
	MaxBody             int           // largest body accepted from a device, 4096; larger → clean close
	LoginTimeout        time.Duration // 10s: closed if no login by then
	// HTTP, if set, serves connections accepted by Serve whose first bytes
	// look like an HTTP request (PROTOCOL.md §1.14).
	HTTP http.Handler
	Now  func() time.Time // clock for timestamps and the flood limit; nil → time.Now
	// Location is the time zone of INTERNAL utc/rtc answers; nil → UTC.
	Location *time.Location
	// MaxQueue bounds the bytes waiting to be sent to one device, 64 KiB;
	// messages beyond it are dropped and counted.
	MaxQueue int
	// WriteTimeout bounds one socket write, 10s; a device that does not
	// read for that long is disconnected.
	WriteTimeout time.Duration
}

// Stats are the server's counters.
type Stats struct {
	Accepted      uint64 // connections accepted by Serve or given to ServeConn
	Open          int64  // sessions open now
	LoggedIn      int64  // of those, logged in
	HTTP          uint64 // connections handed to the HTTP handler
	LoginFailures uint64 // invalid tokens, commands before login, login timeouts
	Messages      uint64 // frames received from logged-in devices
	Writes        uint64 // vw accepted by the hub
	DroppedValues uint64 // vw refused by the hub (wrong type, arity, no datastream): no reply
	DroppedFlood  uint64 // messages over the flood limit
	Malformed     uint64 // frames answered with 2 or 11
	Ignored       uint64 // dw/aw/vr/dr/ar/pm from a device: nothing to do
	Sent          uint64 // frames queued to devices
	OutOversize   uint64 // server→device messages dropped: body > buff-in − 5
	OutQueueFull  uint64 // server→device messages dropped: device not reading
	TimedOut      uint64 // sessions closed after ceil(h-beat × multiplier) of silence
	TooLarge      uint64 // sessions closed for a body over MaxBody
}

type counters struct {
	accepted, http, loginFailures, messages, writes, droppedValues, droppedFlood,
	malformed, ignored, sent, outOversize, outQueueFull, timedOut, tooLarge atomic.Uint64
	open, loggedIn atomic.Int64
	parked         atomic.Uint64 // read buffers given back by quiet sessions
}

// Server runs Blynk sessions.
type Server struct {
	opts Options
	hub  Hub
	log  *slog.Logger
	now  func() time.Time
	loc  *time.Location
	// quiet is how long a session is silent before it parks without its
	// read buffer (a field so tests can shorten it).
	quiet  time.Duration
	c      counters
	logins *loginlog.Log

	limMu    sync.Mutex
	limiters map[int64]*limiter // by device, while it has sessions
}

// limiter is a device's flood-limit token bucket, shared by its sessions.
type limiter struct {
	refs int // guarded by Server.limMu

	mu      sync.Mutex
	tokens  float64
	at      time.Time
	quotaAt time.Time // last QUOTA_LIMIT answer
}

func (s *Server) acquireLimiter(dev int64, now time.Time) *limiter {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	l := s.limiters[dev]
	if l == nil {
		l = &limiter{tokens: float64(s.opts.Burst), at: now}
		s.limiters[dev] = l
	}
	l.refs++
	return l
}

func (s *Server) releaseLimiter(dev int64, l *limiter) {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	if l.refs--; l.refs == 0 && s.limiters[dev] == l {
		delete(s.limiters, dev)
	}
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.HeartbeatMultiplier <= 0 {
		opts.HeartbeatMultiplier = 1.5
	}
	if opts.DefaultHeartbeat <= 0 {
		opts.DefaultHeartbeat = 45 * time.Second
	}
	if opts.Rate <= 0 {
		opts.Rate = 100
	}
	if opts.Burst <= 0 {
		opts.Burst = 200
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 4096
	}
	if opts.MaxBody > 0xFFFF {
		opts.MaxBody = 0xFFFF
	}
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = 10 * time.Second
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 64 << 10
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	s := &Server{opts: opts, hub: opts.Hub, log: opts.Logger, now: opts.Now, loc: opts.Location, quiet: 2 * time.Second,
		limiters: make(map[int64]*limiter)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "blynkserver")
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	s.logins = loginlog.New(s.log, s.now)
	return s
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	c := &s.c
	return Stats{
		Accepted: c.accepted.Load(), Open: c.open.Load(), LoggedIn: c.loggedIn.Load(),
		HTTP: c.http.Load(), LoginFailures: c.loginFailures.Load(), Messages: c.messages.Load(),
		Writes: c.writes.Load(), DroppedValues: c.droppedValues.Load(), DroppedFlood: c.droppedFlood.Load(),
		Malformed: c.malformed.Load(), Ignored: c.ignored.Load(), Sent: c.sent.Load(),
		OutOversize: c.outOversize.Load(), OutQueueFull: c.outQueueFull.Load(),
		TimedOut: c.timedOut.Load(), TooLarge: c.tooLarge.Load(),
	}
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every session and returns once they have ended. transport names the
// listener in records ("tcp", "tls").
func (s *Server) Serve(ctx context.Context, ln net.Listener, transport string) error {
	var sessions sync.WaitGroup
	defer sessions.Wait()
	var httpLn *chanListener
	if s.opts.HTTP != nil {
		httpLn = newChanListener(ln.Addr())
		hs := &http.Server{
			Handler:           s.opts.HTTP,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
		httpDone := make(chan struct{})
		go func() { defer close(httpDone); _ = hs.Serve(httpLn) }()
		defer func() { hs.Close(); <-httpDone }() // before sessions.Wait: handing off needs it gone
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept", "err", err, "retry_in", backoff)
				t := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
				continue
			}
			return err
		}
		backoff = 0
		sessions.Add(1)
		// The session method is the goroutine itself: fewer frames under
		// the blocked read let idle stacks shrink to the minimum.
		go newSession(s, c, transport).serve(ctx, httpLn, &sessions)
	}
}

// isTemporary reports accept errors worth retrying (EMFILE and the like).
func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// ServeConn runs one session on an existing connection (bridges use it with
// net.Pipe) and returns when the session ends. It closes c.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, transport string) {
	s.serve(ctx, c, transport, nil)
}

func (s *Server) serve(ctx context.Context, c net.Conn, transport string, httpLn *chanListener) {
	var wg sync.WaitGroup
	wg.Add(1)
	newSession(s, c, transport).serve(ctx, httpLn, &wg)
	wg.Wait() // the session may have moved to another goroutine
}

// chanListener is a net.Listener fed by Serve with the connections that
// turned out to speak HTTP.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }

// hand gives c to the HTTP server; false if it is shut down.
func (l *chanListener) hand(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

// replayConn replays the bytes read while sniffing before reading on.
type replayConn struct {
	net.Conn
	pre []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
