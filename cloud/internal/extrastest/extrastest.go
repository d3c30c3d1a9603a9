// Package extrastest is the conformance suite of what the cloud's stores
// keep for firmware over the air, automations, notifications and webhooks
// (the cloud's extrasStore): firmware and shipments, per-device statuses
// and the KindOTA items that set them, automations with their audit and
// runs (made in the cloud, or at a site and applied from telemetry once),
// notifications and the event notifier's counters, webhooks and their
// delivery queue with its retry and disablement bookkeeping. Call Run from a store's tests with a
// constructor of fresh, empty stores.
package extrastest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/automations"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/datastream"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// Store is what the suite exercises: a tenancy and telemetry store (to
// make orgs, gateways and devices, and to apply a site's items) with the
// extras.
type Store interface {
	telemetrytest.Store
	ota.Store
	notify.Store
	Notifications(ctx context.Context, user tenancy.UserID, before int64, limit int) ([]notify.Notification, error)
	UnreadNotifications(ctx context.Context, user tenancy.UserID) (int, error)
	MarkNotificationsRead(ctx context.Context, user tenancy.UserID, from, upTo int64, at time.Time) error
	webhooks.Store
	webhooks.ServiceStore
	EnabledWebhooks(ctx context.Context) ([]webhooks.Webhook, error)
	// ApplyItemsDelivering applies a batch and inserts the deliveries
	// pending returns for what it stores, in one transaction.
	ApplyItemsDelivering(ctx context.Context, gatewayID string, epoch int64, items []syncproto.Item, upTo int64,
		pending webhooks.PendingFunc) ([]syncproto.Item, error)
	automations.Store
	automations.RunnerStore
	notify.CounterStore
	// DeliverAudit turns the audit entries of actions after the store's
	// audit cursor (at most limit) into the deliveries pending returns,
	// inserting them and moving the cursor in one transaction (pending
	// nil: the cursor moves to the log's end).
	DeliverAudit(ctx context.Context, actions []string, limit int, pending webhooks.AuditPendingFunc) (read, queued int, err error)
	// LogEventDelivering logs a cloud event and inserts the deliveries
	// pending returns for it, in one transaction.
	LogEventDelivering(ctx context.Context, uid, code, description, source string, at time.Time,
		pending webhooks.PendingFunc) (telemetry.TimelineEntry, error)
	// ResolveEventAudited resolves an event and appends its audit entry
	// in one transaction.
	ResolveEventAudited(ctx context.Context, uid string, id int64, codes []string, by, comment string, at time.Time,
		audit *tenancy.AuditEntry) (telemetry.TimelineEntry, error)
}

