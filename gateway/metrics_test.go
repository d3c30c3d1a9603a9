package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"outpost/gateway"
	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

// scrape reads /metrics from the installer port with the Prometheus text
// parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is a counter's or gauge's value; with a label pair, of that series.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, label ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.Metric {
		if len(label) == 2 {
			match := false
			for _, lp := range m.Label {
				match = match || (lp.GetName() == label[0] && lp.GetValue() == label[1])
			}
			if !match {
				continue
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("metric %s%v has no series", name, label)
	return 0
}

// TestMetrics: /metrics in the Prometheus text format; connections,
// writes, persisted records and the commit latency histogram move when a
// device connects and writes; /healthz and /readyz answer.
func TestMetrics(t *testing.T) {
	g, _ := start(t, testConfig(t.TempDir()))
	a := g.Addrs()
	before := scrape(t, a.Installer)
	if n := value(t, before, "outpost_gateway_connections", "transport", "blynk"); n != 0 {
		t.Errorf("blynk connections before any device = %v", n)
	}
	if n := value(t, before, "outpost_gateway_devices"); n != 2 {
		t.Errorf("devices = %v, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dev, err := devicesim.Dial(ctx, a.Blynk, devicesim.Options{Token: tokA, Template: "TMPLTEST"})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for i := range 5 {
		if _, err := dev.VirtualWrite(0, 20+i); err != nil {
			t.Fatal(err)
		}
	}
	poll.NoError(t, "metrics move with the writes", func() error {
		m := scrape(t, a.Installer)
		for _, c := range []struct {
			name  string
			label []string
			min   float64
		}{
			{"outpost_gateway_connections", []string{"transport", "blynk"}, 1},
			{"outpost_gateway_devices_online", nil, 1},
			{"outpost_gateway_writes_accepted_total", nil, 5 + value(t, before, "outpost_gateway_writes_accepted_total")},
			{"outpost_gateway_records_persisted_total", nil, 5 + value(t, before, "outpost_gateway_records_persisted_total")},
			{"outpost_gateway_commit_latency_seconds", nil, 5},
			{"outpost_gateway_outbox_backlog", nil, 0},
		} {
			if v := value(t, m, c.name, c.label...); v < c.min {
				return fmt.Errorf("%s = %v, want ≥ %v", c.name, v, c.min)
			}
		}
		if v := value(t, m, "outpost_gateway_cloud_connected", "configured", "false"); v != 0 {
			return fmt.Errorf("cloud connected without a cloud = %v", v)
		}
		return nil
	})
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := httpGet(t, "http://"+a.Installer+p); code != 200 {
			t.Errorf("GET %s = %d %s", p, code, body)
		}
	}
}

// TestLogsPage: the gateway's own log lines reach the installer's logs
// page, filtered by component, with tokens masked.
func TestLogsPage(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Devices = append(cfg.Devices, gateway.DeviceConfig{Name: "C", Template: "TMPLTEST"}) // logs "device created" with a token prefix
	g, _ := start(t, cfg)
	base := "http://" + g.Addrs().Installer
	ck := signIn(t, base)
	get := func(path string) string {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.AddCookie(ck)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	page := get("/logs")
	for _, want := range []string{"gateway running", "installer password set", "device created"} {
		if !strings.Contains(page, want) {
			t.Errorf("logs page lacks %q", want)
		}
	}
	if page := get("/logs?component=installer"); strings.Contains(page, "gateway running") || !strings.Contains(page, "installer password set") {
		t.Errorf("component filter: %s", page)
	}
}

// TestNetworkPage: the addresses devices use, the local CA's certificate
// names, the CA download, and "issue again" serving a new leaf.
func TestNetworkPage(t *testing.T) {
	g, _ := start(t, testConfig(t.TempDir()))
	base := "http://" + g.Addrs().Installer
	ck := signIn(t, base)
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.AddCookie(ck)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, page := get("/network")
	for _, want := range []string{g.Addrs().Blynk, g.Addrs().BlynkTLS, "localhost", "Download the CA certificate"} {
		if !strings.Contains(page, want) {
			t.Errorf("network page lacks %q", want)
		}
	}
	if code, pem := get("/ca.crt"); code != 200 || !strings.HasPrefix(pem, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("GET /ca.crt = %d %.40q", code, pem)
	}
	if code, _ := postForm(t, base+"/network/reissue", ck, nil); code != http.StatusSeeOther {
		t.Errorf("reissue = %d", code)
	}
}

// TestConfigPage: the effective configuration with tokens masked and the
// file it came from; an edited file is validated as at start.
func TestConfigPage(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/gateway.yaml"
	os.WriteFile(path, []byte("version: 1\ndata_dir: "+dir+"/data\ninstaller: {listen: '127.0.0.1:0', token: 'installer-secret-token'}\n"+
		"blynk: {listen: '127.0.0.1:0', tls_listen: ''}\nmqtt: {listen: '', tls_listen: '', ws_listen: ''}\nhttp: {listen: ''}\n"), 0o600)
	cfg, err := gateway.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := start(t, cfg)
	base := "http://" + g.Addrs().Installer
	req, _ := http.NewRequest("GET", base+"/config", nil)
	req.Header.Set("Authorization", "Bearer installer-secret-token") // scripts and pages alike
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != 200 || strings.Contains(page, "installer-secret-token") || !strings.Contains(page, "[masked]") || !strings.Contains(page, path) {
		t.Errorf("config page = %d, token masked: %v, file shown: %v", resp.StatusCode, !strings.Contains(page, "installer-secret-token"), strings.Contains(page, path))
	}
	for _, c := range []struct {
		yaml string
		code int
		want string
	}{
		{"version: 1\nblynk: {lisen: ':1'}\n", 422, "field lisen not found"},
		{"version: 1\nlog: {level: loud}\n", 422, "log.level"},
		{"version: 1\n", 200, "The edited file is valid"},
	} {
		req, _ := http.NewRequest("POST", base+"/config/validate", strings.NewReader(url.Values{"yaml": {c.yaml}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer installer-secret-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.want) {
			t.Errorf("validate %q = %d, want %d with %q", c.yaml, resp.StatusCode, c.code, c.want)
		}
	}
}
