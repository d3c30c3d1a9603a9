package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
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
	// DeliverAudit turns the audit entries of actions after the store's
	// audit cursor (at most limit) into the deliveries pending returns,
	// inserting them and moving the cursor in one transaction; pending
	// nil moves the cursor to the end of the log.
	DeliverAudit(ctx context.Context, actions []string, limit int, pending webhooks.AuditPendingFunc) (read, queued int, err error)
}

// hookTriggers turns what happens to devices into webhook deliveries,
// always inserted in the transaction of what they report, so that a crash
// loses both or neither:
//   - a gateway batch's datastream writes, events and online / offline
//     changes: pending, called by the telemetry store in the apply;
//   - the events cloud automations log: pending again, called by the
//     store's LogEventDelivering;
//   - devices created and transferred (device_created,
//     device_transferred): read from the audit log after an audit cursor
//     the store keeps (auditRun), by every instance on start, after each
//     audited change, on the cluster's change notification, and every
//     auditSweep.
//
// With no enabled webhook a batch costs one atomic load, and an audit run
// one statement (the cursor moves to the log's end).
type hookTriggers struct {
	store hookStore
	disp  *webhooks.Dispatcher
	tree  func() *tenancy.Tree
	log   *slog.Logger

	index atomic.Pointer[map[int64][]webhooks.Webhook] // enabled webhooks by org
	kick  chan struct{}
	audit chan struct{} // the audit log has entries to deliver (coalesced)
}

// auditSweep is how often the audit log is read with nothing announced:
// another instance may have stopped between an audited commit and its run.
const auditSweep = time.Minute

func newHookTriggers(store hookStore, disp *webhooks.Dispatcher, tree func() *tenancy.Tree, log *slog.Logger) *hookTriggers {
	h := &hookTriggers{store: store, disp: disp, tree: tree, log: log, kick: make(chan struct{}, 1), audit: make(chan struct{}, 1)}
	empty := map[int64][]webhooks.Webhook{}
	h.index.Store(&empty)
	return h
}

// reload asks for the webhooks to be read again (coalesced), and for the
// audit log to be read after (another instance's change may be there).
func (h *hookTriggers) reload() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// auditKick asks for an audit run (coalesced).
func (h *hookTriggers) auditKick() {
	select {
	case h.audit <- struct{}{}:
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
	h.auditRun(ctx) // what a crash left behind
	sweep := time.NewTicker(auditSweep)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
			h.load(ctx)
			h.auditRun(ctx)
		case <-h.audit:
			h.auditRun(ctx)
		case <-sweep.C:
			h.auditRun(ctx)
		}
	}
}

