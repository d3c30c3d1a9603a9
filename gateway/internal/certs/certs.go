// Package certs provides the gateway's TLS certificate: the configured
// pair when one is given (Load, never written), else a certificate the
// gateway makes itself (Local): a local CA, generated once and kept next to
// the configuration, signs a leaf valid for the names devices use — the
// host name, every address of the box and the configured extra names. The
// leaf is issued again whenever those names change or it nears its end;
// the CA stays, so a device that pinned the CA keeps working.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Validity of the CA; a leaf's is LeafValidity, within the CA's.
const Validity = 10 * 365 * 24 * time.Hour

// LeafValidity is 825 days, the longest Apple platforms accept for a TLS
// server certificate; the leaf is issued again RenewBefore its end.
const (
	LeafValidity = 825 * 24 * time.Hour
	RenewBefore  = 30 * 24 * time.Hour
)

// Files of a Local authority in its directory. CAFile is the one devices
// pin; CertFile and KeyFile are the leaf the gateway serves.
const (
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
	CertFile  = "gateway.crt"
	KeyFile   = "gateway.key"
)

// Load loads a configured pair. The files are the operator's: they are
// read, never created or replaced.
func Load(certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: load %s, %s: %w", certFile, keyFile, err)
	}
	return c, nil
}

// Options configure a Local authority.
type Options struct {
	Dir   string   // holds CAFile, CAKeyFile, CertFile, KeyFile; created if missing
	Hosts []string // extra DNS names or IP addresses (blynk.tls_hosts)
	// Names returns this box's names; nil → BoxNames. Called again at
	// most every RecheckEvery from GetCertificate.
	Names        func() ([]string, error)
	RecheckEvery time.Duration    // default 1 minute
	Now          func() time.Time // nil → time.Now
	Logger       *slog.Logger
}

// Local is the gateway's own certificate authority and the leaf it signs.
type Local struct {
	opts Options
	log  *slog.Logger

	caCert *x509.Certificate
	caKey  crypto.Signer

	mu      sync.Mutex
	leaf    *tls.Certificate
	names   []string // the leaf's names, canonical and sorted
	checked time.Time
}

// OpenLocal loads the CA from opts.Dir, or makes one, and makes sure the
// leaf there is signed by it and valid for the names devices use, issuing
// it again if not. A certificate from an older version (a self-signed CA
// certificate alone in CertFile) becomes the CA, so devices that pinned it
// keep working.
func OpenLocal(opts Options) (*Local, error) {
	if opts.Names == nil {
		opts.Names = BoxNames
	}
	if opts.RecheckEvery <= 0 {
		opts.RecheckEvery = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Local{opts: opts, log: log.With("component", "certs")}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if err := l.loadCA(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return nil, err
	}
	return l, nil
}

// CAPath is the file devices pin.
func (l *Local) CAPath() string { return l.path(CAFile) }

// Names returns the names the current leaf is valid for.
func (l *Local) Names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.names)
}

// GetCertificate serves the leaf (tls.Config.GetCertificate). At most every
// RecheckEvery it first looks at the box's names again and issues a new
// leaf when they changed (a new DHCP lease, an interface added); when that
// fails it logs and keeps serving the leaf it has.
func (l *Local) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Now().Sub(l.checked) >= l.opts.RecheckEvery {
		if err := l.refresh(); err != nil {
			l.log.Error("TLS certificate not renewed; serving the previous one", "err", err)
		}
	}
	return l.leaf, nil
}

func (l *Local) path(name string) string { return filepath.Join(l.opts.Dir, name) }

// Reissue signs a new leaf for the box's names now (the installer page's
// "issue again", e.g. after the network changed), whether or not the
// current one still fits. The CA stays: devices that pinned it keep working.
func (l *Local) Reissue() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refreshForce(true)
}

// Expires is when the current leaf ends (it is issued again before).
func (l *Local) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leaf == nil || l.leaf.Leaf == nil {
		return time.Time{}
	}
	return l.leaf.Leaf.NotAfter
}

