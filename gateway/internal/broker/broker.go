// Package broker serves Blynk's MQTT device API (PROTOCOL.md §2, §7.8) with
// an embedded mochi-mqtt broker. It is the only package that imports mochi.
//
// Devices authenticate with username "device" and their token as password.
// Each connection becomes a hub.Conn attached to the hub, so a device's
// online state and the writes addressed to it are shared with every other
// transport. Uplink topics turn into hub calls; downlinks are published only
// to the connection of the device they are for.
//
// Per-device routing inside mochi: the client id of an authenticated
// connection is replaced by "device-<id>", so a second connection with the
// same token takes the first one's session over (and mochi disconnects the
// old one: an MQTT 3.1.1 connection is closed without DISCONNECT, see
// OnPacketEncode). A device's subscriptions under downlink/ are stored as
// "$device-<id>/s/downlink/…", and the topics the broker publishes to it as
// "$device-<id>/s/downlink/…" (or "/f/" for probes that bypass
// subscriptions); the prefix is stripped when the packet is encoded. Topics
// starting with '$' are never matched by a device's wildcards, so no device
// sees another's downlinks.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/loginlog"
	"outpost/shared/datastream"
)

// Hub is what the broker needs of the routing core (satisfied by *hub.Hub).
type Hub interface {
	Authenticate(token string) (hub.Device, error)
	Device(id int64) (hub.Device, bool)
	Template(id string) (datastream.Template, bool)
	Attach(deviceID int64, c hub.Conn) (detach func())
	DeviceWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error)
	Erase(deviceID int64, pin int, source string) error
	PinByName(deviceID int64, name string) (int, error)
	Datastream(deviceID int64, pin int) (datastream.Datastream, bool)
	SyncAll(deviceID int64) []hub.PinValue
	SyncPins(deviceID int64, pins []int) []hub.PinValue
	LogEvent(deviceID int64, code, description string, ts int64, source string) error
	SetInfo(deviceID int64, pairs []string, source string)
	SetProperty(deviceID int64, pin int, name string, items [][]byte, source string) error
	SetMeta(deviceID int64, name, value, source string) error
	Meta(deviceID int64, name string) (string, error)
	Flush(ctx context.Context) error
}

// Options configure a Broker.
type Options struct {
	Hub    Hub
	Logger *slog.Logger
	// MaxMessage is the largest MQTT packet accepted from a device, in
	// bytes (PROTOCOL.md §2: 1024). Larger packets close the connection.
	MaxMessage int
	// Now is the clock for timestamps (get/utc, batch windows); nil → time.Now.
	Now func() time.Time
}

// Source is the hub source name of everything arriving over MQTT.
const Source = "mqtt"

// ErrNotConnected is returned by the downlink helpers when the device has no
// MQTT connection.
var ErrNotConnected = errors.New("broker: device not connected over MQTT")

// Broker is the embedded MQTT broker.
type Broker struct {
	hub    Hub
	log    *slog.Logger
	server *mqtt.Server
	opts   Options
	now    func() time.Time

	logins   *loginlog.Log
	diags    diagLimiter
	conns    sync.Map // *mqtt.Client → *conn
	mu       sync.Mutex
	byDevice map[int64]*conn // the current connection of each device

	acks [ackShards]ackShard // PUBACKs waiting for the group commit (durable.go)

	stats counters
}

// Stats are the broker's counters.
type Stats struct {
	Connections      int64            // open device connections
	Connects         int64            // successful connects since start
	AuthFailures     int64            // refused CONNECTs
	Uplinks          int64            // uplink messages handled
	Dropped          map[string]int64 // uplinks dropped, by reason
	Downlinks        int64            // messages queued to devices
	DownlinksDropped int64            // downlinks a device could not take
	Diags            int64            // refusals answered on downlink/diag
	DiagsDropped     int64            // refusals over the diag rate limit (not answered)
	// QoS 1 publish handled → PUBACK written (after the commit of its
	// write), since start: the gateway's share of what a device measures
	// from its publish to the PUBACK, without the network and the client.
	PubackP50Ms, PubackP99Ms float64
}

type counters struct {
	connections, connects, authFailures, uplinks atomic.Int64
	downlinks, downlinksDropped                  atomic.Int64
	diags, diagsDropped                          atomic.Int64
	dropped                                      [numDropReasons]atomic.Int64
}

