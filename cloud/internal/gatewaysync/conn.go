package gatewaysync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"outpost/shared/datastream"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// upgrader is stateless configuration. Write buffers come from a pool, so
// an idle connection holds none; reads reuse the HTTP server's buffer.
// Gateways are not browsers: there is no Origin to check, the credential is
// the authentication.
var writePool sync.Pool

func newUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		WriteBufferPool:  &writePool,
		CheckOrigin:      func(*http.Request) bool { return true },
	}
}

// httpError answers in the Platform API's error shape,
// {"error":{"message":"…"}}.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]map[string]string{"error": {"message": msg}})
	w.Write(b)
}

// conn is one gateway's websocket.
type conn struct {
	s  *Server
	ws *websocket.Conn
	gw string
	// display: the gateway announced syncproto.FeatureDisplay; set from
	// the hello before any tenancy is sent.
	display bool

	writeMu   sync.Mutex
	closeOnce sync.Once
	done      chan struct{} // closed when serve returns

	tmu     sync.Mutex         // serializes tenancy pushes
	sent    *syncproto.Tenancy // what the gateway has, as far as this connection knows
	sentSh  []byte             // the shipments last sent, encoded (nil: none yet)
	ready   bool               // welcome and tenancy sent; guarded by s.mu
	dirty   atomic.Bool        // a refresh was asked
	running atomic.Bool        // a refresh goroutine runs
}

// ServeHTTP authenticates the gateway's bearer credential, upgrades to a
// websocket and serves the gateway until the connection ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || cred == "" {
		httpError(w, http.StatusUnauthorized, "gateway credential required")
		return
	}
	gw, err := s.opts.Credentials.AuthenticateGateway(r.Context(), cred)
	if err != nil {
		switch {
		case errors.Is(err, ErrUnauthorized):
			httpError(w, http.StatusUnauthorized, "unknown or revoked gateway credential")
		case errors.Is(err, ErrNotClaimed):
			httpError(w, http.StatusForbidden, "gateway is not claimed yet")
		default:
			s.log.Error("credential lookup failed", "err", err)
			httpError(w, http.StatusServiceUnavailable, "try again later")
		}
		return
	}
	if !s.track() {
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	defer s.work.Done()
	ws, err := newUpgrader().Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	c := &conn{s: s, ws: ws, gw: gw, done: make(chan struct{})}
	err = c.serve(context.WithoutCancel(r.Context()))
	switch {
	case err == nil, websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway):
	default:
		s.log.Info("gateway disconnected", "gateway", gw, "err", err)
	}
}

func (c *conn) serve(ctx context.Context) error {
	s := c.s
	defer close(c.done)
	defer c.close()
	c.ws.SetReadLimit(syncproto.MaxMessageSize)
	c.ws.SetPongHandler(func(string) error { return c.extend() })

	m, err := c.read()
	if err != nil {
		return err
	}
	if m.Type != syncproto.TypeHello {
		c.sendError(syncproto.CodeBadMessage, "first message must be hello")
		return fmt.Errorf("gatewaysync: %s before hello", m.Type)
	}
	if m.Hello.Gateway != c.gw {
		c.sendError(syncproto.CodeUnauthorized, "credential belongs to another gateway")
		return fmt.Errorf("gatewaysync: hello from %q with the credential of %q", m.Hello.Gateway, c.gw)
	}
	c.display = m.Hello.Has(syncproto.FeatureDisplay)

	// Take over from a previous connection and wait until it has stopped
	// applying, so that telemetry is never applied by two connections.
	s.mu.Lock()
	old := s.conns[c.gw]
	s.conns[c.gw] = c
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.conns[c.gw] == c {
			delete(s.conns, c.gw)
			if st := s.sites[c.gw]; st != nil {
				st.Connected = false
			}
		}
		s.mu.Unlock()
	}()
	if old != nil {
		old.sendError(syncproto.CodeReplaced, "a newer connection of this gateway took over")
		old.close()
		<-old.done
	}

	epoch := m.Hello.Epoch
	applied, err := s.opts.Telemetry.Applied(ctx, c.gw, epoch)
	if err != nil {
		c.sendError(syncproto.CodeInternal, "telemetry store unavailable")
		return fmt.Errorf("gatewaysync: applied cursor: %w", err)
	}
	h := m.Hello
	s.updateSite(c.gw, func(st *Site) {
		st.Connected, st.LastSeen = true, s.opts.Now()
		st.Software, st.Backlog, st.DevicesOnline, st.Applied = h.Software, h.Backlog, h.DevicesOnline, applied
	})
	err = c.send(&syncproto.Message{Type: syncproto.TypeWelcome, Welcome: &syncproto.Welcome{
		Gateway: c.gw, TelemetryApplied: applied, ServerTime: s.opts.Now().UnixMilli()}})
	if err != nil {
		return err
	}
	if err := c.pushTenancy(ctx, true, h.TenancyVersion); err != nil {
		return err
	}
	// From here on Command sends directly; what was pending before is
	// sent now (both under s.mu, so no command falls between).
	s.mu.Lock()
	c.ready = true
	pending := s.pendingLocked(c.gw)
	s.mu.Unlock()
	for _, cmd := range pending {
		if err := c.send(cmd); err != nil {
			return err
		}
	}

	for {
		m, err := c.read()
		if err != nil {
			return err
		}
		s.updateSite(c.gw, func(st *Site) { st.LastSeen = s.opts.Now() })
		switch m.Type {
		case syncproto.TypeTelemetry:
			// Items at or below applied were applied by an earlier
			// connection whose ack was lost: skip them, ack again.
			items := m.Telemetry.Items
			i := 0
			for i < len(items) && items[i].Seq <= applied {
				i++
			}
			if i < len(items) {
				if err := s.opts.Telemetry.Apply(ctx, c.gw, epoch, items[i:], m.Seq); err != nil {
					c.sendError(syncproto.CodeInternal, "telemetry store unavailable")
					return fmt.Errorf("gatewaysync: apply telemetry: %w", err)
				}
				applied = m.Seq
				s.updateSite(c.gw, func(st *Site) { st.Applied = applied })
			}
			if err := c.send(&syncproto.Message{Type: syncproto.TypeAck, Seq: m.Seq}); err != nil {
				return err
			}
		case syncproto.TypeResult:
			s.resolve(c.gw, m.ID, *m.Result)
		case syncproto.TypeStatus:
			st := m.Status
			s.updateSite(c.gw, func(site *Site) {
				site.Software, site.Backlog, site.DevicesOnline = st.Software, st.Backlog, st.DevicesOnline
			})
		case syncproto.TypeDevices:
			if err := c.mergeDevices(ctx, m.Devices); err != nil {
				return err
			}
		case syncproto.TypeError:
			return fmt.Errorf("gatewaysync: gateway closed: %s: %s", m.Error.Code, m.Error.Message)
		default:
			c.sendError(syncproto.CodeBadMessage, fmt.Sprintf("unexpected %s", m.Type))
			return fmt.Errorf("gatewaysync: unexpected %s from gateway", m.Type)
		}
	}
}

