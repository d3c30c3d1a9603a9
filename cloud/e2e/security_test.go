package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/cloud"
)

// Issue 11, item 1: a link in a mail never comes from the request. A reset
// or an invitation asked for with Host: evil.example links to the cloud's
// own address (mailbox, no public_url) or to public_url; with SMTP and no
// public_url the cloud refuses to start.
func TestMailLinksNeverFromRequestHeaders(t *testing.T) {
	link := regexp.MustCompile(`Open (\S+)/(reset-password|accept-invitation)\?token=`)
	for _, tc := range []struct {
		name, publicURL, want string
	}{
		{name: "mailbox without public_url", publicURL: ""},
		{name: "public_url", publicURL: "https://cloud.example.com", want: "https://cloud.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, func(c *cloud.Config) { c.PublicURL = tc.publicURL })
			want := tc.want
			if want == "" {
				want = e.base
			}
			evil := func(method, path, token string, body any) resp {
				r, err := http.NewRequest(method, e.base+path, strings.NewReader(mustJSON(t, body)))
				if err != nil {
					t.Fatal(err)
				}
				r.Host = "evil.example"
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("X-Forwarded-Host", "evil.example")
				if token != "" {
					r.Header.Set("Authorization", "Bearer "+token)
				}
				res, err := e.hc.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return resp{status: res.StatusCode}
			}
			if r := evil("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "a@warmplus.test"}); r.status != 204 {
				t.Fatalf("reset request: %d", r.status)
			}
			admin := e.login("a@warmplus.test", adminPassword)
			if r := evil("POST", o+"/users/invite", admin, map[string]any{"email": "new@warmplus.test", "name": "N", "roleId": 3}); r.status != 201 {
				t.Fatalf("invite: %d", r.status)
			}
			for _, to := range []string{"a@warmplus.test", "new@warmplus.test"} {
				ms := e.mails(to)
				if len(ms) != 1 {
					t.Fatalf("%d mails to %s", len(ms), to)
				}
				m := link.FindStringSubmatch(ms[0])
				if m == nil || m[1] != want || strings.Contains(ms[0], "evil.example") {
					t.Errorf("mail to %s links to %q, want %q:\n%s", to, m, want, ms[0])
				}
			}
		})
	}
	cfg := cloud.Defaults()
	cfg.DataDir, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	cfg.Mail.SMTP.Addr = "smtp.example.com:587"
	if _, err := cloud.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "public_url") {
		t.Errorf("SMTP without public_url: New = %v, want a refusal naming public_url", err)
	}
}

// Item 2: changing or resetting a password ends every other session and the
// tokens of the OAuth clients the user created; the session that changed
// it stays, and the client's secret still gets new tokens.
func TestPasswordChangeEndsOtherSessionsAndTokens(t *testing.T) {
	e := start(t, nil)
	const me = "/api/v1/auth/me"
	changer := e.login("a@warmplus.test", adminPassword)
	other := e.login("a@warmplus.test", adminPassword)
	access, refresh, id, sec := e.clientToken(changer, 0)
	e.must(200, "GET", o+"/profile", access, nil)

	e.must(204, "POST", "/api/v1/auth/password", changer, map[string]string{"oldPassword": adminPassword, "newPassword": "second-password"})
	e.must(200, "GET", me, changer, nil)
	e.must(401, "GET", me, other, nil)
	e.must(401, "GET", o+"/profile", access, nil)
	if r := e.req("POST", "/oauth2/token?grant_type=refresh_token&refresh_token="+refresh, "", nil); r.status != 400 ||
		!strings.Contains(string(r.body), "invalid_grant") {
		t.Errorf("refresh after the password change: %s", r)
	}
	if r := e.basic("/oauth2/token?grant_type=client_credentials", id, sec); r.status != 200 {
		t.Errorf("client credentials after the password change: %s", r)
	}

	// A reset (the user forgot it, or someone else knows it) ends them all.
	access, _, _, _ = e.clientToken(changer, 0)
	e.must(204, "POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "a@warmplus.test"})
	mail := e.mails("a@warmplus.test")
	tok := regexp.MustCompile(`"token":"(rst_[^"]+)"`).FindStringSubmatch(strings.Join(mail, ""))
	if tok == nil {
		t.Fatalf("no reset token in %q", mail)
	}
	e.must(204, "POST", "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": tok[1], "password": "third-password"})
	e.must(401, "GET", me, changer, nil)
	e.must(401, "GET", o+"/profile", access, nil)
	e.login("a@warmplus.test", "third-password")
}

