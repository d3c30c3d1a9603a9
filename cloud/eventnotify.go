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
	// The counters and pending offlines, in the store so that a restart
	// and the other instances sharing it honour the limits.
	notify.CounterStore
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
// Its counters (every N-th, limit period, minimum gap, events per device
// and day) and the offlines waiting for their ignore period are kept in
// the store (notify.CounterStore), one transaction per counted event: a
// restart keeps them, and instances sharing a PostgreSQL store count
// together (each event is counted by the instance that applied it). Times
// are the events' own (the device's report time), so a site's backlog
// replayed after an outage is limited as it happened.
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

	mu    sync.Mutex
	queue []syncproto.Item
	wake  chan struct{}
	// first caches the devices whose first connection was handled (the
	// store's counts say so across restarts).
	first map[string]bool
	// activated are the devices known to be activated already (guarded
	// by mu): their writes are not queued. One entry per device seen.
	activated map[string]bool
	devs      map[string]*tenancy.Device // per batch cache (handle)
	tmpls     map[tenancy.TemplateID]*tenancy.Template
}

// maxOfflineWait bounds the wait for the next pending offline: another
// instance sharing the store may have put one due sooner (and died).
const maxOfflineWait = time.Minute

func newEventNotifications(store eventStore, n eventNotifier, cfg EventsConfig, tree func() *tenancy.Tree, now func() time.Time, log *slog.Logger) *eventNotifications {
	if now == nil {
		now = time.Now
	}
	return &eventNotifications{store: store, notify: n, cfg: cfg, tree: tree, now: now, log: log.With("part", "event notifications"),
		wake: make(chan struct{}, 1), first: map[string]bool{}, activated: map[string]bool{}}
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
	timer := time.NewTimer(0) // at start: the offlines that fell due while no instance ran
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
		timer.Reset(e.nextDue(ctx))
	}
}

// nextDue is how long until the next pending offline is due
// (maxOfflineWait at most).
func (e *eventNotifications) nextDue(ctx context.Context) time.Duration {
	due, ok, err := e.store.NextOfflineDue(ctx)
	if err != nil || !ok {
		return maxOfflineWait
	}
	return min(max(time.Duration(due-e.now().UnixMilli())*time.Millisecond, 0), maxOfflineWait)
}

// tick notifies the offline events whose ignore period ended by now (each
// taken from the store by one instance).
func (e *eventNotifications) tick(ctx context.Context, now time.Time) {
	e.reset()
	due, err := e.store.TakeDueOfflines(ctx, now.UnixMilli())
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("pending offlines not read", "err", err)
		}
		return
	}
	for _, p := range due {
		if d, t := e.lookup(ctx, p.Device); d != nil && t != nil {
			e.notifyOffline(ctx, d, t, p)
		}
	}
}

// notifyOffline tells of an offline that outlasted the ignore period.
func (e *eventNotifications) notifyOffline(ctx context.Context, d *tenancy.Device, t *tenancy.Template, p notify.PendingOffline) {
	if sys := t.Def.System; sys != nil {
		e.notifyEvent(ctx, d, t, sysOffline, "Offline", "warning", sys.Offline, p.At,
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
			e.notifyOnce(ctx, d, t, sysFirst, "First connection", "info", sys.First, d.ActivatedAt.UnixMilli(),
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
			var p notify.PendingOffline
			var was bool
			if sys != nil && sys.Offline != nil { // only such templates put pending offlines: no write for the others
				var err error
				if p, was, err = e.store.TakePendingOffline(ctx, it.Device); err != nil && ctx.Err() == nil {
					e.log.Error("pending offline not read", "device", it.Device, "err", err)
				}
			}
			if was {
				if it.TS < p.Due {
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
				p := notify.PendingOffline{Device: it.Device, At: it.TS, Due: it.TS + int64(sys.OfflineIgnoreS)*1000}
				if err := e.store.PutPendingOffline(ctx, p); err != nil && ctx.Err() == nil {
					e.log.Error("pending offline not stored", "device", it.Device, "err", err)
				}
			}
		}
	}
}

// notifyEvent counts one occurrence of code on d (toward the minimum gap,
// the device's daily limit and the every-N-th counter) and notifies when
// the settings and limits say so.
func (e *eventNotifications) notifyEvent(ctx context.Context, d *tenancy.Device, t *tenancy.Template, code, name, typ string,
	n *datastream.EventNotify, ts int64, body string) {
	e.count(ctx, d, t, code, name, typ, n, ts, body, false)
}

// notifyOnce is notifyEvent for an event that happens once in a device's
// life (its first connection): never counted nor told twice, restarts and
// other instances included.
func (e *eventNotifications) notifyOnce(ctx context.Context, d *tenancy.Device, t *tenancy.Template, code, name, typ string,
	n *datastream.EventNotify, ts int64, body string) {
	e.count(ctx, d, t, code, name, typ, n, ts, body, true)
}

func (e *eventNotifications) count(ctx context.Context, d *tenancy.Device, t *tenancy.Template, code, name, typ string,
	n *datastream.EventNotify, ts int64, body string, once bool) {
	// Every occurrence counts toward the limits, notifying or not (Blynk's
	// limits are on events, not notifications).
	var tell, gap, daily bool
	var seen int64
	err := e.store.CountEvent(ctx, d.UID, code, func(c *notify.EventCount) bool {
		tell, gap, daily = false, false, false
		if once && c.Seen > 0 {
			return false
		}
		if c.Seen > 0 && e.cfg.MinGap > 0 && ts-c.Last < e.cfg.MinGap.Milliseconds() {
			gap = true
			return false
		}
		if day := ts / (24 * 3600 * 1000); c.Day != day {
			c.Day, c.DayN = day, 0
		}
		if e.cfg.PerDevicePerDay > 0 && c.DayN >= int64(e.cfg.PerDevicePerDay) {
			daily = true
			return false
		}
		c.DayN++
		c.Seen++
		c.Last = ts
		seen = c.Seen
		if n == nil || !n.Enabled {
			return true
		}
		if n.EveryN > 1 && c.Seen%int64(n.EveryN) != 0 {
			return true
		}
		if n.LimitS > 0 && c.Notified != 0 && ts-c.Notified < int64(n.LimitS)*1000 {
			return true
		}
		c.Notified = ts
		tell = true
		return true
	})
	switch {
	case err != nil:
		if ctx.Err() == nil {
			e.log.Error("event not counted", "device", d.UID, "code", code, "err", err)
		}
		return
	case gap:
		e.log.Debug("event not counted: too soon after the last", "device", d.UID, "code", code)
		return
	case daily:
		if n != nil && n.Enabled {
			e.log.Warn("event not notified: the device's daily limit is reached", "device", d.UID, "code", code, "limit", e.cfg.PerDevicePerDay)
		}
		return
	case !tell:
		return
	}

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
		rule += fmt.Sprintf(" once every %d occurrences (this is occurrence %d)", n.EveryN, seen)
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
