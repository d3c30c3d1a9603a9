package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// box is a fake set of this box's names and a clock, both changeable.
type box struct {
	mu    sync.Mutex
	names []string
	fail  bool // Names returns what it has and an error
	now   time.Time
}

func (b *box) failing(on bool) { b.mu.Lock(); b.fail = on; b.mu.Unlock() }

func (b *box) set(names ...string) { b.mu.Lock(); b.names = names; b.mu.Unlock() }
func (b *box) advance(d time.Duration) {
	b.mu.Lock()
	b.now = b.now.Add(d)
	b.mu.Unlock()
}

func (b *box) opts(dir string, hosts ...string) Options {
	return Options{Dir: dir, Hosts: hosts,
		Names: func() ([]string, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.fail {
				return slices.Clone(b.names[:1]), errors.New("netlink: no buffer space")
			}
			return slices.Clone(b.names), nil
		},
		Now: func() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.now }}
}

func newBox(names ...string) *box { return &box{names: names, now: time.Now()} }

func caPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(mustRead(t, path)) {
		t.Fatalf("%s holds no certificate", path)
	}
	return pool
}

// serve answers TLS on 127.0.0.1 with l's certificate; every handshake
// goes through GetCertificate.
func serve(t *testing.T, l *Local) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: l.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// handshake dials addr as a device that pins the CA and checks name (at
// the time now, when given: the device's clock).
func handshake(addr, name string, pool *x509.CertPool, now ...func() time.Time) (*x509.Certificate, error) {
	cfg := &tls.Config{RootCAs: pool, ServerName: name}
	if len(now) > 0 {
		cfg.Time = now[0]
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// TestLeafVerifiesForEveryName: a device that pins the CA file and checks
// the name it dialed completes a real handshake for the host name, every
// address of the box, the configured names and loopback; a name the box
// does not have fails.
func TestLeafVerifiesForEveryName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	b := newBox("gw-box", "gw-box.local", "192.0.2.10", "2001:db8::10")
	l, err := OpenLocal(b.opts(dir, "Gateway.Example.com", "10.9.8.7"))
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]os.FileMode{CAKeyFile: 0o600, KeyFile: 0o600, CAFile: 0o644, CertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", f, fi.Mode().Perm(), want)
		}
	}
	if l.CAPath() != filepath.Join(dir, CAFile) {
		t.Errorf("CAPath %s", l.CAPath())
	}
	addr, pool := serve(t, l), caPool(t, l.CAPath())
	tests := []struct {
		name string
		ok   bool
	}{
		{"gw-box", true}, {"gw-box.local", true}, {"192.0.2.10", true}, {"2001:db8::10", true},
		{"gateway.example.com", true}, {"10.9.8.7", true},
		{"localhost", true}, {"127.0.0.1", true}, {"::1", true},
		{"other.example.com", false}, {"192.0.2.11", false},
	}
	for _, tt := range tests {
		leaf, err := handshake(addr, tt.name, pool)
		if (err == nil) != tt.ok {
			t.Errorf("handshake as %s: %v, want ok=%v", tt.name, err, tt.ok)
		}
		if leaf != nil && leaf.IsCA {
			t.Errorf("served the CA itself")
		}
	}
}

