package cloud

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/poll"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// notifications reads a person's stored notifications, newest first.
type notifications struct{ s cloudStore }

func (n notifications) Notifications(ctx context.Context, user tenancy.UserID, limit int) ([]notify.Notification, error) {
	return n.s.Notifications(ctx, user, 0, limit)
}

// mailsIn returns the mails of a mailbox directory.
func mailsIn(t *testing.T, dir string) []string {
	t.Helper()
	out, err := mail.Delivered(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventFixture is a cloud with a template whose critical event notifies the
// device's owner, a device owned by a user of a client org.
type eventFixture struct {
	e     *syncEnv
	tm    tenancy.Template
	org   tenancy.Org
	owner tenancy.User
	dev   tenancy.Device
}

func newEventFixture(t testing.TB, def datastream.Template, edit ...func(*Config)) *eventFixture {
	t.Helper()
	return newEventFixtureOn(t, runEnv(t, func(c *Config) {
		for _, f := range edit {
			f(c)
		}
	}), def)
}

// newEventFixtureOn is newEventFixture on the cloud e.
func newEventFixtureOn(t testing.TB, e *syncEnv, def datastream.Template) *eventFixture {
	t.Helper()
	ctx := context.Background()
	svc := e.s.svc
	tm, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: def})
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.admin.OrgID, Name: "Client"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetTemplateEnabled(ctx, e.admin, org.ID, tm.ID, true); err != nil {
		t.Fatal(err)
	}
	owner, err := svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "owner@client.test", Name: "Owner", OrgID: org.ID,
		RoleID: tenancy.RoleUser, Password: "owner-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Boiler", OrgID: org.ID, OwnerID: owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	return &eventFixture{e: e, tm: tm, org: org, owner: owner, dev: dev}
}

func overheatTemplate(n *datastream.EventNotify) datastream.Template {
	return datastream.Template{Name: "Heater",
		Datastreams: []datastream.Datastream{{Pin: 1, Name: "temp", Type: datastream.Double}},
		Events: []datastream.Event{{Code: "overheat", Name: "Overheat", Type: "critical", Description: "Boiler too hot",
			Timeline: new(true), Notify: n}}}
}

// A device logs a critical event through a gateway connection: its owner
// gets a mail and an in-console notification that say why; the gateway's
// snapshot carries the event without the cloud's settings; the report that
// activates the device is its first connection.
func TestEventNotifiesOwnerThroughGateway(t *testing.T) {
	def := overheatTemplate(&datastream.EventNotify{Enabled: true, Email: true, Console: true, Owner: true})
	def.System = &datastream.SystemEvents{First: &datastream.EventNotify{Enabled: true, Console: true, Owner: true}}
	f := newEventFixture(t, def)
	e, ctx := f.e, context.Background()

	reg := e.register("Pi")
	e.call(200, "POST", "/api/v1/organization/gateway/claim", e.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": f.org.ID}, nil)
	gw := e.connect(reg, 1)
	snap := gw.must(syncproto.TypeSnapshot).Snapshot
	if len(snap.Templates) != 1 || len(snap.Templates[0].Events) != 1 {
		t.Fatalf("snapshot templates %+v", snap.Templates)
	}
	if ev := snap.Templates[0].Events[0]; ev.Notify != nil || ev.Description != "" || snap.Templates[0].System != nil {
		t.Fatalf("the gateway was sent the cloud's event settings: %+v %+v", ev, snap.Templates[0].System)
	}

	now := time.Now().UnixMilli()
	gw.send(&syncproto.Message{Type: syncproto.TypeTelemetry, Seq: 2, Telemetry: &syncproto.Telemetry{Items: []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: f.dev.UID, Name: "tcp", TS: now},
		{Seq: 2, Kind: syncproto.KindEvent, Device: f.dev.UID, Name: "overheat", Value: "92 °C", TS: now + 5},
	}}})
	gw.must(syncproto.TypeAck)

	st := notifications{e.s.store}
	var ns []notify.Notification
	poll.Until(t, "the owner's two notifications", func() bool {
		ns, _ = st.Notifications(ctx, f.owner.ID, 10)
		return len(ns) >= 2
	})
	var crit, first *notify.Notification
	for i := range ns {
		switch ns[i].Subject {
		case "Critical: Overheat on Boiler":
			crit = &ns[i]
		case "Info: First connection on Boiler":
			first = &ns[i]
		}
	}
	if crit == nil || first == nil {
		t.Fatalf("notifications %+v: want the critical event and the first connection", ns)
	}
	if crit.Body != "92 °C" || !strings.Contains(crit.Why, `logged critical event "overheat"`) || !strings.Contains(crit.Why, "you own the device") {
		t.Errorf("critical notification %+v", *crit)
	}
	var ms []string
	poll.Until(t, "the owner's mail", func() bool {
		ms = mailsIn(t, filepath.Join(e.s.cfg.DataDir, "mailbox"))
		return len(ms) >= 1
	})
	if len(ms) != 1 || !strings.Contains(ms[0], "owner@client.test") || !strings.Contains(ms[0], "Overheat on Boiler") ||
		!strings.Contains(ms[0], "you own the device") {
		t.Errorf("mails (only the event mails; the first connection is console only): %q", ms)
	}
}

