// Package cloudlink is the gateway's side of the cloud sync: one websocket
// to cloud/internal/gatewaysync speaking shared/syncproto. It sends a hello
// with its cursors, applies the tenancy the cloud pushes (a snapshot, then
// deltas), drains the store's outbox oldest-first in batches and deletes
// entries once the cloud acknowledges them, and executes the cloud's
// commands on the hub.
//
// Merge-up: devices created on the gateway (its config, its CLI, the
// installer API — online or offline) get their ULID here and are announced
// to the cloud in a syncproto devices message, with their templates, after
// every welcome and before any telemetry that names them; the cloud adopts
// unknown UIDs and sends them back down in a delta. A device counts as
// known to the cloud once it came down in a snapshot or delta; that is kept
// durably (a sync cursor per UID), so that after a crash or a long offline
// period the gateway still tells the devices the cloud deleted (known, and
// absent from a snapshot: deleted here) from those it never saw (announced
// again; the cloud ignores a UID it has or deleted, so replays are
// harmless). The state is recomputed from the hub's devices on every
// connection: nothing is lost if the gateway dies between creating a device
// and announcing it.
//
// The link is offline first: nothing on the gateway waits for it. With the
// cloud gone the outbox just grows; the link reconnects after a delay with
// full jitter, so that a cloud restart does not bring every gateway back in
// the same second, whose ceiling grows with the time the link has been down
// (see Backoff): a short outage ends a few seconds after the cloud is back,
// a long one within MaxBackoff.
package cloudlink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// Hub is what the link needs of the gateway's hub (*hub.Hub).
type Hub interface {
	Device(id int64) (hub.Device, bool)
	DeviceByUID(uid string) (hub.Device, bool)
	Devices() []hub.Device
	// Templates are sent with the devices the merge-up announces, so the
	// cloud can adopt devices on templates it does not know yet.
	Templates() []datastream.Template
	SaveTemplate(ctx context.Context, t datastream.Template) error
	// UpsertDevice applies a device pushed by the cloud: create, or replace
	// name, template and token hash of, the device with d.UID, keeping its
	// local id and data.
	UpsertDevice(ctx context.Context, d hub.Device) (hub.Device, error)
	DeleteDevice(ctx context.Context, id int64) error
	// CommandWrite applies a command unless the pin holds a newer value
	// (hub.ErrStale, with that value).
	CommandWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error)
	// SetMetaAt applies a metadata value a person set in the cloud at ts
	// unless the device holds one set at ts or later; it reports whether
	// it applied it.
	SetMetaAt(deviceID int64, name, value string, ts int64, source string) (bool, error)
	Subscribe(fn func(hub.Update)) (cancel func())
	Stats() hub.Stats
}

// Entry is one outbox entry of the gateway store.
type Entry = hub.OutboxEntry

// Store is what the link needs of the gateway's store (*sqlite.Store).
// Every method is needed for the gateway to stay offline first: without
// durable cursors a restart would cost a snapshot and forget which devices
// the cloud knows; without the tenancy cache a gateway restarted offline
// would lose orgs, owners and static tokens.
type Store interface {
	// Outbox returns up to limit entries with Seq > after, oldest first.
	Outbox(ctx context.Context, after int64, limit int) ([]Entry, error)
	// AckOutbox deletes the entries with Seq <= upTo.
	AckOutbox(ctx context.Context, upTo int64) error
	// OutboxLen counts the entries not yet acknowledged (the backlog
	// reported in the site status).
	OutboxLen(ctx context.Context) (int64, error)
	CursorStore
	TenancyCacheStore
}

// CursorStore keeps a named sync cursor durable (an unknown cursor is 0):
// CursorTenancy, CursorEpoch and one per device the cloud knows.
type CursorStore interface {
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, v int64) error
}

// Cursor names. CursorTenancy holds the last tenancy version applied;
// CursorEpoch the outbox epoch (syncproto.Hello.Epoch), drawn once per
// database. Telemetry needs no cursor: acknowledged entries are deleted
// from the outbox, so what is left is what to send.
const (
	CursorTenancy = "tenancy_version"
	CursorEpoch   = "outbox_epoch"
)

// Shipments takes the firmware shipments the cloud sends (the whole list
// each time); gateway/internal/ota implements it.
type Shipments interface {
	ApplyShipments(ctx context.Context, l syncproto.Shipments) error
}

