package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "sub", "gw.crt"), filepath.Join(dir, "sub", "gw.key")
	c1, err := LoadOrCreate(certFile, keyFile, []string{"gw.local", "192.168.1.10"})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"gw.local", "192.168.1.10", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("cert not valid for %s: %v", h, err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "gw.local"}); err != nil {
		t.Errorf("self-signed cert does not verify against itself: %v", err)
	}
	// The second call loads the same pair instead of generating one.
	c2, err := LoadOrCreate(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(c2.Certificate[0]) != string(c1.Certificate[0]) {
		t.Error("second LoadOrCreate generated a new certificate")
	}
	if _, err := tls.X509KeyPair(mustRead(t, certFile), mustRead(t, keyFile)); err != nil {
		t.Errorf("written files are not a pair: %v", err)
	}
}

func TestOneFileMissingIsAnError(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "gw.crt"), filepath.Join(dir, "gw.key")
	if err := os.WriteFile(certFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(certFile, keyFile, nil); err == nil {
		t.Fatal("want an error when only the certificate exists")
	}
	if b := mustRead(t, certFile); string(b) != "x" {
		t.Error("existing certificate was overwritten")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
