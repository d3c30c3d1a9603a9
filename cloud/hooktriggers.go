package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// hookStore is what the webhook triggers and the cloud's automations read.
type hookStore interface {
	EnabledWebhooks(ctx context.Context) ([]webhooks.Webhook, error)
	GetWebhook(ctx context.Context, id int64) (webhooks.Webhook, int, error)
	SaveWebhook(ctx context.Context, w *webhooks.Webhook) error
	Deliveries(ctx context.Context, webhookID int64, limit int) ([]webhooks.Delivery, error)
	GetDeviceByUID(ctx context.Context, uid string) (tenancy.Device, error)
	DeviceValues(ctx context.Context, uid string) ([]telemetry.PinValue, error)
	ListDevices(ctx context.Context, f tenancy.DeviceFilter) (tenancy.List[tenancy.Device], error)
}

// hookTriggers turns applied telemetry into webhook deliveries: a device's
// datastream writes, events and online / offline changes call the enabled
// webhooks of its organization and the organizations above it whose
// trigger matches. With no enabled webhook it costs one atomic load per
// batch. A gateway batch's deliveries are inserted in the apply's
// transaction (pending, called by the store); the items the cloud records
// itself (Observe) and the tenancy triggers are queued after their commit.
type hookTriggers struct {
	store hookStore
	disp  *webhooks.Dispatcher
	tree  func() *tenancy.Tree
	log   *slog.Logger

	index atomic.Pointer[map[int64][]webhooks.Webhook] // enabled webhooks by org
	kick  chan struct{}

	mu    sync.Mutex
	queue []syncproto.Item
	moves []orgMove // organizations transferred, their devices' deliveries not queued yet
	wake  chan struct{}
}

// orgMove is an organization transferred under another parent: every
// device in its subtree moved with it.
type orgMove struct {
	org, oldParent tenancy.OrgID
	at             time.Time
}

