package extrastest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/syncproto"
)

// appendAudit appends one audit entry of action on object id in its own
// transaction, as an audited change does.
func appendAudit(t testing.TB, s Store, action, id string) tenancy.AuditID {
	t.Helper()
	e := tenancy.AuditEntry{At: T0, OrgID: 1, Action: action, ObjectType: "device", ObjectID: id}
	must(t, s.Atomic(context.Background(), func(tx tenancy.Tx) error { return tx.AppendAudit(context.Background(), &e) }))
	return e.ID
}

// auditHook is a pending function that turns each entry into one delivery
// of webhook w naming the entry's object, and records what it was given.
type auditHook struct {
	w    int64
	fail error
	mu   sync.Mutex
	seen []string // object ids, in the order given
}

func (h *auditHook) pending(ctx context.Context, r webhooks.AuditReader, es []tenancy.AuditEntry) ([]webhooks.Pending, error) {
	var ps []webhooks.Pending
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range es {
		h.seen = append(h.seen, e.ObjectID)
		ps = append(ps, webhooks.Pending{WebhookID: h.w, At: T0,
			Event: webhooks.Event{Kind: webhooks.OnCreated, Device: e.ObjectID, At: e.At}})
	}
	return ps, h.fail
}

func (h *auditHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.seen
	h.seen = nil
	return out
}

// deliveredDevices lists the devices of w's deliveries, oldest first.
func deliveredDevices(t testing.TB, s Store, w int64) []string {
	t.Helper()
	ds, err := s.Deliveries(context.Background(), w, 10000)
	must(t, err)
	out := make([]string, 0, len(ds))
	for i := len(ds) - 1; i >= 0; i-- {
		out = append(out, ds[i].Event.Device)
	}
	return out
}