// TestLeafFollowsNames: the leaf is issued again — at start and while
// serving, at most every RecheckEvery — when the names change or its end
// nears, always by the same CA; otherwise it is kept.
func TestLeafFollowsNames(t *testing.T) {
	dir := t.TempDir()
	b := newBox("gw-box", "192.0.2.10")
	o := b.opts(dir, "gw.example.com")
	o.RecheckEvery = time.Minute
	l, err := OpenLocal(o)
	if err != nil {
		t.Fatal(err)
	}
	ca := mustRead(t, filepath.Join(dir, CAFile))
	pool := caPool(t, filepath.Join(dir, CAFile))
	addr := serve(t, l)
	leafOf := func() *x509.Certificate {
		t.Helper()
		c, err := handshake(addr, "localhost", pool, o.Now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	prev := leafOf()
	tests := []struct {
		step    string
		do      func() *Local // the Local serving afterwards
		name    string        // a name the leaf must now hold
		gone    string        // and one it must no longer hold
		reissue bool
	}{
		{"restart, same names", func() *Local { return mustOpen(t, o) }, "192.0.2.10", "", false},
		{"new DHCP address, checked too soon", func() *Local { b.set("gw-box", "192.0.2.77"); b.advance(30 * time.Second); return l }, "192.0.2.10", "", false},
		{"new DHCP address, checked", func() *Local { b.advance(31 * time.Second); return l }, "192.0.2.77", "192.0.2.10", true},
		{"an interface added, found at restart", func() *Local { b.set("gw-box", "192.0.2.77", "198.51.100.4"); return mustOpen(t, o) }, "198.51.100.4", "", true},
		{"names cannot be listed", func() *Local { b.failing(true); b.advance(time.Minute); return l }, "198.51.100.4", "", false},
		{"nor at restart", func() *Local { return mustOpen(t, o) }, "192.0.2.77", "", false},
		{"listed again", func() *Local { b.failing(false); b.advance(time.Minute); return l }, "198.51.100.4", "", false},
		{"a year on", func() *Local { b.advance(365 * 24 * time.Hour); return l }, "198.51.100.4", "", false},
		{"near its end", func() *Local { b.advance(LeafValidity - 365*24*time.Hour - RenewBefore + time.Hour); return l }, "198.51.100.4", "", true},
	}
	for _, tt := range tests {
		cur := tt.do()
		if cur != l {
			l = cur
			addr = serve(t, l)
		}
		leaf := leafOf()
		if reissued := !leaf.Equal(prev); reissued != tt.reissue {
			t.Errorf("%s: reissued %v, want %v", tt.step, reissued, tt.reissue)
		}
		if _, err := handshake(addr, tt.name, pool, o.Now); err != nil {
			t.Errorf("%s: %s: %v", tt.step, tt.name, err)
		}
		if tt.gone != "" {
			if _, err := handshake(addr, tt.gone, pool, o.Now); err == nil {
				t.Errorf("%s: the leaf still names %s", tt.step, tt.gone)
			}
		}
		if !bytes.Equal(mustRead(t, filepath.Join(dir, CAFile)), ca) {
			t.Fatalf("%s: the CA changed", tt.step)
		}
		if !slices.Contains(l.Names(), "gw.example.com") {
			t.Errorf("%s: configured name lost: %v", tt.step, l.Names())
		}
		prev = leaf
	}
}

func mustOpen(t *testing.T, o Options) *Local {
	t.Helper()
	l, err := OpenLocal(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestOlderVersionBecomesTheCA: testdata/v1 is what the version before the
// local CA wrote (a self-signed CA certificate for gw.local and loopback).
// It becomes the CA: a device that pinned it verifies the new leaf, which
// names the box's addresses.
func TestOlderVersionBecomesTheCA(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{CertFile, KeyFile} {
		if err := os.WriteFile(filepath.Join(dir, f), mustRead(t, filepath.Join("testdata", "v1", f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := OpenLocal(newBox("gw-box", "192.0.2.10").opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	old := mustRead(t, filepath.Join("testdata", "v1", CertFile))
	if !bytes.Equal(mustRead(t, l.CAPath()), old) {
		t.Fatal("the older certificate is not the CA file")
	}
	pinned := caPool(t, filepath.Join("testdata", "v1", CertFile))
	addr := serve(t, l)
	for _, name := range []string{"192.0.2.10", "gw-box", "127.0.0.1"} {
		if _, err := handshake(addr, name, pinned); err != nil {
			t.Errorf("a device that pinned the old certificate, as %s: %v", name, err)
		}
	}
	// The next start keeps that CA and that leaf.
	leaf := mustRead(t, filepath.Join(dir, CertFile))
	if _, err := OpenLocal(newBox("gw-box", "192.0.2.10").opts(dir)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, l.CAPath()), old) || !bytes.Equal(mustRead(t, filepath.Join(dir, CertFile)), leaf) {
		t.Error("second start changed the CA or the leaf")
	}
}

// TestLeftoverFiles: what a crash or an operator may leave behind.
func TestLeftoverFiles(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // file → content ("" = a fresh CA file of another dir)
		wantErr string
		check   func(t *testing.T, dir string)
	}{
		{"CA certificate without its key", map[string]string{CAFile: "ca"}, "exists without", nil},
		{"CA key without its certificate (a crash while making it)", map[string]string{CAKeyFile: "half-written"}, "", nil},
		{"someone else's files in place of the leaf", map[string]string{CertFile: "not a cert", KeyFile: "not a key"}, "", func(t *testing.T, dir string) {
			if string(mustRead(t, filepath.Join(dir, CertFile+".old"))) != "not a cert" {
				t.Error("the unusable certificate was not kept as .old")
			}
		}},
		{"a leaf whose key does not match (a crash between the two)", map[string]string{KeyFile: "stale"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.name == "a leaf whose key does not match (a crash between the two)" {
				mustOpen(t, newBox().opts(dir))
			}
			for f, c := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			l, err := OpenLocal(newBox("gw-box").opts(dir))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if string(mustRead(t, filepath.Join(dir, CAFile))) != "ca" {
					t.Error("the CA file was touched")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := handshake(serve(t, l), "gw-box", caPool(t, l.CAPath())); err != nil {
				t.Error(err)
			}
			if tt.check != nil {
				tt.check(t, dir)
			}
		})
	}
}

// TestLoadLeavesConfiguredFilesAlone: a configured pair is read, and a
// missing one is an error, not a reason to write one.
func TestLoadLeavesConfiguredFilesAlone(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "my.crt"), filepath.Join(dir, "my.key")
	if _, err := Load(certFile, keyFile); err == nil {
		t.Fatal("missing configured files loaded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("Load wrote %v", ents)
	}
	src := filepath.Join("testdata", "v1")
	for f, to := range map[string]string{CertFile: certFile, KeyFile: keyFile} {
		if err := os.WriteFile(to, mustRead(t, filepath.Join(src, f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mustRead(t, certFile), []byte("BEGIN CERTIFICATE")) || c.Leaf == nil || c.Leaf.Subject.CommonName != "gw.local" {
		t.Errorf("loaded %+v", c.Leaf)
	}
}

// TestBoxNames: the real box's names hold no loopback or link-local
// address, and every address is one of its interfaces'.
func TestBoxNames(t *testing.T) {
	names, err := BoxNames()
	if err != nil {
		t.Logf("BoxNames: %v", err)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, n := range names {
		ip := net.ParseIP(n)
		if ip == nil {
			continue
		}
		if ip.IsLoopback() || (ip.To4() == nil && ip.IsLinkLocalUnicast()) {
			t.Errorf("BoxNames has %s", n)
		}
		if !slices.ContainsFunc(addrs, func(a net.Addr) bool { ipn, ok := a.(*net.IPNet); return ok && ipn.IP.Equal(ip) }) {
			t.Errorf("%s is not an address of this box", n)
		}
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

// TestReissue: "issue again" signs a new leaf for the same names by the
// same CA (pinned devices keep working), served at once.
func TestReissue(t *testing.T) {
	dir := t.TempDir()
	b := newBox("gw-box", "192.0.2.10")
	o := b.opts(dir, "gw.example.com")
	l, err := OpenLocal(o)
	if err != nil {
		t.Fatal(err)
	}
	ca := mustRead(t, filepath.Join(dir, CAFile))
	pool := caPool(t, filepath.Join(dir, CAFile))
	addr := serve(t, l)
	before, err := handshake(addr, "gw.example.com", pool, o.Now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Expires().IsZero() {
		t.Error("no expiry")
	}
	if err := l.Reissue(); err != nil {
		t.Fatal(err)
	}
	after, err := handshake(addr, "gw.example.com", pool, o.Now)
	if err != nil {
		t.Fatalf("the new leaf does not verify against the pinned CA: %v", err)
	}
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Error("Reissue served the same leaf")
	}
	if !bytes.Equal(ca, mustRead(t, filepath.Join(dir, CAFile))) {
		t.Error("Reissue changed the CA")
	}
}