// mergeDevices hands devices created on the gateway to the tenancy before
// the next message is read, so the telemetry that follows finds them. What
// was adopted reaches the gateway as a delta (refresh; the tenancy's change
// hook usually asks for it too).
func (c *conn) mergeDevices(ctx context.Context, l *syncproto.LocalDevices) error {
	if c.s.opts.Devices == nil {
		c.s.log.Warn("gateway announced local devices; merge-up is not configured", "gateway", c.gw, "devices", len(l.Devices))
		return nil
	}
	if err := c.s.opts.Devices.MergeDevices(ctx, c.gw, *l); err != nil {
		c.sendError(syncproto.CodeInternal, "tenancy store unavailable")
		return fmt.Errorf("gatewaysync: merge devices: %w", err)
	}
	c.refresh()
	return nil
}

// pushTenancy brings the gateway to the current tenancy: nothing if it has
// it, a delta against what this connection sent before, else a snapshot.
func (c *conn) pushTenancy(ctx context.Context, initial bool, gatewayHas int64) error {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if !initial && c.sent == nil {
		return nil // the initial push has not run yet; it reads the current tenancy
	}
	c.s.viewReads.Add(1)
	cur, err := c.s.opts.Tenancy.GatewayTenancy(ctx, c.gw)
	if err != nil {
		return fmt.Errorf("gatewaysync: tenancy of %s: %w", c.gw, err)
	}
	if !c.display { // an older gateway refuses fields it does not know
		cur.Templates = slices.Clone(cur.Templates) // not the provider's
		for i := range cur.Templates {
			cur.Templates[i] = cur.Templates[i].WithoutDisplay()
		}
	}
	if c.sent != nil {
		gatewayHas = c.sent.Version
	}
	switch {
	case cur.Version == gatewayHas:
		if c.sent != nil {
			// The version is read first: content committed meanwhile may
			// be in cur under the old version. The gateway has what was
			// sent; the newer commit's wake brings the rest as a delta.
			cur = *c.sent
		}
	case c.sent != nil && cur.Version > c.sent.Version:
		d := diff(c.sent, &cur)
		if err := c.send(&syncproto.Message{Type: syncproto.TypeDelta, Delta: d}); err != nil {
			return err
		}
	default:
		if err := c.send(&syncproto.Message{Type: syncproto.TypeSnapshot, Snapshot: &cur}); err != nil {
			return err
		}
	}
	c.sent = &cur
	c.s.updateSite(c.gw, func(st *Site) { st.TenancyVersion = cur.Version })
	return c.pushShipments(ctx)
}

