package blynkserver

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"outpost/gateway/internal/blynktime"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/loginlog"
	"outpost/shared/blynk"
)

const (
	readBufSize  = 512 // typical frames are tens of bytes; grows for large bodies
	loginMaxBody = 256 // a token is 32 bytes; anything much larger is not a login
	// defaultBuffIn is assumed when a device does not report buff-in, as the
	// legacy server did (PROTOCOL.md §1.9).
	defaultBuffIn = 250
	quotaEvery    = time.Minute // RESPONSE 1 at most this often (§7.4)
	spareMax      = 4096        // larger write buffers are not kept between bursts
)

var (
	errTooLarge = errors.New("blynkserver: body exceeds limit")
	errPark     = errors.New("blynkserver: park") // internal: continue on a fresh goroutine
)

// session is one device connection. Fields in the first group belong to the
// reader goroutine; the second group is shared with Deliver and the writer
// under mu.
type session struct {
	srv       *Server
	conn      net.Conn
	transport string

	wg       *sync.WaitGroup // told when the session is over (nil: nobody waits)
	stop     func() bool     // unregisters the context's close
	fresh    bool            // park has just waited; parkErr is its result
	parkErr  error
	raw      syscall.RawConn // plain TCP: lets an idle session wait without a read buffer
	rbuf     []byte
	rstart   int
	rend     int
	limit    int
	devID    int64
	loggedIn bool
	detach   func()
	hbeat    time.Duration // ping when silent this long
	idle     time.Duration // offline when silent this long
	lastRead time.Time
	deadline time.Time // read deadline currently set
	pinged   bool
	batchNow time.Time // the clock, read once per socket read
	groupTS  int64
	lim      *limiter // the device's flood-limit bucket
	vals     [][]byte
	pins     []int
	nMsgs    uint64 // counted locally, flushed to the server per batch
	nWrites  uint64

	buffIn atomic.Int32 // device's receive limit (0 = unknown)

	mu      sync.Mutex
	cond    sync.Cond // signalled when the writer stops
	out     []byte    // frames waiting for the writer
	spare   []byte
	ids     blynk.IDs // server-originated message ids
	writing bool
	closed  bool // no more frames accepted
}

func newSession(srv *Server, c net.Conn, transport string) *session {
	s := &session{srv: srv, conn: c, transport: transport, limit: loginMaxBody, raw: rawConn(c)}
	s.cond.L = &s.mu
	return s
}

// Transport implements hub.Conn.
func (s *session) Transport() string { return s.transport }

// Close implements hub.Conn: the reader ends and cleans up.
func (s *session) Close() { s.conn.Close() }

// Deliver implements hub.Conn. It never blocks.
func (s *session) Deliver(d hub.Delivery) {
	switch d.Kind {
	case hub.DeliverWrite:
		s.sendVW(0, d.Pin, d.Value)
	case hub.DeliverMeta:
		s.sendInternal(0, "meta", d.Name, d.Value)
	case hub.DeliverOTA:
		// Blynk.Air on the binary protocol: INTERNAL "ota\0<url>"; the
		// device answers nothing, it downloads and reconnects.
		s.sendInternal(0, "ota", d.Name)
	}
	// Widget properties are for dashboards, not devices.
}

// sniff reads the first bytes and hands HTTP connections to the HTTP
// server. It reports whether the connection was handed over.
func (s *session) sniff(l *chanListener) bool {
	s.conn.SetReadDeadline(time.Now().Add(s.srv.opts.LoginTimeout))
	s.deadline = time.Now().Add(s.srv.opts.LoginTimeout)
	for s.rend-s.rstart < 4 {
		if err := s.fill(); err != nil {
			return false // the reader loop sees the same error and ends the session
		}
	}
	if !blynk.LooksLikeHTTP(s.rbuf[s.rstart:s.rend]) {
		return false
	}
	s.conn.SetReadDeadline(time.Time{})
	s.srv.c.http.Add(1)
	rc := &replayConn{Conn: s.conn, pre: append([]byte(nil), s.rbuf[s.rstart:s.rend]...)}
	if !l.hand(rc) {
		s.conn.Close()
	}
	return true
}