type dropReason int

const (
	dropNoDatastream dropReason = iota
	dropBadValue
	dropBadPayload
	dropNoEvent
	dropNoMeta
	dropOutOfWindow
	dropUnknownTopic
	dropOther
	numDropReasons
)

var dropNames = [numDropReasons]string{"no_datastream", "bad_value", "bad_payload", "no_event", "no_meta", "out_of_window", "unknown_topic", "other"}

// New creates a broker. Call Serve to accept connections.
func New(opts Options) (*Broker, error) {
	if opts.Hub == nil {
		return nil, errors.New("broker: Options.Hub is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger.With("component", "broker")
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(opts.MaxMessage)
	// Clean sessions only (PROTOCOL.md §2): a session left by a
	// clean=false client expires at the next housekeeping tick.
	caps.MaximumSessionExpiryInterval = 0
	caps.MaximumClientWritesPending = 128 // per-client queue; 10,000 idle devices must stay small
	caps.SharedSubAvailable = 0
	server := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(mochiLog{log.Handler()}).With("part", "mochi"),
		InlineClient: true,
		// $SYS topics are of no use to devices (they cannot subscribe).
		SysTopicResendInterval: 3600,
		// Every connection keeps its read buffer for life. Device packets
		// are small (MaxMessage, 1 KB) and mostly one per read; a longer
		// packet is read past the buffer. 512 B instead of mochi's 2 KB
		// saves 15 MB per 10,000 idle devices and costs a syscall per
		// 512 B only to clients that stream batches.
		ClientNetReadBufferSize: 512,
	})
	b := &Broker{
		hub:      opts.Hub,
		log:      log,
		server:   server,
		opts:     opts,
		now:      opts.Now,
		byDevice: map[int64]*conn{},
		logins:   loginlog.New(log, opts.Now),
	}
	if err := server.AddHook(&hooks{b: b}, nil); err != nil {
		return nil, fmt.Errorf("broker: add hook: %w", err)
	}
	return b, nil
}

// Listeners are the sockets the broker serves; any may be nil. The caller
// opens them (TLS already wrapped). WS serves MQTT over websocket at /mqtt.
type Listeners struct {
	TCP, TLS, WS net.Listener
}