// Options configure a Link. URL, Credential, GatewayID, Hub and Store are
// required.
type Options struct {
	URL        string // wss://host/…; ws:// only to a loopback address
	Credential string // the gateway credential received at claim (Bearer)
	GatewayID  string
	Software   string // build version reported to the cloud
	Hub        Hub
	Store      Store
	Shipments  Shipments // nil: shipments are ignored
	Logger     *slog.Logger
	TLS        *tls.Config // nil → system roots

	BatchSize    int           // items per telemetry batch, default 4000 (see New)
	MaxInFlight  int           // unacknowledged batches, default 8
	PollInterval time.Duration // outbox poll when idle, default 50ms (records are also signalled by the hub)
	MinBackoff   time.Duration // reconnect delay ceiling while the link has been down briefly, default 500ms
	MaxBackoff   time.Duration // largest reconnect delay ceiling, default 30s
	IdleTimeout  time.Duration // no frame (data or pong) for this long → reconnect, default 60s
	StatusEvery  time.Duration // site status report period, default 30s
	// RevokedAfter makes Run give up, returning an error matching
	// ErrRevoked, once that many sessions in a row were refused because
	// the cloud does not know the credential (the site was released): the
	// caller registers again. 0: never give up.
	RevokedAfter int
	// Rand returns a float in [0,1) for the backoff jitter; nil → math/rand/v2.
	Rand func() float64
	// NetDial opens the connection to the cloud; nil → a net.Dialer. Tests
	// stand a cloud outage on it (TestReconnectAfterOutage).
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// PruneDevices makes a snapshot delete every local device it does not
	// list, even one the cloud never saw (for a gateway whose devices are
	// all made in the cloud). Without it a snapshot deletes only devices
	// the cloud is known to have had (see the package doc); deletions the
	// cloud sends in deltas always apply.
	PruneDevices bool
	// OnAutomations, if set, receives the automations the cloud placed at
	// this gateway: once when Run has loaded them from the store (so they
	// run with the cloud away), then after every change the cloud sends.
	// It must not block.
	OnAutomations func([]rules.Automation)
}

// Stats are the link's counters.
type Stats struct {
	Connected      bool
	Connects       uint64 // sessions that got a welcome
	Failures       uint64 // dial, handshake or session failures
	ItemsSent      uint64 // telemetry items sent (replays included)
	ItemsAcked     int64  // highest seq acknowledged
	Skipped        uint64 // outbox entries of devices no longer known (deleted locally)
	TenancyVersion int64
	Commands       uint64 // commands executed (not counting replays)
	Announced      uint64 // local devices announced to the cloud (merge-up), resends included
	// Since is when the link last went up or down (Run's start at first);
	// LastAck when the cloud last acknowledged telemetry (zero: never).
	Since, LastAck time.Time
	// Org is the organization the site is claimed into (the top of the
	// tenancy subtree the cloud sent), "" before the first snapshot.
	Org string
}

// Link keeps the gateway's websocket to the cloud. Create with New, run
// with Run.
type Link struct {
	opts Options
	log  *slog.Logger
	u    *url.URL

	wake chan struct{} // the hub accepted a record: the outbox may have grown

	mu      sync.Mutex
	results *resultCache // answers to recent commands, for replays

	knownMu  sync.Mutex
	knownSet map[string]bool // device UID → the cloud has it (cache of the cursors)

	cacheMu sync.Mutex
	cache   cached // orgs, owners, static tokens (TenancyCacheStore)

	connected  atomic.Bool
	connects   atomic.Uint64
	failures   atomic.Uint64
	sent       atomic.Uint64
	acked      atomic.Int64
	skipped    atomic.Uint64
	tenancy    atomic.Int64
	commands   atomic.Uint64
	announcedN atomic.Uint64
	since      atomic.Int64 // ms: the link last went up or down
	lastAck    atomic.Int64 // ms: the cloud last acknowledged telemetry
}

// New checks opts and returns a Link.
func New(opts Options) (*Link, error) {
	if opts.Hub == nil || opts.Store == nil {
		return nil, errors.New("cloudlink: Hub and Store are required")
	}
	if opts.GatewayID == "" || opts.Credential == "" {
		return nil, errors.New("cloudlink: GatewayID and Credential are required")
	}
	u, err := checkURL(opts.URL)
	if err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	// A batch holds what the outbox has, up to BatchSize: small while the
	// link keeps up, full when a backlog drains or the site is busy. The
	// cloud applies a batch in one transaction, and a full batch of 4,000
	// costs its database about 30 % less CPU per item than four of 1,000
	// (PostgreSQL's BenchmarkApplyFourGateways: the per-transaction
	// statements, and COPY sets up a slot per row for its first 1,000
	// rows only).
	if opts.BatchSize <= 0 {
		opts.BatchSize = 4000
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 8
	}
	def(&opts.PollInterval, 50*time.Millisecond)
	def(&opts.MinBackoff, 500*time.Millisecond)
	def(&opts.MaxBackoff, 30*time.Second)
	def(&opts.IdleTimeout, 60*time.Second)
	def(&opts.StatusEvery, 30*time.Second)
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Link{
		opts:     opts,
		log:      log.With("component", "cloudlink"),
		u:        u,
		wake:     make(chan struct{}, 1),
		results:  newResultCache(4096),
		knownSet: make(map[string]bool),
		cache:    newCached(),
	}
	l.since.Store(time.Now().UnixMilli())
	return l, nil
}

