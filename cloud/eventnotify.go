package cloud

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// eventStore is what the event notifier reads.
type eventStore interface {
	GetDeviceByUID(ctx context.Context, uid string) (tenancy.Device, error)
	GetTemplate(ctx context.Context, id tenancy.TemplateID) (tenancy.Template, error)
	GetUser(ctx context.Context, id tenancy.UserID) (tenancy.User, error)
	GetUserByEmail(ctx context.Context, email string) (tenancy.User, error)
	ListUsers(ctx context.Context, f tenancy.UserFilter) (tenancy.List[tenancy.User], error)
}

// eventNotifier is the notifier port the event notifier needs.
type eventNotifier interface {
	ToUsersAbout(ctx context.Context, org tenancy.OrgID, rs []notify.Recipient, subject, body string, ch notify.Channels, about notify.About) (notify.Result, error)
}

// Codes of the system events the cloud generates (their notification
// settings are the template's System).
const (
	sysOnline  = "online"
	sysOffline = "offline"
	sysFirst   = "first_connection"
)

// eventNotifications notifies people of the events devices log (the
// template's event settings) and of the system events the cloud derives
// from applied telemetry: online, offline after the template's offline
// ignore period, first connection (the report that activated the device).
//
// Its counters (every N-th, limit period, events per device and day) are
// in memory: a restart starts them again, so after one a limited event may
// notify once more than its settings say. Times are the events' own (the
// device's report time), so a site's backlog replayed after an outage is
// limited as it happened.
type eventNotifications struct {
	store  eventStore
	notify eventNotifier
	cfg    EventsConfig
	tree   func() *tenancy.Tree
	now    func() time.Time
	log    *slog.Logger
	// hooks delivers a notification through the webhook channel to the
	// webhooks of the device's organization and those above it (nil: no
	// webhooks).
	hooks func(ctx context.Context, d *tenancy.Device, e webhooks.Event)

	mu      sync.Mutex
	queue   []syncproto.Item
	wake    chan struct{}
	state   map[eventKey]*eventState
	days    map[string]*dayCount      // device UID → its events today
	offline map[string]pendingOffline // device UID → offline waiting for its ignore period
	first   map[string]bool           // devices whose first connection was handled
	// activated are the devices known to be activated already (guarded
	// by mu): their writes are not queued. One entry per device seen.
	activated map[string]bool
	devs      map[string]*tenancy.Device // per batch cache (handle)
	tmpls     map[tenancy.TemplateID]*tenancy.Template
}

type eventKey struct{ device, code string }

// eventState counts one device's occurrences of one event code.
type eventState struct {
	seen     int   // occurrences counted (every N-th)
	last     int64 // ms of the last counted occurrence (minimum gap)
	notified int64 // ms of the last notification (limit period); 0 none
}

type dayCount struct {
	day int64 // days since the epoch, UTC
	n   int
}

type pendingOffline struct {
	at  int64 // ms the device went offline
	due int64 // ms the ignore period ends
}

func newEventNotifications(store eventStore, n eventNotifier, cfg EventsConfig, tree func() *tenancy.Tree, now func() time.Time, log *slog.Logger) *eventNotifications {
	if now == nil {
		now = time.Now
	}
	return &eventNotifications{store: store, notify: n, cfg: cfg, tree: tree, now: now, log: log.With("part", "event notifications"),
		wake: make(chan struct{}, 1), state: map[eventKey]*eventState{}, days: map[string]*dayCount{},
		offline: map[string]pendingOffline{}, first: map[string]bool{}, activated: map[string]bool{}}
}

// Observe queues applied items that may notify: events, online and
// offline, and the reports of devices not yet known to be activated (a
// first connection). It does not block the apply; a datastream write of a
// known device costs a map lookup.
func (e *eventNotifications) Observe(items []syncproto.Item) {
	e.mu.Lock()
	n := len(e.queue)
	for i := range items {
		it := &items[i]
		switch {
		case it.Kind == syncproto.KindEvent, it.Kind == syncproto.KindOnline, it.Kind == syncproto.KindOffline,
			telemetry.IsReport(it) && !e.activated[it.Device]:
			e.queue = append(e.queue, *it)
		}
	}
	n = len(e.queue) - n
	e.mu.Unlock()
	if n == 0 {
		return
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run handles queued items and due offline events until ctx ends.
func (e *eventNotifications) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
			e.mu.Lock()
			items := e.queue
			e.queue = nil
			e.mu.Unlock()
			e.handle(ctx, items)
		case <-timer.C:
		}
		e.tick(ctx, e.now())
		timer.Reset(e.nextDue())
	}
}

// nextDue is how long until the next pending offline is due (an hour at
// most).
func (e *eventNotifications) nextDue() time.Duration {
	wait := time.Hour
	now := e.now().UnixMilli()
	for _, p := range e.offline {
		if d := time.Duration(p.due-now) * time.Millisecond; d < wait {
			wait = max(d, 0)
		}
	}
	return wait
}

