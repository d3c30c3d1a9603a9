package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"

	"outpost/gateway/internal/hub"
	"outpost/internal/poll"
)

// device is a paho client plus everything it received.
type device struct {
	c    paho.Client
	mu   sync.Mutex
	msgs []received
	lost chan error
}

type received struct {
	Topic   string
	Payload string
	QoS     byte
}

func (d *device) got() []received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]received(nil), d.msgs...)
}

// waitMsg waits for a message on topic and returns it.
func (d *device) waitMsg(t *testing.T, topic string) received {
	t.Helper()
	var out received
	poll.Until(t, "message on "+topic, func() bool {
		for _, m := range d.got() {
			if m.Topic == topic {
				out = m
				return true
			}
		}
		return false
	})
	return out
}

func pahoOpts(addr, user, pass string) (*paho.ClientOptions, *device) {
	d := &device{lost: make(chan error, 1)}
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetUsername(user).SetPassword(pass).SetClientID("esp32").
		SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true).
		SetConnectTimeout(5 * time.Second).SetProtocolVersion(4).
		SetConnectionLostHandler(func(_ paho.Client, err error) { d.lost <- err }).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			d.mu.Lock()
			d.msgs = append(d.msgs, received{m.Topic(), string(m.Payload()), m.Qos()})
			d.mu.Unlock()
		})
	return o, d
}

// connect logs a paho client in and subscribes it to downlink/#.
func connect(t *testing.T, addr, token string) *device {
	t.Helper()
	o, d := pahoOpts(addr, "device", token)
	d.c = paho.NewClient(o)
	tok := d.c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { d.c.Disconnect(0) })
	st := d.c.Subscribe("downlink/#", 1, nil)
	if !st.WaitTimeout(5*time.Second) || st.Error() != nil {
		t.Fatalf("subscribe: %v", st.Error())
	}
	if got := st.(*paho.SubscribeToken).Result()["downlink/#"]; got != 1 {
		t.Fatalf("downlink/# granted %#x, want 1", got)
	}
	return d
}

func (d *device) pub(t *testing.T, topic string, qos byte, payload string) {
	t.Helper()
	tok := d.c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, user, pass string
		ok               bool
	}{
		{"good", "device", tokenA, true},
		{"wrong token", "device", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", false},
		{"short token", "device", "x", false},
		{"wrong username", "admin", tokenA, false},
		{"no password", "device", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := pahoOpts(e.tcp, tc.user, tc.pass)
			c := paho.NewClient(o)
			tok := c.Connect()
			tok.WaitTimeout(5 * time.Second)
			defer c.Disconnect(0)
			if tc.ok {
				if tok.Error() != nil {
					t.Fatalf("connect: %v", tok.Error())
				}
				return
			}
			ct := tok.(*paho.ConnectToken)
			if ct.ReturnCode() != 0x04 {
				t.Fatalf("CONNACK code %#x (%v), want 0x04", ct.ReturnCode(), tok.Error())
			}
		})
	}
	if got := e.broker.Stats().AuthFailures; got != 4 {
		t.Errorf("AuthFailures = %d, want 4", got)
	}
}