// serve runs the session until the connection ends: sniffing, then the
// reader loop. wg, if set, is told when it is over.
func (s *session) serve(ctx context.Context, httpLn *chanListener, wg *sync.WaitGroup) {
	s.wg = wg
	s.srv.c.accepted.Add(1)
	s.srv.c.open.Add(1)
	s.stop = context.AfterFunc(ctx, s.Close)
	if httpLn != nil && s.sniff(httpLn) {
		s.release()
		return
	}
	if s.deadline.IsZero() {
		s.deadline = time.Now().Add(s.srv.opts.LoginTimeout)
		s.conn.SetReadDeadline(s.deadline)
	}
	s.loop()
}

// loop reads and handles frames until the connection ends. When the
// session parks (quiet for a while) it hands over to a fresh goroutine and
// returns: a goroutine that handled frames has a grown stack, and the
// runtime never shrinks a stack blocked in a read back to the minimum, so
// ten thousand idle devices would otherwise cost twice the stack memory.
func (s *session) loop() {
	for {
		cmd, id, body, err := s.next()
		if err == errPark {
			go s.park()
			return
		}
		if err != nil {
			s.readFailed(err)
			break
		}
		if !s.loggedIn {
			if !s.login(cmd, id, body) {
				break
			}
			continue
		}
		if !s.handle(cmd, id, body) {
			break
		}
	}
	s.finish()
	s.release()
}

// park runs on a fresh goroutine: it waits for the socket to become
// readable (or the deadline) in as few frames as possible, so the average
// parked stack, which sizes new goroutines, stays at the minimum; then it
// carries on as the session's reader.
func (s *session) park() {
	s.parkErr = waitReadable(s.raw)
	s.fresh = true
	s.loop()
}

// release undoes what serve set up; the session is over.
func (s *session) release() {
	s.stop()
	s.srv.c.open.Add(-1)
	if s.wg != nil {
		s.wg.Done()
	}
}

func (s *session) readFailed(err error) {
	switch {
	case errors.Is(err, errTooLarge):
		s.srv.c.tooLarge.Add(1)
		s.srv.log.Info("body over limit, closing", "device", s.devID, "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if s.loggedIn {
			s.srv.c.timedOut.Add(1)
			s.srv.log.Info("device silent, offline", "device", s.devID, "after", s.idle)
		} else {
			s.srv.c.loginFailures.Add(1)
			s.srv.logins.Refused(s.transport, "no login within the login timeout", s.conn.RemoteAddr().String())
		}
	}
}

// finish stops accepting frames, lets the writer send what is queued
// (a clean close: a final RESPONSE reaches the device), then closes.
func (s *session) finish() {
	s.flushCounts()
	if s.detach != nil {
		s.detach()
		s.srv.c.loggedIn.Add(-1)
		s.srv.releaseLimiter(s.devID, s.lim)
	}
	s.mu.Lock()
	s.closed = true
	for s.writing {
		s.cond.Wait()
	}
	s.out, s.spare = nil, nil
	s.mu.Unlock()
	s.conn.Close()
}

func (s *session) flushCounts() {
	if s.nMsgs > 0 {
		s.srv.c.messages.Add(s.nMsgs)
		s.nMsgs = 0
	}
	if s.nWrites > 0 {
		s.srv.c.writes.Add(s.nWrites)
		s.nWrites = 0
	}
}

// next returns the next frame; body aliases the read buffer until the
// following call. A read error (including a deadline) leaves the buffered
// bytes in place.
func (s *session) next() (cmd blynk.Command, id uint16, body []byte, err error) {
	for {
		if avail := s.rend - s.rstart; avail >= blynk.HeaderSize {
			c, i, ln := blynk.ParseHeader(s.rbuf[s.rstart:])
			if c == blynk.CmdResponse {
				s.rstart += blynk.HeaderSize
				return c, i, nil, nil
			}
			size := blynk.HeaderSize + int(ln)
			if int(ln) > s.limit {
				return c, i, nil, errTooLarge
			}
			if avail >= size {
				body = s.rbuf[s.rstart+blynk.HeaderSize : s.rstart+size : s.rstart+size]
				s.rstart += size
				return c, i, body, nil
			}
			if size > len(s.rbuf)-s.rstart {
				s.makeRoom(size)
			}
		}
		if err := s.fill(); err != nil {
			return 0, 0, nil, err
		}
	}
}

// makeRoom moves the partial frame to the front, growing the buffer only
// when the frame does not fit.
func (s *session) makeRoom(size int) {
	if size > len(s.rbuf) {
		nb := make([]byte, size)
		copy(nb, s.rbuf[s.rstart:s.rend])
		s.rbuf = nb
	} else {
		copy(s.rbuf, s.rbuf[s.rstart:s.rend])
	}
	s.rend -= s.rstart
	s.rstart = 0
}