// The limit period, the every-N-th counter, the minimum gap and the daily
// limit, on event times; offline only after the ignore period, a blip
// shorter than it says nothing. The notifier's handle and tick are called
// directly with chosen times (no clock waits).
func TestEventNotificationLimits(t *testing.T) {
	def := overheatTemplate(&datastream.EventNotify{Enabled: true, Console: true, Owner: true, LimitS: 60, EveryN: 2})
	def.System = &datastream.SystemEvents{OfflineIgnoreS: 30,
		Offline: &datastream.EventNotify{Enabled: true, Console: true, Email: true, Owner: true}}
	f := newEventFixture(t, def)
	ctx := context.Background()
	dir := t.TempDir()
	n := notify.New(f.e.s.store, &mail.Mailbox{Dir: dir, From: "o@outpost.test"}, f.e.s.svc.Tree, 1000, nil, nil)
	en := newEventNotifications(f.e.s.store, n, EventsConfig{PerDevicePerDay: 8, MinGap: time.Second}, f.e.s.svc.Tree, nil, slog.New(slog.DiscardHandler))
	st := notifications{f.e.s.store}
	count := func() int {
		ns, err := st.Notifications(ctx, f.owner.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(ns)
	}
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC).UnixMilli()
	ev := func(ms int64) {
		en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindEvent, Device: f.dev.UID, Name: "overheat", TS: t0 + ms}})
	}
	steps := []struct {
		at   int64 // ms after t0
		want int   // notifications so far
		why  string
	}{
		{0, 0, "1st: not an every-2nd"},
		{500, 0, "inside the minimum gap: not counted"},
		{2000, 1, "2nd: notified"},
		{3000, 1, "3rd"},
		{4000, 1, "4th, but inside the 60 s limit period"},
		{5000, 1, "5th"},
		{70000, 2, "6th, after the limit period"},
		{71000, 2, "7th"},
		{72000, 2, "8th: over the daily limit of 8 counted (the gap-refused one is not counted)"},
		{73000, 2, "9th: the daily limit"},
	}
	for _, s := range steps {
		ev(s.at)
		if got := count(); got != s.want {
			t.Fatalf("after the event at +%d ms (%s): %d notifications, want %d", s.at, s.why, got, s.want)
		}
	}
	// The next UTC day counts again; the every-N-th counter goes on (9th,
	// then the 10th notifies).
	ev(24 * 3600 * 1000)
	if got := count(); got != 2 {
		t.Fatalf("the next day, 9th: %d notifications, want 2", got)
	}
	ev(24*3600*1000 + 2000)
	if got := count(); got != 3 {
		t.Fatalf("the next day: %d notifications, want 3", got)
	}

	// Offline: a blip shorter than the ignore period says nothing; an
	// offline that lasts notifies once the period ended.
	base := t0 + 2*24*3600*1000
	en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindOffline, Device: f.dev.UID, TS: base}})
	en.tick(ctx, time.UnixMilli(base+29_000))
	en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindOnline, Device: f.dev.UID, TS: base + 29_500}})
	en.tick(ctx, time.UnixMilli(base+60_000))
	if got := count(); got != 3 {
		t.Fatalf("an offline blip notified: %d notifications, want 3", got)
	}
	en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindOffline, Device: f.dev.UID, TS: base + 100_000}})
	en.tick(ctx, time.UnixMilli(base+129_999))
	if got := count(); got != 3 {
		t.Fatalf("offline notified before the ignore period ended: %d", got)
	}
	en.tick(ctx, time.UnixMilli(base+130_000))
	ns, _ := st.Notifications(ctx, f.owner.ID, 1)
	if got := count(); got != 4 || ns[0].Subject != "Warning: Offline on Boiler" {
		t.Fatalf("offline after the ignore period: %d notifications, latest %+v", got, ns)
	}
	if ms := mailsIn(t, dir); len(ms) != 1 || !strings.Contains(ms[0], "stayed offline for 30 s") {
		t.Fatalf("offline mail: %q", ms)
	}
	en.tick(ctx, time.UnixMilli(base+500_000))
	if got := count(); got != 4 {
		t.Fatalf("offline notified twice: %d", got)
	}
	// A site's backlog: offline and back 40 s later, in one batch, applied
	// before any tick: the offline outlasted the period and is told.
	en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindOffline, Device: f.dev.UID, TS: base + 600_000},
		{Kind: syncproto.KindOnline, Device: f.dev.UID, TS: base + 640_000}})
	if got := count(); got != 5 {
		t.Fatalf("an offline longer than the period, replayed with its online: %d notifications, want 5", got)
	}
	en.tick(ctx, time.UnixMilli(base+1_000_000))
	if got := count(); got != 5 {
		t.Fatalf("the replayed offline was told twice: %d", got)
	}
}