func newHookTriggers(store hookStore, disp *webhooks.Dispatcher, tree func() *tenancy.Tree, log *slog.Logger) *hookTriggers {
	h := &hookTriggers{store: store, disp: disp, tree: tree, log: log, kick: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	empty := map[int64][]webhooks.Webhook{}
	h.index.Store(&empty)
	return h
}

// reload asks for the webhooks to be read again (coalesced).
func (h *hookTriggers) reload() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Observe queues items the cloud recorded itself (not a gateway's: their
// deliveries are queued by the apply, see pending) when some webhook is
// enabled.
func (h *hookTriggers) Observe(items []syncproto.Item) {
	if len(*h.index.Load()) == 0 {
		return
	}
	h.mu.Lock()
	h.queue = append(h.queue, items...)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hookTriggers) load(ctx context.Context) {
	if err := h.fetch(ctx); err != nil && ctx.Err() == nil {
		h.log.Error("webhooks not loaded", "err", err)
	}
}

// fetch reads the enabled webhooks into the index. The server calls it
// once before it applies any batch: a batch applied with the index still
// empty would queue none of its deliveries.
func (h *hookTriggers) fetch(ctx context.Context) error {
	ws, err := h.store.EnabledWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	idx := map[int64][]webhooks.Webhook{}
	for _, w := range ws {
		idx[w.OrgID] = append(idx[w.OrgID], w)
	}
	h.index.Store(&idx)
	return nil
}

func (h *hookTriggers) run(ctx context.Context) {
	h.load(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
			h.load(ctx)
		case <-h.wake:
			h.mu.Lock()
			items, moves := h.queue, h.moves
			h.queue, h.moves = nil, nil
			h.mu.Unlock()
			h.deliver(ctx, items)
			for _, m := range moves {
				h.orgMoved(ctx, m)
			}
		}
	}
}

// pending returns the deliveries of applied telemetry: for each item, one
// per matching webhook of its device's organization and those above it
// (devices read with devices).
// The telemetry store calls it inside the apply's transaction and inserts
// them there (webhooks.PendingFunc): a crash loses both or neither. With
// no enabled webhook it costs one atomic load per batch.
func (h *hookTriggers) pending(ctx context.Context, devices webhooks.DeviceReader, items []syncproto.Item) ([]webhooks.Pending, error) {
	idx := *h.index.Load()
	if len(idx) == 0 {
		return nil, nil
	}
	tree := h.tree()
	now := time.Now()
	devs := map[string]*tenancy.Device{}
	var out []webhooks.Pending
	for i := range items {
		it := &items[i]
		e, ok := itemEvent(it)
		if !ok {
			continue
		}
		d, seen := devs[it.Device]
		if !seen {
			got, err := devices.GetDeviceByUID(ctx, it.Device)
			switch {
			case err == nil:
				d = &got
			case !errors.Is(err, tenancy.ErrNotFound):
				return nil, fmt.Errorf("webhooks: device %s: %w", it.Device, err)
			}
			devs[it.Device] = d
		}
		if d == nil {
			continue
		}
		e.DeviceName, e.Template = d.Name, string(d.TemplateID)
		for _, w := range matching(idx, tree, &e, d.OrgID) {
			out = append(out, webhooks.Pending{WebhookID: w.ID, Event: e, At: now})
		}
	}
	return out, nil
}

// itemEvent is the webhook event of an applied item, if it has one.
func itemEvent(it *syncproto.Item) (webhooks.Event, bool) {
	e := webhooks.Event{Device: it.Device, Pin: it.Pin, Value: it.Value, At: time.UnixMilli(it.TS).UTC()}
	switch it.Kind {
	case syncproto.KindWrite:
		e.Kind = webhooks.OnDatastream
	case syncproto.KindEvent:
		e.Kind, e.EventCode, e.Description = webhooks.OnEvent, it.Name, it.Value
	case syncproto.KindOnline:
		e.Kind = webhooks.OnOnline
	case syncproto.KindOffline:
		e.Kind = webhooks.OnOffline
	default:
		return e, false
	}
	return e, true
}

// deliver queues the deliveries of items the cloud recorded itself (an
// automation's logged events), after their commit.
func (h *hookTriggers) deliver(ctx context.Context, items []syncproto.Item) {
	ps, err := h.pending(ctx, h.store, items)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("webhook deliveries not queued", "err", err)
		}
		return
	}
	for _, p := range ps {
		if err := h.disp.Enqueue(ctx, []webhooks.Webhook{{ID: p.WebhookID}}, p.Event); err != nil {
			if ctx.Err() == nil {
				h.log.Error("webhook deliveries not queued", "device", p.Event.Device, "trigger", p.Event.Kind, "err", err)
			}
			return
		}
	}
}

// matching returns the webhooks of the organizations from each of orgs up
// to the root whose trigger matches e, each webhook once.
func matching(idx map[int64][]webhooks.Webhook, tree *tenancy.Tree, e *webhooks.Event, orgs ...tenancy.OrgID) []webhooks.Webhook {
	var hit []webhooks.Webhook
	for i, start := range orgs {
		for o := start; o != 0; o = tree.Parent(o) {
			for _, w := range idx[int64(o)] {
				if w.Matches(e) && (i == 0 || !slices.ContainsFunc(hit, func(x webhooks.Webhook) bool { return x.ID == w.ID })) {
					hit = append(hit, w)
				}
			}
		}
	}
	return hit
}

// call queues e's deliveries to the matching webhooks of the organizations
// from each of orgs up to the root, each webhook once.
func (h *hookTriggers) call(ctx context.Context, idx map[int64][]webhooks.Webhook, tree *tenancy.Tree, e webhooks.Event, orgs ...tenancy.OrgID) {
	hit := matching(idx, tree, &e, orgs...)
	if len(hit) == 0 {
		return
	}
	if err := h.disp.Enqueue(ctx, hit, e); err != nil && ctx.Err() == nil {
		h.log.Error("webhook deliveries not queued", "device", e.Device, "trigger", e.Kind, "err", err)
	}
}

