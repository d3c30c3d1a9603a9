// Package gatewaysync is the cloud's websocket endpoint for gateways. It
// authenticates a gateway by its credential, pushes the tenancy the gateway
// needs (a snapshot, then deltas computed against what it last sent),
// applies the gateway's telemetry batches idempotently — each gateway's
// highest applied sequence number is kept with the data, so a replayed
// batch changes nothing — and carries commands from people to the gateway
// and their results back. Devices created on a gateway are handed to
// Options.Devices before anything after them is read (merge-up).
//
// One connection per gateway: a new one replaces the old, which is closed
// and finished before the new one applies anything. Revoking a credential
// (Disconnect) closes the connection at once.
package gatewaysync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"outpost/shared/syncproto"
)

// Errors.
var (
	// ErrUnauthorized is what Credentials returns for an unknown or revoked
	// credential (wrapped or not).
	ErrUnauthorized = errors.New("gatewaysync: unknown or revoked gateway credential")
	// ErrNotClaimed is what Credentials returns for a known credential of
	// a gateway no installer has claimed yet (answered 403: keep trying).
	ErrNotClaimed = errors.New("gatewaysync: gateway is not claimed yet")
	// ErrNotConnected: a command's context ended before the gateway was
	// there to answer.
	ErrNotConnected = errors.New("gatewaysync: gateway not connected")
)

// Credentials resolves a gateway credential (the bearer token a gateway got
// at claim) to the gateway's id.
type Credentials interface {
	AuthenticateGateway(ctx context.Context, credential string) (gatewayID string, err error)
}

// Tenancy gives what one gateway needs of the tenancy: templates, the
// devices it serves with their token hashes, their owners and orgs, static
// tokens. Version must grow with every tenancy change and survive restarts
// (e.g. the latest audit id), so that a gateway reconnecting at the current
// version gets nothing, and one behind gets a snapshot.
type Tenancy interface {
	GatewayTenancy(ctx context.Context, gatewayID string) (syncproto.Tenancy, error)
}

// Telemetry stores what gateways send. Sequence numbers are per gateway
// and outbox epoch (syncproto.Hello.Epoch).
type Telemetry interface {
	// Applied returns the highest seq applied for the gateway's epoch, 0
	// if none.
	Applied(ctx context.Context, gatewayID string, epoch int64) (int64, error)
	// Apply stores items (all with a seq above Applied, ascending) and
	// sets Applied to upTo, atomically: after a crash either both or
	// neither happened.
	Apply(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64) error
}

// Devices adopts devices created on a gateway (merge-up, syncproto
// LocalDevices). It must be idempotent: gateways announce a device on
// every connection until they see it in their tenancy. Refusing a device
// is not an error; an error closes the connection (the gateway retries).
type Devices interface {
	MergeDevices(ctx context.Context, gatewayID string, l syncproto.LocalDevices) error
}

// Shipments gives the firmware shipments one gateway runs (issue 18). The
// list is sent after the tenancy and again when it changes; TenancyChanged
// is the signal to re-read it.
type Shipments interface {
	GatewayShipments(ctx context.Context, gatewayID string) (syncproto.Shipments, error)
}

// Options configure a Server.
type Options struct {
	Credentials Credentials
	Tenancy     Tenancy
	Telemetry   Telemetry
	Devices     Devices   // optional: without it announced devices are ignored (logged)
	Shipments   Shipments // optional: without it no shipments are sent
	Logger      *slog.Logger
	Now         func() time.Time // nil → time.Now

	IdleTimeout time.Duration // no frame for this long → close, default 60s
	PingEvery   time.Duration // server pings, default IdleTimeout/3
}

// Site is what the cloud knows of one gateway's link (TENANCY.md §11.8,
// issue "site status").
type Site struct {
	Gateway        string
	Connected      bool
	LastSeen       time.Time
	Software       string
	Backlog        int64 // outbox entries the gateway has not had acknowledged
	DevicesOnline  int
	TenancyVersion int64 // last version sent
	Applied        int64 // highest telemetry seq applied
}

// Server is the endpoint; it is an http.Handler. Create with New.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	conns    map[string]*conn            // by gateway id
	sites    map[string]*Site            // by gateway id
	pending  map[string]map[string]*call // gateway id → command id → call
	stopPing chan struct{}
	pingOnce sync.Once
	closed   bool           // guarded by mu; no new connection or refresh after Close
	work     sync.WaitGroup // connections served and refreshes running, for Close to wait on

	viewReads atomic.Int64 // Tenancy.GatewayTenancy calls (ViewReads)
	wakes     atomic.Int64 // connections TenancyChanged woke (Wakes)
}

// call is a command waiting for its result.
type call struct {
	msg  *syncproto.Message
	done chan syncproto.Result // buffered 1
}

// New returns a Server. Credentials, Tenancy and Telemetry are required.
func New(opts Options) (*Server, error) {
	if opts.Credentials == nil || opts.Tenancy == nil || opts.Telemetry == nil {
		return nil, errors.New("gatewaysync: Credentials, Tenancy and Telemetry are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	if opts.PingEvery <= 0 {
		opts.PingEvery = opts.IdleTimeout / 3
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:     opts,
		log:      log.With("component", "gatewaysync"),
		conns:    make(map[string]*conn),
		sites:    make(map[string]*Site),
		pending:  make(map[string]map[string]*call),
		stopPing: make(chan struct{}),
	}
	go s.pinger()
	return s, nil
}

// Close stops the server's pinger, closes every gateway connection and
// waits until nothing of the server uses its stores any more (the caller
// closes them next).
func (s *Server) Close() {
	s.pingOnce.Do(func() { close(s.stopPing) })
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.work.Wait()
}

// track counts one more piece of work for Close to wait on; false once the
// server is closed.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.work.Add(1)
	return true
}