// pushShipments sends the gateway's shipments after the tenancy they name
// devices of: on connection, then whenever the list differs from the last
// one sent. Called with tmu held.
func (c *conn) pushShipments(ctx context.Context) error {
	if c.s.opts.Shipments == nil {
		return nil
	}
	l, err := c.s.opts.Shipments.GatewayShipments(ctx, c.gw)
	if err != nil {
		return fmt.Errorf("gatewaysync: shipments of %s: %w", c.gw, err)
	}
	enc, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if c.sentSh != nil && bytes.Equal(enc, c.sentSh) {
		return nil
	}
	if err := c.send(&syncproto.Message{Type: syncproto.TypeShipments, Shipments: &l}); err != nil {
		return err
	}
	c.sentSh = enc
	return nil
}

// refresh re-reads the tenancy in a goroutine of its own; calls made while
// one runs fold into one more pass.
func (c *conn) refresh() {
	c.dirty.Store(true)
	if !c.running.CompareAndSwap(false, true) {
		return
	}
	if !c.s.track() {
		c.running.Store(false)
		return // shutting down: the connection is closed anyway
	}
	go func() {
		defer c.s.work.Done()
		for {
			for c.dirty.Swap(false) {
				if err := c.pushTenancy(context.Background(), false, 0); err != nil {
					c.s.log.Warn("tenancy push failed", "gateway", c.gw, "err", err)
					c.close()
				}
			}
			c.running.Store(false)
			// A refresh asked between the last Swap and the Store above
			// would otherwise be lost.
			if !c.dirty.Load() || !c.running.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func (c *conn) extend() error {
	return c.ws.SetReadDeadline(time.Now().Add(c.s.opts.IdleTimeout))
}

func (c *conn) read() (*syncproto.Message, error) {
	if err := c.extend(); err != nil {
		return nil, err
	}
	typ, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if typ != websocket.TextMessage {
		c.sendError(syncproto.CodeBadMessage, "binary frame")
		return nil, fmt.Errorf("gatewaysync: binary frame")
	}
	m, err := syncproto.Decode(data)
	if err != nil {
		code := syncproto.CodeBadMessage
		if errors.Is(err, syncproto.ErrUnsupportedVersion) {
			code = syncproto.CodeUnsupportedVersion
		}
		c.sendError(code, err.Error())
		return nil, fmt.Errorf("gatewaysync: %w", err)
	}
	return m, nil
}

func (c *conn) send(m *syncproto.Message) error {
	b, err := syncproto.Encode(m)
	if err != nil {
		return fmt.Errorf("gatewaysync: encode %s: %w", m.Type, err)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.s.opts.IdleTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *conn) sendError(code syncproto.ErrorCode, msg string) {
	if len(msg) > 512 {
		msg = msg[:512]
	}
	_ = c.send(&syncproto.Message{Type: syncproto.TypeError, Error: &syncproto.Error{Code: code, Message: msg}})
}

func (c *conn) ping() {
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.opts.IdleTimeout)); err != nil {
		c.close()
	}
}

func (c *conn) close() { c.closeOnce.Do(func() { c.ws.Close() }) }

// diff is the delta from a to b.
func diff(a, b *syncproto.Tenancy) *syncproto.Delta {
	d := &syncproto.Delta{From: a.Version, Version: b.Version}
	d.Orgs, d.DeletedOrgs = diffList(a.Orgs, b.Orgs, func(o syncproto.Org) int64 { return o.ID })
	d.Owners, d.DeletedOwners = diffList(a.Owners, b.Owners, func(o syncproto.Owner) int64 { return o.ID })
	d.Templates, d.DeletedTemplates = diffList(a.Templates, b.Templates, func(t datastream.Template) string { return t.ID })
	d.Devices, d.DeletedDevices = diffList(a.Devices, b.Devices, func(x syncproto.Device) string { return x.UID })
	d.StaticTokens, d.DeletedStaticTokens = diffList(a.StaticTokens, b.StaticTokens, func(x syncproto.StaticToken) string { return x.ID })
	d.Automations, d.DeletedAutomations = diffList(a.Automations, b.Automations, func(x rules.Automation) string { return x.ID })
	return d
}

// diffList returns the entries of b that are new or changed since a, and
// the keys of a's entries b no longer has.
func diffList[T any, K comparable](a, b []T, key func(T) K) (upserts []T, deleted []K) {
	old := make(map[K]*T, len(a))
	for i := range a {
		old[key(a[i])] = &a[i]
	}
	for _, x := range b {
		k := key(x)
		if prev, ok := old[k]; !ok || !reflect.DeepEqual(*prev, x) {
			upserts = append(upserts, x)
		}
		delete(old, k)
	}
	for _, x := range a {
		if _, gone := old[key(x)]; gone {
			deleted = append(deleted, key(x))
		}
	}
	return upserts, deleted
}
