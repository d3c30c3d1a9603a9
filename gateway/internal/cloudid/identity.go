// Package cloudid is the gateway's identity in the cloud: the file that
// keeps it (data_dir/cloud.json, 0600: it holds the credential) and the
// two calls that obtain it before any link exists, registration and
// claim code renewal.
package cloudid

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// File is the file in data_dir that keeps the gateway's cloud identity.
const File = "cloud.json"

// Identity is what the cloud gave the gateway at registration.
type Identity struct {
	GatewayID string `json:"gatewayId"`
	ClaimCode string `json:"claimCode"`
	// ClaimCodeExpiresAt (Unix ms) is when the cloud stops accepting
	// ClaimCode; the gateway fetches a new one shortly before (0: unknown,
	// fetch one at once).
	ClaimCodeExpiresAt int64  `json:"claimCodeExpiresAt,omitempty"`
	Credential         string `json:"credential"`
	CloudURL           string `json:"cloudURL"`
	// Claimed is set once the cloud accepted the credential (the claim
	// code is then no longer shown).
	Claimed bool `json:"claimed"`
}

// Read reads dataDir/cloud.json; fs.ErrNotExist means the gateway has not
// registered yet.
func Read(dataDir string) (Identity, error) {
	var id Identity
	data, err := os.ReadFile(filepath.Join(dataDir, File))
	if err != nil {
		return id, fmt.Errorf("gateway: cloud identity: %w", err)
	}
	if err := json.Unmarshal(data, &id); err != nil {
		return id, fmt.Errorf("gateway: cloud identity %s: %w", filepath.Join(dataDir, File), err)
	}
	return id, nil
}

// Write replaces dataDir/cloud.json atomically (a crash leaves the old or
// the new one, never half of either), owner-only.
func Write(dataDir string, id Identity) error {
	data, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dataDir, ".cloud-*.json")
	if err != nil {
		return fmt.Errorf("gateway: save cloud identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(append(data, '\n'))
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(dataDir, File))
		}
	} else {
		tmp.Close()
	}
	if err != nil {
		return fmt.Errorf("gateway: save cloud identity: %w", err)
	}
	return nil
}