// pinger pings every connection from one goroutine, so an idle gateway
// costs no goroutine of its own beyond its reader.
func (s *Server) pinger() {
	t := time.NewTicker(s.opts.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopPing:
			return
		case <-t.C:
		}
		s.mu.Lock()
		conns := make([]*conn, 0, len(s.conns))
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.ping()
		}
	}
}

// Disconnect closes the gateway's connection now (its credential was
// revoked or its gateway released). The credential check refuses its next
// attempt.
func (s *Server) Disconnect(gatewayID string) {
	s.mu.Lock()
	c := s.conns[gatewayID]
	s.mu.Unlock()
	if c != nil {
		c.sendError(syncproto.CodeUnauthorized, "credential revoked")
		c.close()
	}
}

// TenancyChanged tells the server that the tenancy of these gateways (all
// connected ones if none is named) may have changed; each re-reads its
// tenancy and gets a delta. Notifications coalesce; it does not block.
func (s *Server) TenancyChanged(gatewayIDs ...string) {
	s.mu.Lock()
	var conns []*conn
	if len(gatewayIDs) == 0 {
		for _, c := range s.conns {
			conns = append(conns, c)
		}
	} else {
		for _, id := range gatewayIDs {
			if c := s.conns[id]; c != nil {
				conns = append(conns, c)
			}
		}
	}
	s.mu.Unlock()
	s.wakes.Add(int64(len(conns)))
	for _, c := range conns {
		c.refresh()
	}
}

// Wakes counts the connections TenancyChanged woke since the start.
func (s *Server) Wakes() int64 { return s.wakes.Load() }

// ViewReads counts the gateway views read (Tenancy.GatewayTenancy) since
// the start: one per connection, one per woken gateway.
func (s *Server) ViewReads() int64 { return s.viewReads.Load() }

// Sites returns the status of every gateway seen since the start.
func (s *Server) Sites() []Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Site, 0, len(s.sites))
	for _, st := range s.sites {
		out = append(out, *st)
	}
	return out
}

// Site returns one gateway's status.
func (s *Server) Site(gatewayID string) (Site, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.sites[gatewayID]
	if !ok {
		return Site{}, false
	}
	return *st, true
}

func (s *Server) updateSite(gatewayID string, fn func(*Site)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[gatewayID]
	if st == nil {
		st = &Site{Gateway: gatewayID}
		s.sites[gatewayID] = st
	}
	fn(st)
}

// Command sends a command to a gateway and waits for its result. It is
// delivered at least once: sent now if the gateway is connected, and again
// on every reconnect until the result arrives or ctx ends (the gateway
// applies each id once). c.TS of 0 is set to now.
func (s *Server) Command(ctx context.Context, gatewayID string, c syncproto.Command) (syncproto.Result, error) {
	id, err := NewCommandID()
	if err != nil {
		return syncproto.Result{}, err
	}
	return s.CommandID(ctx, gatewayID, id, c)
}

// NewCommandID returns a fresh random command id.
func NewCommandID() (string, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:]), nil
}

// CommandID is Command with the id chosen by the caller: cloud instances
// that may each hold the gateway's connection send one command under one
// id, and the gateway applies an id once, whichever instance delivers it.
func (s *Server) CommandID(ctx context.Context, gatewayID, id string, c syncproto.Command) (syncproto.Result, error) {
	if c.TS == 0 {
		c.TS = s.opts.Now().UnixMilli()
	}
	m := &syncproto.Message{V: syncproto.ProtocolVersion, Type: syncproto.TypeCommand, ID: id, Command: &c}
	if err := m.Validate(); err != nil {
		return syncproto.Result{}, err
	}
	cl := &call{msg: m, done: make(chan syncproto.Result, 1)}
	s.mu.Lock()
	p := s.pending[gatewayID]
	if p == nil {
		p = make(map[string]*call)
		s.pending[gatewayID] = p
	}
	p[m.ID] = cl
	cn := s.conns[gatewayID]
	if cn != nil && !cn.ready {
		cn = nil // it will send what is pending once ready
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending[gatewayID], m.ID)
		if len(s.pending[gatewayID]) == 0 {
			delete(s.pending, gatewayID)
		}
		s.mu.Unlock()
	}()
	if cn != nil {
		_ = cn.send(m) // on failure the reconnect resends it
	}
	select {
	case r := <-cl.done:
		return r, nil
	case <-ctx.Done():
		return syncproto.Result{}, errors.Join(ErrNotConnected, ctx.Err())
	}
}

func (s *Server) pendingLocked(gatewayID string) []*syncproto.Message {
	var out []*syncproto.Message
	for _, cl := range s.pending[gatewayID] {
		out = append(out, cl.msg)
	}
	return out
}

func (s *Server) resolve(gatewayID, id string, r syncproto.Result) {
	s.mu.Lock()
	cl := s.pending[gatewayID][id]
	s.mu.Unlock()
	if cl == nil {
		return // a replayed result, or the caller gave up
	}
	select {
	case cl.done <- r:
	default:
	}
}
