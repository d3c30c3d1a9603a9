package systemtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"outpost/internal/poll"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outpost/shared/devicesim"
)

// TestSiteOverHTTPS (issue 11, item 5): outpost-cloud serves HTTPS itself
// from tls_cert/tls_key, with HSTS; a gateway that trusts the certificate
// (cloud.tls_ca_file) registers, is claimed, and a device's writes reach
// the cloud over the wss:// sync link.
func TestSiteOverHTTPS(t *testing.T) {
	cloudBin, gwBin := products(t)
	root := t.TempDir()
	cdir := filepath.Join(root, "cloud")
	if err := os.Mkdir(cdir, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := selfSigned(t, cdir)
	cfg := writeFile(t, filepath.Join(cdir, "cloud.yaml"), fmt.Sprintf(`version: 1
data_dir: %s
listen: 127.0.0.1:0
tls_cert: %s
tls_key: %s
log: {level: warn}
admin: {email: %s, password: %s}
auth: {bcrypt_cost: 4}
`, cdir, certFile, keyFile, adminEmail, adminPassword))
	p, l := run(t, cloudBin, "Platform API on ", "-config", cfg)
	u, _, _ := strings.Cut(strings.TrimPrefix(l, "Platform API on "), "/api/v1")
	if !strings.HasPrefix(u, "https://127.0.0.1:") {
		t.Fatalf("the cloud says %q, want an https URL", l)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := &cloudProc{product: p, url: u, client: client}

	resp, err := client.Get(u + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("GET openapi.json over TLS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}

	f := newFixture(t, c, 1)
	dir := filepath.Join(root, "site")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &site{dir: dir, cfg: writeFile(t, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf(`version: 1
data_dir: %s
log: {level: warn}
blynk: {listen: "127.0.0.1:0", tls_listen: ""}
mqtt: {listen: "", tls_listen: "", ws_listen: ""}
http: {listen: ""}
installer: {listen: "127.0.0.1:0"}
cloud: {url: %q, name: tls-site, tls_ca_file: %s}
`, dir, u, certFile))}
	s.gw = startGateway(t, gwBin, s.cfg)
	s.id = f.claimInto(t, s.gw, 0)

	d := f.devices[0][0]
	dev := waitLogin(t, s, d.Token, devicesim.Options{})
	if _, err := dev.VirtualWrite(1, 7); err != nil {
		t.Fatal(err)
	}
	poll.Within(t, "the write in the cloud over wss", 30*time.Second, func() bool {
		h := f.api.history(f.users[0], d.ID, 1)
		return len(h) == 1 && h[0] == "7"
	})
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "outpost cloud"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}