// Serve accepts connections on the listeners until ctx is done, then closes
// the listeners and every connection and returns.
func (b *Broker) Serve(ctx context.Context, ls Listeners) error {
	var added []interface{ Close(listeners.CloseFn) }
	for _, l := range []struct {
		id string
		ln net.Listener
		ws bool
	}{{"tcp", ls.TCP, false}, {"tls", ls.TLS, false}, {"ws", ls.WS, true}} {
		if l.ln == nil {
			continue
		}
		var ml interface {
			ID() string
		}
		var err error
		if l.ws {
			w := newWSListener(l.id, l.ln)
			ml, err = w, b.server.AddListener(w)
			added = append(added, w)
		} else {
			n := newNetListener(l.id, l.ln)
			ml, err = n, b.server.AddListener(n)
			added = append(added, n)
		}
		if err != nil {
			return fmt.Errorf("broker: add listener %s: %w", ml.ID(), err)
		}
	}
	if len(added) == 0 {
		return errors.New("broker: no listener given")
	}
	if err := b.server.Serve(); err != nil {
		return fmt.Errorf("broker: serve: %w", err)
	}
	<-ctx.Done()
	// Close the sockets first, then mochi: no client is sent DISCONNECT at
	// shutdown, whatever its MQTT version. To 3.1.1 it would be a protocol
	// violation (only clients send DISCONNECT), and libmosquitto's
	// loop_forever ends for good on it; an MQTT 5 DISCONNECT 0x8B (server
	// shutting down) also ends that loop for good
	// (TestLibmosquittoStopsOnDisconnect), so a device that should come
	// back after a restart would not. A closed socket is what every client
	// library retries. It also keeps away from mochi's deadlock-prone
	// closeListenerClients (see connSet).
	for _, l := range added {
		l.Close(nil)
	}
	_ = b.server.Close()
	// Wait for every client goroutine so their hub connections are
	// detached before Serve returns.
	b.server.Listeners.ClientsWg.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (b *Broker) Stats() Stats {
	s := Stats{
		Connections:      b.stats.connections.Load(),
		Connects:         b.stats.connects.Load(),
		AuthFailures:     b.stats.authFailures.Load(),
		Uplinks:          b.stats.uplinks.Load(),
		Downlinks:        b.stats.downlinks.Load(),
		DownlinksDropped: b.stats.downlinksDropped.Load(),
		Diags:            b.stats.diags.Load(),
		DiagsDropped:     b.stats.diagsDropped.Load(),
		Dropped:          map[string]int64{},
	}
	for i := range b.stats.dropped {
		if n := b.stats.dropped[i].Load(); n > 0 {
			s.Dropped[dropNames[i]] = n
		}
	}
	h := b.pubackLatency()
	s.PubackP50Ms = float64(h.Quantile(0.50)) / 1e6
	s.PubackP99Ms = float64(h.Quantile(0.99)) / 1e6
	return s
}

// Ping sends downlink/ping with QoS 1 to the device; its PUBACK answers.
func (b *Broker) Ping(deviceID int64) error {
	c := b.current(deviceID)
	if c == nil {
		return ErrNotConnected
	}
	c.pingPending.Store(true)
	return c.publishForced("downlink/ping", nil, 1)
}

// Reboot asks the device to restart (downlink/reboot).
func (b *Broker) Reboot(deviceID int64) error {
	c := b.current(deviceID)
	if c == nil {
		return ErrNotConnected
	}
	return c.publish("downlink/reboot", nil, 1)
}

// Redirect tells the device to reconnect to uri, e.g. mqtts://host:8883
// (downlink/redirect, QoS 0, delivered without a subscription).
func (b *Broker) Redirect(deviceID int64, uri string) error {
	c := b.current(deviceID)
	if c == nil {
		return ErrNotConnected
	}
	return c.publishForced("downlink/redirect", []byte(uri), 0)
}

// Diag sends human-readable diagnostics (downlink/diag, QoS 0, delivered
// without a subscription).
func (b *Broker) Diag(deviceID int64, text string) error {
	c := b.current(deviceID)
	if c == nil {
		return ErrNotConnected
	}
	return c.publishForced("downlink/diag", []byte(text), 0)
}

func (b *Broker) current(deviceID int64) *conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byDevice[deviceID]
}

// clientID is the mochi client id of a device's connection.
func clientID(deviceID int64) string {
	return "device-" + strconv.FormatInt(deviceID, 10)
}

// deviceOf parses the device id back out of a client id.
func deviceOf(cl *mqtt.Client) (int64, bool) {
	rest, ok := cutPrefix(cl.ID, "device-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// v5Code maps a hub error to an MQTT 5 PUBACK reason code.
func v5Code(err error) packets.Code {
	switch {
	case errors.Is(err, datastream.ErrNoDatastream),
		errors.Is(err, hub.ErrNoEvent), errors.Is(err, hub.ErrNoMeta):
		return packets.ErrTopicNameInvalid
	case errors.Is(err, datastream.ErrWrongType), errors.Is(err, datastream.ErrArity),
		errors.Is(err, datastream.ErrTooLong), errors.Is(err, errBadPayload),
		errors.Is(err, hub.ErrBadProperty):
		return packets.ErrPayloadFormatInvalid
	case errors.Is(err, hub.ErrRateLimited):
		return packets.ErrQuotaExceeded
	}
	return packets.ErrImplementationSpecificError
}

func (b *Broker) countDrop(err error) {
	r := dropOther
	switch {
	case errors.Is(err, datastream.ErrNoDatastream):
		r = dropNoDatastream
	case errors.Is(err, datastream.ErrWrongType), errors.Is(err, datastream.ErrArity), errors.Is(err, datastream.ErrTooLong):
		r = dropBadValue
	case errors.Is(err, errBadPayload):
		r = dropBadPayload
	case errors.Is(err, hub.ErrNoEvent):
		r = dropNoEvent
	case errors.Is(err, hub.ErrNoMeta):
		r = dropNoMeta
	case errors.Is(err, errOutOfWindow):
		r = dropOutOfWindow
	case errors.Is(err, errUnknownTopic):
		r = dropUnknownTopic
	}
	b.stats.dropped[r].Add(1)
}
