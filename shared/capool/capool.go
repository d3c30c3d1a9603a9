// Package capool reads the CA file a client pins (the gateway's
// cloud.tls_ca_file, outpost-bridge's gateway.ca_file) into a pool of
// roots.
package capool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load reads the PEM certificates in file; a file with none is an error.
func Load(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return pool, nil
}
