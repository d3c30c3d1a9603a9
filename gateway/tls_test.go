package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"outpost/internal/poll"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"outpost/gateway"
	"outpost/shared/devicesim"
)

func pinned(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return pool
}

// TestTLSNamesTheAddressDevicesUse: with the TLS listeners on every
// interface, a device that pins the gateway's CA file and checks the name
// it dialed logs in at every address the gateway says it answers on (the
// box's LAN addresses, not only loopback) — a simulated Blynk device on
// the Blynk TLS port and a real libmosquitto client (mosquitto_pub, which
// checks the host name) on the MQTT TLS port.
func TestTLSNamesTheAddressDevicesUse(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Blynk.TLSListen, cfg.MQTT.TLSListen = ":0", ":0"
	g, _ := start(t, cfg)
	a := g.Addrs()
	if want := filepath.Join(dir, "tls", "ca.crt"); g.TLSCA() != want {
		t.Fatalf("TLSCA %q, want %q", g.TLSCA(), want)
	}
	pool := pinned(t, g.TLSCA())
	hosts := gateway.ReachableHosts(a.BlynkTLS)
	if len(hosts) == 0 || hosts[0] == "127.0.0.1" {
		t.Logf("this box has no non-loopback address; only loopback is tried (%v)", hosts)
	}
	t.Logf("the gateway answers devices at %v", hosts)
	hosts = append(hosts, "127.0.0.1", "localhost")
	_, blynkPort, _ := net.SplitHostPort(a.BlynkTLS)
	_, mqttPort, _ := net.SplitHostPort(a.MQTTTLS)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, _ := exec.LookPath("mosquitto_pub")
	if pub == "" {
		t.Log("mosquitto_pub not installed (Debian mosquitto-clients): the libmosquitto client is skipped")
	}
	for i, h := range hosts {
		dev, err := devicesim.Dial(ctx, net.JoinHostPort(h, blynkPort), devicesim.Options{Token: tokB, TLS: &tls.Config{RootCAs: pool}})
		if err != nil {
			t.Errorf("Blynk TLS device at %s: %v", h, err)
		} else {
			dev.Close()
		}
		if pub == "" {
			continue
		}
		v := 20 + i
		out, err := exec.CommandContext(ctx, pub, "-h", h, "-p", mqttPort, "--cafile", g.TLSCA(), "-q", "1",
			"-i", "tls-test", "-u", "device", "-P", tokA, "-t", "ds/Temperature", "-m", strconv.Itoa(v)).CombinedOutput()
		if err != nil {
			t.Errorf("mosquitto_pub over TLS to %s: %v %s", h, err, out)
			continue
		}
		poll.NoError(t, "the MQTT TLS write via "+h, func() error {
			if code, body := httpGet(t, "http://"+a.HTTP+"/external/api/get?token="+tokA+"&v0"); code != 200 || body != strconv.Itoa(v) {
				return fmt.Errorf("v0 = %d %q, want %d", code, body, v)
			}
			return nil
		})
	}
}

// TestConfiguredTLSCertLeftAlone: a configured pair is what devices get; it
// is neither rewritten nor joined by a generated CA; a missing configured
// file stops the start with an error instead of being generated.
func TestConfiguredTLSCertLeftAlone(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "site.crt"), filepath.Join(dir, "site.key")
	cfg := testConfig(filepath.Join(dir, "data"))
	cfg.Blynk.TLSCert, cfg.Blynk.TLSKey = certFile, keyFile
	if _, _, err := gateway.New(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "site.crt") {
		t.Fatalf("New with missing configured files: %v", err)
	}
	if _, err := os.Stat(certFile); err == nil {
		t.Fatal("the configured certificate was generated")
	}
	src := filepath.Join("internal", "certs", "testdata", "v1")
	var before [2][]byte
	var mtimes [2]time.Time
	for i, f := range [][2]string{{"gateway.crt", certFile}, {"gateway.key", keyFile}} {
		b, err := os.ReadFile(filepath.Join(src, f[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
		before[i] = b
		fi, _ := os.Stat(f[1])
		mtimes[i] = fi.ModTime()
	}
	g, stop := start(t, cfg)
	if g.TLSCA() != "" {
		t.Errorf("TLSCA %q with a configured certificate", g.TLSCA())
	}
	c, err := tls.Dial("tcp", g.Addrs().MQTTTLS, &tls.Config{RootCAs: pinned(t, certFile), ServerName: "gw.local"})
	if err != nil {
		t.Fatal(err)
	}
	served := c.ConnectionState().PeerCertificates[0]
	c.Close()
	want, _ := tls.LoadX509KeyPair(certFile, keyFile)
	if !bytes.Equal(served.Raw, want.Certificate[0]) {
		t.Error("the gateway served another certificate than the configured one")
	}
	stop()
	for i, f := range []string{certFile, keyFile} {
		b, _ := os.ReadFile(f)
		fi, _ := os.Stat(f)
		if !bytes.Equal(b, before[i]) || !fi.ModTime().Equal(mtimes[i]) {
			t.Errorf("%s was rewritten", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "tls")); err == nil {
		t.Error("a local CA was made next to a configured certificate")
	}
}