// The audit cursor and the deliveries of the entries it passes move
// together: only the entries of the actions asked for, after the cursor,
// in id order, at most limit a run; a run whose pending fails leaves
// both as they were; a second run reads nothing; with pending nil the
// cursor passes the whole log (no deliveries for what it skipped). The
// reader pending is given reads in the run's transaction.
func testAuditDeliveries(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	w := savedHook(t, s, st.rootA, "created", webhooks.OnCreated)
	actions := webhooks.AuditActions
	// Whatever making the site logged is not this test's.
	if read, queued, err := s.DeliverAudit(ctx, actions, 100, nil); err != nil || read != 0 || queued != 0 {
		t.Fatalf("a run without pending: %d read, %d queued, %v", read, queued, err)
	}
	h := &auditHook{w: w.ID}

	appendAudit(t, s, "device.create", "d1")
	appendAudit(t, s, "device.update", "ignored")
	appendAudit(t, s, "device.transfer", "d2")

	h.fail = errors.New("boom")
	if _, _, err := s.DeliverAudit(ctx, actions, 100, h.pending); err == nil {
		t.Fatal("a run whose pending failed succeeded")
	}
	if got := h.take(); !slices.Equal(got, []string{"d1", "d2"}) {
		t.Fatalf("pending was given %v, want [d1 d2]", got)
	}
	if got := deliveredDevices(t, s, w.ID); len(got) != 0 {
		t.Fatalf("deliveries after a failed run: %v", got)
	}
	h.fail = nil
	read, queued, err := s.DeliverAudit(ctx, actions, 100, h.pending)
	must(t, err)
	if read != 2 || queued != 2 || !slices.Equal(h.take(), []string{"d1", "d2"}) {
		t.Fatalf("the run after a failed one: %d read, %d queued (the cursor moved on the failure?)", read, queued)
	}
	if got := deliveredDevices(t, s, w.ID); !slices.Equal(got, []string{"d1", "d2"}) {
		t.Fatalf("deliveries %v, want [d1 d2]", got)
	}
	read, queued, err = s.DeliverAudit(ctx, actions, 100, h.pending)
	if err != nil || read != 0 || queued != 0 || len(h.take()) != 0 {
		t.Fatalf("a second run: %d read, %d queued, %v", read, queued, err)
	}
	due, err := s.DueDeliveries(ctx, T0, 10)
	must(t, err)
	if len(due) != 2 || due[0].Event.Kind != webhooks.OnCreated || due[0].State != webhooks.Waiting {
		t.Fatalf("due: %+v", due)
	}

	// At most limit entries a run, in id order.
	for _, id := range []string{"d3", "d4", "d5"} {
		appendAudit(t, s, "static_token.claim", id)
	}
	var runs []int
	for {
		read, _, err := s.DeliverAudit(ctx, actions, 2, h.pending)
		must(t, err)
		if read == 0 {
			break
		}
		runs = append(runs, read)
	}
	if !reflect.DeepEqual(runs, []int{2, 1}) || !slices.Equal(h.take(), []string{"d3", "d4", "d5"}) {
		t.Fatalf("runs of at most 2: %v", runs)
	}

	// No webhook enabled: the cursor passes the log, no delivery.
	appendAudit(t, s, "device.create", "skipped")
	if read, _, err := s.DeliverAudit(ctx, actions, 100, nil); err != nil || read != 0 {
		t.Fatalf("a run without pending: %d, %v", read, err)
	}
	if read, _, err := s.DeliverAudit(ctx, actions, 100, h.pending); err != nil || read != 0 {
		t.Fatalf("after a run without pending: %d read, %v", read, err)
	}
	if got := deliveredDevices(t, s, w.ID); !slices.Equal(got, []string{"d1", "d2", "d3", "d4", "d5"}) {
		t.Fatalf("deliveries %v", got)
	}

	// The reader reads in the run's transaction: organizations and the
	// devices of a subtree.
	appendAudit(t, s, "org.transfer", "read")
	var got string
	_, _, err = s.DeliverAudit(ctx, actions, 100, func(ctx context.Context, r webhooks.AuditReader, es []tenancy.AuditEntry) ([]webhooks.Pending, error) {
		o, err := r.GetOrg(ctx, st.rootA)
		if err != nil {
			return nil, err
		}
		l, err := r.ListDevices(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: st.rootA, Subtree: true}, Page: tenancy.Page{Size: 10}})
		if err != nil {
			return nil, err
		}
		got = fmt.Sprint(len(es), o.ID == st.rootA, len(l.Items) > 0 && l.Items[0].UID == st.Mine.UID)
		return nil, nil
	})
	must(t, err)
	if got != "1 true true" {
		t.Fatalf("the reader in the run: %s", got)
	}
}

// AuditRunnersConcurrent checks that runners on several stores (or one)
// sharing a database, running while audited changes commit, insert each
// entry's delivery once: none lost, none doubled. PostgreSQL's tests pass
// two Store values on one database (two cloud instances).
func AuditRunnersConcurrent(t *testing.T, stores ...Store) {
	s := stores[0]
	st := newSite(t, s)
	ctx := context.Background()
	w := savedHook(t, s, st.rootA, "created", webhooks.OnCreated)
	if _, _, err := s.DeliverAudit(ctx, webhooks.AuditActions, 100, nil); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 40
	var want []string
	for i := range writers {
		for j := range each {
			want = append(want, fmt.Sprintf("w%d-%02d", i, j))
		}
	}
	var writing sync.WaitGroup
	done := make(chan struct{})
	for i := range writers {
		writing.Go(func() {
			for j := range each {
				appendAudit(t, stores[(i+j)%len(stores)], "device.create", fmt.Sprintf("w%d-%02d", i, j))
			}
		})
	}
	go func() { writing.Wait(); close(done) }()
	var running sync.WaitGroup
	for i := range 2 * len(stores) {
		running.Go(func() {
			h := &auditHook{w: w.ID}
			for last := false; ; {
				select {
				case <-done:
					last = true
				default:
				}
				for { // until none is left (after the writers: the final drain)
					read, _, err := stores[i%len(stores)].DeliverAudit(ctx, webhooks.AuditActions, 7, h.pending)
					if err != nil {
						t.Error(err)
						return
					}
					if read == 0 {
						break
					}
				}
				if last {
					return
				}
			}
		})
	}
	running.Wait()
	got := deliveredDevices(t, s, w.ID)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("%d deliveries (%d distinct), want each of the %d entries once", len(got), len(slices.Compact(slices.Clone(got))), len(want))
	}
}