// tick notifies the offline events whose ignore period ended by now.
func (e *eventNotifications) tick(ctx context.Context, now time.Time) {
	e.reset()
	for uid, p := range e.offline {
		if p.due > now.UnixMilli() {
			continue
		}
		delete(e.offline, uid)
		if d, t := e.lookup(ctx, uid); d != nil && t != nil {
			e.notifyOffline(ctx, d, t, p)
		}
	}
}

// notifyOffline tells of an offline that outlasted the ignore period.
func (e *eventNotifications) notifyOffline(ctx context.Context, d *tenancy.Device, t *tenancy.Template, p pendingOffline) {
	if sys := t.Def.System; sys != nil {
		e.notifyEvent(ctx, d, t, sysOffline, "Offline", "warning", sys.Offline, p.at,
			fmt.Sprintf("Device %s went offline and stayed offline for %d s.", d.Name, sys.OfflineIgnoreS))
	}
}

func (e *eventNotifications) reset() {
	e.devs = map[string]*tenancy.Device{}
	e.tmpls = map[tenancy.TemplateID]*tenancy.Template{}
}

// lookup returns the device and its template (nil when unknown).
func (e *eventNotifications) lookup(ctx context.Context, uid string) (*tenancy.Device, *tenancy.Template) {
	d, seen := e.devs[uid]
	if !seen {
		if got, err := e.store.GetDeviceByUID(ctx, uid); err == nil {
			d = &got
		}
		e.devs[uid] = d
	}
	if d == nil {
		return nil, nil
	}
	t, seen := e.tmpls[d.TemplateID]
	if !seen {
		if got, err := e.store.GetTemplate(ctx, d.TemplateID); err == nil {
			t = &got
		}
		e.tmpls[d.TemplateID] = t
	}
	return d, t
}

// handle notifies what one applied batch calls for.
func (e *eventNotifications) handle(ctx context.Context, items []syncproto.Item) {
	e.reset()
	firstTS := map[string]int64{}
	for i := range items {
		it := &items[i]
		if !telemetry.IsReport(it) {
			continue
		}
		if ts, ok := firstTS[it.Device]; !ok || it.TS < ts {
			firstTS[it.Device] = it.TS
		}
	}
	for i := range items {
		it := &items[i]
		d, t := e.lookup(ctx, it.Device)
		if d == nil || t == nil {
			continue
		}
		sys := t.Def.System
		if !d.ActivatedAt.IsZero() {
			e.mu.Lock()
			e.activated[it.Device] = true
			e.mu.Unlock()
		}
		if fts, ok := firstTS[it.Device]; ok && sys != nil && sys.First != nil && !e.first[it.Device] &&
			!d.ActivatedAt.IsZero() && d.ActivatedAt.UnixMilli() == fts {
			e.first[it.Device] = true // this batch holds the report that activated the device
			e.notifyEvent(ctx, d, t, sysFirst, "First connection", "info", sys.First, d.ActivatedAt.UnixMilli(),
				fmt.Sprintf("Device %s connected for the first time.", d.Name))
		}
		switch it.Kind {
		case syncproto.KindEvent:
			ev, ok := t.Def.Event(it.Name)
			if !ok {
				continue
			}
			body := it.Value
			if body == "" || len(body) > datastream.MaxDeviceDescription {
				body = ev.Description // none sent, or too long (Blynk discards it)
			}
			e.notifyEvent(ctx, d, t, ev.Code, cmp.Or(ev.Name, ev.Code), cmp.Or(ev.Type, "info"), ev.Notify, it.TS, body)
		case syncproto.KindOnline:
			if p, was := e.offline[it.Device]; was {
				delete(e.offline, it.Device)
				if it.TS < p.due {
					continue // a blip shorter than the ignore period: neither offline nor online
				}
				// Back after the period, both told at once (a site's
				// backlog): the offline first.
				e.notifyOffline(ctx, d, t, p)
			}
			if sys != nil {
				e.notifyEvent(ctx, d, t, sysOnline, "Online", "info", sys.Online, it.TS,
					fmt.Sprintf("Device %s is online.", d.Name))
			}
		case syncproto.KindOffline:
			if sys != nil && sys.Offline != nil && sys.Offline.Enabled {
				due := it.TS + int64(sys.OfflineIgnoreS)*1000
				e.offline[it.Device] = pendingOffline{at: it.TS, due: due}
			}
		}
	}
}