// Run runs every contract test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Firmware", testFirmware},
		{"Shipments", testShipments},
		{"DeviceStatuses", testDeviceStatuses},
		{"ApplyOTAStatus", testApplyOTAStatus},
		{"TemplateDeletionCascades", testTemplateDeletionCascades},
		{"Automations", testAutomations},
		{"Runs", testRuns},
		{"RunsFromTelemetryAreStoredOnce", testRunsFromTelemetry},
		{"Notifications", testNotifications},
		{"Webhooks", testWebhooks},
		{"DeliveryQueue", testDeliveryQueue},
		{"DeliveriesAppliedWithTheirItems", testApplyDeliveries},
		{"DisabledAfterFailures", testDisabledAfterFailures},
		{"AuditDeliveriesWithTheirCursor", testAuditDeliveries},
		{"AuditDeliveriesOfConcurrentRunners", func(t *testing.T, s Store) { AuditRunnersConcurrent(t, s, s) }},
		{"LoggedEventDeliveredWithIt", testLoggedEventDeliveries},
		{"EventCounters", testEventCounters},
		{"PendingOfflines", testPendingOfflines},
		{"ResolveAudited", testResolveAudited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// T0 is the suite's reference time (whole milliseconds: stores keep ms).
var T0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// AutoID is the id of the suite's automation.
const AutoID = "01JD5Z8Q3M4N5P6Q7R8S9T0A01"

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, what string, err error, code tenancy.Code) {
	t.Helper()
	if tenancy.CodeOf(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// site is telemetrytest's site: a gateway in root A serving Mine; Other
// is in root B.
type site struct {
	telemetrytest.Site
	s      Store
	rootA  tenancy.OrgID
	rootB  tenancy.OrgID
	tmplA  tenancy.TemplateID
	tmplB  tenancy.TemplateID
	fwA    ota.FirmwareID
	shipA  ota.ShipmentID
	shipID string // shipA as a KindOTA item names it
}

func newSite(t *testing.T, s Store) *site {
	t.Helper()
	st := &site{Site: telemetrytest.NewSite(t, s), s: s}
	st.rootA, st.rootB = st.Mine.OrgID, st.Other.OrgID
	st.tmplA, st.tmplB = st.Mine.TemplateID, st.Other.TemplateID
	return st
}

func firmware(root tenancy.OrgID, tmpl tenancy.TemplateID, version string, at time.Time) ota.Firmware {
	f := ota.Firmware{RootID: root, TemplateID: tmpl, Name: "fw-" + version + ".bin", Size: 4096, Version: version,
		Type: string(tmpl), Build: "build " + version, CreatedAt: at}
	for i := range f.SHA256 {
		f.SHA256[i] = byte(i) ^ version[0]
	}
	for i := range f.MD5 {
		f.MD5[i] = byte(255-i) ^ version[0]
	}
	return f
}

func shipment(root tenancy.OrgID, fw ota.FirmwareID, tmpl tenancy.TemplateID, name string, st ota.State, at time.Time) ota.Shipment {
	return ota.Shipment{RootID: root, Name: name, FirmwareID: fw, TemplateID: tmpl, Window: ota.AnyTime, Rule: ota.LowerVersion,
		Attempts: 3, State: st, CreatedAt: at, UpdatedAt: at}
}

// withShipment adds a firmware and a live, user-controlled shipment of
// it to root A's template.
func (st *site) withShipment(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var err error
	st.fwA, err = st.s.CreateFirmware(ctx, firmware(st.rootA, st.tmplA, "2.0.0", T0))
	must(t, err)
	sh := shipment(st.rootA, st.fwA, st.tmplA, "rollout", ota.Live, T0)
	sh.UserControlled = true
	st.shipA, err = st.s.CreateShipment(ctx, sh)
	must(t, err)
	st.shipID = strconv.FormatInt(int64(st.shipA), 10)
}

func testFirmware(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	f1 := firmware(st.rootA, st.tmplA, "1.0.0", T0)
	f2 := firmware(st.rootA, st.tmplA, "1.1.0", T0.Add(time.Minute))
	fb := firmware(st.rootB, st.tmplB, "9.0.0", T0)
	for _, f := range []*ota.Firmware{&f1, &f2, &fb} {
		id, err := s.CreateFirmware(ctx, *f)
		must(t, err)
		if id <= 0 {
			t.Fatalf("firmware id %d", id)
		}
		f.ID = id
	}
	if f1.ID == f2.ID || f2.ID == fb.ID {
		t.Fatalf("ids %d %d %d are not distinct", f1.ID, f2.ID, fb.ID)
	}
	got, err := s.GetFirmware(ctx, f2.ID)
	must(t, err)
	if !reflect.DeepEqual(got, f2) {
		t.Fatalf("firmware read back:\n%+v\nwant\n%+v", got, f2)
	}
	list, err := s.ListFirmware(ctx, st.rootA, st.tmplA)
	must(t, err)
	if !reflect.DeepEqual(list, []ota.Firmware{f2, f1}) {
		t.Fatalf("template A's firmware, newest first: %+v", list)
	}
	if list, err := s.ListFirmware(ctx, st.rootB, st.tmplA); err != nil || len(list) != 0 {
		t.Fatalf("root B listing template A's firmware: %+v, %v", list, err)
	}
	if list, err := s.ListFirmware(ctx, st.rootB, st.tmplB); err != nil || len(list) != 1 || list[0].ID != fb.ID {
		t.Fatalf("root B's firmware: %+v, %v", list, err)
	}
	_, err = s.GetFirmware(ctx, fb.ID+100)
	wantCode(t, "a missing firmware", err, tenancy.NotFound)
}

func testShipments(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	if active, err := s.AnyActiveShipment(ctx); err != nil || active {
		t.Fatalf("active shipments in an empty store: %v, %v", active, err)
	}
	fw, err := s.CreateFirmware(ctx, firmware(st.rootA, st.tmplA, "2.0.0", T0))
	must(t, err)
	fwB, err := s.CreateFirmware(ctx, firmware(st.rootB, st.tmplB, "2.0.0", T0))
	must(t, err)

	all := shipment(st.rootA, fw, st.tmplA, "everyone", ota.Live, T0)
	some := shipment(st.rootA, fw, st.tmplA, "some", ota.Paused, T0.Add(time.Second))
	some.Devices = []tenancy.DeviceID{st.Mine.ID, st.Mine.ID + 1000}
	some.UserControlled, some.Window, some.Rule, some.Attempts = true, ota.Night, ota.OtherBuild, 7
	for _, sh := range []*ota.Shipment{&all, &some} {
		id, err := s.CreateShipment(ctx, *sh)
		must(t, err)
		sh.ID = id
	}
	for _, want := range []ota.Shipment{all, some} {
		got, err := s.GetShipment(ctx, want.ID)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("shipment read back:\n%+v\nwant\n%+v", got, want)
		}
	}
	_, err = s.CreateShipment(ctx, shipment(st.rootA, fw, st.tmplA, "some", ota.Live, T0))
	wantCode(t, "a shipment name taken in the root", err, tenancy.Conflict)
	other, err := s.CreateShipment(ctx, shipment(st.rootB, fwB, st.tmplB, "some", ota.Live, T0))
	must(t, err) // the same name in another root

	ids := func(l []ota.Shipment, err error) []ota.ShipmentID {
		t.Helper()
		must(t, err)
		out := []ota.ShipmentID{}
		for _, sh := range l {
			out = append(out, sh.ID)
		}
		return out
	}
	for _, c := range []struct {
		root   tenancy.OrgID
		states []ota.State
		want   []ota.ShipmentID
	}{
		{st.rootA, nil, []ota.ShipmentID{some.ID, all.ID}},
		{st.rootA, []ota.State{ota.Live}, []ota.ShipmentID{all.ID}},
		{st.rootA, []ota.State{ota.Live, ota.Paused}, []ota.ShipmentID{some.ID, all.ID}},
		{st.rootA, []ota.State{ota.Cancelled}, []ota.ShipmentID{}},
		{st.rootB, nil, []ota.ShipmentID{other}},
	} {
		if got := ids(s.ListShipments(ctx, c.root, c.states...)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("shipments of root %d in %v: %v, want %v", c.root, c.states, got, c.want)
		}
	}

	if active, err := s.AnyActiveShipment(ctx); err != nil || !active {
		t.Fatalf("active shipments: %v, %v", active, err)
	}
	later := T0.Add(time.Hour)
	for _, id := range []ota.ShipmentID{all.ID, some.ID, other} {
		must(t, s.SetShipmentState(ctx, id, ota.Cancelled, later))
	}
	got, err := s.GetShipment(ctx, some.ID)
	must(t, err)
	if got.State != ota.Cancelled || !got.UpdatedAt.Equal(later) || !got.CreatedAt.Equal(some.CreatedAt) {
		t.Fatalf("after cancelling: %+v", got)
	}
	if active, err := s.AnyActiveShipment(ctx); err != nil || active {
		t.Fatalf("active shipments once all are cancelled: %v, %v", active, err)
	}
	wantCode(t, "a missing shipment's state", s.SetShipmentState(ctx, other+100, ota.Live, later), tenancy.NotFound)
	_, err = s.GetShipment(ctx, other+100)
	wantCode(t, "a missing shipment", err, tenancy.NotFound)
}

func testDeviceStatuses(t *testing.T, s Store) {
	st := newSite(t, s)
	st.withShipment(t)
	ctx := context.Background()
	if rows, err := s.DeviceStatuses(ctx, st.shipA); err != nil || len(rows) != 0 {
		t.Fatalf("statuses of a new shipment: %+v, %v", rows, err)
	}
	hi, lo := st.Mine.ID+50, st.Mine.ID
	must(t, s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: st.shipA, DeviceID: hi, Status: ota.Pending, UpdatedAt: T0}))
	must(t, s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: st.shipA, DeviceID: lo, Status: ota.AwaitingUser,
		Approved: true, UpdatedAt: T0}))
	// Replacing a row keeps an approval once given.
	must(t, s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: st.shipA, DeviceID: lo, Status: ota.RequestSent,
		Attempts: 2, Version: "1.0.0", Detail: "sent", UpdatedAt: T0.Add(time.Minute)}))
	// And an approval given later is taken.
	must(t, s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: st.shipA, DeviceID: hi, Status: ota.AwaitingUser,
		Approved: true, UpdatedAt: T0.Add(2 * time.Minute)}))
	rows, err := s.DeviceStatuses(ctx, st.shipA)
	must(t, err)
	want := []ota.DeviceStatus{
		{ShipmentID: st.shipA, DeviceID: lo, Status: ota.RequestSent, Approved: true, Attempts: 2, Version: "1.0.0",
			Detail: "sent", UpdatedAt: T0.Add(time.Minute)},
		{ShipmentID: st.shipA, DeviceID: hi, Status: ota.AwaitingUser, Approved: true, UpdatedAt: T0.Add(2 * time.Minute)},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("statuses, by device:\n%+v\nwant\n%+v", rows, want)
	}
	if rows, err := s.DeviceStatuses(ctx, st.shipA+100); err != nil || len(rows) != 0 {
		t.Fatalf("statuses of a missing shipment: %+v, %v", rows, err)
	}
}

