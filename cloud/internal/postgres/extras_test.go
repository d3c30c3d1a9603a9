package postgres

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/extrastest"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// Firmware, automations, notifications and webhooks behave as on SQLite
// (the suite both stores run).
func TestExtrasConformance(t *testing.T) {
	extrastest.Run(t, func(t *testing.T) extrastest.Store { return newTestStore(t) })
}

// instances opens n stores on one database: n cloud instances.
func instances(t *testing.T, n int) []*Store {
	t.Helper()
	dsn := migratedDSN(t)
	out := make([]*Store, n)
	for i := range out {
		s, err := Open(context.Background(), dsn, Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out
}

// Two instances running the audit log's webhook deliveries while audited
// changes commit on both insert each entry's delivery once: the cursor row
// lock serializes the runs, and audit ids commit in id order, so no run
// passes over an entry that commits later.
func TestAuditRunnersOnTwoInstances(t *testing.T) {
	st := instances(t, 2)
	extrastest.AuditRunnersConcurrent(t, st[0], st[1])
}

func testHook(org int64, disableAfter int) *webhooks.Webhook {
	w := &webhooks.Webhook{OrgID: org, Name: "hook", Enabled: true, Method: "POST", URL: "https://example.com/in",
		DisableAfter: disableAfter}
	w.Trigger.Kind = webhooks.OnDatastream
	return w
}

// Instances sharing the queue never get the same delivery while it is
// claimed; one claimed by an instance that stopped before recording its
// attempt is due again once the lease has run out, and only then.
func TestDueDeliveriesAreClaimedOnce(t *testing.T) {
	ctx := context.Background()
	st := instances(t, 3)
	w := testHook(1, 0)
	if err := st[0].SaveWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var want []int64
	for i := range 300 {
		id, err := st[i%3].EnqueueDelivery(ctx, w.ID, webhooks.Event{Kind: webhooks.OnDatastream, Pin: i}, now)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			for {
				ds, err := st[i%3].DueDeliveries(ctx, now, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				if !slices.IsSortedFunc(ds, func(a, b webhooks.Delivery) int { return int(a.ID - b.ID) }) {
					t.Errorf("a claim out of order: %v", ds)
				}
				mu.Lock()
				for _, d := range ds {
					got = append(got, d.ID)
					if !d.NextAt.Equal(now) || d.State != webhooks.Waiting {
						t.Errorf("claimed %+v: not as it was due", d)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %d deliveries (%d distinct), want each of the %d once", len(got), len(slices.Compact(slices.Clone(got))), len(want))
	}
	// Nobody recorded an attempt: due again when the lease runs out.
	if ds, err := st[1].DueDeliveries(ctx, now.Add(deliveryLease-time.Millisecond), 1000); err != nil || len(ds) != 0 {
		t.Fatalf("due within the lease: %d, %v", len(ds), err)
	}
	ds, err := st[1].DueDeliveries(ctx, now.Add(deliveryLease), 1000)
	if err != nil || len(ds) != len(want) {
		t.Fatalf("due after the lease: %d, %v", len(ds), err)
	}
	// A recorded attempt sets when it is due, lease or not.
	if _, err := st[2].FinishAttempt(ctx, ds[0], webhooks.Attempt{State: webhooks.Waiting, NextAt: now, Tried: true}); err != nil {
		t.Fatal(err)
	}
	if ds, err := st[0].DueDeliveries(ctx, now, 1000); err != nil || len(ds) != 1 || ds[0].Attempts != 1 {
		t.Fatalf("due after a recorded attempt: %+v, %v", ds, err)
	}
}

// Concurrent failures on several instances are all counted, and exactly
// one of them reports disabling the webhook.
func TestConcurrentFailuresDisableOnce(t *testing.T) {
	ctx := context.Background()
	st := instances(t, 2)
	const n = 12
	w := testHook(1, n/2)
	if err := st[0].SaveWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for range n {
		if _, err := st[0].EnqueueDelivery(ctx, w.ID, webhooks.Event{Kind: webhooks.OnDatastream}, now); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := st[0].DueDeliveries(ctx, now, n)
	if err != nil || len(ds) != n {
		t.Fatalf("due %d, %v", len(ds), err)
	}
	var mu sync.Mutex
	disabled := 0
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			dis, err := st[i%2].FinishAttempt(ctx, d, webhooks.Attempt{State: webhooks.Waiting, NextAt: now.Add(time.Minute),
				Code: 500, Tried: true, Failed: true, DisableAt: n / 2})
			if err != nil {
				t.Error(err)
			}
			if dis {
				mu.Lock()
				disabled++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, failures, err := st[1].GetWebhook(ctx, w.ID)
	if err != nil || got.Enabled || failures != n || disabled != 1 {
		t.Fatalf("enabled %v, %d failures (want %d), disabled reported %d times (want 1), %v", got.Enabled, failures, n, disabled, err)
	}
}

// Two organizations saving one new automation id at once: one gets it,
// the other Conflict, and the audit log has only the winner's save.
func TestConcurrentAutomationSaves(t *testing.T) {
	ctx := context.Background()
	st := instances(t, 2)
	site := telemetrytest.NewSite(t, st[0])
	orgs := []tenancy.OrgID{site.Mine.OrgID, site.Other.OrgID}
	ids := []string{"01JD5Z8Q3M4N5P6Q7R8S9T0B01", "01JD5Z8Q3M4N5P6Q7R8S9T0B02", "01JD5Z8Q3M4N5P6Q7R8S9T0B03",
		"01JD5Z8Q3M4N5P6Q7R8S9T0B04", "01JD5Z8Q3M4N5P6Q7R8S9T0B05"}
	for _, id := range ids {
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				a := rules.Automation{ID: id, Name: "fan", Enabled: true,
					Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: site.Mine.UID, Pin: 1, Op: rules.OpGt, Value: "30"},
					Actions: []rules.Action{{Kind: rules.ActionWrite, Device: site.Mine.UID, Pin: 2, Value: "1"}}}
				errs[i] = st[i].SaveAutomation(ctx, orgs[i], a, tenancy.Actor{}, time.Now())
			})
		}
		wg.Wait()
		winner := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		if winner < 0 || tenancy.CodeOf(errs[1-winner]) != tenancy.Conflict {
			t.Fatalf("%s: %v, want one success and one Conflict", id, errs)
		}
		a, err := st[1].GetAutomation(ctx, id)
		if err != nil || a.OrgID != int64(orgs[winner]) {
			t.Fatalf("%s: owner %d, want %d (%v)", id, a.OrgID, orgs[winner], err)
		}
		audit, err := st[0].ListAudit(ctx, tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: orgs[1-winner]}, ObjectType: "automation",
			ObjectID: id, Page: tenancy.Page{Size: 10}})
		if err != nil || len(audit.Items) != 0 {
			t.Fatalf("%s: the loser's audit %+v, %v", id, audit.Items, err)
		}
	}
}

// Text PostgreSQL cannot hold (NUL, invalid UTF-8) that a notification
// may quote from a device, or an attempt's error carry, is stored with
// U+FFFD instead of failing.
func TestTextWithNUL(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	id, err := s.AddNotification(ctx, notify.Notification{UserID: 7, OrgID: 1, At: time.Now(), Subject: "V1 = a\x00b",
		Body: "bad \xff byte", Why: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := s.Notifications(ctx, 7, 0, 1)
	if err != nil || len(ns) != 1 || ns[0].ID != id || ns[0].Subject != "V1 = a\uFFFDb" || ns[0].Body != "bad \uFFFD byte" {
		t.Fatalf("%+v, %v", ns, err)
	}
	w := testHook(1, 0)
	if err := s.SaveWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	did, err := s.EnqueueDelivery(ctx, w.ID, webhooks.Event{Kind: webhooks.OnDatastream, Value: "a\x00b"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, webhooks.Delivery{ID: did, WebhookID: w.ID},
		webhooks.Attempt{State: webhooks.Waiting, NextAt: time.Now(), Error: "peer said \x00", Tried: true, Failed: true}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Deliveries(ctx, w.ID, 1)
	if err != nil || len(ds) != 1 || ds[0].Error != "peer said \uFFFD" || ds[0].Event.Value != "a\x00b" || ds[0].Attempts != 1 {
		t.Fatalf("%+v, %v", ds, err)
	}
}

// sqliteSource reads a SQLite store's tables for Import (as outpost-cloud
// migrate-store does).
type sqliteSource struct{ *sqlite.Store }

func (s sqliteSource) ReadTable(ctx context.Context, table string, cols []string, order string) (Rows, error) {
	return s.Store.ReadTable(ctx, table, cols, order)
}

// A cloud copied from SQLite keeps its firmware, shipments and statuses,
// automations and runs, notifications, webhooks and their queue, and
// device metadata; new rows get fresh ids.
func TestImportCopiesExtras(t *testing.T) {
	ctx := context.Background()
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	site := telemetrytest.NewSite(t, src)
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	fw, err := src.CreateFirmware(ctx, ota.Firmware{RootID: site.Mine.OrgID, TemplateID: site.Mine.TemplateID, Name: "f.bin",
		SHA256: [32]byte{1, 2, 3}, MD5: [16]byte{4, 5}, Size: 10, Version: "2", Type: string(site.Mine.TemplateID), Build: "b", CreatedAt: at})
	must(err)
	sh, err := src.CreateShipment(ctx, ota.Shipment{RootID: site.Mine.OrgID, Name: "s", FirmwareID: fw, TemplateID: site.Mine.TemplateID,
		Devices: []tenancy.DeviceID{site.Mine.ID}, Window: ota.Night, Rule: ota.LowerVersion, Attempts: 3, UserControlled: true,
		State: ota.Live, CreatedAt: at, UpdatedAt: at})
	must(err)
	must(src.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: sh, DeviceID: site.Mine.ID, Status: ota.AwaitingUser, Approved: true,
		UpdatedAt: at}))
	must(src.Apply(ctx, site.GW, 1, []syncproto.Item{{Seq: 1, Kind: syncproto.KindOTA, Device: site.Mine.UID, Name: "1", TS: 1000,
		Value: syncproto.EncodeOTA(syncproto.OTAStatus{Status: "downloaded", Attempts: 1, Version: "1", Detail: "x\x00y"})}}, 1))
	auto := rules.Automation{ID: "01JD5Z8Q3M4N5P6Q7R8S9T0A01", Name: "fan", Enabled: true,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: site.Mine.UID, Pin: 1, Op: rules.OpGt, Value: "30"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: site.Mine.UID, Pin: 2, Value: "1"}}}
	must(src.SaveAutomation(ctx, site.Mine.OrgID, auto, tenancy.Actor{UserID: 1}, at))
	must(src.SaveRun(ctx, rules.Run{Automation: auto.ID, Name: "fan", At: 1000, Cut: "loop"}))
	must(src.SaveRun(ctx, rules.Run{Automation: auto.ID, Name: "fan", At: 2000}))
	nid, err := src.AddNotification(ctx, notify.Notification{UserID: 5, OrgID: site.Mine.OrgID, At: at, Subject: "s", Body: "b", Why: "w"})
	must(err)
	must(src.MarkNotificationsRead(ctx, 5, 0, nid, at))
	w := testHook(int64(site.Mine.OrgID), 3)
	must(src.SaveWebhook(ctx, w))
	d, err := src.EnqueueDelivery(ctx, w.ID, webhooks.Event{Kind: webhooks.OnDatastream, Value: "21"}, at)
	must(err)
	_, err = src.FinishAttempt(ctx, webhooks.Delivery{ID: d, WebhookID: w.ID}, webhooks.Attempt{State: webhooks.Waiting,
		NextAt: at.Add(time.Minute), Code: 500, Error: "Internal Server Error", Tried: true, Failed: true, DisableAt: 3})
	must(err)
	must(src.SetDeviceMeta(ctx, site.Mine.ID, tenancy.DeviceMeta{Name: "Serial", Value: "42", UpdatedAt: at, UpdatedBy: 1}))

	dst := newTestStore(t)
	copied, err := dst.Import(ctx, sqliteSource{src})
	must(err)
	for _, table := range []string{"ota_firmware", "ota_shipments", "ota_device_status", "automations", "automation_runs",
		"notifications", "webhooks", "webhook_deliveries", "webhook_audit_cursor", "device_meta"} {
		if copied[table] == 0 {
			t.Errorf("%s: nothing copied", table)
		}
	}
	same := func(what string, get func(s extrastest.Store) (any, error)) {
		t.Helper()
		want, err := get(src)
		must(err)
		got, err := get(dst)
		must(err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n%+v\nwant\n%+v", what, got, want)
		}
	}
	same("firmware", func(s extrastest.Store) (any, error) {
		return s.ListFirmware(ctx, site.Mine.OrgID, site.Mine.TemplateID)
	})
	same("shipments", func(s extrastest.Store) (any, error) { return s.ListShipments(ctx, site.Mine.OrgID) })
	same("statuses", func(s extrastest.Store) (any, error) { return s.DeviceStatuses(ctx, sh) })
	same("automations", func(s extrastest.Store) (any, error) { return s.AllAutomations(ctx) })
	same("runs", func(s extrastest.Store) (any, error) { return s.AutomationRuns(ctx, auto.ID, 10) })
	same("notifications", func(s extrastest.Store) (any, error) { return s.Notifications(ctx, 5, 0, 10) })
	same("webhooks", func(s extrastest.Store) (any, error) { return s.ListWebhooks(ctx, int64(site.Mine.OrgID)) })
	same("failures", func(s extrastest.Store) (any, error) { _, f, err := s.GetWebhook(ctx, w.ID); return f, err })
	same("deliveries", func(s extrastest.Store) (any, error) { return s.Deliveries(ctx, w.ID, 10) })
	same("device meta", func(s extrastest.Store) (any, error) { return s.DeviceMeta(ctx, site.Mine.ID) })

	// Ids go on after the copied ones.
	w2 := testHook(int64(site.Mine.OrgID), 3)
	must(dst.SaveWebhook(ctx, w2))
	if w2.ID <= w.ID {
		t.Fatalf("new webhook id %d, not after the copied %d", w2.ID, w.ID)
	}
	fw2, err := dst.CreateFirmware(ctx, ota.Firmware{RootID: site.Mine.OrgID, TemplateID: site.Mine.TemplateID, Name: "g.bin",
		Size: 1, Version: "3", Type: "t", Build: "b", CreatedAt: at})
	must(err)
	if fw2 <= fw {
		t.Fatalf("new firmware id %d, not after the copied %d", fw2, fw)
	}
}
