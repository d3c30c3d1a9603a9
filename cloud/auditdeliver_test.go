package cloud

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/internal/poll"
	"outpost/shared/datastream"
)

// deliveryCount is how many deliveries webhook id has queued or made.
func deliveryCount(t testing.TB, s *Server, id int64) int {
	t.Helper()
	ds, err := s.store.Deliveries(context.Background(), id, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

// settled waits until each webhook has its wanted deliveries, then runs the
// audit log's deliveries once more (a replay) and checks that nothing was
// added: each change gives exactly one delivery per webhook.
func settled(t testing.TB, s *Server, want map[*Webhook]int) {
	t.Helper()
	for w, n := range want {
		poll.Until(t, w.Name+" deliveries", func() bool { return deliveryCount(t, s, w.ID) >= n })
	}
	s.hookTriggers.auditRun(context.Background())
	for w, n := range want {
		if got := deliveryCount(t, s, w.ID); got != n {
			t.Fatalf("%s: %d deliveries, want %d", w.Name, got, n)
		}
	}
}

func saveHook(t testing.TB, s *Server, org tenancy.OrgID, kind, url string) *Webhook {
	t.Helper()
	w := &Webhook{OrgID: int64(org), Name: kind + " hook", Enabled: true, Method: "POST", URL: url, Body: kind + " {device_name}",
		DisableAfter: 1000} // an unreachable receiver must not disable it mid-test
	w.Trigger.Kind = kind
	if err := s.SaveWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

// A device created and a device transferred each give exactly one
// delivery of each matching webhook (the organizations above the device,
// before and after a transfer), read from the audit log once; an
// organization moved gives one per device of its subtree.
func TestDeviceWebhooksExactlyOnce(t *testing.T) {
	e := runEnv(t, nil)
	ctx, svc := context.Background(), e.s.svc
	tm, org := heaterOrgs(t, e)
	a, b := org(e.admin.OrgID, "Dealer A"), org(e.admin.OrgID, "Dealer B")
	c := org(a.ID, "Client C")
	const url = "https://receiver.invalid/in" // never reached: the queue is what is checked
	created := saveHook(t, e.s, e.admin.OrgID, "device_created", url)
	movedA := saveHook(t, e.s, a.ID, "device_transferred", url)
	movedB := saveHook(t, e.s, b.ID, "device_transferred", url)

	d, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler", OrgID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	settled(t, e.s, map[*Webhook]int{created: 1, movedA: 0, movedB: 0})

	if _, err := svc.TransferDevice(ctx, e.admin, d.ID, tenancy.DeviceTransfer{OrgID: b.ID}); err != nil {
		t.Fatal(err)
	}
	settled(t, e.s, map[*Webhook]int{created: 1, movedA: 1, movedB: 1})

	// C (now without the boiler) gets two devices and moves under B.
	for _, name := range []string{"Pump", "Fan"} {
		if _, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: name, OrgID: c.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.TransferOrg(ctx, e.admin, c.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	settled(t, e.s, map[*Webhook]int{created: 3, movedA: 3, movedB: 3})
}

// An event a cloud automation logs is stored with its webhook deliveries:
// they are queued when Log returns (not later, by a goroutine a crash
// would stop), one per matching webhook.
func TestLoggedEventDeliveryStoredWithIt(t *testing.T) {
	f := newEventFixture(t, overheatTemplate(nil))
	e, ctx := f.e, context.Background()
	logged := saveHook(t, e.s, f.org.ID, "event", "https://receiver.invalid/in")
	values := saveHook(t, e.s, f.org.ID, "datastream", "https://receiver.invalid/in")
	if _, err := e.s.eventLog.Log(ctx, "01JD5Z8Q3M4N5P6Q7R8S9T0A01", f.dev.UID, "overheat", "92 °C"); err != nil {
		t.Fatal(err)
	}
	ds, err := e.s.store.Deliveries(ctx, logged.ID, 10)
	if err != nil || len(ds) != 1 || ds[0].Event.EventCode != "overheat" || ds[0].Event.Description != "92 °C" ||
		ds[0].Event.DeviceName != "Boiler" {
		t.Fatalf("deliveries when Log returned: %+v, %v", ds, err)
	}
	if n := deliveryCount(t, e.s, values.ID); n != 0 {
		t.Fatalf("a datastream webhook got %d deliveries of an event", n)
	}
}

// A cloud that stops after a device was created but before its audit run
// (a crash: the run never happened) delivers device_created when it
// starts again on the same database, once.
func TestDeviceCreatedSurvivesStopBeforeDelivery(t *testing.T) {
	got := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer recv.Close()
	cfg := Defaults()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Admin.Email, cfg.Admin.Password = "admin@root.test", "root-password-1"
	cfg.Auth.BcryptCost = 4
	cfg.Webhooks.Allow = []string{"127.0.0.0/8"}
	ctx := context.Background()

	// The first process: never Run, so no audit run happens.
	s1, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s1.store.GetUserByEmail(ctx, cfg.Admin.Email)
	if err != nil {
		t.Fatal(err)
	}
	admin := tenancy.Actor{UserID: u.ID, OrgID: u.OrgID, RoleID: tenancy.RoleAdmin}
	tm, err := s1.svc.CreateTemplate(ctx, admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater"}})
	if err != nil {
		t.Fatal(err)
	}
	w := saveHook(t, s1, admin.OrgID, "device_created", recv.URL)
	if _, err := s1.svc.CreateDevice(ctx, admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler", OrgID: admin.OrgID}); err != nil {
		t.Fatal(err)
	}
	if n := deliveryCount(t, s1, w.ID); n != 0 {
		t.Fatalf("%d deliveries before any audit run", n)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// The next start replays the audit log after the cursor.
	s2, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s2.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if bodies := receive(t, got, 1); bodies[0] != "device_created Boiler" {
		t.Fatalf("delivered %q", bodies)
	}
	settled(t, s2, map[*Webhook]int{w: 1})
}

// Two instances on one PostgreSQL database both run the audit log's
// deliveries (each after its own changes, on the other's notification,
// on start): devices created on either give one device_created delivery
// each, not one per instance.
func TestDeviceCreatedOncePerClusterPostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	a := newInstance(t, dsn)
	b := newInstance(t, dsn)
	ctx := context.Background()
	tm, err := a.s.svc.CreateTemplate(ctx, a.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Heater"}})
	if err != nil {
		t.Fatal(err)
	}
	w := saveHook(t, a.s, a.admin.OrgID, "device_created", "https://receiver.invalid/in")
	poll.Until(t, "B to load A's webhook", func() bool { return len(*b.s.hookTriggers.index.Load()) > 0 })
	const n = 20
	for i := range n {
		e := []*syncEnv{a, b}[i%2]
		if _, err := e.s.svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: fmt.Sprintf("Boiler %d", i),
			OrgID: e.admin.OrgID}); err != nil {
			t.Fatal(err)
		}
	}
	settled(t, a.s, map[*Webhook]int{w: n})
	settled(t, b.s, map[*Webhook]int{w: n})
	ds, err := a.s.store.Deliveries(ctx, w.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Event.DeviceName] {
			t.Fatalf("%s delivered twice", d.Event.DeviceName)
		}
		seen[d.Event.DeviceName] = true
	}
}