// A gateway's KindOTA items land in the status table, keeping the owner's
// approval; an item naming a shipment that does not exist, or a device
// the gateway does not serve, is dropped; a replayed batch changes
// nothing.
func testApplyOTAStatus(t *testing.T, s Store) {
	st := newSite(t, s)
	st.withShipment(t)
	ctx := context.Background()
	must(t, s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: st.shipA, DeviceID: st.Mine.ID, Status: ota.AwaitingUser,
		Approved: true, UpdatedAt: T0}))
	item := func(seq int64, dev, ship string, ts int64, s syncproto.OTAStatus) syncproto.Item {
		return syncproto.Item{Seq: seq, Kind: syncproto.KindOTA, Device: dev, Name: ship, TS: ts, Source: "local",
			Value: syncproto.EncodeOTA(s)}
	}
	items := []syncproto.Item{
		item(1, st.Mine.UID, st.shipID, 1000, syncproto.OTAStatus{Status: "downloaded", Attempts: 1, Version: "1"}),
		item(2, st.Mine.UID, "99999", 1001, syncproto.OTAStatus{Status: "success"}),
		item(3, st.Other.UID, st.shipID, 1002, syncproto.OTAStatus{Status: "success"}),
		item(4, st.Mine.UID, st.shipID, 1003, syncproto.OTAStatus{Status: "success", Attempts: 1, Version: "2",
			Detail: "flashed\x00slot b"}),
	}
	applied, err := s.ApplyItems(ctx, st.GW, 1, items, 4)
	must(t, err)
	if len(applied) != 3 || applied[0].Seq != 1 || applied[1].Seq != 2 || applied[2].Seq != 4 {
		t.Fatalf("applied %+v, want seqs 1, 2, 4 (3 is another org's device)", applied)
	}
	want := []ota.DeviceStatus{{ShipmentID: st.shipA, DeviceID: st.Mine.ID, Status: ota.Success, Approved: true, Attempts: 1,
		Version: "2", Detail: "flashed\x00slot b", UpdatedAt: time.UnixMilli(1003).UTC()}}
	rows, err := s.DeviceStatuses(ctx, st.shipA)
	must(t, err)
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("statuses:\n%+v\nwant\n%+v", rows, want)
	}
	if other, err := s.DeviceStatuses(ctx, 99999); err != nil || len(other) != 0 {
		t.Fatalf("status for a missing shipment: %+v, %v", other, err)
	}
	if _, ok, err := s.DeviceStatus(ctx, st.Mine.UID); err != nil || ok {
		t.Fatalf("an OTA status counted as the device reporting: %v, %v", ok, err)
	}
	// The cloud moves the row on; the same batch sent again is skipped.
	must(t, s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: st.shipA, DeviceID: st.Mine.ID, Status: ota.Rollback,
		UpdatedAt: T0}))
	applied, err = s.ApplyItems(ctx, st.GW, 1, items, 4)
	must(t, err)
	if len(applied) != 0 {
		t.Fatalf("a replay applied %+v", applied)
	}
	rows, err = s.DeviceStatuses(ctx, st.shipA)
	must(t, err)
	if len(rows) != 1 || rows[0].Status != ota.Rollback || !rows[0].UpdatedAt.Equal(T0) {
		t.Fatalf("after a replay: %+v", rows)
	}
	// The next item does apply, and keeps the approval.
	must(t, s.Apply(ctx, st.GW, 1, []syncproto.Item{item(5, st.Mine.UID, st.shipID, 2000,
		syncproto.OTAStatus{Status: "up_to_date", Attempts: 2, Version: "2"})}, 5))
	rows, err = s.DeviceStatuses(ctx, st.shipA)
	must(t, err)
	if len(rows) != 1 || rows[0].Status != ota.AlreadyUpToDate || rows[0].Attempts != 2 || !rows[0].Approved || rows[0].Detail != "" {
		t.Fatalf("after the next item: %+v", rows)
	}
}

// Deleting a template takes its firmware, shipments and their statuses
// with it.
func testTemplateDeletionCascades(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	tmpl := tenancy.Template{ID: "TMPLGONE", RootID: st.rootA, Def: datastream.Template{ID: "TMPLGONE", Name: "Gone"}}
	must(t, s.CreateTemplate(ctx, tmpl))
	fw, err := s.CreateFirmware(ctx, firmware(st.rootA, tmpl.ID, "1.0.0", T0))
	must(t, err)
	sh, err := s.CreateShipment(ctx, shipment(st.rootA, fw, tmpl.ID, "gone", ota.Live, T0))
	must(t, err)
	must(t, s.PutDeviceStatus(ctx, ota.DeviceStatus{ShipmentID: sh, DeviceID: st.Mine.ID, Status: ota.Pending, UpdatedAt: T0}))
	st.withShipment(t) // on template A: stays
	must(t, s.DeleteTemplate(ctx, tmpl.ID))
	_, err = s.GetShipment(ctx, sh)
	wantCode(t, "a shipment after its template's deletion", err, tenancy.NotFound)
	_, err = s.GetFirmware(ctx, fw)
	wantCode(t, "a firmware after its template's deletion", err, tenancy.NotFound)
	if rows, err := s.DeviceStatuses(ctx, sh); err != nil || len(rows) != 0 {
		t.Fatalf("statuses left: %+v, %v", rows, err)
	}
	l, err := s.ListShipments(ctx, st.rootA)
	must(t, err)
	if len(l) != 1 || l[0].ID != st.shipA {
		t.Fatalf("shipments left: %+v", l)
	}
}

