package gpiobridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"outpost/firmware-bridge/bridge"
	"outpost/internal/poll"
	"outpost/shared/devicesim/fakeserver"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestRemoteGateway runs the bridge as outpost-bridge does: over a real
// socket to a gateway listener, plain and TLS.
func TestRemoteGateway(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
	}{
		{"tcp", nil, nil},
		{"tls", &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw := fakeserver.New(tok)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if tc.server != nil {
				ln = tls.NewListener(ln, tc.server)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go gw.ServeConn(ctx, c, tc.name)
				}
			}()
			defer ln.Close()
			in := inputPin("GPIO17")
			relay := &gpiotest.Pin{N: "GPIO27"}
			b, err := New(Options{
				Config:    Config{Token: tok, Pins: []PinConfig{{Pin: "GPIO17", VPin: 1, Pull: "down", Debounce: dur(0)}, {Pin: "GPIO27", VPin: 2, Mode: ModeOutput}}},
				Pins:      map[string]gpio.PinIO{"GPIO17": in, "GPIO27": relay},
				Connector: bridge.Dialer{Addr: ln.Addr().String(), TLS: tc.client},
			})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error)
			go func() { done <- b.Run(ctx) }()
			poll.Until(t, "online", func() bool { return gw.Connected(tok) })
			in.EdgesChan <- gpio.High
			// The level reaches the gateway either as the edge's write or, if the
			// edge came before the login finished, as the level sent at login.
			poll.Until(t, "V1 = 1", func() bool { w := gw.Writes(); return len(w) > 0 && w[len(w)-1].Value == "1" })
			gw.VirtualWrite(tok, 2, "1")
			poll.Until(t, "relay on", func() bool { return relay.Read() == gpio.High })
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v", err)
			}
		})
	}
}
