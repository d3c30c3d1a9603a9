package deviceapi_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"outpost/gateway/internal/blynkserver"
	"outpost/gateway/internal/broker"
	"outpost/gateway/internal/deviceapi"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

const (
	tokTCP  = "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"
	tokMQTT = "MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM"
)

// site runs the hub on a real SQLite file with all three device transports
// on 127.0.0.1:0: Blynk TCP (with the device HTTP API sniffed on the same
// port), MQTT, and HTTP on its own port.
type site struct {
	hub              *hub.Hub
	tcpDev, mqttDev  hub.Device
	blynk, mqtt, web string
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "gw.db")})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	min, max := 5.0, 30.0
	tmpl := datastream.Template{ID: "TMPLcross001", Name: "Thermostat", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double},
		{Pin: 1, Name: "Set Temperature", Type: datastream.Integer, Min: &min, Max: &max, Sync: true},
	}}
	if err := h.SaveTemplate(ctx, tmpl); err != nil {
		t.Fatal(err)
	}
	s := &site{hub: h}
	if s.tcpDev, err = h.AddDeviceWithToken(ctx, tmpl.ID, "tcp", tokTCP); err != nil {
		t.Fatal(err)
	}
	if s.mqttDev, err = h.AddDeviceWithToken(ctx, tmpl.ID, "mqtt", tokMQTT); err != nil {
		t.Fatal(err)
	}
	api := deviceapi.New(deviceapi.Options{Hub: h})
	b, err := broker.New(broker.Options{Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	bs := blynkserver.New(blynkserver.Options{Hub: h, HTTP: api})
	lnB, lnM, lnW := listen(t), listen(t), listen(t)
	s.blynk, s.mqtt, s.web = lnB.Addr().String(), lnM.Addr().String(), lnW.Addr().String()
	web := &http.Server{Handler: api}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = bs.Serve(ctx, lnB, "tcp") }()
	go func() { defer wg.Done(); _ = b.Serve(ctx, broker.Listeners{TCP: lnM}) }()
	go func() { defer wg.Done(); _ = web.Serve(lnW) }()
	t.Cleanup(func() {
		cancel()
		_ = web.Close()
		wg.Wait()
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func httpGet(t *testing.T, addr, pathQuery string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + pathQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type mqttDevice struct {
	c    paho.Client
	msgs chan string
}

func dialMQTT(t *testing.T, addr, token string) *mqttDevice {
	t.Helper()
	d := &mqttDevice{msgs: make(chan string, 16)}
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetUsername("device").SetPassword(token).
		SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { d.msgs <- m.Topic() + "=" + string(m.Payload()) })
	d.c = paho.NewClient(o)
	if tok := d.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	if tok := d.c.Subscribe("downlink/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { d.c.Disconnect(0) })
	return d
}

func (d *mqttDevice) pub(t *testing.T, topic, payload string) {
	t.Helper()
	if tok := d.c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
}

func (d *mqttDevice) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-d.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no MQTT downlink")
		return ""
	}
}

func dialTCP(t *testing.T, addr, token string) *devicesim.Device {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := devicesim.Dial(ctx, addr, devicesim.Options{Token: token})
	if err != nil {
		t.Fatalf("tcp device: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// expectVW waits for `vw pin value` on a Blynk TCP device.
func expectVW(t *testing.T, d *devicesim.Device, pin int, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in, err := d.Expect(ctx, func(in devicesim.Incoming) bool { return in.Op == blynk.OpVirtualWrite && in.Pin == pin })
	if err != nil {
		t.Fatalf("waiting for vw %d: %v", pin, err)
	}
	if got := strings.Join(in.Values, "\x00"); got != want {
		t.Errorf("vw %d %q, want %q", pin, got, want)
	}
}

func TestCrossTransport(t *testing.T) {
	s := newSite(t)
	tcp := dialTCP(t, s.blynk, tokTCP)
	mq := dialMQTT(t, s.mqtt, tokMQTT)

	// HTTP write → TCP device as vw, clamped; through the sniffed Blynk
	// port and through the HTTP port alike.
	if st, body := httpGet(t, s.web, "/external/api/update?token="+tokTCP+"&v1=99"); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	expectVW(t, tcp, 1, "30")
	if st, body := httpGet(t, s.blynk, "/external/api/update?token="+tokTCP+"&V1=12"); st != 200 {
		t.Fatalf("update on the Blynk port: %d %s", st, body)
	}
	expectVW(t, tcp, 1, "12")

	// HTTP write → MQTT device as downlink/ds, same clamping.
	if st, body := httpGet(t, s.web, "/external/api/update?token="+tokMQTT+"&v1=1"); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	if got := mq.next(t); got != "downlink/ds/Set Temperature=5" {
		t.Errorf("MQTT downlink %q", got)
	}

	// MQTT device write → HTTP get and the same device's TCP syncVirtual.
	mq.pub(t, "ds/Temperature", "21.50")
	if st, body := httpGet(t, s.web, "/external/api/get?token="+tokMQTT+"&v0"); st != 200 || body != "21.5" {
		t.Errorf("get after MQTT write: %d %q", st, body)
	}
	tcpSame := dialTCP(t, s.blynk, tokMQTT)
	if _, err := tcpSame.SyncVirtual(0); err != nil {
		t.Fatal(err)
	}
	expectVW(t, tcpSame, 0, "21.5")

	// Same validation everywhere: wrong type dropped, in-type clamped.
	mq.pub(t, "ds/Set Temperature", "12.5")
	if st, _ := httpGet(t, s.web, "/external/api/update?token="+tokMQTT+"&v1=12.5"); st != 400 {
		t.Errorf("HTTP accepted 12.5 for an Integer")
	}
	if _, err := tcpSame.VirtualWrite(1, "12.5"); err != nil {
		t.Fatal(err)
	}
	if _, err := tcpSame.VirtualWrite(1, "1000"); err != nil { // clamped over TCP
		t.Fatal(err)
	}
	poll.Until(t, "TCP write 1000 clamped to 30", func() bool { v, _ := s.hub.Value(s.mqttDev.ID, 1); return v.Value == "30" })
	mq.pub(t, "ds/Set Temperature", "-4")
	if st, body := httpGet(t, s.web, "/external/api/get?token="+tokMQTT+"&v1"); body != "5" {
		t.Errorf("MQTT -4 → %d %q, want clamped 5", st, body)
	}

	// Online is one state across transports.
	online := func() string { _, b := httpGet(t, s.web, "/external/api/isHardwareConnected?token="+tokMQTT); return b }
	if got := online(); got != "true" {
		t.Fatalf("online = %s", got)
	}
	mq.c.Disconnect(100)
	if got := online(); got != "true" {
		t.Errorf("offline while still connected over TCP")
	}
	tcpSame.Close()
	poll.Until(t, "offline", func() bool { return online() == "false" })
}