func testAutomation(id, dev string) rules.Automation {
	return rules.Automation{ID: id, Name: "fan", Enabled: true,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: dev, Pin: 1, Op: rules.OpGt, Value: "30"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: dev, Pin: 2, Value: "1"}}}
}

func testAutomations(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	orgA, orgB := st.rootA, st.rootB
	v0, err := s.LastAuditID(ctx)
	must(t, err)
	a := testAutomation(AutoID, st.Mine.UID)
	must(t, s.SaveAutomation(ctx, orgA, a, tenancy.Actor{UserID: 1}, time.UnixMilli(1000)))
	v1, err := s.LastAuditID(ctx)
	must(t, err)
	if v1 <= v0 {
		t.Fatalf("tenancy version %d → %d: a saved automation must move it", v0, v1)
	}
	a.Name = "fan, renamed"
	must(t, s.SaveAutomation(ctx, orgA, a, tenancy.Actor{UserID: 1}, time.UnixMilli(2000)))
	b := testAutomation("01JD5Z8Q3M4N5P6Q7R8S9T0A00", st.Other.UID) // sorts before a
	must(t, s.SaveAutomation(ctx, orgB, b, tenancy.Actor{ClientID: "cli"}, time.UnixMilli(2500)))

	got, err := s.ListAutomations(ctx, []tenancy.OrgID{orgA, orgB})
	must(t, err)
	if len(got) != 2 || got[0].ID != AutoID || got[0].Name != "fan, renamed" || got[0].OrgID != int64(orgA) ||
		got[1].ID != b.ID || got[1].OrgID != int64(orgB) {
		t.Fatalf("listed (org by org, in the order asked) %+v", got)
	}
	if got, _ := s.ListAutomations(ctx, []tenancy.OrgID{orgB}); len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("org B sees %+v", got)
	}
	all, err := s.AllAutomations(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != b.ID || all[1].ID != AutoID {
		t.Fatalf("all automations, by id: %+v", all)
	}
	one, err := s.GetAutomation(ctx, a.ID)
	must(t, err)
	a.OrgID = int64(orgA)
	if !reflect.DeepEqual(one, a) {
		t.Fatalf("read back:\n%+v\nwant\n%+v", one, a)
	}
	_, err = s.GetAutomation(ctx, "01JD5Z8Q3M4N5P6Q7R8S9T0AZZ")
	wantCode(t, "a missing automation", err, tenancy.NotFound)

	steal := a
	steal.Name = "stolen"
	wantCode(t, "another org saving the same id", s.SaveAutomation(ctx, orgB, steal, tenancy.Actor{}, time.UnixMilli(3000)),
		tenancy.Conflict)
	if one, _ := s.GetAutomation(ctx, a.ID); one.Name != "fan, renamed" || one.OrgID != int64(orgA) {
		t.Fatalf("after another org's attempt: %+v", one)
	}
	bad := a
	bad.Actions = nil
	wantCode(t, "an invalid automation", s.SaveAutomation(ctx, orgA, bad, tenancy.Actor{}, time.UnixMilli(3000)), tenancy.Invalid)
	wantCode(t, "a delete from another org", s.DeleteAutomation(ctx, orgB, a.ID, tenancy.Actor{}, time.UnixMilli(4000)),
		tenancy.NotFound)

	must(t, s.SaveRun(ctx, rules.Run{Automation: a.ID, Name: a.Name, At: 3500, Trigger: rules.TriggerDatastream}))
	must(t, s.DeleteAutomation(ctx, orgA, a.ID, tenancy.Actor{UserID: 1}, time.UnixMilli(4000)))
	if got, _ := s.ListAutomations(ctx, []tenancy.OrgID{orgA}); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
	wantCode(t, "a second delete", s.DeleteAutomation(ctx, orgA, a.ID, tenancy.Actor{}, time.UnixMilli(4000)), tenancy.NotFound)
	if rs, err := s.AutomationRuns(ctx, a.ID, 10); err != nil || len(rs) != 1 {
		t.Fatalf("runs after delete (they stay): %+v, %v", rs, err)
	}

	// Each change is in the audit log, newest first.
	audit, err := s.ListAudit(ctx, tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: orgA}, ObjectType: "automation",
		ObjectID: a.ID, Page: tenancy.Page{Size: 10}})
	must(t, err)
	var actions []string
	for _, e := range audit.Items {
		actions = append(actions, e.Action)
		if e.UserID != 1 || e.OrgID != orgA {
			t.Errorf("audit entry %+v", e)
		}
	}
	if want := []string{"automation.delete", "automation.save", "automation.save"}; !reflect.DeepEqual(actions, want) {
		t.Fatalf("audit actions %v, want %v", actions, want)
	}
	var saved rules.Automation
	if err := json.Unmarshal(audit.Items[1].After, &saved); err != nil || saved.Name != "fan, renamed" {
		t.Fatalf("the save's audit entry holds %s (%v)", audit.Items[1].After, err)
	}
}

func run(id, dev string, at int64, cut string, failed bool) rules.Run {
	r := rules.Run{Automation: id, Name: "fan", At: at, Trigger: rules.TriggerDatastream, Device: dev, Value: "31", Chain: 1,
		Cut: cut, Results: []rules.Result{{Action: 0, Kind: rules.ActionWrite, At: at}}}
	if failed {
		r.Results[0].Error = "offline"
	}
	return r
}

// Runs made in the cloud are listed newest first, per automation, up to
// the limit.
func testRuns(t *testing.T, s Store) {
	ctx := context.Background()
	other := "01JD5Z8Q3M4N5P6Q7R8S9T0A02"
	for i := range 5 {
		must(t, s.SaveRun(ctx, run(AutoID, "", int64(1000+i), "", i == 3)))
		must(t, s.SaveRun(ctx, run(other, "", int64(5000+i), "", false)))
	}
	rs, err := s.AutomationRuns(ctx, AutoID, 3)
	must(t, err)
	want := []rules.Run{run(AutoID, "", 1004, "", false), run(AutoID, "", 1003, "", true), run(AutoID, "", 1002, "", false)}
	if !reflect.DeepEqual(rs, want) {
		t.Fatalf("runs:\n%+v\nwant\n%+v", rs, want)
	}
	if rs, err := s.AutomationRuns(ctx, other, 100); err != nil || len(rs) != 5 || rs[0].At != 5004 || rs[4].At != 5000 {
		t.Fatalf("the other automation's runs: %+v, %v", rs, err)
	}
	if rs, err := s.AutomationRuns(ctx, "01JD5Z8Q3M4N5P6Q7R8S9T0AZZ", 10); err != nil || len(rs) != 0 {
		t.Fatalf("runs of an automation that never ran: %+v, %v", rs, err)
	}
}