// loadCA loads CAFile and CAKeyFile, adopts an older version's self-signed
// certificate as the CA, or makes a new CA.
func (l *Local) loadCA() error {
	caOK, err := exists(l.path(CAFile))
	if err != nil {
		return err
	}
	keyOK, err := exists(l.path(CAKeyFile))
	if err != nil {
		return err
	}
	switch {
	case caOK && keyOK:
		cert, key, err := loadPair(l.path(CAFile), l.path(CAKeyFile))
		if err != nil {
			return err
		}
		if !usableCA(cert) {
			return fmt.Errorf("certs: %s is not a CA certificate", l.path(CAFile))
		}
		l.caCert, l.caKey = cert, key
		return nil
	case caOK:
		return fmt.Errorf("certs: %s exists without %s: restore the key, or remove both to make a new CA (every device must then pin the new %s)",
			l.path(CAFile), l.path(CAKeyFile), CAFile)
	}
	// No CA yet, or only its key: writing it stopped before the certificate,
	// which no device can have pinned. Start over.
	if cert, key, ok := l.olderVersion(); ok {
		// Written CA first: a crash before the new leaf leaves the old
		// certificate in CertFile, which refresh replaces (it is a CA).
		if err := l.writePair(CAFile, CAKeyFile, cert.Raw, key); err != nil {
			return err
		}
		l.caCert, l.caKey = cert, key
		l.log.Info("TLS: the self-signed certificate of an older version is now the local CA; devices that pinned it keep working",
			"ca", l.path(CAFile))
		return nil
	}
	cert, key, err := newCA(l.opts.Now())
	if err != nil {
		return err
	}
	if err := l.writePair(CAFile, CAKeyFile, cert.Raw, key); err != nil {
		return err
	}
	l.caCert, l.caKey = cert, key
	l.log.Info("TLS: made a local CA; devices that check the certificate pin this file", "ca", l.path(CAFile))
	return nil
}

// olderVersion returns the pair of CertFile and KeyFile when it is what
// versions before the local CA wrote: one self-signed CA certificate. A
// pair that is something else is renamed to *.old (and logged), not lost.
func (l *Local) olderVersion() (*x509.Certificate, crypto.Signer, bool) {
	certOK, _ := exists(l.path(CertFile))
	keyOK, _ := exists(l.path(KeyFile))
	if !certOK && !keyOK {
		return nil, nil, false
	}
	cert, key, err := loadPair(l.path(CertFile), l.path(KeyFile))
	if err == nil && usableCA(cert) && cert.CheckSignatureFrom(cert) == nil {
		return cert, key, true
	}
	for _, f := range []string{CertFile, KeyFile} {
		if err := os.Rename(l.path(f), l.path(f)+".old"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.log.Warn("TLS: could not set aside an unusable file", "file", l.path(f), "err", err)
		}
	}
	l.log.Warn("TLS: the certificate found is not an older version's self-signed one; kept as *.old, a new CA is made",
		"file", l.path(CertFile), "err", err)
	return nil, nil, false
}

// refresh issues a new leaf unless the one on disk (or in memory) is signed
// by the CA, valid for a while yet and for exactly the wanted names. l.mu
// is held.
func (l *Local) refresh() error { return l.refreshForce(false) }

// refreshForce is refresh; with force, a new leaf is issued even if the
// current one fits.
func (l *Local) refreshForce(force bool) error {
	now := l.opts.Now()
	l.checked = now
	if l.leaf == nil {
		if c, err := tls.LoadX509KeyPair(l.path(CertFile), l.path(KeyFile)); err == nil && l.fromCA(c) {
			l.leaf = &c
		}
	}
	want := canonical(append(append([]string{}, l.opts.Hosts...), "localhost", "127.0.0.1", "::1"))
	box, err := l.opts.Names()
	switch {
	case err != nil && l.leaf != nil:
		// A partial list must not drop names from a working leaf: keep
		// its names (it is still issued again near its end).
		l.log.Warn("TLS: could not list this box's names; the certificate keeps its names", "err", err)
		want = leafNames(l.leaf.Leaf)
	case err != nil:
		l.log.Warn("TLS: could not list this box's names; the certificate gets those found", "err", err)
		fallthrough
	default:
		want = canonical(append(want, box...))
	}
	if l.leaf != nil && !force {
		if leaf, err := x509.ParseCertificate(l.leaf.Certificate[0]); err == nil && l.fits(leaf, want, now) {
			l.names = want
			return nil
		}
	}
	certDER, key, err := l.issue(want, now)
	if err != nil {
		return err
	}
	// Key first: a crash between the two leaves a mismatched pair, which
	// the next start does not load and issues again.
	if err := l.writePair(CertFile, KeyFile, certDER, key); err != nil {
		return err
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	c, err := tls.X509KeyPair(pemBlock("CERTIFICATE", certDER), pemBlock("PRIVATE KEY", keyDER))
	if err != nil {
		return fmt.Errorf("certs: issued pair: %w", err)
	}
	old := l.names
	l.leaf, l.names = &c, want
	l.log.Info("TLS: issued the certificate for the names devices use", "names", strings.Join(want, ","),
		"was", strings.Join(old, ","), "ca", l.path(CAFile))
	return nil
}

// fromCA reports whether c is a leaf signed by the CA (not, say, an older
// version's self-signed certificate left in CertFile).
func (l *Local) fromCA(c tls.Certificate) bool {
	return c.Leaf != nil && !c.Leaf.IsCA && c.Leaf.CheckSignatureFrom(l.caCert) == nil
}

// fits reports whether leaf can go on serving.
func (l *Local) fits(leaf *x509.Certificate, want []string, now time.Time) bool {
	if leaf.IsCA || leaf.CheckSignatureFrom(l.caCert) != nil {
		return false
	}
	// Near its end it is issued again — unless it ends with the CA, as a
	// new one would.
	ending := now.Add(RenewBefore).After(leaf.NotAfter) && leaf.NotAfter.Before(l.caCert.NotAfter)
	if now.Before(leaf.NotBefore) || ending {
		return false
	}
	return slices.Equal(leafNames(leaf), want)
}

// leafNames returns a certificate's names, canonical.
func leafNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return canonical(names)
}

