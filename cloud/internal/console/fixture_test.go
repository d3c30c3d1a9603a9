package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/automations"
	"outpost/cloud/internal/events"
	"outpost/cloud/internal/livefeed"
	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

const pw = "correct-horse-1"

// env is a console on a real tenancy service and SQLite store, with the
// gateway side (Live, History) played by fakes: those are the far side,
// tested for real in internal/consoletest. The live feed is the real one.
type env struct {
	t        testing.TB
	svc      *tenancy.Service
	c        *Console
	srv      *httptest.Server
	live     *fakeLive
	hist     *fakeHistory
	feed     *livefeed.Hub
	mails    *mailbox
	admin    tenancy.Actor
	orgA     tenancy.Org
	orgB     tenancy.Org
	devA     tenancy.Device // in Client A, owned by nobody
	devB     tenancy.Device // in Client B
	viewer   tenancy.User   // Client A, may view devices but not control them
	operator tenancy.User   // Client A Admin
	// Issue 17: the automations and notifications over the same store,
	// "run now" carried out by a real runner (autoCloud plays the far side).
	store  *sqlite.Store
	autos  *automations.Service
	notes  *notify.Service
	runner *automations.Runner
	acloud *autoCloud
	events *events.Service // over the store: timelines without a set entry are the store's
}

type mailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (m *mailbox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) last() mail.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.msgs) == 0 {
		return mail.Message{}
	}
	return m.msgs[len(m.msgs)-1]
}

type fakeLive struct {
	mu     sync.Mutex
	states map[string]DeviceState
	// events are a device's timeline as a test sets it; a device without
	// an entry has the store's (store).
	events   map[string][]Event
	store    *sqlite.Store
	writes   []string
	writeErr error
	released []tenancy.GatewayID
}

func (f *fakeLive) DeviceState(_ context.Context, uid string) (DeviceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.states[uid], nil
}

func (f *fakeLive) Timeline(ctx context.Context, uid, kind string, before int64, limit int) ([]Event, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, set := f.events[uid]; !set && f.store != nil {
		return f.store.TimelineOfKind(ctx, uid, kind, before, limit)
	}
	var out []Event
	for _, e := range f.events[uid] { // newest first
		if (before == 0 || e.ID < before) && (kind == "" || e.Kind == kind) {
			out = append(out, e)
		}
		if len(out) == limit {
			return out, e.ID, nil
		}
	}
	return out, 0, nil
}

func (f *fakeLive) Write(_ context.Context, a tenancy.Actor, d tenancy.Device, pin int, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writeErr != nil {
		return f.writeErr
	}
	f.writes = append(f.writes, d.Name+"/"+strconv.Itoa(pin)+"="+value)
	return nil
}

func (f *fakeLive) Site(_ context.Context, g tenancy.Gateway) (SiteStatus, error) {
	return SiteStatus{Connected: true, LastSeen: time.Now(), Software: "outpost-gateway test", DevicesOnline: 1}, nil
}

func (f *fakeLive) GatewayReleased(id tenancy.GatewayID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, id)
}

type fakeHistory struct{}

func (fakeHistory) Aggregate(_ context.Context, uid string, pin int, from, to time.Time, n int) ([]Bucket, time.Duration, error) {
	w := to.Sub(from) / time.Duration(n)
	return []Bucket{{Start: from, Avg: 20, Min: 19, Max: 21, Count: 3}, {Start: from.Add(w), Avg: 22, Min: 22, Max: 22, Count: 1}}, w, nil
}

func (fakeHistory) Export(_ context.Context, uid string, pin int, from, to time.Time, each func(time.Time, string) error) error {
	if err := each(from, "20.5"); err != nil {
		return err
	}
	return each(from.Add(time.Second), "21")
}