// A site's runs arrive as telemetry: each is stored once, a replayed batch
// adds nothing, a run is not the device reporting, a run of a device the
// gateway does not serve is dropped, and a value that is not a run does
// not stop the batch.
func testRunsFromTelemetry(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	u := st.Mine.UID
	val := func(r rules.Run) string {
		b, err := json.Marshal(r)
		must(t, err)
		return string(b)
	}
	nul := run(AutoID, u, 2000, "loop\x00protection", false)
	nul.Value = "a\x00b"
	batch := []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindRun, Device: u, Name: AutoID, Value: val(run(AutoID, u, 1000, "", false)), TS: 1000, Source: "automation"},
		{Seq: 2, Kind: syncproto.KindRun, Device: st.Other.UID, Name: AutoID, Value: val(run(AutoID, st.Other.UID, 1500, "", false)),
			TS: 1500, Source: "automation"},
		{Seq: 3, Kind: syncproto.KindRun, Device: u, Name: AutoID, Value: val(nul), TS: 2000, Source: "automation"},
		{Seq: 4, Kind: syncproto.KindRun, Device: u, Name: "01JD5Z8Q3M4N5P6Q7R8S9T0A03", Value: "not a run\x00", TS: 2100,
			Source: "automation"},
	}
	for range 2 {
		must(t, s.Apply(ctx, st.GW, 7, batch, 4))
	}
	if n, err := s.Applied(ctx, st.GW, 7); err != nil || n != 4 {
		t.Fatalf("cursor %d, %v", n, err)
	}
	rs, err := s.AutomationRuns(ctx, AutoID, 10)
	must(t, err)
	want := []rules.Run{nul, run(AutoID, u, 1000, "", false)}
	if !reflect.DeepEqual(rs, want) {
		t.Fatalf("runs:\n%+v\nwant\n%+v", rs, want)
	}
	if _, ok, _ := s.DeviceStatus(ctx, u); ok {
		t.Fatal("a run counted as the device reporting")
	}
	// A run made in the cloud afterwards is the newest.
	must(t, s.SaveRun(ctx, run(AutoID, u, 3000, "", true)))
	if rs, err := s.AutomationRuns(ctx, AutoID, 10); err != nil || len(rs) != 3 || rs[0].At != 3000 || rs[0].OK() {
		t.Fatalf("after a cloud run: %+v, %v", rs, err)
	}
}

func testNotifications(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	mk := func(email string) tenancy.User {
		u := tenancy.User{OrgID: st.rootA, RoleID: tenancy.RoleAdmin, Email: email, Name: email, Type: tenancy.UserEndUser,
			Status: tenancy.StatusActive}
		must(t, s.CreateUser(ctx, &u))
		return u
	}
	u1, u2 := mk("one@a.test"), mk("two@a.test")
	add := func(u tenancy.User, at time.Time, subject string) notify.Notification {
		n := notify.Notification{UserID: u.ID, OrgID: st.rootA, At: at, Subject: subject, Body: "body of " + subject,
			Why: "automation \"fan\" triggered by V1 = 31"}
		id, err := s.AddNotification(ctx, n)
		must(t, err)
		n.ID = id
		return n
	}
	n1 := add(u1, T0, "first")
	n2 := add(u1, T0.Add(time.Minute), "second")
	m1 := add(u2, T0.Add(time.Minute), "theirs")
	n3 := add(u1, T0.Add(2*time.Minute), "third")
	if !(n1.ID < n2.ID && n2.ID < m1.ID && m1.ID < n3.ID) {
		t.Fatalf("ids %d %d %d %d do not increase", n1.ID, n2.ID, m1.ID, n3.ID)
	}
	for _, c := range []struct {
		u     tenancy.User
		since time.Time
		want  int
	}{{u1, T0, 3}, {u1, T0.Add(time.Minute), 2}, {u1, T0.Add(3 * time.Minute), 0}, {u2, T0, 1}} {
		if n, err := s.CountNotificationsSince(ctx, c.u.ID, c.since); err != nil || n != c.want {
			t.Errorf("%s since %v: %d, %v; want %d", c.u.Email, c.since, n, err, c.want)
		}
	}
	got, err := s.Notifications(ctx, u1.ID, 0, 2)
	must(t, err)
	if !reflect.DeepEqual(got, []notify.Notification{n3, n2}) {
		t.Fatalf("newest two:\n%+v\nwant\n%+v", got, []notify.Notification{n3, n2})
	}
	// The next page starts below the last id shown; another person's
	// notification in between is not on it.
	got, err = s.Notifications(ctx, u1.ID, n2.ID, 2)
	must(t, err)
	if !reflect.DeepEqual(got, []notify.Notification{n1}) {
		t.Fatalf("page below the second:\n%+v\nwant\n%+v", got, []notify.Notification{n1})
	}
	if n, err := s.UnreadNotifications(ctx, u1.ID); err != nil || n != 3 {
		t.Fatalf("unread %d, %v", n, err)
	}
	// Reading the page that showed the second and third leaves the first
	// unread, and another person's alone.
	must(t, s.MarkNotificationsRead(ctx, u1.ID, n2.ID, n3.ID, T0.Add(time.Hour)))
	if n, err := s.UnreadNotifications(ctx, u1.ID); err != nil || n != 1 {
		t.Fatalf("unread after reading the second and third: %d, %v", n, err)
	}
	if n, err := s.UnreadNotifications(ctx, u2.ID); err != nil || n != 1 {
		t.Fatalf("another person's unread: %d, %v", n, err)
	}
	got, err = s.Notifications(ctx, u1.ID, 0, 10)
	must(t, err)
	if len(got) != 3 || !got[0].Read || !got[1].Read || got[2].Read {
		t.Fatalf("read flags %+v", got)
	}
	// Marking every one read (0..max) reaches the first; marking again
	// changes nothing.
	for range 2 {
		must(t, s.MarkNotificationsRead(ctx, u1.ID, 0, math.MaxInt64, T0.Add(2*time.Hour)))
		if n, err := s.UnreadNotifications(ctx, u1.ID); err != nil || n != 0 {
			t.Fatalf("unread after marking all: %d, %v", n, err)
		}
	}
	if n, err := s.UnreadNotifications(ctx, u2.ID); err != nil || n != 1 {
		t.Fatalf("another person's unread after marking all: %d, %v", n, err)
	}
}