// notified calls the notification webhooks of d's organization and those
// above it for an event notification sent through the webhook channel
// (the event notifier has applied the template's limits).
func (h *hookTriggers) notified(ctx context.Context, d *tenancy.Device, e webhooks.Event) {
	idx := *h.index.Load()
	if len(idx) == 0 {
		return
	}
	h.call(ctx, idx, h.tree(), e, d.OrgID)
}

// audited turns committed device creations and transfers into the
// device_created and device_transferred triggers: the enabled webhooks of
// the device's organization and those above it (for a transfer, of the
// organizations it left and joined) whose trigger matches. Called by the
// tenancy service after the commit; a crash before the enqueue loses the
// deliveries (unlike a gateway batch's, see pending).
func (h *hookTriggers) audited(ctx context.Context, entries []tenancy.AuditEntry) {
	idx := *h.index.Load()
	if len(idx) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx) // the change is committed: queue its deliveries even if the caller left
	tree := h.tree()
	for _, en := range entries {
		var kind string
		switch {
		case en.ObjectType == "org" && en.Action == "org.transfer":
			h.queueMove(en)
			continue
		case en.ObjectType != "device":
			continue
		case en.Action == "device.create", en.Action == "static_token.claim":
			// A claimed static-token device is new to its claimer's
			// organization: created there, as far as webhooks go.
			kind = webhooks.OnCreated
		case en.Action == "device.transfer":
			kind = webhooks.OnTransfer
		default:
			continue
		}
		var after, before tenancy.DeviceJSON
		if err := json.Unmarshal(en.After, &after); err != nil || after.UID == "" {
			continue
		}
		if en.Before != nil {
			_ = json.Unmarshal(en.Before, &before)
		}
		e := webhooks.Event{Kind: kind, Device: after.UID, DeviceName: after.Name, Template: string(after.TemplateID), At: en.At.UTC()}
		h.call(ctx, idx, tree, e, after.OrgID, before.OrgID)
	}
}

// queueMove queues the device_transferred deliveries of an organization
// transfer for the run loop: listing the devices of a large subtree must
// not hold the tenancy service (audited runs while it holds the tree).
func (h *hookTriggers) queueMove(en tenancy.AuditEntry) {
	var before tenancy.OrgJSON
	org, err := strconv.ParseInt(en.ObjectID, 10, 64)
	if err != nil || json.Unmarshal(en.Before, &before) != nil {
		return
	}
	h.mu.Lock()
	h.moves = append(h.moves, orgMove{org: tenancy.OrgID(org), oldParent: before.ParentID, at: en.At.UTC()})
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// orgMoved calls, for each device of a transferred organization's subtree,
// the device_transferred webhooks (device / template filters apply) of the
// organizations above it now and of those it was under before, each
// webhook once per device. A crash before the enqueue loses them, as for
// the other triggers.
func (h *hookTriggers) orgMoved(ctx context.Context, m orgMove) {
	idx := *h.index.Load()
	if len(idx) == 0 {
		return
	}
	tree := h.tree()
	for page := (tenancy.Page{Size: tenancy.MaxPageSize}); ; {
		l, err := h.store.ListDevices(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: m.org, Subtree: true}, Page: page})
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("devices of a transferred organization not listed: their webhooks are not called", "org", m.org, "err", err)
			}
			return
		}
		for _, d := range l.Items {
			e := webhooks.Event{Kind: webhooks.OnTransfer, Device: d.UID, DeviceName: d.Name, Template: string(d.TemplateID), At: m.at}
			h.call(ctx, idx, tree, e, d.OrgID, m.oldParent)
		}
		if l.Next == 0 || len(l.Items) == 0 {
			return
		}
		page.After = l.Next
	}
}