func TestUplinkTopics(t *testing.T) {
	e := newEnv(t, nil)
	d := connect(t, e.tcp, tokenA)
	id := e.devA.ID
	now := time.Now().UnixMilli()

	cases := []struct {
		topic, payload string
		pin            int
		want           string
	}{
		{"ds/Temperature", "21.5", 0, "21.5"},
		{"ds/Temperature", "120", 0, "85"}, // clamped to max
		{"ds/Set Temperature", "22", 1, "22"},
		{"ds/Location", "24.1\x0056.9", 2, "24.1\x0056.9"},
		{"ds/Status", "héllo wörld", 3, "héllo wörld"},
		{"ds/Power", "1", 4, "1"},
		{"ds/Mode", "7", 5, "0"}, // not listed → fallback
	}
	for _, tc := range cases {
		d.pub(t, tc.topic, 1, tc.payload)
		if got := value(e.hub, id, tc.pin); got != tc.want {
			t.Errorf("%s %q: stored %q, want %q", tc.topic, tc.payload, got, tc.want)
		}
	}

	// Wrong type: dropped, nothing changes, still acknowledged.
	d.pub(t, "ds/Set Temperature", 1, "22.5")
	if got := value(e.hub, id, 1); got != "22" {
		t.Errorf("wrong-typed write changed the value to %q", got)
	}
	if got := e.broker.Stats().Dropped["bad_value"]; got != 1 {
		t.Errorf("dropped bad_value = %d, want 1", got)
	}
	d.pub(t, "ds/No Such Stream", 1, "1")
	if got := e.broker.Stats().Dropped["no_datastream"]; got != 1 {
		t.Errorf("dropped no_datastream = %d, want 1", got)
	}

	d.pub(t, "ds/Status/erase", 1, "")
	if _, ok := e.hub.Value(id, 3); ok {
		t.Errorf("Status still has a value after erase")
	}

	batch := fmt.Sprintf(`[[%d, 10.5], [%d, 11], [%d, "x"]]`, now-2000, now-1000, now)
	d.pub(t, "ds/Temperature/timestamped_batch", 1, batch)
	pv, _ := e.hub.Value(id, 0)
	if pv.Value != "11" || pv.TS != now-1000 {
		t.Errorf("after timestamped_batch: %+v, want 11 at %d", pv, now-1000)
	}

	d.pub(t, "batch_ds", 1, `{"Temperature": 19.25, "Status": "ok", "Power": false, "Location": [2.35, 48.85], "Set Temperature": "25"}`)
	for pin, want := range map[int]string{0: "19.25", 3: "ok", 4: "0", 2: "2.35\x0048.85", 1: "22"} {
		if got := value(e.hub, id, pin); got != want {
			t.Errorf("batch_ds pin %d = %q, want %q", pin, got, want)
		}
	}

	d.pub(t, "ds/Temperature/prop/label", 1, "Room temp")
	if v, _ := e.hub.Property(id, 0, "label"); v != "Room temp" {
		t.Errorf("label property = %q", v)
	}
	d.pub(t, "ds/Temperature/prop/label/erase", 1, "")
	if v, _ := e.hub.Property(id, 0, "label"); v != "" {
		t.Errorf("label property after erase = %q", v)
	}

	d.pub(t, "event/overheat", 1, "too hot")
	ev := e.store.find(hub.KindEvent)
	if len(ev) != 1 || ev[0].Name != "overheat" || ev[0].Value != "too hot" || ev[0].Source != "mqtt" {
		t.Errorf("events stored: %+v", ev)
	}
	d.pub(t, "event/unknown", 1, "")
	if got := len(e.store.find(hub.KindEvent)); got != 1 {
		t.Errorf("unknown event stored")
	}

	d.pub(t, "meta/Serial Number", 1, "SN-42")
	if v, _ := e.hub.Meta(id, "Serial Number"); v != "SN-42" {
		t.Errorf("meta = %q", v)
	}
	// SetMeta is delivered back as downlink/meta (live update).
	d.waitMsg(t, "downlink/meta/Serial Number")

	d.pub(t, "info/mcu", 1, `{"tmpl":"TMPLbroker01","ver":"1.2.0","build":"Jan 1 2026","type":"TMPLbroker01","rxbuff":1024}`)
	want := []string{"tmpl", "TMPLbroker01", "ver", "1.2.0", "build", "Jan 1 2026", "type", "TMPLbroker01", "rxbuff", "1024"}
	if diff := cmp.Diff(want, e.hub.Info(id)); diff != "" {
		t.Errorf("info (-want +got):\n%s", diff)
	}
}