// notifyEvent counts one occurrence of code on d (toward the minimum gap,
// the device's daily limit and the every-N-th counter) and notifies when
// the settings and limits say so.
func (e *eventNotifications) notifyEvent(ctx context.Context, d *tenancy.Device, t *tenancy.Template, code, name, typ string,
	n *datastream.EventNotify, ts int64, body string) {
	// Every occurrence counts toward the limits, notifying or not (Blynk's
	// limits are on events, not notifications).
	k := eventKey{d.UID, code}
	st := e.state[k]
	if st == nil {
		st = &eventState{}
		e.state[k] = st
	}
	if st.seen > 0 && e.cfg.MinGap > 0 && ts-st.last < e.cfg.MinGap.Milliseconds() {
		e.log.Debug("event not counted: too soon after the last", "device", d.UID, "code", code)
		return
	}
	day := ts / (24 * 3600 * 1000)
	dc := e.days[d.UID]
	if dc == nil || dc.day != day {
		dc = &dayCount{day: day}
		e.days[d.UID] = dc
	}
	if e.cfg.PerDevicePerDay > 0 && dc.n >= e.cfg.PerDevicePerDay {
		if n != nil && n.Enabled {
			e.log.Warn("event not notified: the device's daily limit is reached", "device", d.UID, "code", code, "limit", e.cfg.PerDevicePerDay)
		}
		return
	}
	dc.n++
	st.seen++
	st.last = ts
	if n == nil || !n.Enabled {
		return
	}
	if n.EveryN > 1 && st.seen%n.EveryN != 0 {
		return
	}
	if n.LimitS > 0 && st.notified != 0 && ts-st.notified < int64(n.LimitS)*1000 {
		return
	}
	st.notified = ts

	if n.Webhook && e.hooks != nil {
		e.hooks(ctx, d, webhooks.Event{Kind: webhooks.OnNotification, Device: d.UID, DeviceName: d.Name, Template: string(d.TemplateID),
			EventCode: code, EventName: name, EventType: typ, Description: body, At: time.UnixMilli(ts).UTC()})
	}
	if !n.Email && !n.Console {
		return
	}
	at := time.UnixMilli(ts).UTC().Format(time.RFC3339)
	rule := fmt.Sprintf("template %q notifies event %q", t.Def.Name, code)
	if n.EveryN > 1 {
		rule += fmt.Sprintf(" once every %d occurrences (this is occurrence %d)", n.EveryN, st.seen)
	}
	if n.LimitS > 0 {
		rule += fmt.Sprintf(", at most once per %d s", n.LimitS)
	}
	base := fmt.Sprintf("Sent because device %q (%s) logged %s event %q at %s and %s", d.Name, d.UID, typ, code, at, rule)
	rs := e.recipients(ctx, d, n, base)
	if len(rs) == 0 {
		return
	}
	subject := fmt.Sprintf("%s: %s on %s", strings.ToUpper(typ[:1])+typ[1:], name, d.Name)
	res, err := e.notify.ToUsersAbout(ctx, d.OrgID, rs, subject, body, notify.Channels{Mail: n.Email, Console: n.Console},
		notify.About{Device: d.ID, EventCode: code, EventAt: time.UnixMilli(ts)})
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("event notification failed", "device", d.UID, "code", code, "err", err)
		}
		return
	}
	e.log.Info("event notified", "device", d.UID, "code", code, "sent", res.Sent, "capped", res.Capped)
}

// recipients resolves the settings' people: the device's owner, the
// members of its organization with the role, and the named users who see
// the device (their organization is the device's or above it).
func (e *eventNotifications) recipients(ctx context.Context, d *tenancy.Device, n *datastream.EventNotify, base string) []notify.Recipient {
	var rs []notify.Recipient
	if n.Owner && d.OwnerID != 0 {
		if u, err := e.store.GetUser(ctx, d.OwnerID); err == nil {
			rs = append(rs, notify.Recipient{User: u, Why: base + "; you own the device."})
		}
	}
	if n.Role != 0 {
		f := tenancy.UserFilter{Scope: tenancy.Scope{OrgID: d.OrgID}, RoleID: tenancy.RoleID(n.Role), Page: tenancy.Page{Size: tenancy.MaxPageSize}}
		for {
			l, err := e.store.ListUsers(ctx, f)
			if err != nil {
				e.log.Error("event recipients not listed", "device", d.UID, "err", err)
				break
			}
			for _, u := range l.Items {
				rs = append(rs, notify.Recipient{User: u, Why: base + fmt.Sprintf("; you hold role %d in the device's organization.", n.Role)})
			}
			if l.Next == 0 {
				break
			}
			f.Page.After = l.Next
		}
	}
	for _, email := range n.Users {
		u, err := e.store.GetUserByEmail(ctx, email)
		if err != nil {
			continue // not (or no longer) a registered user
		}
		if !e.sees(u.OrgID, d.OrgID) {
			e.log.Warn("named event recipient does not see the device: not notified", "user", u.ID, "device", d.UID)
			continue
		}
		rs = append(rs, notify.Recipient{User: u, Why: base + "; the event's settings name you."})
	}
	return rs
}

// sees reports whether a member of org sees devices of dev's organization
// (org is dev's or one above it).
func (e *eventNotifications) sees(org, dev tenancy.OrgID) bool {
	tree := e.tree()
	for o := dev; o != 0; o = tree.Parent(o) {
		if o == org {
			return true
		}
	}
	return false
}