func hook(org tenancy.OrgID, name string) *webhooks.Webhook {
	w := &webhooks.Webhook{OrgID: int64(org), Name: name, Enabled: true, Method: "POST", URL: "https://example.com/in",
		Body: `{"value":{datastream_value}}`, Headers: map[string]string{"X-Site": "{device_id}"}, Secret: "s3cret",
		PerMinute: 30, DisableAfter: 3}
	w.Trigger.Kind = webhooks.OnDatastream
	w.Auth.Kind, w.Auth.Token = "bearer", "tok"
	return w
}

var event = webhooks.Event{Kind: webhooks.OnDatastream, Device: "01JD5Z8Q3M4N5P6Q7R8S9T0VAA", DeviceName: "Pump",
	Pin: 3, Value: "21.5", At: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}

func testWebhooks(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	bad := hook(st.rootA, "bad")
	bad.URL = "file:///etc/passwd"
	wantCode(t, "an invalid webhook", s.SaveWebhook(ctx, bad), tenancy.Invalid)
	if bad.ID != 0 {
		t.Fatalf("an invalid webhook got id %d", bad.ID)
	}
	w1, w2, wb := hook(st.rootA, "one"), hook(st.rootA, "two"), hook(st.rootB, "theirs")
	w2.Enabled = false
	for _, w := range []*webhooks.Webhook{w1, w2, wb} {
		must(t, s.SaveWebhook(ctx, w))
		if w.ID <= 0 {
			t.Fatalf("webhook id %d", w.ID)
		}
	}
	got, failures, err := s.GetWebhook(ctx, w1.ID)
	must(t, err)
	if !reflect.DeepEqual(got, *w1) || failures != 0 {
		t.Fatalf("read back (%d failures):\n%+v\nwant\n%+v", failures, got, *w1)
	}
	if got, _, _ := s.GetWebhook(ctx, w2.ID); got.Enabled {
		t.Fatal("a disabled webhook reads enabled")
	}
	_, _, err = s.GetWebhook(ctx, wb.ID+100)
	wantCode(t, "a missing webhook", err, tenancy.NotFound)

	names := func(ws []webhooks.Webhook, err error) []string {
		t.Helper()
		must(t, err)
		out := []string{}
		for _, w := range ws {
			out = append(out, w.Name)
		}
		return out
	}
	if got := names(s.ListWebhooks(ctx, int64(st.rootA))); !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Fatalf("org A's webhooks %v", got)
	}
	if got := names(s.EnabledWebhooks(ctx)); !reflect.DeepEqual(got, []string{"one", "theirs"}) {
		t.Fatalf("enabled webhooks %v", got)
	}

	// Replacing: another org's id is NotFound; the owner's takes.
	steal := *w1
	steal.OrgID = int64(st.rootB)
	wantCode(t, "replacing another org's webhook", s.SaveWebhook(ctx, &steal), tenancy.NotFound)
	w2.Enabled, w2.URL = true, "https://example.org/other"
	must(t, s.SaveWebhook(ctx, w2))
	if got, _, _ := s.GetWebhook(ctx, w2.ID); !got.Enabled || got.URL != w2.URL {
		t.Fatalf("after replacing: %+v", got)
	}
	if got := names(s.EnabledWebhooks(ctx)); !reflect.DeepEqual(got, []string{"one", "two", "theirs"}) {
		t.Fatalf("enabled webhooks %v", got)
	}

	// Deleting takes the delivery log with it.
	_, err = s.EnqueueDelivery(ctx, w1.ID, event, T0)
	must(t, err)
	keep, err := s.EnqueueDelivery(ctx, w2.ID, event, T0)
	must(t, err)
	must(t, s.DeleteWebhook(ctx, w1.ID))
	_, _, err = s.GetWebhook(ctx, w1.ID)
	wantCode(t, "a deleted webhook", err, tenancy.NotFound)
	if ds, err := s.Deliveries(ctx, w1.ID, 10); err != nil || len(ds) != 0 {
		t.Fatalf("a deleted webhook's deliveries: %+v, %v", ds, err)
	}
	if ds, err := s.Deliveries(ctx, w2.ID, 10); err != nil || len(ds) != 1 || ds[0].ID != keep {
		t.Fatalf("another webhook's deliveries: %+v, %v", ds, err)
	}
	wantCode(t, "a second delete", s.DeleteWebhook(ctx, w1.ID), tenancy.NotFound)
	if got := names(s.ListWebhooks(ctx, int64(st.rootA))); !reflect.DeepEqual(got, []string{"two"}) {
		t.Fatalf("org A's webhooks after a delete %v", got)
	}
}

// due returns the ids of the deliveries due at now; a store may claim
// them (several instances share its queue), so the suite records an
// attempt of each before asking again.
func due(t *testing.T, s Store, now time.Time, limit int) []webhooks.Delivery {
	t.Helper()
	ds, err := s.DueDeliveries(context.Background(), now, limit)
	must(t, err)
	return ds
}