// A cloud-logged event and its deliveries are stored in one transaction:
// pending is given the event as an item and reads the device through the
// transaction; when it fails, neither the event nor a delivery is stored.
func testLoggedEventDeliveries(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	w := savedHook(t, s, st.rootA, "logged", webhooks.OnEvent)
	var given []syncproto.Item
	pending := func(fail error) webhooks.PendingFunc {
		return func(ctx context.Context, devices webhooks.DeviceReader, items []syncproto.Item) ([]webhooks.Pending, error) {
			given = append(given, items...)
			var ps []webhooks.Pending
			for _, it := range items {
				d, err := devices.GetDeviceByUID(ctx, it.Device)
				if err != nil {
					return nil, err
				}
				ps = append(ps, webhooks.Pending{WebhookID: w.ID, At: T0, Event: webhooks.Event{Kind: webhooks.OnEvent,
					Device: it.Device, DeviceName: d.Name, EventCode: it.Name, Description: it.Value, At: time.UnixMilli(it.TS).UTC()}})
			}
			return ps, fail
		}
	}
	at := T0.Add(time.Minute)
	timeline := func() int {
		t.Helper()
		es, _, err := s.Timeline(ctx, st.Mine.UID, 0, 100)
		must(t, err)
		return len(es)
	}
	if _, err := s.LogEventDelivering(ctx, st.Mine.UID, "hot", "too hot", "automation:A1", at, pending(errors.New("boom"))); err == nil {
		t.Fatal("a log whose pending failed succeeded")
	}
	if n, ds := timeline(), deliveredDevices(t, s, w.ID); n != 0 || len(ds) != 0 {
		t.Fatalf("after a failed log: %d timeline entries, deliveries %v", n, ds)
	}
	given = nil
	e, err := s.LogEventDelivering(ctx, st.Mine.UID, "hot", "too hot", "automation:A1", at, pending(nil))
	must(t, err)
	if e.ID == 0 || e.Code != "hot" || e.Source != "automation:A1" || !e.TS.Equal(at) || timeline() != 1 {
		t.Fatalf("logged %+v", e)
	}
	if len(given) != 1 || given[0].Kind != syncproto.KindEvent || given[0].Device != st.Mine.UID || given[0].Name != "hot" ||
		given[0].Value != "too hot" || given[0].TS != at.UnixMilli() {
		t.Fatalf("pending was given %+v", given)
	}
	ds, err := s.Deliveries(ctx, w.ID, 10)
	must(t, err)
	if len(ds) != 1 || ds[0].Event.EventCode != "hot" || ds[0].Event.DeviceName != st.Mine.Name || ds[0].State != webhooks.Waiting {
		t.Fatalf("deliveries %+v", ds)
	}
	// Without pending: the event alone.
	if _, err := s.LogEventDelivering(ctx, st.Mine.UID, "hot", "", "automation:A1", at, nil); err != nil || timeline() != 2 {
		t.Fatalf("a log without pending: %v", err)
	}
	if ds, _ := s.Deliveries(ctx, w.ID, 10); len(ds) != 1 {
		t.Fatalf("a log without pending queued %d", len(ds)-1)
	}
}

// savedHook saves a webhook of org triggered by kind.
func savedHook(t *testing.T, s Store, org tenancy.OrgID, name, kind string) *webhooks.Webhook {
	t.Helper()
	w := hook(org, name)
	w.Trigger.Kind = kind
	must(t, s.SaveWebhook(context.Background(), w))
	return w
}
