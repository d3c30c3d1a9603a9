// Package loginlog writes the info-level log lines of device logins and
// refused logins that every device transport (Blynk TCP/TLS, MQTT, HTTP)
// shares, so a device maker can see why a device does not connect without
// raising the log level.
//
// Each line is written at most once per cause per Every (a minute) for
// the same device: a device's successful logins are keyed by its id, a
// refused login (whose token matches no device) by the remote host. Lines
// dropped meanwhile are counted in the next line's "suppressed" attribute.
// Lines carry the reason, the transport and the remote address, never a
// token or password.
package loginlog

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Every is how often a line of the same cause for the same device may be
// written.
const Every = time.Minute

// maxEntries bounds the memory kept for refused logins; beyond it,
// entries older than Every are swept (a scan of random tokens comes from
// few hosts, but every host counts). Logins keep one entry per device.
const maxEntries = 4096

// Reasons for a refused login, shared by the transports.
const (
	ReasonUnknownToken   = "unknown token"
	ReasonMalformedToken = "malformed token"
	ReasonNoToken        = "no token"
)

// Log rate-limits and writes login lines. The zero value is not usable;
// call New. It is safe for concurrent use.
type Log struct {
	log *slog.Logger
	now func() time.Time

	// logins, by device id → *loginEntry: lock-free, since the HTTP API
	// logs in on every request.
	logins sync.Map

	mu   sync.Mutex
	last map[key]*entry // refused logins
}

type key struct {
	host  string // remote host
	cause string
}

type entry struct {
	at         time.Time
	suppressed int
}

type loginEntry struct {
	at         atomic.Int64 // unix nanoseconds of the last line
	suppressed atomic.Int64
}

// New returns a Log writing to log (which carries the transport's
// component attribute). now is the clock; nil means time.Now.
func New(log *slog.Logger, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{log: log, now: now, last: map[key]*entry{}}
}

// Login records a successful device login.
func (l *Log) Login(transport string, device int64, remote string) {
	now := l.now().UnixNano()
	v, ok := l.logins.Load(device)
	if !ok {
		e := &loginEntry{}
		e.at.Store(now - int64(Every))
		v, _ = l.logins.LoadOrStore(device, e)
	}
	e := v.(*loginEntry)
	at := e.at.Load()
	if now-at < int64(Every) || !e.at.CompareAndSwap(at, now) {
		e.suppressed.Add(1)
		return
	}
	l.write("device login", int(e.suppressed.Swap(0)), slog.Int64("device", device), slog.String("transport", transport), slog.String("remote", remote))
}

// Refused records a refused login. reason says why in a few words
// (ReasonUnknownToken, …); it must not contain the token.
func (l *Log) Refused(transport, reason, remote string) {
	if n, ok := l.allow(key{host: host(remote), cause: reason}); ok {
		l.write("device login refused", n, slog.String("reason", reason), slog.String("transport", transport), slog.String("remote", remote))
	}
}

func (l *Log) write(msg string, suppressed int, attrs ...slog.Attr) {
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	l.log.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
}

// allow reports whether a line for k may be written now, and how many were
// suppressed since the last one.
func (l *Log) allow(k key) (int, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.last[k]
	if e == nil {
		if len(l.last) >= maxEntries {
			l.sweep(now)
		}
		l.last[k] = &entry{at: now}
		return 0, true
	}
	if now.Sub(e.at) < Every {
		e.suppressed++
		return 0, false
	}
	n := e.suppressed
	e.at, e.suppressed = now, 0
	return n, true
}

// sweep forgets entries older than Every (their next line is due anyway;
// only the suppressed count is lost).
func (l *Log) sweep(now time.Time) {
	for k, e := range l.last {
		if now.Sub(e.at) >= Every {
			delete(l.last, k)
		}
	}
}

// host is the address without its port, so reconnects from new source
// ports count as the same device.
func host(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
