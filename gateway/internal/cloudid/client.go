package cloudid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// CheckURL accepts https anywhere and http only to a loopback host (the
// credential crosses this connection).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: plain http:// is allowed only to a loopback address", raw)
	}
	return fmt.Errorf("%q: scheme must be https (or http to loopback)", raw)
}

// SyncURL is the cloud's websocket endpoint for a base URL.
func SyncURL(base string) string {
	u := strings.TrimRight(base, "/") + "/api/v1/gateway/sync"
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(u, "http://")
}

// ErrRefused marks answers of the cloud that retrying will not change.
var ErrRefused = errors.New("gateway: cloud refused the registration")

// Register asks the cloud at base for a gateway identity (claim flow,
// step 1) under the site's name, reporting its software version.
func Register(ctx context.Context, client *http.Client, base, name, software string) (Identity, error) {
	body, _ := json.Marshal(map[string]string{"name": name, "software": software})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v1/gateway/register", bytes.NewReader(body))
	if err != nil {
		return Identity{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("gateway: register: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("gateway: register: %s: %s", resp.Status, bytes.TrimSpace(data))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusNotFound {
			err = fmt.Errorf("%w: %w", ErrRefused, err)
		}
		return Identity{}, err
	}
	var id Identity
	if err := json.Unmarshal(data, &id); err != nil {
		return Identity{}, fmt.Errorf("gateway: register: answer: %w", err)
	}
	if id.GatewayID == "" || id.Credential == "" || id.ClaimCode == "" {
		return Identity{}, fmt.Errorf("gateway: register: answer lacks gatewayId, claimCode or credential: %s", bytes.TrimSpace(data))
	}
	id.CloudURL = base
	return id, nil
}

// RenewClaimCode asks the cloud for a new claim code for id (the old one
// expires) and returns id with the new code and its expiry.
func RenewClaimCode(ctx context.Context, client *http.Client, id Identity) (Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(id.CloudURL, "/")+"/api/v1/gateway/claim-code", nil)
	if err != nil {
		return id, err
	}
	req.Header.Set("Authorization", "Bearer "+id.Credential)
	resp, err := client.Do(req)
	if err != nil {
		return id, fmt.Errorf("gateway: renew claim code: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return id, fmt.Errorf("gateway: renew claim code: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	var ans struct {
		ClaimCode          string `json:"claimCode"`
		ClaimCodeExpiresAt int64  `json:"claimCodeExpiresAt"`
	}
	if err := json.Unmarshal(data, &ans); err != nil || ans.ClaimCode == "" {
		return id, fmt.Errorf("gateway: renew claim code: answer %q: %v", bytes.TrimSpace(data), err)
	}
	id.ClaimCode, id.ClaimCodeExpiresAt = ans.ClaimCode, ans.ClaimCodeExpiresAt
	return id, nil
}