// Recipients: the members of the device's organization with the role, and
// named users who see the device (the root's admin); a named user of a
// sibling organization is not told, nor is a member with another role. A
// description longer than a device may send gives way to the template's.
func TestEventRecipients(t *testing.T) {
	def := overheatTemplate(&datastream.EventNotify{Enabled: true, Console: true, Role: int(tenancy.RoleStaff),
		Users: []string{"admin@root.test", "stranger@sibling.test"}})
	f := newEventFixture(t, def)
	ctx, svc, admin := context.Background(), f.e.s.svc, f.e.admin
	sibling, err := svc.CreateOrg(ctx, admin, tenancy.NewOrg{ParentID: admin.OrgID, Name: "Sibling"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(email string, org tenancy.OrgID, role tenancy.RoleID) tenancy.User {
		u, err := svc.CreateUser(ctx, admin, tenancy.NewUser{Email: email, Name: email, OrgID: org, RoleID: role, Password: "some-password-1"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	staff := mk("staff@client.test", f.org.ID, tenancy.RoleStaff)
	stranger := mk("stranger@sibling.test", sibling.ID, tenancy.RoleAdmin)
	n := notify.New(f.e.s.store, nil, svc.Tree, 1000, nil, nil)
	en := newEventNotifications(f.e.s.store, n, EventsConfig{}, svc.Tree, nil, slog.New(slog.DiscardHandler))
	en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindEvent, Device: f.dev.UID, Name: "overheat", Value: strings.Repeat("x", 301), TS: time.Now().UnixMilli()}})

	st := notifications{f.e.s.store}
	for _, c := range []struct {
		who  string
		id   tenancy.UserID
		want string // a fragment of why; "" = not notified
	}{
		{"staff member", staff.ID, "you hold role 2 in the device's organization"},
		{"root admin, named", admin.UserID, "the event's settings name you"},
		{"stranger, named", stranger.ID, ""},
		{"owner (a User, not asked for)", f.owner.ID, ""},
	} {
		ns, err := st.Notifications(ctx, c.id, 10)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.want == "" && len(ns) != 0:
			t.Errorf("%s notified: %+v", c.who, ns)
		case c.want != "" && (len(ns) != 1 || !strings.Contains(ns[0].Why, c.want) || ns[0].Body != "Boiler too hot"):
			t.Errorf("%s: notifications %+v, want one saying %q", c.who, ns, c.want)
		}
	}
}

// The running notifier tells of an offline once the ignore period passed
// (its timer, not a caller's tick), and not before.
func TestEventOfflineRunLoop(t *testing.T) {
	def := overheatTemplate(nil)
	def.System = &datastream.SystemEvents{OfflineIgnoreS: 1, Offline: &datastream.EventNotify{Enabled: true, Console: true, Owner: true}}
	f := newEventFixture(t, def)
	ctx, cancel := context.WithCancel(context.Background())
	n := notify.New(f.e.s.store, nil, f.e.s.svc.Tree, 1000, nil, nil)
	en := newEventNotifications(f.e.s.store, n, EventsConfig{}, f.e.s.svc.Tree, nil, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() { defer close(done); en.run(ctx) }()
	defer func() { cancel(); <-done }()

	off := time.Now()
	en.Observe([]syncproto.Item{{Kind: syncproto.KindOffline, Device: f.dev.UID, TS: off.UnixMilli()}})
	st := notifications{f.e.s.store}
	var ns []notify.Notification
	poll.Until(t, "the offline notification", func() bool {
		ns, _ = st.Notifications(ctx, f.owner.ID, 10)
		return len(ns) > 0
	})
	if len(ns) != 1 || ns[0].Subject != "Warning: Offline on Boiler" {
		t.Fatalf("notifications %+v", ns)
	}
	if early := ns[0].At.Sub(off); early < time.Second-time.Millisecond { // At is stored in ms
		t.Fatalf("notified %v after the offline, inside the 1 s ignore period", early)
	}
}