func ids(ds []webhooks.Delivery) []int64 {
	out := []int64{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// The queue hands out waiting deliveries once due, oldest first (ties by
// id), up to the limit; an attempt records its outcome, counts as an
// attempt only when a request was made, moves the webhook's consecutive
// failures (a success resets them), and sets when it is due again.
// A batch's deliveries are stored in its apply's transaction: pending sees
// only the items the apply stores (not replays, not another
// organization's device); an apply that fails leaves neither its items
// nor its deliveries; a replayed batch adds none.
func testApplyDeliveries(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	w := hook(st.rootA, "one")
	must(t, s.SaveWebhook(ctx, w))
	write := func(seq int64, dev string, v string) syncproto.Item {
		return syncproto.Item{Seq: seq, Kind: syncproto.KindWrite, Device: dev, Pin: 1, Value: v, TS: 1000 + seq, Source: "device"}
	}
	var seen [][]int64
	pending := func(webhookID int64, fail error) webhooks.PendingFunc {
		return func(ctx context.Context, devices webhooks.DeviceReader, applied []syncproto.Item) ([]webhooks.Pending, error) {
			var seqs []int64
			var ps []webhooks.Pending
			for _, it := range applied {
				// The device is read in the apply's transaction.
				if d, err := devices.GetDeviceByUID(ctx, it.Device); err != nil || d.OrgID != st.rootA {
					t.Errorf("device %s in the apply: %+v, %v", it.Device, d, err)
				}
				seqs = append(seqs, it.Seq)
				ps = append(ps, webhooks.Pending{WebhookID: webhookID, At: T0,
					Event: webhooks.Event{Kind: webhooks.OnDatastream, Device: it.Device, Pin: it.Pin, Value: it.Value,
						At: time.UnixMilli(it.TS).UTC()}})
			}
			seen = append(seen, seqs)
			return ps, fail
		}
	}
	deliveries := func() []string {
		t.Helper()
		ds, err := s.Deliveries(ctx, w.ID, 100)
		must(t, err)
		var vs []string
		for _, d := range ds {
			vs = append(vs, d.Event.Value)
		}
		return vs
	}
	cursor := func() int64 {
		t.Helper()
		c, err := s.Applied(ctx, st.GW, 1)
		must(t, err)
		return c
	}

	// pending fails: nothing of the batch is stored.
	batch := []syncproto.Item{write(1, st.Mine.UID, "a"), write(2, st.Other.UID, "x"), write(3, st.Mine.UID, "b")}
	if _, err := s.ApplyItemsDelivering(ctx, st.GW, 1, batch, 3, pending(w.ID, errors.New("no device"))); err == nil {
		t.Fatal("an apply whose pending failed succeeded")
	}
	if !reflect.DeepEqual(seen, [][]int64{{1, 3}}) {
		t.Fatalf("pending saw %v, want [[1 3]] (seq 2 is another organization's device)", seen)
	}
	if c, vs := cursor(), deliveries(); c != 0 || len(vs) != 0 {
		t.Fatalf("after a failed apply: cursor %d, deliveries %v", c, vs)
	}
	if vals, err := s.DeviceValues(ctx, st.Mine.UID); err != nil || len(vals) != 0 {
		t.Fatalf("after a failed apply: values %+v, %v", vals, err)
	}
	// It succeeds: the items and one delivery each.
	seen = nil
	applied, err := s.ApplyItemsDelivering(ctx, st.GW, 1, batch, 3, pending(w.ID, nil))
	must(t, err)
	if len(applied) != 2 || cursor() != 3 {
		t.Fatalf("applied %+v, cursor %d", applied, cursor())
	}
	if vs := deliveries(); !reflect.DeepEqual(vs, []string{"b", "a"}) { // newest first
		t.Fatalf("deliveries %v, want [b a]", vs)
	}
	due, err := s.DueDeliveries(ctx, T0, 10)
	must(t, err)
	if len(due) != 2 || due[0].State != webhooks.Waiting || due[0].Event.Device != st.Mine.UID {
		t.Fatalf("due after the apply: %+v", due)
	}
	// A replay (the gateway did not hear the ack) adds none; the next
	// item adds its own.
	seen = nil
	batch = append(batch, write(4, st.Mine.UID, "c"))
	_, err = s.ApplyItemsDelivering(ctx, st.GW, 1, batch, 4, pending(w.ID, nil))
	must(t, err)
	if !reflect.DeepEqual(seen, [][]int64{{4}}) {
		t.Fatalf("pending saw %v on a replay, want [[4]]", seen)
	}
	if vs := deliveries(); !reflect.DeepEqual(vs, []string{"c", "b", "a"}) {
		t.Fatalf("deliveries after a replay %v, want [c b a]", vs)
	}
	seen = nil
	_, err = s.ApplyItemsDelivering(ctx, st.GW, 1, batch, 4, pending(w.ID, nil))
	must(t, err)
	if len(seen) != 0 || len(deliveries()) != 3 {
		t.Fatalf("a whole replay: pending saw %v, deliveries %v", seen, deliveries())
	}
}

func testDeliveryQueue(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	w := hook(st.rootA, "one")
	must(t, s.SaveWebhook(ctx, w))
	enq := func(at time.Time) int64 {
		id, err := s.EnqueueDelivery(ctx, w.ID, event, at)
		must(t, err)
		return id
	}
	d1, d2, d3 := enq(T0), enq(T0.Add(time.Second)), enq(T0)

	if got := due(t, s, T0.Add(-time.Millisecond), 10); len(got) != 0 {
		t.Fatalf("due before any: %v", ids(got))
	}
	got := due(t, s, T0.Add(time.Second), 2)
	if !reflect.DeepEqual(ids(got), []int64{d1, d3}) {
		t.Fatalf("due, two: %v, want %v", ids(got), []int64{d1, d3})
	}
	want := webhooks.Delivery{ID: d1, WebhookID: w.ID, Event: event, State: webhooks.Waiting, NextAt: T0}
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("due delivery:\n%+v\nwant\n%+v", got[0], want)
	}
	retry := T0.Add(10 * time.Second)
	// d1: a request failed: an attempt and a failure, retried later.
	disabled, err := s.FinishAttempt(ctx, got[0], webhooks.Attempt{State: webhooks.Waiting, NextAt: retry, Code: 500,
		LatencyMS: 12, Error: "Internal Server Error", Tried: true, Failed: true, DisableAt: 3})
	must(t, err)
	if disabled {
		t.Fatal("disabled after one failure (of 3)")
	}
	// d3: rate limited: no request, no attempt, no failure.
	_, err = s.FinishAttempt(ctx, got[1], webhooks.Attempt{State: webhooks.Waiting, NextAt: retry, Error: "rate limited"})
	must(t, err)
	if _, f, _ := s.GetWebhook(ctx, w.ID); f != 1 {
		t.Fatalf("consecutive failures %d, want 1", f)
	}

	got = due(t, s, T0.Add(time.Second), 10)
	if !reflect.DeepEqual(ids(got), []int64{d2}) {
		t.Fatalf("due while the others wait for their retry: %v, want [%d]", ids(got), d2)
	}
	_, err = s.FinishAttempt(ctx, got[0], webhooks.Attempt{State: webhooks.OK, NextAt: T0.Add(time.Second), Code: 204,
		LatencyMS: 3, Tried: true})
	must(t, err)
	if _, f, _ := s.GetWebhook(ctx, w.ID); f != 0 {
		t.Fatalf("consecutive failures %d after a success, want 0", f)
	}

	log, err := s.Deliveries(ctx, w.ID, 10)
	must(t, err)
	wantLog := []webhooks.Delivery{
		{ID: d3, WebhookID: w.ID, Event: event, State: webhooks.Waiting, NextAt: retry, Error: "rate limited"},
		{ID: d2, WebhookID: w.ID, Event: event, State: webhooks.OK, Attempts: 1, NextAt: T0.Add(time.Second), Code: 204, LatencyMS: 3},
		{ID: d1, WebhookID: w.ID, Event: event, State: webhooks.Waiting, Attempts: 1, NextAt: retry, Code: 500, LatencyMS: 12,
			Error: "Internal Server Error"},
	}
	if !reflect.DeepEqual(log, wantLog) {
		t.Fatalf("delivery log, newest first:\n%+v\nwant\n%+v", log, wantLog)
	}
	if log, err := s.Deliveries(ctx, w.ID, 1); err != nil || len(log) != 1 || log[0].ID != d3 {
		t.Fatalf("the newest delivery: %+v, %v", log, err)
	}

	got = due(t, s, retry, 10)
	if !reflect.DeepEqual(ids(got), []int64{d1, d3}) {
		t.Fatalf("due at the retry: %v, want %v", ids(got), []int64{d1, d3})
	}
	if got[0].Attempts != 1 || got[0].Code != 500 || got[1].Attempts != 0 {
		t.Fatalf("due at the retry, bookkeeping: %+v", got)
	}
	// d1 runs out of attempts (failed for good), d3 succeeds.
	_, err = s.FinishAttempt(ctx, got[0], webhooks.Attempt{State: webhooks.Failed, NextAt: retry, Code: 502, Error: "Bad Gateway",
		Tried: true, Failed: true, DisableAt: 3})
	must(t, err)
	_, err = s.FinishAttempt(ctx, got[1], webhooks.Attempt{State: webhooks.OK, NextAt: retry, Code: 200, Tried: true})
	must(t, err)
	if got := due(t, s, T0.Add(24*time.Hour), 10); len(got) != 0 {
		t.Fatalf("due once all are done: %+v", got)
	}
	log, err = s.Deliveries(ctx, w.ID, 10)
	must(t, err)
	if log[2].State != webhooks.Failed || log[2].Attempts != 2 || log[2].Code != 502 || log[0].State != webhooks.OK ||
		log[0].Attempts != 1 || log[0].Error != "" {
		t.Fatalf("final log %+v", log)
	}
}

// A webhook is disabled by the failure that reaches its limit, and that
// attempt alone says so; saving it again re-enables it with no failures.
func testDisabledAfterFailures(t *testing.T, s Store) {
	st := newSite(t, s)
	ctx := context.Background()
	w := hook(st.rootA, "flaky")
	must(t, s.SaveWebhook(ctx, w))
	other := hook(st.rootA, "other")
	must(t, s.SaveWebhook(ctx, other))
	var ds []int64
	for range 5 {
		id, err := s.EnqueueDelivery(ctx, w.ID, event, T0)
		must(t, err)
		ds = append(ds, id)
	}
	got := due(t, s, T0, 10)
	if !reflect.DeepEqual(ids(got), ds) {
		t.Fatalf("due %v, want %v", ids(got), ds)
	}
	fail := webhooks.Attempt{State: webhooks.Waiting, NextAt: T0.Add(time.Minute), Code: 503, Error: "Service Unavailable",
		Tried: true, Failed: true, DisableAt: 3}
	var when []int
	for i, d := range got[:4] {
		disabled, err := s.FinishAttempt(ctx, d, fail)
		must(t, err)
		if disabled {
			when = append(when, i+1)
		}
	}
	if !reflect.DeepEqual(when, []int{3}) {
		t.Fatalf("disabled reported after failures %v, want [3]", when)
	}
	gw, failures, err := s.GetWebhook(ctx, w.ID)
	must(t, err)
	if gw.Enabled || failures != 4 {
		t.Fatalf("after 4 failures: enabled %v, %d failures", gw.Enabled, failures)
	}
	if en, err := s.EnabledWebhooks(ctx); err != nil || len(en) != 1 || en[0].ID != other.ID {
		t.Fatalf("enabled webhooks: %+v, %v", en, err)
	}
	if _, f, _ := s.GetWebhook(ctx, other.ID); f != 0 {
		t.Fatalf("another webhook's failures: %d", f)
	}
	// The dispatcher fails what is left of a disabled webhook: no attempt.
	_, err = s.FinishAttempt(ctx, got[4], webhooks.Attempt{State: webhooks.Failed, NextAt: T0, Error: "webhook disabled"})
	must(t, err)
	log, err := s.Deliveries(ctx, w.ID, 1)
	must(t, err)
	if log[0].State != webhooks.Failed || log[0].Attempts != 0 || log[0].Error != "webhook disabled" {
		t.Fatalf("the last delivery: %+v", log[0])
	}
	// Failures of a webhook with no limit never disable it.
	od, err := s.EnqueueDelivery(ctx, other.ID, event, T0)
	must(t, err)
	unlimited := fail
	unlimited.DisableAt = 0
	for range 5 {
		if disabled, err := s.FinishAttempt(ctx, webhooks.Delivery{ID: od, WebhookID: other.ID}, unlimited); err != nil || disabled {
			t.Fatalf("a failure without a limit: %v, %v", disabled, err)
		}
	}
	if gw, f, err := s.GetWebhook(ctx, other.ID); err != nil || !gw.Enabled || f != 5 {
		t.Fatalf("a webhook with no limit after 5 failures: enabled %v, %d failures, %v", gw.Enabled, f, err)
	}
	// Saving re-enables it and resets its failures.
	gw.Enabled = true
	must(t, s.SaveWebhook(ctx, &gw))
	if gw, failures, err := s.GetWebhook(ctx, w.ID); err != nil || !gw.Enabled || failures != 0 {
		t.Fatalf("after saving: enabled %v, %d failures, %v", gw.Enabled, failures, err)
	}
}