// Item 3: failed logins are throttled per account and per client address
// (429 with Retry-After, even for the right password), logged without the
// email, and X-Forwarded-For counts only from a trusted proxy.
func TestFailedLoginsAreThrottled(t *testing.T) {
	var logs syncBuffer
	limits := func(c *cloud.Config) {
		c.Auth.LoginAccountFailures, c.Auth.LoginAddressFailures = 3, 6
		c.Auth.LoginDelay, c.Auth.LoginMaxDelay = 2*time.Second, time.Minute
	}
	e := startLogged(t, limits, slogTo(&logs))
	login := func(email, pw, xff string) resp {
		t.Helper()
		r, err := http.NewRequest("POST", e.base+"/api/v1/auth/login", strings.NewReader(mustJSON(t, map[string]string{"email": email, "password": pw})))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		res, err := e.hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return resp{status: res.StatusCode, header: res.Header}
	}
	const admin = "a@warmplus.test"
	for i := range 3 { // the free failures
		if r := login(admin, "wrong", ""); r.status != 401 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	r := login(admin, adminPassword, "")
	if r.status != 429 || r.header.Get("Retry-After") != "2" {
		t.Fatalf("after 3 failures the right password got %d Retry-After %q, want 429 and 2", r.status, r.header.Get("Retry-After"))
	}
	e.clock.Advance(2 * time.Second)
	if r := login(admin, adminPassword, ""); r.status != 200 {
		t.Fatalf("after the delay: %d", r.status)
	}
	// The address has 3 failures: three more on other accounts use up its 6
	// free ones, then it waits whatever the account. (Throttled attempts
	// are not failures: they cannot extend a victim's lockout.)
	for _, who := range []string{"x", "y", "z"} {
		if r := login(who+"@warmplus.test", "wrong", ""); r.status != 401 {
			t.Fatalf("failure of %s: %d", who, r.status)
		}
	}
	if r := login("w@warmplus.test", "wrong", ""); r.status != 429 {
		t.Errorf("after 6 failures from one address: %d, want 429", r.status)
	}
	// From an untrusted peer X-Forwarded-For changes nothing.
	if r := login("z@warmplus.test", "wrong", "198.51.100.7"); r.status != 429 {
		t.Errorf("a forged X-Forwarded-For escaped the address limit: %d", r.status)
	}

	var logged string
	for _, l := range strings.SplitAfter(logs.String(), "\n") {
		if strings.Contains(l, "login failed") {
			logged += l
		}
	}
	for _, want := range []string{`msg="login failed"`, `reason="wrong password"`, `reason="unknown email"`, `reason=throttled`,
		"addr=127.0.0.1", "user=1", "emailHash="} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log lacks %s:\n%s", want, logged)
		}
	}
	if strings.Contains(logged, "x@warmplus.test") || strings.Contains(logged, admin) {
		t.Errorf("the log holds an email:\n%s", logged)
	}

	// Behind a trusted proxy each client address counts on its own.
	e = start(t, func(c *cloud.Config) { limits(c); c.TrustedProxies = []string{"127.0.0.1"} })
	for i := range 6 {
		if r := login(fmt.Sprintf("nobody%d@warmplus.test", i), "wrong", "198.51.100.1"); r.status != 401 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	if r := login("other@warmplus.test", "wrong", "198.51.100.1"); r.status != 429 {
		t.Errorf("client 198.51.100.1 past its free failures: %d, want 429", r.status)
	}
	if r := login(admin, adminPassword, "203.0.113.9"); r.status != 200 {
		t.Errorf("another client behind the same proxy: %d, want 200", r.status)
	}
}