// fill reads once from the connection, after re-arming the read deadline
// for the heartbeat (ping when silent for h-beat, offline when silent for
// ceil(h-beat × multiplier)).
func (s *session) fill() error {
	s.flushCounts()
	if s.rstart == s.rend {
		s.rstart, s.rend = 0, 0
		if len(s.rbuf) > readBufSize {
			s.rbuf = nil // a large body has been handled: give the memory back
		}
	}
	if s.rbuf != nil && s.rend == len(s.rbuf) {
		s.makeRoom(len(s.rbuf) - s.rstart + 1)
	}
	for {
		if s.loggedIn {
			s.armDeadline()
		}
		var k int
		var err error
		if s.rbuf == nil && s.raw != nil && s.rend == 0 && s.loggedIn {
			if !s.fresh {
				return errPark // wait in park, on a fresh goroutine, without a buffer
			}
			err, s.parkErr, s.fresh = s.parkErr, nil, false
		}
		if err == nil {
			if s.rbuf == nil {
				s.rbuf = make([]byte, readBufSize)
			}
			k, err = s.conn.Read(s.rbuf[s.rend:])
		}
		if k > 0 {
			s.rend += k
			s.lastRead = time.Now()
			s.batchNow = s.srv.now()
			s.pinged = false
			return nil
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && s.loggedIn {
			if silent := time.Since(s.lastRead); silent < s.idle {
				if s.raw != nil && s.rbuf != nil && s.rend == 0 && silent >= s.srv.quiet {
					s.rbuf = nil // quiet: park without the read buffer
					s.srv.c.parked.Add(1)
				}
				if !s.pinged && s.hbeat < s.idle && silent >= s.hbeat {
					// Silent for a heartbeat: ask the device once before giving up.
					s.pinged = true
					s.sendPing()
				}
				s.deadline = time.Time{} // the lazy deadline fired early: set it exactly
				continue
			}
		}
		if err == io.EOF && s.rend > s.rstart {
			return io.ErrUnexpectedEOF
		}
		return err
	}
}

// armDeadline sets the read deadline to the next heartbeat point. It calls
// SetReadDeadline only when the target moved by more than a second, not on
// every read of a busy connection.
func (s *session) armDeadline() {
	wait := s.idle
	if !s.pinged && s.hbeat < s.idle {
		wait = s.hbeat
	}
	if s.raw != nil && s.rbuf != nil && s.rend == 0 && s.srv.quiet < wait {
		wait = s.srv.quiet // wake up to park the buffer once the device is quiet
	}
	target := s.lastRead.Add(wait)
	if d := target.Sub(s.deadline); d > time.Second || d < -time.Second || s.deadline.IsZero() {
		s.deadline = target
		s.conn.SetReadDeadline(target)
	}
}

// setHeartbeat applies a heartbeat interval (from the info message).
func (s *session) setHeartbeat(hb time.Duration) {
	s.hbeat = hb
	secs := math.Ceil(hb.Seconds() * s.srv.opts.HeartbeatMultiplier)
	s.idle = time.Duration(secs) * time.Second
	s.deadline = time.Time{} // re-arm on the next read
}

// login handles a frame before login. false ends the session.
func (s *session) login(cmd blynk.Command, id uint16, body []byte) bool {
	if cmd != blynk.CmdHWLogin && cmd != blynk.CmdLogin {
		s.srv.c.loginFailures.Add(1)
		s.srv.logins.Refused(s.transport, "command before login", s.conn.RemoteAddr().String())
		return false
	}
	token := string(body)
	if !hub.ValidToken(token) {
		return s.refuse(id, loginlog.ReasonMalformedToken)
	}
	dev, err := s.srv.hub.Authenticate(token)
	if err != nil {
		return s.refuse(id, loginlog.ReasonUnknownToken)
	}
	s.devID = dev.ID
	s.loggedIn = true
	s.limit = s.srv.opts.MaxBody
	s.lastRead = time.Now()
	s.setHeartbeat(s.srv.opts.DefaultHeartbeat)
	s.lim = s.srv.acquireLimiter(dev.ID, s.srv.now())
	// Queue the answer first, so no delivery can precede it on the wire,
	// but send it only once attached: a client that writes to the device as
	// soon as it sees the answer must find it attached.
	s.mu.Lock()
	queued := s.startLocked(blynk.CmdResponse, id, 0)
	if queued {
		s.out[len(s.out)-2], s.out[len(s.out)-1] = byte(blynk.StatusSuccess>>8), byte(blynk.StatusSuccess&0xff)
	}
	s.mu.Unlock()
	s.detach = s.srv.hub.Attach(dev.ID, s)
	if queued {
		s.mu.Lock()
		s.kickLocked()
		s.mu.Unlock()
	}
	s.srv.c.loggedIn.Add(1)
	s.srv.logins.Login(s.transport, dev.ID, s.conn.RemoteAddr().String())
	return true
}

func (s *session) refuse(id uint16, why string) bool {
	s.srv.c.loginFailures.Add(1)
	s.srv.logins.Refused(s.transport, why, s.conn.RemoteAddr().String())
	s.reply(id, blynk.StatusInvalidToken)
	return false
}

// allow applies the device's flood limit: a token bucket of Burst refilled
// at Rate/s. Over it the message is dropped and, at most once a minute per
// device, answered with QUOTA_LIMIT.
func (s *session) allow(id uint16) bool {
	now, l, o := s.batchNow, s.lim, &s.srv.opts
	l.mu.Lock()
	if el := now.Sub(l.at); el > 0 {
		l.tokens = min(float64(o.Burst), l.tokens+el.Seconds()*o.Rate)
		l.at = now
	}
	if l.tokens >= 1 {
		l.tokens--
		l.mu.Unlock()
		return true
	}
	tell := l.quotaAt.IsZero() || now.Sub(l.quotaAt) >= quotaEvery
	if tell {
		l.quotaAt = now
	}
	l.mu.Unlock()
	s.srv.c.droppedFlood.Add(1)
	if tell {
		s.reply(id, blynk.StatusQuotaLimit)
		s.srv.log.Warn("flood limit", "device", s.devID, "rate", o.Rate, "burst", o.Burst)
	}
	return false
}

// handle dispatches one frame of a logged-in device. false ends the session.
func (s *session) handle(cmd blynk.Command, id uint16, body []byte) bool {
	switch cmd {
	case blynk.CmdResponse:
		return true // the device's answer to our ping or a delivery
	case blynk.CmdPing:
		s.reply(id, blynk.StatusSuccess)
		return true
	case blynk.CmdHWLogin, blynk.CmdLogin:
		s.reply(id, blynk.StatusAlreadyRegistered)
		return true
	}
	s.nMsgs++
	if !s.allow(id) {
		return true
	}
	switch cmd {
	case blynk.CmdHardware:
		return s.hardware(id, body)
	case blynk.CmdHardwareSync:
		s.sync(id, body)
	case blynk.CmdInternal:
		s.internal(id, body)
	case blynk.CmdProperty:
		p, err := blynk.ParseProperty(s.vals, body)
		s.vals = p.Values[:0]
		if err == nil {
			err = s.srv.hub.SetProperty(s.devID, p.Pin, string(p.Name), p.Values, s.transport)
		}
		s.ack(id, err, blynk.StatusIllegalCommandBody)
	case blynk.CmdGroup:
		g, err := blynk.ParseGroup(body)
		switch {
		case err != nil:
		case g.Begin && g.TS != 0:
			s.groupTS = g.TS
		case g.Begin:
			s.groupTS = s.batchNow.UnixMilli()
		default:
			s.groupTS = 0
		}
		s.ack(id, err, blynk.StatusIllegalCommand)
	case blynk.CmdEventLog:
		f := blynk.Fields(s.vals, body)
		s.vals = f[:0]
		var err error = blynk.StatusIllegalCommand
		if len(f) >= 1 && len(f) <= 2 && len(f[0]) > 0 {
			desc := ""
			if len(f) == 2 {
				desc = string(f[1])
			}
			err = s.srv.hub.LogEvent(s.devID, string(f[0]), desc, s.groupTS, s.transport)
		}
		s.ack(id, err, blynk.StatusIllegalCommandBody)
	case blynk.CmdEventClear:
		f := blynk.Fields(s.vals, body)
		s.vals = f[:0]
		var err error = blynk.StatusIllegalCommand
		if len(f) >= 1 && len(f) <= 2 && len(f[0]) > 0 && (len(f) == 1 || string(f[1]) == "all") {
			err = s.srv.hub.ClearEvent(s.devID, string(f[0]), len(f) == 2, s.transport)
		}
		s.ack(id, err, blynk.StatusIllegalCommandBody)
	default:
		// BRIDGE, the removed notification commands and anything unknown.
		s.srv.c.malformed.Add(1)
		s.reply(id, blynk.StatusIllegalCommand)
	}
	return true
}

// ack answers 200, or the error's own status when it is one, else fallback.
func (s *session) ack(id uint16, err error, fallback blynk.Status) {
	if err == nil {
		s.reply(id, blynk.StatusSuccess)
		return
	}
	s.srv.c.malformed.Add(1)
	st := fallback
	var bs blynk.Status
	if errors.As(err, &bs) {
		st = bs
	}
	s.reply(id, st)
}

func (s *session) hardware(id uint16, body []byte) bool {
	h, err := blynk.ParseHardware(s.vals, body)
	s.vals = h.Values[:0]
	if err != nil {
		s.srv.c.malformed.Add(1)
		s.reply(id, blynk.StatusIllegalCommand)
		return true
	}
	if h.Op != blynk.OpVirtualWrite {
		// dw/aw answer dr/ar, which Outpost never sends; reads and pin
		// modes from a device mean nothing to a server. Templates have
		// virtual pins only, so there is nothing to store.
		s.srv.c.ignored.Add(1)
		return true
	}
	_, err = s.srv.hub.DeviceWrite(s.devID, h.Pin, h.Values, s.groupTS, s.transport)
	switch {
	case err == nil:
		s.nWrites++
	case errors.Is(err, hub.ErrNoDevice):
		return false // deleted while connected
	default:
		s.srv.c.droppedValues.Add(1) // wrong type / arity / no datastream: no reply (§7.6)
	}
	return true
}

func (s *session) sync(id uint16, body []byte) {
	all, pins, err := blynk.ParseSync(s.pins, body)
	s.pins = pins[:0]
	if err != nil {
		s.srv.c.malformed.Add(1)
		s.reply(id, blynk.StatusIllegalCommand)
		return
	}
	var vals []hub.PinValue
	if all {
		vals = s.srv.hub.SyncAll(s.devID)
	} else {
		vals = s.srv.hub.SyncPins(s.devID, pins)
	}
	for _, v := range vals {
		s.sendVW(id, v.Pin, v.Value) // replies reuse the request id (§7.7)
	}
}

// zone is the device's time zone (its Time Zone metadata, else the
// server's Location), the same one every transport answers in.
func (s *session) zone() *time.Location {
	meta, _ := s.srv.hub.Meta(s.devID, blynktime.MetaTimeZone)
	return blynktime.Zone(meta, s.srv.loc)
}

func (s *session) internal(id uint16, body []byte) {
	switch string(blynk.InternalName(body)) {
	case blynk.InternalUTC:
		f := blynk.Fields(s.vals, body)
		s.vals = f[:0]
		if len(f) != 2 {
			s.ack(id, blynk.StatusIllegalCommand, 0)
			return
		}
		vals, ok := utcAnswer(string(f[1]), blynktime.At(s.batchNow, s.zone()))
		if !ok {
			s.ack(id, blynk.StatusIllegalCommand, 0)
			return
		}
		s.sendInternal(id, append([]string{"utc", string(f[1])}, vals...)...)
	case blynk.InternalRTC:
		f := blynk.Fields(s.vals, body)
		s.vals = f[:0]
		if len(f) != 2 || string(f[1]) != "sync" {
			s.ack(id, blynk.StatusIllegalCommand, 0)
			return
		}
		t := s.batchNow.In(s.zone())
		_, off := t.Zone()
		s.sendInternal(id, "rtc", strconv.FormatInt(t.Unix()+int64(off), 10))
	case blynk.InternalMeta:
		f := blynk.Fields(s.vals, body)
		s.vals = f[:0]
		switch {
		case len(f) == 4 && string(f[1]) == "set":
			s.ack(id, s.srv.hub.SetMeta(s.devID, string(f[2]), string(f[3]), s.transport), blynk.StatusIllegalCommandBody)
		case len(f) == 3 && string(f[1]) == "get":
			v, err := s.srv.hub.Meta(s.devID, string(f[2]))
			if err != nil {
				s.ack(id, err, blynk.StatusIllegalCommandBody)
				return
			}
			s.sendInternal(id, "meta", string(f[2]), v)
		default:
			s.ack(id, blynk.StatusIllegalCommand, 0)
		}
	default:
		if !blynk.IsInfo(body) {
			s.ack(id, blynk.StatusIllegalCommand, 0)
			return
		}
		pairs := blynk.InfoPairs(body)
		if v, ok := blynk.InfoValue(pairs, "h-beat"); ok {
			if secs, err := strconv.Atoi(v); err == nil && secs > 0 && secs <= 24*3600 {
				s.setHeartbeat(time.Duration(secs) * time.Second)
			}
		}
		if v, ok := blynk.InfoValue(pairs, "buff-in"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > blynk.HeaderSize && n <= 0xFFFF+blynk.HeaderSize {
				s.buffIn.Store(int32(n))
			}
		}
		s.srv.hub.SetInfo(s.devID, pairs, s.transport)
		s.reply(id, blynk.StatusSuccess)
	}
}

// maxOutBody is the largest body the device accepts: buff-in − 5 (§7.5).
func (s *session) maxOutBody() int {
	b := int(s.buffIn.Load())
	if b == 0 {
		b = defaultBuffIn
	}
	return b - blynk.HeaderSize
}

// --- the write side --------------------------------------------------------

// reply queues a RESPONSE.
func (s *session) reply(id uint16, st blynk.Status) {
	s.mu.Lock()
	if s.startLocked(blynk.CmdResponse, id, 0) {
		s.out[len(s.out)-2], s.out[len(s.out)-1] = byte(st>>8), byte(st)
		s.kickLocked()
	}
	s.mu.Unlock()
}

func (s *session) sendPing() {
	s.mu.Lock()
	if s.startLocked(blynk.CmdPing, 0, 0) {
		s.kickLocked()
	}
	s.mu.Unlock()
}

// sendVW queues HARDWARE "vw\0pin\0value" (id 0 → the next server id).
func (s *session) sendVW(id uint16, pin int, value string) {
	var pinBuf [3]byte
	p := strconv.AppendInt(pinBuf[:0], int64(pin), 10)
	n := 3 + len(p) + 1 + len(value)
	if n > s.maxOutBody() {
		s.srv.c.outOversize.Add(1)
		return
	}
	s.mu.Lock()
	if s.startLocked(blynk.CmdHardware, id, n) {
		s.out = append(s.out, "vw\x00"...)
		s.out = append(s.out, p...)
		s.out = append(s.out, 0)
		s.out = append(s.out, value...)
		s.kickLocked()
	}
	s.mu.Unlock()
}

// sendInternal queues INTERNAL with NUL-joined items.
func (s *session) sendInternal(id uint16, items ...string) {
	n := len(items) - 1
	for _, it := range items {
		n += len(it)
	}
	if n > s.maxOutBody() {
		s.srv.c.outOversize.Add(1)
		return
	}
	s.mu.Lock()
	if s.startLocked(blynk.CmdInternal, id, n) {
		s.out = blynk.AppendStrings(s.out, items...)
		s.kickLocked()
	}
	s.mu.Unlock()
}

// startLocked appends a frame header for a body of n bytes, or reports
// false (and counts the drop) when the session is closed or its queue full.
// id 0 takes the next server-originated id, which is never 0.
func (s *session) startLocked(cmd blynk.Command, id uint16, n int) bool {
	if s.closed {
		return false
	}
	if len(s.out)+blynk.HeaderSize+n > s.srv.opts.MaxQueue {
		s.srv.c.outQueueFull.Add(1)
		return false
	}
	if id == 0 {
		id = s.ids.Next()
	}
	ln := uint16(n)
	s.out = append(s.out, byte(cmd), byte(id>>8), byte(id), byte(ln>>8), byte(ln))
	s.srv.c.sent.Add(1)
	return true
}

func (s *session) kickLocked() {
	if !s.writing {
		s.writing = true
		go s.writeLoop()
	}
}

// writeLoop is the connection's one writer. It sends everything queued in
// one socket write per round and exits when the queue is empty, so an idle
// session holds no writer goroutine.
func (s *session) writeLoop() {
	s.mu.Lock()
	for len(s.out) > 0 {
		buf := s.out
		s.out, s.spare = s.spare[:0], nil
		s.mu.Unlock()
		s.conn.SetWriteDeadline(time.Now().Add(s.srv.opts.WriteTimeout))
		_, err := s.conn.Write(buf)
		s.mu.Lock()
		if err != nil {
			s.closed = true
			s.out = nil
			s.conn.Close()
			break
		}
		if cap(buf) <= spareMax {
			s.spare = buf[:0]
		}
	}
	if cap(s.out) > spareMax {
		s.out = nil
	}
	s.writing = false
	s.cond.Broadcast()
	s.mu.Unlock()
}