// auditRun delivers the audit log's device creations and transfers after
// the store's cursor, a batch at a time, until none is left. A failed run
// is logged and tried again at the next kick or sweep: the cursor has not
// moved.
func (h *hookTriggers) auditRun(ctx context.Context) {
	for ctx.Err() == nil {
		var pending webhooks.AuditPendingFunc
		if len(*h.index.Load()) > 0 {
			pending = h.auditPending
		}
		read, queued, err := h.store.DeliverAudit(ctx, webhooks.AuditActions, webhooks.AuditBatch, pending)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("webhook deliveries of audited changes not queued (tried again later)", "err", err)
			}
			return
		}
		if queued > 0 {
			h.disp.Kick()
		}
		if read < webhooks.AuditBatch {
			return
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
		for _, w := range matching(idx, tree.Parent, &e, d.OrgID) {
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

// matching returns the webhooks of the organizations from each of orgs up
// to the root whose trigger matches e, each webhook once.
// parent names each organization's parent (0 above a root).
func matching(idx map[int64][]webhooks.Webhook, parent func(tenancy.OrgID) tenancy.OrgID, e *webhooks.Event, orgs ...tenancy.OrgID) []webhooks.Webhook {
	var hit []webhooks.Webhook
	for i, start := range orgs {
		for o := start; o != 0; o = parent(o) {
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
	hit := matching(idx, tree.Parent, &e, orgs...)
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

// audited asks for an audit run when committed entries include device
// creations or transfers (the tenancy service calls it after the commit;
// the run, not this call, queues their deliveries).
func (h *hookTriggers) audited(_ context.Context, entries []tenancy.AuditEntry) {
	for _, en := range entries {
		if slices.Contains(webhooks.AuditActions, en.Action) {
			h.auditKick()
			return
		}
	}
}

// auditPending returns the deliveries of committed audit entries, read in
// the transaction of the store's audit run (r): for device.create and
// static_token.claim (a claimed static-token device is new to its
// claimer's organization: created there, as far as webhooks go) the
// device_created webhooks of the device's organization and those above
// it; for device.transfer the device_transferred webhooks of the
// organizations above it after and before the move; for org.transfer, for
// each device of the moved subtree (as it is now), those of the
// organizations above it now and of those the organization was under
// before. Each webhook is called once per device and entry. Organizations
// are walked up through r, not the in-memory tree, which may not hold
// another instance's latest change yet.
func (h *hookTriggers) auditPending(ctx context.Context, r webhooks.AuditReader, entries []tenancy.AuditEntry) ([]webhooks.Pending, error) {
	idx := *h.index.Load()
	if len(idx) == 0 {
		return nil, nil
	}
	parents := map[tenancy.OrgID]tenancy.OrgID{}
	var readErr error
	parent := func(o tenancy.OrgID) tenancy.OrgID {
		if p, ok := parents[o]; ok {
			return p
		}
		org, err := r.GetOrg(ctx, o)
		if err != nil && !errors.Is(err, tenancy.ErrNotFound) && readErr == nil {
			readErr = fmt.Errorf("webhooks: organization %d: %w", o, err)
		}
		parents[o] = org.ParentID // 0 when gone: stop there
		return org.ParentID
	}
	now := time.Now()
	var out []webhooks.Pending
	add := func(e webhooks.Event, orgs ...tenancy.OrgID) {
		for _, w := range matching(idx, parent, &e, orgs...) {
			out = append(out, webhooks.Pending{WebhookID: w.ID, Event: e, At: now})
		}
	}
	for _, en := range entries {
		switch {
		case en.ObjectType == "org" && en.Action == "org.transfer":
			var before tenancy.OrgJSON
			org, err := strconv.ParseInt(en.ObjectID, 10, 64)
			if err != nil || json.Unmarshal(en.Before, &before) != nil {
				continue
			}
			for page := (tenancy.Page{Size: tenancy.MaxPageSize}); ; {
				l, err := r.ListDevices(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: tenancy.OrgID(org), Subtree: true}, Page: page})
				if err != nil {
					return nil, fmt.Errorf("webhooks: devices of transferred organization %d: %w", org, err)
				}
				for _, d := range l.Items {
					add(webhooks.Event{Kind: webhooks.OnTransfer, Device: d.UID, DeviceName: d.Name, Template: string(d.TemplateID),
						At: en.At.UTC()}, d.OrgID, before.ParentID)
				}
				if l.Next == 0 || len(l.Items) == 0 {
					break
				}
				page.After = l.Next
			}
		case en.ObjectType != "device":
		case en.Action == "device.create", en.Action == "static_token.claim", en.Action == "device.transfer":
			kind := webhooks.OnCreated
			if en.Action == "device.transfer" {
				kind = webhooks.OnTransfer
			}
			var after, before tenancy.DeviceJSON
			if err := json.Unmarshal(en.After, &after); err != nil || after.UID == "" {
				continue
			}
			if en.Before != nil {
				_ = json.Unmarshal(en.Before, &before)
			}
			add(webhooks.Event{Kind: kind, Device: after.UID, DeviceName: after.Name, Template: string(after.TemplateID),
				At: en.At.UTC()}, after.OrgID, before.OrgID)
		}
		if readErr != nil {
			return nil, readErr
		}
	}
	return out, nil
}
