package gateway_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"outpost/gateway"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

const (
	tokA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tokB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func testConfig(dir string) gateway.Config {
	cfg := gateway.Defaults()
	cfg.DataDir = dir
	for _, p := range []*string{&cfg.Blynk.Listen, &cfg.Blynk.TLSListen, &cfg.MQTT.Listen, &cfg.MQTT.TLSListen, &cfg.MQTT.WSListen, &cfg.HTTP.Listen, &cfg.Installer.Listen} {
		*p = "127.0.0.1:0"
	}
	lo, hi := 0.0, 100.0
	cfg.Templates = []datastream.Template{{
		ID: "TMPLTEST", Name: "Test",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double},
			{Pin: 1, Name: "Target", Type: datastream.Integer, Min: &lo, Max: &hi, Default: "20", Sync: true},
			{Pin: 2, Name: "Note", Type: datastream.String},
		},
	}}
	cfg.Devices = []gateway.DeviceConfig{
		{Name: "A", Template: "TMPLTEST", Token: tokA},
		{Name: "B", Template: "TMPLTEST", Token: tokB},
	}
	return cfg
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// start runs a gateway until the test ends (or stop is called) and returns it.
func start(t *testing.T, cfg gateway.Config) (g *gateway.Gateway, stop func()) {
	t.Helper()
	return startWith(t, cfg)
}

func startWith(t *testing.T, cfg gateway.Config, opts ...gateway.Option) (g *gateway.Gateway, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g, _, err := gateway.New(ctx, cfg, nil, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("gateway did not stop within 20s")
		}
	}
	t.Cleanup(stop)
	return g, stop
}

func httpGet(t *testing.T, rawURL string) (int, string) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The path a user takes: a device logs in over TCP and writes, a script reads
// and writes over HTTP, a TLS device syncs, an installer adds a device, and
// after a restart the latest values are still there.
func TestSiteEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	g, stop := start(t, cfg)
	a := g.Addrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	devA, err := devicesim.Dial(ctx, a.Blynk, devicesim.Options{Token: tokA, Template: "TMPLTEST"})
	if err != nil {
		t.Fatal(err)
	}
	defer devA.Close()
	if _, err := devA.VirtualWrite(0, 23.5); err != nil {
		t.Fatal(err)
	}
	httpBase := "http://" + a.HTTP + "/external/api/"
	poll.NoError(t, "HTTP get of the TCP write", func() error {
		code, body := httpGet(t, httpBase+"get?token="+tokA+"&v0")
		if code != 200 || body != "23.5" {
			return fmt.Errorf("get v0 = %d %q, want 200 \"23.5\"", code, body)
		}
		return nil
	})

	// An HTTP write addressed to the device reaches it over TCP, clamped.
	code, body := httpGet(t, httpBase+"update?token="+tokA+"&V1=150")
	if code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	in, err := devA.Expect(ctx, func(in devicesim.Incoming) bool { return in.Op == blynk.OpVirtualWrite && in.Pin == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Values) != 1 || in.Values[0] != "100" {
		t.Errorf("device got V1 %q, want clamped [100]", in.Values)
	}

	// The same API answers on the Blynk port (legacy one-port trick).
	if code, body := httpGet(t, "http://"+a.Blynk+"/external/api/isHardwareConnected?token="+tokA); code != 200 || body != "true" {
		t.Errorf("isHardwareConnected on the Blynk port = %d %q, want 200 true", code, body)
	}

	// A device over TLS with the generated certificate; syncAll gives the
	// flagged pin's default.
	devB, err := devicesim.Dial(ctx, a.BlynkTLS, devicesim.Options{Token: tokB, TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer devB.Close()
	if _, err := devB.SyncAll(); err != nil {
		t.Fatal(err)
	}
	in, err = devB.Expect(ctx, func(in devicesim.Incoming) bool { return in.Op == blynk.OpVirtualWrite })
	if err != nil {
		t.Fatal(err)
	}
	if in.Pin != 1 || len(in.Values) != 1 || in.Values[0] != "20" {
		t.Errorf("syncAll gave V%d %q, want V1 [20] (the default)", in.Pin, in.Values)
	}

	// A bad token is refused with 9.
	if _, err := devicesim.Dial(ctx, a.Blynk, devicesim.Options{Token: strings.Repeat("x", 32)}); !errors.Is(err, blynk.StatusInvalidToken) {
		t.Errorf("login with an unknown token: %v, want INVALID_TOKEN", err)
	}

	// The installer adds a device; its token works at once.
	resp, err := http.Post("http://"+a.Installer+"/installer/api/devices", "application/json",
		strings.NewReader(`{"template":"TMPLTEST","name":"Kitchen"}`))
	if err != nil {
		t.Fatal(err)
	}
	var nd struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&nd); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("installer add: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	devC, err := devicesim.Dial(ctx, a.Blynk, devicesim.Options{Token: nd.Token})
	if err != nil {
		t.Fatalf("new device's token: %v", err)
	}
	devC.Close()

	// Restart on the same data dir: the latest values survive.
	devA.Close()
	devB.Close()
	stop()
	g2, _ := start(t, cfg)
	code, body = httpGet(t, "http://"+g2.Addrs().HTTP+"/external/api/get?token="+tokA+"&v0&v1")
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("get after restart: %d %q %v", code, body, err)
	}
	if got["v0"] != 23.5 || got["v1"] != 100.0 {
		t.Errorf("after restart v0,v1 = %v, want 23.5 and 100", got)
	}
	// Stats are served with the keys the load tools read.
	_, body = httpGet(t, "http://"+g2.Addrs().Installer+"/installer/api/stats")
	var st map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hub.writesAccepted", "store.committed", "store.commitP99Ms"} {
		sec, key, _ := strings.Cut(k, ".")
		if _, ok := st[sec][key]; !ok {
			t.Errorf("stats lack %s: %s", k, body)
		}
	}
}

func TestNewRefusesUnknownTemplate(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Devices = append(cfg.Devices, gateway.DeviceConfig{Name: "X", Template: "TMPLNOPE"})
	_, _, err := gateway.New(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "TMPLNOPE") {
		t.Fatalf("err = %v, want it to name the missing template", err)
	}
}

func TestOfflineDeviceAdd(t *testing.T) {
	cfg := testConfig(t.TempDir())
	_, tok, err := gateway.Offline(context.Background(), cfg, true, "TMPLTEST", "Garage")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 32 {
		t.Fatalf("token %q is not 32 characters", tok)
	}
	g, _ := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := devicesim.Dial(ctx, g.Addrs().Blynk, devicesim.Options{Token: tok})
	if err != nil {
		t.Fatalf("device added offline cannot log in: %v", err)
	}
	d.Close()
}
