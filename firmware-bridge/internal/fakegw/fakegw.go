// Package fakegw is a minimal Blynk device server for the bridges' tests:
// it checks tokens, answers login, ping and info like the gateway
// (PROTOCOL.md §7.1–7.2), records datastream writes, answers syncs and can
// push writes to a device. The real gateway code lives under
// gateway/internal, which the bridges cannot import; the gateway's own
// integration tests run the bridges against it.
package fakegw

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"outpost/shared/blynk"
)

// Write is a datastream write a device sent.
type Write struct {
	Device string
	Pin    int
	Value  string // items joined by NUL
	At     time.Time
}

// Gateway serves device sessions. Safe for concurrent use.
type Gateway struct {
	// OnWrite, if set before use, is called for every device write, in the
	// session goroutine.
	OnWrite func(Write)

	mu       sync.Mutex
	tokens   map[string]string // token → device name
	sessions map[string]*session
	writes   []Write
	values   map[string]map[int]string
	logins   map[string]int
	frames   []blynk.Message // every frame received (after login), bodies copied
}

type session struct {
	mu  sync.Mutex
	w   *blynk.Writer
	ids blynk.IDs
	c   net.Conn
}

// New returns a Gateway knowing tokens (token → device name).
func New(tokens map[string]string) *Gateway {
	return &Gateway{
		tokens:   tokens,
		sessions: map[string]*session{},
		values:   map[string]map[int]string{},
		logins:   map[string]int{},
	}
}

// SetValue stores a value that sync returns.
func (g *Gateway) SetValue(device string, pin int, value string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.values[device] == nil {
		g.values[device] = map[int]string{}
	}
	g.values[device][pin] = value
}

// ServeConn runs one session until the connection fails, the client
// misbehaves or ctx is done.
func (g *Gateway) ServeConn(ctx context.Context, c net.Conn, transport string) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	rd := blynk.NewReader(c, 4096)
	s := &session{w: blynk.NewWriter(c), c: c}
	m, err := rd.Next()
	if err != nil || (m.Cmd != blynk.CmdHWLogin && m.Cmd != blynk.CmdLogin) {
		return
	}
	g.mu.Lock()
	dev, ok := g.tokens[string(m.Body)]
	g.mu.Unlock()
	if !ok {
		s.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusInvalidToken})
		return
	}
	g.mu.Lock()
	if old := g.sessions[dev]; old != nil {
		old.c.Close()
	}
	g.sessions[dev] = s
	g.logins[dev]++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if g.sessions[dev] == s {
			delete(g.sessions, dev)
		}
		g.mu.Unlock()
	}()
	s.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusSuccess})
	var fields [][]byte
	for {
		m, err := rd.Next()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.frames = append(g.frames, blynk.Message{Cmd: m.Cmd, ID: m.ID, Status: m.Status, Body: slices.Clone(m.Body)})
		g.mu.Unlock()
		switch m.Cmd {
		case blynk.CmdHWLogin, blynk.CmdLogin:
			s.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusAlreadyRegistered})
		case blynk.CmdPing, blynk.CmdInternal, blynk.CmdProperty, blynk.CmdGroup, blynk.CmdEventLog, blynk.CmdEventClear:
			s.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusSuccess})
		case blynk.CmdHardware:
			fields = blynk.Fields(fields, m.Body)
			if len(fields) < 3 || string(fields[0]) != "vw" {
				s.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusIllegalCommand})
				continue
			}
			pin, err := strconv.Atoi(string(fields[1]))
			if err != nil || pin < 0 || pin > 255 {
				s.send(blynk.Message{Cmd: blynk.CmdResponse, ID: m.ID, Status: blynk.StatusIllegalCommand})
				continue
			}
			w := Write{Device: dev, Pin: pin, Value: string(blynk.AppendBody(nil, fields[2:]...)), At: time.Now()}
			g.mu.Lock()
			g.writes = append(g.writes, w)
			if g.values[dev] == nil {
				g.values[dev] = map[int]string{}
			}
			g.values[dev][pin] = w.Value
			g.mu.Unlock()
			if g.OnWrite != nil {
				g.OnWrite(w)
			}
		case blynk.CmdHardwareSync:
			fields = blynk.Fields(fields, m.Body)
			g.mu.Lock()
			var out []blynk.Message
			for _, f := range fields[min(1, len(fields)):] {
				pin, err := strconv.Atoi(string(f))
				if v, ok := g.values[dev][pin]; err == nil && ok {
					out = append(out, blynk.Message{Cmd: blynk.CmdHardware, ID: m.ID, Body: vwBody(pin, v)})
				}
			}
			g.mu.Unlock()
			for _, o := range out {
				s.send(o)
			}
		}
	}
}

func vwBody(pin int, value string) []byte {
	b := blynk.AppendStrings(nil, "vw", strconv.Itoa(pin))
	return append(append(b, 0), value...)
}

func (s *session) send(m blynk.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(m)
}

// Send pushes a datastream write to the device's session (a control write).
// It reports false when the device is offline.
func (g *Gateway) Send(device string, pin int, value string) bool {
	g.SetValue(device, pin, value)
	g.mu.Lock()
	s := g.sessions[device]
	g.mu.Unlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	id := s.ids.Next()
	s.mu.Unlock()
	return s.send(blynk.Message{Cmd: blynk.CmdHardware, ID: id, Body: vwBody(pin, value)}) == nil
}

// Online reports whether device has a session.
func (g *Gateway) Online(device string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[device] != nil
}

// Kick closes the device's session from the gateway side (a heartbeat
// timeout, a restart).
func (g *Gateway) Kick(device string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sessions[device]; s != nil {
		s.c.Close()
	}
}

// Logins counts accepted logins of device.
func (g *Gateway) Logins(device string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.logins[device]
}

// Writes returns the writes received so far.
func (g *Gateway) Writes() []Write {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.writes)
}

// Frames returns every frame received after logins.
func (g *Gateway) Frames() []blynk.Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.frames)
}