// need returns v, failing the fixture (by panic: it runs on the test's
// goroutine) when err is set.
func need[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := need(tenancy.New(ctx, tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{}))
	root, admin := must2(t)(svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: "Acme Cloud", AdminEmail: "admin@acme.test", AdminName: "Ada Admin", Password: pw}))
	e := &env{t: t, svc: svc, live: &fakeLive{states: map[string]DeviceState{}, events: map[string][]Event{}, store: st},
		feed: livefeed.New(livefeed.Options{}), mails: &mailbox{}, store: st, events: events.New(st, svc, nil, nil, nil)}
	e.admin = tenancy.Actor{UserID: admin.ID, OrgID: root.ID, RoleID: tenancy.RoleAdmin}
	f := func(v float64) *float64 { return &v }
	tmpl := need(svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Thermostat", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: f(-40), Max: f(125), Units: "°C"},
		{Pin: 1, Name: "Target", Type: datastream.Double, Min: f(5), Max: f(35)},
		{Pin: 2, Name: "Power", Type: datastream.Boolean},
		{Pin: 3, Name: "Mode", Type: datastream.Enum, Enum: []datastream.EnumItem{{Value: 0, Label: "Off"}, {Value: 1, Label: "Heat"}}},
		{Pin: 4, Name: "Message", Type: datastream.String},
		{Pin: 5, Name: "Count", Type: datastream.Integer},
		{Pin: 6, Name: "Where", Type: datastream.Location},
	}, MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial Number", Default: "SN-0"}}}}))
	e.orgA = need(svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: root.ID, Name: "Client A"}))
	need(svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.orgA.ID, Name: "Client A Branch"}))
	e.orgB = need(svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: root.ID, Name: "Client B"}))
	e.devA = need(svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tmpl.ID, OrgID: e.orgA.ID, Name: "Boiler <script>alert(1)</script>"}))
	e.devB = need(svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tmpl.ID, OrgID: e.orgB.ID, Name: "Other Boiler"}))
	if err := svc.SetRolePermissions(ctx, e.admin, e.orgA.ID, tenancy.RoleUser, tenancy.NewPermSet(tenancy.OrgDevicesView), tenancy.PushNone); err != nil {
		t.Fatal(err)
	}
	e.viewer = need(svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "viewer@a.test", Name: "Vera Viewer", OrgID: e.orgA.ID, RoleID: tenancy.RoleUser, Password: pw}))
	e.operator = need(svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "op@a.test", Name: "Otto Operator", OrgID: e.orgA.ID, RoleID: tenancy.RoleAdmin, Password: pw}))
	// Client A's device is online as far as the store knows (the device
	// list reads the store): a site claimed into the root reported it.
	g, code, err := svc.RegisterGateway(ctx, "Root Site")
	if err != nil {
		t.Fatal(err)
	}
	need(svc.ClaimGateway(ctx, e.admin, code, root.ID))
	now := time.Now()
	need(st.ApplyItems(ctx, strconv.FormatInt(int64(g.ID), 10), 1, []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: e.devA.UID, Name: "tcp", TS: now.UnixMilli()}}, 1))
	e.live.states[e.devA.UID] = DeviceState{DeviceStatus: DeviceStatus{Online: true, LastSeen: now},
		Values: map[int]Value{0: {"21.5", now}, 2: {"1", now}, 3: {"1", now}, 6: {"13.4\x0052.5", now}},
		Info:   map[string]string{"fw": "1.2.3", "h-beat": "45"}, Meta: map[string]Value{"Serial Number": {"SN-42", now}}}
	e.live.events[e.devA.UID] = []Event{{ID: 3, Kind: "event", Code: "overheat", Description: "too hot", TS: now},
		{ID: 2, Kind: "online", TS: now.Add(-time.Minute)}, {ID: 1, Kind: "offline", TS: now.Add(-2 * time.Minute)}}
	e.wireAutomations(t, st)
	c, err := New(Options{Service: svc, Live: e.live, History: fakeHistory{}, Feed: e.feed, Mailer: e.mails,
		PublicURL: "http://console.example.test", Automations: e.autos, Notify: e.notes,
		Webhooks: webhooks.NewService(st, svc.Tree, nil, func() {}), // test sends: withExtras
		Events:   e.events})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(c)
	e.c = c
	t.Cleanup(func() { c.Close(); e.srv.Close() })
	return e
}

func must2(t testing.TB) func(tenancy.Org, tenancy.User, error) (tenancy.Org, tenancy.User) {
	return func(o tenancy.Org, u tenancy.User, err error) (tenancy.Org, tenancy.User) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return o, u
	}
}

// client is a browser-like client: a cookie jar, no redirect following.
type client struct {
	t  testing.TB
	e  *env
	hc *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// signedIn returns a client with a session of email.
func (e *env) signedIn(email string) *client {
	c := e.client()
	res := c.post("/login", url.Values{"email": {email}, "password": {pw}})
	if res.status != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: %d %s", email, res.status, res.body)
	}
	return c
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, hdr ...string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

var errStale = tenancy.Errorf(tenancy.Conflict, "a newer value from the device won")

// sessionCookie signs email in through the service and returns the
// console's cookie for it.
func (e *env) sessionCookie(tb testing.TB, email string) *http.Cookie {
	res, err := e.svc.Login(context.Background(), tenancy.Login{Email: email, Password: pw})
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Cookie{Name: sessionCookie, Value: res.Token}
}
