package hub

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"

	"outpost/shared/datastream"
	"outpost/shared/ulid"
)

// TokenLen is the length of a device token.
const TokenLen = 32

// ValidToken reports whether token has the shape of a device token: 32
// characters of the base64url alphabet (Blynk.Cloud tokens; legacy 32-hex
// tokens are a subset).
func ValidToken(token string) bool {
	if len(token) != TokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// HashToken is how tokens are kept: SHA-256, never the token itself.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// NewToken returns a fresh device token: 24 random bytes in base64url.
func NewToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("hub: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Authenticate returns the device whose token this is, or ErrInvalidToken.
func (h *Hub) Authenticate(token string) (Device, error) {
	if !ValidToken(token) {
		return Device{}, ErrInvalidToken
	}
	sum := HashToken(token)
	h.mu.RLock()
	d := h.byHash[sum]
	h.mu.RUnlock()
	if d == nil {
		return Device{}, ErrInvalidToken
	}
	return *d.info.Load(), nil
}

// Device returns a device by id.
func (h *Hub) Device(id int64) (Device, bool) {
	if d := h.device(id); d != nil {
		return *d.info.Load(), true
	}
	return Device{}, false
}

// Devices returns every device, sorted by ID.
func (h *Hub) Devices() []Device {
	all := h.allDevices()
	out := make([]Device, len(all))
	for i, d := range all {
		out[i] = *d.info.Load()
	}
	return out
}

// Template returns a template by id.
func (h *Hub) Template(id string) (datastream.Template, bool) {
	h.mu.RLock()
	r := h.templates[id]
	h.mu.RUnlock()
	if r == nil {
		return datastream.Template{}, false
	}
	ti := r.cur.Load()
	if ti == nil {
		return datastream.Template{}, false
	}
	return ti.t, true
}

// Templates returns every template, sorted by ID.
func (h *Hub) Templates() []datastream.Template {
	h.mu.RLock()
	var out []datastream.Template
	for _, r := range h.templates {
		if ti := r.cur.Load(); ti != nil {
			out = append(out, ti.t)
		}
	}
	h.mu.RUnlock()
	slices.SortFunc(out, func(a, b datastream.Template) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SaveTemplate validates t, stores it and replaces it in memory; devices of
// that template see the new datastreams on their next write.
func (h *Hub) SaveTemplate(ctx context.Context, t datastream.Template) error {
	if err := t.Check(); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if err := h.store.SaveTemplate(ctx, t); err != nil {
		return fmt.Errorf("hub: save template %s: %w", t.ID, err)
	}
	ti := indexTemplate(t)
	h.mu.Lock()
	h.refLocked(t.ID).cur.Store(ti)
	h.mu.Unlock()
	return nil
}

// AddDevice creates a device of a known template with a fresh token. The
// token is returned once; only its hash is kept.
func (h *Hub) AddDevice(ctx context.Context, templateID, name string) (Device, string, error) {
	token, err := NewToken()
	if err != nil {
		return Device{}, "", err
	}
	d, err := h.create(ctx, templateID, name, token)
	if err != nil {
		return Device{}, "", err
	}
	return d, token, nil
}

// AddDeviceWithToken creates a device with a given token (config-declared
// devices). It is idempotent by token: an existing device with that token is
// returned unchanged.
func (h *Hub) AddDeviceWithToken(ctx context.Context, templateID, name, token string) (Device, error) {
	if !ValidToken(token) {
		return Device{}, fmt.Errorf("hub: device %q: token must be 32 base64url characters: %w", name, ErrInvalidToken)
	}
	if d, err := h.Authenticate(token); err == nil {
		return d, nil
	}
	return h.create(ctx, templateID, name, token)
}

func (h *Hub) create(ctx context.Context, templateID, name, token string) (Device, error) {
	if _, ok := h.Template(templateID); !ok {
		return Device{}, fmt.Errorf("hub: template %q: %w", templateID, ErrNoTemplate)
	}
	uid, err := ulid.New(h.now(), rand.Reader)
	if err != nil {
		return Device{}, err
	}
	d := Device{
		UID:        uid,
		Name:       name,
		TemplateID: templateID,
		TokenHash:  HashToken(token),
		CreatedAt:  h.now().UnixMilli(),
	}
	d, err = h.store.CreateDevice(ctx, d)
	if err != nil {
		return Device{}, fmt.Errorf("hub: create device %q: %w", name, err)
	}
	h.addDevice(d)
	h.log.Info("device added", "id", d.ID, "uid", d.UID, "name", name, "template", templateID)
	return d, nil
}

// DeleteDevice removes a device and its data and closes its connections.
func (h *Hub) DeleteDevice(ctx context.Context, id int64) error {
	d := h.device(id)
	if d == nil {
		return ErrNoDevice
	}
	if err := h.store.DeleteDevice(ctx, id); err != nil {
		return fmt.Errorf("hub: delete device %d: %w", id, err)
	}
	h.mu.Lock()
	info := d.info.Load()
	if h.byHash[info.TokenHash] == d {
		delete(h.byHash, info.TokenHash)
	}
	if h.byUID[info.UID] == d {
		delete(h.byUID, info.UID)
	}
	h.mu.Unlock()
	s := &h.shard[uint64(id)%shards]
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	d.mu.Lock()
	d.deleted = true
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return nil
}