// issue makes a leaf for names, signed by the CA.
func (l *Local) issue(names []string, now time.Time) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	cn := "outpost-gateway"
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Not the CA's subject, so that no client takes the leaf for it.
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		tmpl.DNSNames = append(tmpl.DNSNames, n)
		if cn == "outpost-gateway" && n != "localhost" {
			cn = n
		}
	}
	if tmpl.NotAfter.After(l.caCert.NotAfter) {
		tmpl.NotAfter = l.caCert.NotAfter
	}
	tmpl.Subject = pkix.Name{Organization: []string{"Outpost gateway"}, OrganizationalUnit: []string{"TLS server"}, CommonName: cn}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, l.caCert, &key.PublicKey, l.caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: issue: %w", err)
	}
	return der, key, nil
}

// newCA makes a CA certificate and key. Its name carries a random part:
// devices that pin the CAs of several gateways tell them apart.
func newCA(now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{Organization: []string{"Outpost gateway"},
			CommonName: "Outpost gateway CA " + hex.EncodeToString(serial.Bytes()[12:])},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // signs leaves only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: create CA: %w", err)
	}
	return cert, key, nil
}

// newSerial returns a random 128-bit serial number (top bit set: always 16
// bytes).
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certs: serial: %w", err)
	}
	return n.SetBit(n, 127, 1), nil
}

func usableCA(c *x509.Certificate) bool {
	return c.IsCA && c.BasicConstraintsValid && c.KeyUsage&x509.KeyUsageCertSign != 0
}

// loadPair loads a certificate and its private key.
func loadPair(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: load %s, %s: %w", certFile, keyFile, err)
	}
	key, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("certs: %s: the key cannot sign", keyFile)
	}
	return c.Leaf, key, nil
}

// writePair writes a key (0600, first) and its certificate (0644).
func (l *Local) writePair(certName, keyName string, certDER []byte, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certs: marshal key: %w", err)
	}
	if err := writeFile(l.path(keyName), pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	return writeFile(l.path(certName), pemBlock("CERTIFICATE", certDER), 0o644)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// canonical lower-cases names, writes IP addresses in their short form,
// drops empties and duplicates and sorts.
func canonical(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if ip := net.ParseIP(n); ip != nil {
			n = ip.String()
		}
		if n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BoxNames returns the names devices may use for this box: its host name
// (and name.local, as mDNS announces it) and InterfaceAddrs.
func BoxNames() ([]string, error) {
	var names []string
	host, herr := os.Hostname()
	if host = strings.ToLower(host); herr == nil && host != "" && host != "localhost" {
		names = append(names, host)
		if !strings.Contains(host, ".") {
			names = append(names, host+".local")
		}
	}
	ips, err := InterfaceAddrs()
	for _, ip := range ips {
		names = append(names, ip.String())
	}
	return names, errors.Join(herr, err)
}

// InterfaceAddrs returns the unicast addresses of the box's interfaces that
// are up, IPv4 first, except loopback and IPv6 link-local ones (which need
// a zone no device library lets one give).
func InterfaceAddrs() ([]net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("certs: interfaces: %w", err)
	}
	var v4, v6 []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // an interface gone meanwhile
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() || ipn.IP.IsMulticast() || ipn.IP.IsUnspecified() {
				continue
			}
			switch {
			case ipn.IP.To4() != nil:
				v4 = append(v4, ipn.IP.To4())
			case !ipn.IP.IsLinkLocalUnicast():
				v6 = append(v6, ipn.IP)
			}
		}
	}
	return append(v4, v6...), nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("certs: %w", err)
}

// writeFile writes through a temporary file and a rename, so a crash never
// leaves a truncated key behind.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("certs: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("certs: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}