// topOrg is the name of the top organization of the cached subtree.
func (l *Link) topOrg() string {
	l.cacheMu.Lock()
	defer l.cacheMu.Unlock()
	for _, o := range l.cache.orgs {
		if o.ParentID == 0 {
			return o.Name
		}
	}
	return ""
}

// msTime is a Unix ms time, zero for 0.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// checkURL accepts wss:// anywhere and ws:// only to a loopback host: the
// credential and the tenancy never cross a network in clear text.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("cloudlink: url: %w", err)
	}
	switch u.Scheme {
	case "wss":
	case "ws":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("cloudlink: url %s: plain ws:// is allowed only to a loopback address", raw)
		}
	default:
		return nil, fmt.Errorf("cloudlink: url %s: scheme must be wss (or ws to loopback)", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("cloudlink: url %s: no host", raw)
	}
	return u, nil
}

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	return Stats{
		Connected:      l.connected.Load(),
		Connects:       l.connects.Load(),
		Failures:       l.failures.Load(),
		ItemsSent:      l.sent.Load(),
		ItemsAcked:     l.acked.Load(),
		Skipped:        l.skipped.Load(),
		TenancyVersion: l.tenancy.Load(),
		Commands:       l.commands.Load(),
		Announced:      l.announcedN.Load(),
		Since:          msTime(l.since.Load()),
		LastAck:        msTime(l.lastAck.Load()),
		Org:            l.topOrg(),
	}
}

// Run keeps the link up until ctx is done, then returns ctx.Err() (or,
// with Options.RevokedAfter, an error matching ErrRevoked). A failed
// session is retried after a randomized delay that grows with the time the
// link has been down (Backoff); the link is down from Run's start and again
// from the end of every session that got as far as the cloud's welcome.
func (l *Link) Run(ctx context.Context) error {
	if err := l.loadCache(ctx); err != nil {
		// The next snapshot rewrites it; the hub's devices still serve.
		l.log.Error("tenancy cache unreadable", "err", err)
	}
	l.automationsChanged()
	cancel := l.opts.Hub.Subscribe(func(hub.Update) {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	})
	defer cancel()
	downSince, revoked := time.Now(), 0
	waitingForClaim := false
	for {
		welcomed, err := l.session(ctx)
		if l.connected.Swap(false) {
			l.since.Store(time.Now().UnixMilli())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if welcomed {
			downSince = time.Now()
		}
		if errors.Is(err, ErrRevoked) {
			revoked++
		} else {
			revoked = 0
		}
		if l.opts.RevokedAfter > 0 && revoked >= l.opts.RevokedAfter {
			l.failures.Add(1)
			return fmt.Errorf("cloudlink: credential refused %d times in a row: %w", revoked, err)
		}
		l.failures.Add(1)
		d := Backoff(time.Since(downSince), l.opts.MinBackoff, l.opts.MaxBackoff, l.opts.Rand())
		switch {
		case errors.Is(err, ErrUnclaimed):
			// Expected until an installer claims the site: said once, at
			// Info, not as a warning at every retry.
			level := slog.LevelDebug
			if !waitingForClaim {
				level = slog.LevelInfo
			}
			waitingForClaim = true
			l.log.Log(ctx, level, "waiting to be claimed in the cloud (the site works offline meanwhile)", "retry_in", d.Round(time.Millisecond))
		default:
			waitingForClaim = false
			l.log.Warn("cloud link down", "err", err, "retry_in", d.Round(time.Millisecond))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Backoff is the delay before the next connection attempt of a link that
// has been down for down: uniformly random in [0, ceiling) — "full jitter",
// which spreads a crowd of gateways evenly over the window instead of in
// synchronized waves — where the ceiling is a quarter of down, at least base
// and at most limit. r is in [0,1).
//
// The ceiling follows the time down, not the number of attempts: with
// doubling per attempt it outran the outage (after 16 s down it had reached
// 16–32 s, so a cloud back at 16 s was tried again only at 19 s). Here the
// wait in progress when the cloud comes back began with a ceiling no larger
// than the one at that moment, so the link is back within ceiling(outage):
// 4 s after a 16 s outage, at most limit after any.
func Backoff(down, base, limit time.Duration, r float64) time.Duration {
	ceil := min(max(down/4, base), limit)
	return time.Duration(r * float64(ceil))
}

// The real hub satisfies the link's interface (the store's check is in
// the gateway's wiring, which may import both).
var _ Hub = (*hub.Hub)(nil)