func TestGetTopics(t *testing.T) {
	e := newEnv(t, nil)
	d := connect(t, e.tcp, tokenA)
	id := e.devA.ID
	if _, err := e.hub.DeviceWrite(id, 0, [][]byte{[]byte("18")}, 0, "test"); err != nil {
		t.Fatal(err)
	}

	d.pub(t, "get/ds", 1, "Temperature, Set Temperature,Nope")
	if m := d.waitMsg(t, "downlink/ds/Temperature"); m.Payload != "18" {
		t.Errorf("get/ds Temperature = %q", m.Payload)
	}
	if m := d.waitMsg(t, "downlink/ds/Set Temperature"); m.Payload != "20" { // default
		t.Errorf("get/ds Set Temperature = %q", m.Payload)
	}

	d.mu.Lock()
	d.msgs = nil
	d.mu.Unlock()
	d.pub(t, "get/ds/all", 1, "")
	d.waitMsg(t, "downlink/ds/Set Temperature")
	for _, m := range d.got() {
		if m.Topic == "downlink/ds/Temperature" {
			t.Errorf("get/ds/all answered Temperature, which is not flagged sync")
		}
	}

	if err := e.hub.SetMeta(id, "Time Zone", "Europe/Kyiv", "test"); err != nil {
		t.Fatal(err)
	}
	d.pub(t, "get/meta", 1, "Time Zone,Serial Number")
	if m := d.waitMsg(t, "downlink/meta/Time Zone"); m.Payload != "Europe/Kyiv" {
		t.Errorf("get/meta = %q", m.Payload)
	}
	d.waitMsg(t, "downlink/meta/Serial Number")

	d.pub(t, "get/utc/all/json", 1, "")
	m := d.waitMsg(t, "downlink/utc/all/json")
	var utc struct {
		TZName string `json:"tz_name"`
		Time   int64  `json:"time"`
		ISO    string `json:"iso8601"`
	}
	if err := json.Unmarshal([]byte(m.Payload), &utc); err != nil {
		t.Fatalf("utc payload %q: %v", m.Payload, err)
	}
	if utc.TZName != "Europe/Kyiv" || time.Since(time.UnixMilli(utc.Time)).Abs() > time.Minute || utc.ISO == "" {
		t.Errorf("utc = %+v", utc)
	}
}

func TestDownlinkIsolationAndQoS(t *testing.T) {
	e := newEnv(t, nil)
	a := connect(t, e.tcp, tokenA)
	b := connect(t, e.tcp, tokenB)
	if _, err := e.hub.ControlWrite(e.devA.ID, 1, [][]byte{[]byte("99")}, 0, "http"); err != nil {
		t.Fatal(err)
	}
	m := a.waitMsg(t, "downlink/ds/Set Temperature")
	if m.Payload != "30" || m.QoS != 1 {
		t.Errorf("downlink = %+v, want 30 (clamped) at QoS 1", m)
	}
	if _, err := e.hub.ControlWrite(e.devB.ID, 1, [][]byte{[]byte("7")}, 0, "http"); err != nil {
		t.Fatal(err)
	}
	b.waitMsg(t, "downlink/ds/Set Temperature")
	for _, m := range a.got() {
		if m.Payload == "7" {
			t.Errorf("device A received device B's downlink %+v", m)
		}
	}
	// A device's own uplink is not echoed back to it.
	a.pub(t, "ds/Set Temperature", 1, "12")
	a.pub(t, "ds/Temperature", 2, "1.5") // QoS 2 accepted
	if got := value(e.hub, e.devA.ID, 0); got != "1.5" {
		t.Errorf("QoS 2 write stored %q", got)
	}
	for _, m := range a.got() {
		if m.Payload == "12" {
			t.Errorf("device's own write echoed back: %+v", m)
		}
	}
}

func TestRetainedNotRetained(t *testing.T) {
	e := newEnv(t, nil)
	d := connect(t, e.tcp, tokenA)
	tok := d.c.Publish("ds/Temperature", 1, true, "3")
	tok.WaitTimeout(5 * time.Second)
	if tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if got := value(e.hub, e.devA.ID, 0); got != "3" {
		t.Errorf("retained publish stored %q", got)
	}
	if n := len(e.broker.server.Topics.Messages("#")); n != 0 {
		t.Errorf("device publish was retained (%d)", n)
	}
}

func TestACL(t *testing.T) {
	e := newEnv(t, nil)
	d := connect(t, e.tcp, tokenA)
	for _, f := range []string{"#", "downlink/+/x", "ds/Temperature", "$device-2/s/downlink/#", "$SYS/#", "downlink"} {
		st := d.c.Subscribe(f, 1, nil)
		st.WaitTimeout(5 * time.Second)
		if got := st.(*paho.SubscribeToken).Result()[f]; got != 0x80 {
			t.Errorf("subscribe %q granted %#x, want 0x80", f, got)
		}
	}
	// QoS 2 subscriptions are granted as QoS 1.
	st := d.c.Subscribe("downlink/ds/Power", 2, nil)
	st.WaitTimeout(5 * time.Second)
	if got := st.(*paho.SubscribeToken).Result()["downlink/ds/Power"]; got != 1 {
		t.Errorf("QoS 2 subscription granted %#x, want 1", got)
	}

	// A QoS 0 publish to a forbidden topic is dropped; the connection stays.
	d.pub(t, "downlink/ds/Power", 0, "1")
	d.pub(t, "ds/Power", 1, "1")
	if got := value(e.hub, e.devA.ID, 4); got != "1" {
		t.Fatalf("Power = %q", got)
	}
	// A QoS 1 publish to a forbidden topic disconnects a 3.1.1 client.
	d.c.Publish("foo/bar", 1, false, "x")
	select {
	case <-d.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("forbidden QoS 1 publish did not disconnect")
	}
}

