// Package livefeed fans applied telemetry changes out to in-process
// subscribers: the console's live device pages. The cloud publishes each
// batch a gateway's telemetry applied (after its commit); a subscriber
// names the devices it shows and takes what changed.
//
// Publishing never blocks on a subscriber. Each subscription keeps what it
// has not taken yet, coalesced: for a datastream pin only the newest value
// (or erase) is kept, for a device's connection only its newest state, for
// info, properties and metadata the newest per field. Events and clears
// are kept in order up to a bound; past it the oldest are dropped and
// counted, so that a page can reload its timeline.
//
// Hub is the local fan-out. A transport between cloud instances (e.g.
// PostgreSQL LISTEN/NOTIFY) sits in front of it: it carries what one
// instance publishes to every instance's Hub, and subscribers stay as they
// are. Authorisation is the subscriber's: it subscribes only to devices
// its user may see.
package livefeed

import (
	"slices"
	"sync"

	"outpost/shared/syncproto"
)

// Update is one applied telemetry change of a device.
type Update struct {
	Device string         // device UID
	Kind   syncproto.Kind // write, erase, online, offline, event, clear, info, property, meta
	Pin    int            // write, erase, property
	Name   string         // event/clear code, property or metadata name, transport (online)
	Value  string         // value (NUL-joined items), event description, info pairs
	TS     int64          // ms since epoch, as the device's gateway stamped it
}

// FromItem converts an applied telemetry item.
func FromItem(it syncproto.Item) Update {
	return Update{Device: it.Device, Kind: it.Kind, Pin: it.Pin, Name: it.Name, Value: it.Value, TS: it.TS}
}

// DefaultMaxEvents is how many events a subscription keeps untaken.
const DefaultMaxEvents = 100

// Hub is the in-process feed. The zero value is not usable; call New.
type Hub struct {
	maxEvents int

	mu   sync.RWMutex
	subs map[string][]*Subscription // by device UID
	n    int                        // open subscriptions
}

// Options tunes a Hub.
type Options struct {
	MaxEvents int // untaken events kept per subscription; 0 → DefaultMaxEvents
}

// New returns an empty Hub.
func New(o Options) *Hub {
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	return &Hub{maxEvents: o.MaxEvents, subs: map[string][]*Subscription{}}
}

// Subscribers is the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.n
}

// Publish hands updates to the subscriptions of their devices. It does not
// block on subscribers: each keeps them until taken, coalesced.
func (h *Hub) Publish(us []Update) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for i := range us {
		for _, s := range h.subs[us[i].Device] {
			s.add(&us[i])
		}
	}
}

// Subscribe starts a subscription to the given devices (UIDs). Close it
// when done.
func (h *Hub) Subscribe(devices ...string) *Subscription {
	s := &Subscription{hub: h, ready: make(chan struct{}, 1)}
	seen := map[string]bool{}
	for _, d := range devices {
		if !seen[d] {
			seen[d] = true
			s.devices = append(s.devices, d)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range s.devices {
		h.subs[d] = append(h.subs[d], s)
	}
	h.n++
	return s
}

// key names what coalesces: one pending update per key. Events and clears
// never coalesce.
type key struct {
	device string
	kind   byte // 'v' value (write/erase), 's' status, 'i' info, 'p' property, 'm' meta
	pin    int
	name   string
}

func keyOf(u *Update) (key, bool) {
	switch u.Kind {
	case syncproto.KindWrite, syncproto.KindErase:
		return key{device: u.Device, kind: 'v', pin: u.Pin}, true
	case syncproto.KindOnline, syncproto.KindOffline:
		return key{device: u.Device, kind: 's'}, true
	case syncproto.KindInfo:
		return key{device: u.Device, kind: 'i'}, true
	case syncproto.KindProperty:
		return key{device: u.Device, kind: 'p', pin: u.Pin, name: u.Name}, true
	case syncproto.KindMeta:
		return key{device: u.Device, kind: 'm', name: u.Name}, true
	}
	return key{}, false
}

// Subscription receives the updates of a set of devices.
type Subscription struct {
	hub     *Hub
	devices []string
	ready   chan struct{}

	mu      sync.Mutex
	pending []Update    // in arrival order of each key's first pending update
	index   map[key]int // position in pending of a coalescing key
	events  int         // events and clears in pending
	dropped int         // events dropped since the last Take
	closed  bool
}

// Ready receives a value when updates are waiting to be taken.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Devices is the subscribed set.
func (s *Subscription) Devices() []string { return s.devices }

func (s *Subscription) add(u *Update) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	// Signal only the first pending update: the reader takes them all.
	wake := len(s.pending) == 0
	if k, ok := keyOf(u); ok {
		if i, ok := s.index[k]; ok {
			// Newest wins; an older report arriving late is not news.
			if u.TS >= s.pending[i].TS {
				s.pending[i] = *u
			}
		} else {
			if s.index == nil {
				s.index = map[key]int{}
			}
			s.index[k] = len(s.pending)
			s.pending = append(s.pending, *u)
		}
	} else {
		if s.events >= s.hub.maxEvents {
			s.dropOldestEvent()
		}
		s.pending = append(s.pending, *u)
		s.events++
	}
	s.mu.Unlock()
	if wake {
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
}

// dropOldestEvent removes the first event or clear from pending.
func (s *Subscription) dropOldestEvent() {
	for i := range s.pending {
		if _, ok := keyOf(&s.pending[i]); ok {
			continue
		}
		copy(s.pending[i:], s.pending[i+1:])
		s.pending = s.pending[:len(s.pending)-1]
		for k, j := range s.index {
			if j > i {
				s.index[k] = j - 1
			}
		}
		s.events--
		s.dropped++
		return
	}
}

// Take returns the waiting updates (appended to buf, which may be nil) and
// how many events were dropped since the last Take because they were not
// taken in time.
func (s *Subscription) Take(buf []Update) (updates []Update, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf = append(buf, s.pending...)
	dropped = s.dropped
	s.pending, s.events, s.dropped = s.pending[:0], 0, 0
	clear(s.index)
	return buf, dropped
}

// Close ends the subscription; later updates are not kept.
func (s *Subscription) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.pending, s.index = nil, nil
	s.mu.Unlock()
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range s.devices {
		l := slices.DeleteFunc(h.subs[d], func(x *Subscription) bool { return x == s })
		if len(l) == 0 {
			delete(h.subs, d)
		} else {
			h.subs[d] = l
		}
	}
	h.n--
}