// Item 4: a claim code expires (gateways.claim_code_ttl); the unclaimed
// gateway gets a new one with its credential and the old one is dead.
func TestClaimCodesExpire(t *testing.T) {
	e := start(t, func(c *cloud.Config) { c.Gateways.ClaimCodeTTL = time.Hour })
	var g struct {
		ClaimCode          string
		ClaimCodeExpiresAt int64
		Credential         string
	}
	e.must(201, "POST", "/api/v1/gateway/register", "", map[string]string{"name": "site", "software": "t"}).decode(t, &g)
	if want := e.clock.Now().Add(time.Hour).UnixMilli(); g.ClaimCodeExpiresAt != want {
		t.Errorf("claimCodeExpiresAt %d, want %d", g.ClaimCodeExpiresAt, want)
	}
	admin := e.login("a@warmplus.test", adminPassword)
	e.clock.Advance(time.Hour)
	r := e.must(400, "POST", o+"/gateway/claim", admin, map[string]any{"claimCode": g.ClaimCode})
	if msg := r.errMsg(t); !strings.Contains(msg, "expired") {
		t.Errorf("expired code: %q", msg)
	}
	var renewed struct {
		ClaimCode          string
		ClaimCodeExpiresAt int64
	}
	e.must(200, "POST", "/api/v1/gateway/claim-code", g.Credential, nil).decode(t, &renewed)
	if renewed.ClaimCode == "" || renewed.ClaimCode == g.ClaimCode || renewed.ClaimCodeExpiresAt != e.clock.Now().Add(time.Hour).UnixMilli() {
		t.Fatalf("renewed %+v", renewed)
	}
	e.must(404, "POST", o+"/gateway/claim", admin, map[string]any{"claimCode": g.ClaimCode})
	e.must(200, "POST", o+"/gateway/claim", admin, map[string]any{"claimCode": renewed.ClaimCode})
	e.must(409, "POST", "/api/v1/gateway/claim-code", g.Credential, nil)
	e.must(401, "POST", "/api/v1/gateway/claim-code", "gwc_unknown", nil)
}

// Item 5: with tls_cert/tls_key the cloud serves HTTPS and sends HSTS;
// plain HTTP sends none unless public_url is https (a TLS proxy in front).
func TestHTTPSAndHSTS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	e := start(t, func(c *cloud.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	if !strings.HasPrefix(e.base, "https://") {
		t.Fatalf("URL %s, want https", e.base)
	}
	r := e.must(200, "GET", "/api/v1/openapi.json", "", nil)
	if got := r.header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("HSTS over TLS: %q", got)
	}
	e.login("a@warmplus.test", adminPassword)
	if res, err := http.Get("http://" + e.srv.Addr() + "/api/v1/openapi.json"); err == nil {
		res.Body.Close()
		if res.StatusCode < 400 {
			t.Errorf("plain HTTP to the TLS port: %d", res.StatusCode)
		}
	}

	plain := start(t, nil)
	if got := plain.must(200, "GET", "/api/v1/openapi.json", "", nil).header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over plain HTTP: %q", got)
	}
	proxied := start(t, func(c *cloud.Config) { c.PublicURL = "https://cloud.example.com" })
	if got := proxied.must(200, "GET", "/api/v1/openapi.json", "", nil).header.Get("Strict-Transport-Security"); got == "" {
		t.Error("no HSTS with an https public_url (behind a TLS proxy)")
	}
	if _, err := cloud.ParseConfig(strings.NewReader("tls_cert: a.pem\n")); err == nil {
		t.Error("tls_cert without tls_key accepted")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "outpost test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// tlsTransport trusts the certificate in certFile only.
func tlsTransport(t testing.TB, certFile string) http.RoundTripper {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatal("no certificate in " + certFile)
	}
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncBuffer collects a log written by the server while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Item 3, password reset: each reset request counts as a failed attempt
// of the account and the address, so nobody can fill a mailbox with reset
// links; a wrong reset token counts against the address.
func TestPasswordResetRequestsAreThrottled(t *testing.T) {
	e := start(t, func(c *cloud.Config) {
		c.Auth.LoginAccountFailures, c.Auth.LoginAddressFailures = 2, 5
		c.Auth.LoginDelay = time.Minute
		c.Auth.LoginMaxDelay = 10 * time.Minute
	})
	reset := func(email string) resp {
		return e.req("POST", "/api/v1/auth/password-reset", "", map[string]string{"email": email})
	}
	for i := range 2 {
		if r := reset("a@warmplus.test"); r.status != 204 {
			t.Fatalf("request %d: %s", i+1, r)
		}
	}
	r := reset("a@warmplus.test")
	if r.status != 429 || r.header.Get("Retry-After") != "60" {
		t.Fatalf("3rd reset request: %s Retry-After %q, want 429 and 60", r, r.header.Get("Retry-After"))
	}
	if n := len(e.mails("a@warmplus.test")); n != 2 {
		t.Errorf("%d reset mails, want 2", n)
	}
	// The address has 2 failures; three wrong tokens use up its 5 free ones.
	for range 3 {
		e.must(400, "POST", "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": "rst_guess", "password": "whatever-123"})
	}
	e.must(429, "POST", "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": "rst_guess", "password": "whatever-123"})
	e.clock.Advance(time.Hour) // forgotten
	e.must(204, "POST", "/api/v1/auth/password-reset", "", map[string]string{"email": "a@warmplus.test"})
}