func TestMessageLimit(t *testing.T) {
	e := newEnv(t, nil)
	d := connect(t, e.tcp, tokenA)
	d.pub(t, "ds/Status", 1, strings.Repeat("a", 900))
	d.c.Publish("ds/Status", 1, false, strings.Repeat("b", 1100))
	select {
	case <-d.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("oversized publish did not close the connection")
	}
	if got := value(e.hub, e.devA.ID, 3); got != strings.Repeat("a", 900) {
		t.Errorf("oversized publish stored (len %d)", len(got))
	}
}

func TestReplacement(t *testing.T) {
	e := newEnv(t, nil)
	first := connect(t, e.tcp, tokenA)
	second := connect(t, e.tcp, tokenA)
	select {
	case <-first.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("first connection not replaced")
	}
	if !e.hub.Online(e.devA.ID) {
		t.Fatal("device offline after replacement")
	}
	if _, err := e.hub.ControlWrite(e.devA.ID, 4, [][]byte{[]byte("1")}, 0, "http"); err != nil {
		t.Fatal(err)
	}
	second.waitMsg(t, "downlink/ds/Power")
	poll.Until(t, "one connection", func() bool { return e.broker.Stats().Connections == 1 })
	if n := len(second.got()); n != 1 {
		t.Errorf("second connection got %d messages, want 1: %+v", n, second.got())
	}
	second.c.Disconnect(100)
	poll.Until(t, "offline", func() bool { return !e.hub.Online(e.devA.ID) })
}

func TestPingRedirectDiag(t *testing.T) {
	e := newEnv(t, nil)
	o, d := pahoOpts(e.tcp, "device", tokenA)
	d.c = paho.NewClient(o)
	if tok := d.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer d.c.Disconnect(0)
	// The session is attached just after CONNACK is written.
	poll.Until(t, "session attached", func() bool { return e.broker.current(e.devA.ID) != nil })
	// No subscription: ping, redirect and diag still arrive.
	if err := e.broker.Ping(e.devA.ID); err != nil {
		t.Fatal(err)
	}
	if m := d.waitMsg(t, "downlink/ping"); m.QoS != 1 {
		t.Errorf("ping QoS %d, want 1", m.QoS)
	}
	c := e.broker.current(e.devA.ID)
	poll.Until(t, "ping acknowledged", func() bool { return !c.pingPending.Load() })

	if err := e.broker.Redirect(e.devA.ID, "mqtt://127.0.0.1:1884"); err != nil {
		t.Fatal(err)
	}
	if m := d.waitMsg(t, "downlink/redirect"); m.Payload != "mqtt://127.0.0.1:1884" || m.QoS != 0 {
		t.Errorf("redirect = %+v", m)
	}
	if err := e.broker.Diag(e.devA.ID, "all good"); err != nil {
		t.Fatal(err)
	}
	d.waitMsg(t, "downlink/diag")
	// Reboot follows the subscription: none here, so nothing arrives…
	if err := e.broker.Reboot(e.devA.ID); err != nil {
		t.Fatal(err)
	}
	st := d.c.Subscribe("downlink/#", 1, nil)
	st.WaitTimeout(5 * time.Second)
	// …and once subscribed it does.
	if err := e.broker.Reboot(e.devA.ID); err != nil {
		t.Fatal(err)
	}
	d.waitMsg(t, "downlink/reboot")
	n := 0
	for _, m := range d.got() {
		if m.Topic == "downlink/reboot" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("reboot delivered %d times, want 1", n)
	}
	if err := e.broker.Ping(e.devB.ID); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Ping of an offline device: %v", err)
	}
}
