// Package siteregistry joins the tenancy and the gateway sync endpoint:
// it authenticates gateways and sends them their view of the tenancy
// (gatewaysync's Credentials, Tenancy and Devices), carries people's
// writes to the gateway that serves the device, reports a site's status,
// and serves the two endpoints a gateway calls before it has a link:
// registration (behind a per-address quota) and claim code renewal.
//
// Gateway ids travel as decimal strings of tenancy.GatewayID (Key).
package siteregistry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// Store is what the registry reads beyond the tenancy service: the
// gateways claimed into an org, and what a site last reported.
type Store interface {
	ListGateways(ctx context.Context, f tenancy.GatewayFilter) (tenancy.List[tenancy.Gateway], error)
	// GatewayLastSeen is when the gateway's telemetry was last applied
	// (zero if never).
	GatewayLastSeen(ctx context.Context, gatewayID string) (time.Time, error)
	// DevicesOnline counts the gateway's devices last reported online.
	DevicesOnline(ctx context.Context, gatewayID string) (int, error)
}

// Automations lists the automations of organizations, for the views sent
// down: those that can run at the gateway go with its tenancy.
type Automations interface {
	ListAutomations(ctx context.Context, orgs []tenancy.OrgID) ([]rules.Automation, error)
}

// Sync is the gateway sync endpoint as the registry uses it.
type Sync interface {
	Command(ctx context.Context, gatewayID string, c syncproto.Command) (syncproto.Result, error)
	Site(gatewayID string) (gatewaysync.Site, bool)
	Disconnect(gatewayID string)
}

// Registry is the sites of the cloud. Create it with New, then Attach the
// sync endpoint (which itself needs the registry) before serving.
type Registry struct {
	svc     *tenancy.Service
	store   Store
	sync    Sync
	autos   Automations // nil: no automations go down
	timeout time.Duration
	log     *slog.Logger
}

var (
	_ gatewaysync.Credentials = (*Registry)(nil)
	_ gatewaysync.Tenancy     = (*Registry)(nil)
	_ gatewaysync.Devices     = (*Registry)(nil)
)

// New returns a registry; a write waits up to commandTimeout for the
// gateway's result.
func New(svc *tenancy.Service, store Store, commandTimeout time.Duration, log *slog.Logger) *Registry {
	return &Registry{svc: svc, store: store, timeout: commandTimeout, log: log}
}

// Attach sets the sync endpoint commands and site status go through.
func (s *Registry) Attach(sync Sync) { s.sync = sync }

// PlaceAutomations sends, with each gateway's tenancy, the automations of
// its organizations that can run there (call before serving).
func (s *Registry) PlaceAutomations(a Automations) { s.autos = a }

// Key is the gateway id on the wire and in the telemetry store.
func Key(id tenancy.GatewayID) string { return strconv.FormatInt(int64(id), 10) }

// GatewayOf is the gateway a key names (0 for a key no gateway has).
func GatewayOf(key string) tenancy.GatewayID {
	id, _ := parseKey(key)
	return id
}

func parseKey(gatewayID string) (tenancy.GatewayID, error) {
	id, err := strconv.ParseInt(gatewayID, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("siteregistry: gateway id %q: %w", gatewayID, err)
	}
	return tenancy.GatewayID(id), nil
}

func (s *Registry) AuthenticateGateway(ctx context.Context, credential string) (string, error) {
	g, err := s.svc.AuthenticateGateway(ctx, credential)
	switch tenancy.CodeOf(err) {
	case "":
		return Key(g.ID), nil
	case tenancy.Unauthenticated:
		return "", fmt.Errorf("%w: %w", gatewaysync.ErrUnauthorized, err)
	case tenancy.Forbidden:
		return "", fmt.Errorf("%w: %w", gatewaysync.ErrNotClaimed, err)
	}
	return "", err
}

// GatewayTenancy converts the tenancy's view of the gateway to the wire.
func (s *Registry) GatewayTenancy(ctx context.Context, gatewayID string) (syncproto.Tenancy, error) {
	id, err := parseKey(gatewayID)
	if err != nil {
		return syncproto.Tenancy{}, err
	}
	v, err := s.svc.GatewayView(ctx, id)
	if err != nil {
		return syncproto.Tenancy{}, err
	}
	t := syncproto.Tenancy{Version: v.Version}
	for _, o := range v.Orgs {
		po := syncproto.Org{ID: int64(o.ID), Name: o.Name, ParentID: int64(o.ParentID)}
		if o.ID == v.Gateway.OrgID {
			po.ParentID = 0 // the top of the subtree sent
		}
		t.Orgs = append(t.Orgs, po)
	}
	for _, u := range v.Owners {
		t.Owners = append(t.Owners, syncproto.Owner{ID: int64(u.ID), Name: u.Name, Email: u.Email, OrgID: int64(u.OrgID)})
	}
	for _, tm := range v.Templates {
		def := tm.Def.ForDevices() // the cloud's event settings stay in the cloud
		def.ID = string(tm.ID)
		t.Templates = append(t.Templates, def)
	}
	for _, d := range v.Devices {
		sd := syncproto.Device{UID: d.UID, ID: int64(d.ID), Name: d.Name, TemplateID: string(d.TemplateID),
			OrgID: int64(d.OrgID), OwnerID: int64(d.OwnerID), TokenHash: hex.EncodeToString(d.TokenHash[:])}
		for _, m := range v.Meta[d.ID] {
			sd.Meta = append(sd.Meta, syncproto.MetaValue{Name: m.Name, Value: m.Value, TS: m.UpdatedAt.UnixMilli()})
		}
		t.Devices = append(t.Devices, sd)
	}
	for _, st := range v.StaticTokens {
		qr := sha256.Sum256([]byte(st.QR))
		t.StaticTokens = append(t.StaticTokens, syncproto.StaticToken{
			ID: strconv.FormatInt(int64(st.ID), 10), QRHash: hex.EncodeToString(qr[:]),
			TemplateID: string(st.TemplateID), OrgID: int64(st.OrgID), TokenHash: hex.EncodeToString(st.TokenHash[:]),
			Status: string(st.Status), DeviceUID: st.DeviceUID, OwnerID: int64(st.OwnerID), ClaimedOrgID: int64(st.ClaimedOrgID)})
	}
	if t.Automations, err = s.placedAutomations(ctx, v); err != nil {
		return syncproto.Tenancy{}, err
	}
	return t, nil
}

// MergeDevices adopts devices created on the gateway (tenancy's
// MergeGatewayDevices); refusals are logged, the gateway keeps them local.
func (s *Registry) MergeDevices(ctx context.Context, gatewayID string, l syncproto.LocalDevices) error {
	id, err := parseKey(gatewayID)
	if err != nil {
		return err
	}
	devs := make([]tenancy.GatewayDevice, 0, len(l.Devices))
	for _, d := range l.Devices {
		h, err := syncproto.ParseTokenHash(d.TokenHash)
		if err != nil { // Decode validated it
			return err
		}
		devs = append(devs, tenancy.GatewayDevice{UID: d.UID, Name: d.Name, TemplateID: tenancy.TemplateID(d.TemplateID),
			TokenHash: h, CreatedAtMS: d.CreatedAt})
	}
	res, err := s.svc.MergeGatewayDevices(ctx, id, l.Templates, devs)
	if err != nil {
		return err
	}
	if len(res.Created) > 0 || len(res.Templates) > 0 {
		s.log.Info("devices merged up from a gateway", "gateway", gatewayID, "devices", res.Created, "templates", res.Templates)
	}
	for _, r := range res.Refused {
		s.log.Warn("device from a gateway not adopted", "gateway", gatewayID, "uid", r.UID, "reason", r.Reason)
	}
	return nil
}

// ServingGateway finds the gateway that serves org: the one claimed into
// the nearest org at or above it.
func (s *Registry) ServingGateway(ctx context.Context, org tenancy.OrgID) (tenancy.GatewayID, error) {
	tree := s.svc.Tree()
	for o := org; o != 0; o = tree.Parent(o) {
		l, err := s.store.ListGateways(ctx, tenancy.GatewayFilter{Scope: tenancy.Scope{OrgID: o}, Page: tenancy.Page{Size: 1}, SkipTotal: true})
		if err != nil {
			return 0, err
		}
		if len(l.Items) > 0 {
			return l.Items[0].ID, nil
		}
	}
	return 0, tenancy.Errorf(tenancy.NotFound, "no gateway serves this device")
}

// Write sends the write as a command and waits for the gateway's result
// (the API answers 204 once applied). Until the timeout the command is
// resent on every reconnect of the gateway.
func (s *Registry) Write(ctx context.Context, a tenancy.Actor, d tenancy.Device, pin int, value string) error {
	gw, err := s.ServingGateway(ctx, d.OrgID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	actor := a.ClientID
	if a.UserID != 0 {
		actor = "user:" + strconv.FormatInt(int64(a.UserID), 10)
	}
	r, err := s.sync.Command(ctx, Key(gw), syncproto.Command{Kind: syncproto.CommandWrite, Device: d.UID, Pin: pin,
		Value: value, Actor: actor})
	if errors.Is(err, gatewaysync.ErrNotConnected) {
		return &tenancy.Error{Code: tenancy.Unavailable, Message: "the device's gateway did not answer in time", Err: err}
	}
	if err != nil {
		return err
	}
	switch r.Code {
	case syncproto.ResultOK:
		return nil
	case syncproto.ResultStale:
		return tenancy.Errorf(tenancy.Conflict, "a newer value from the device won")
	case syncproto.ResultNoDevice:
		return tenancy.Errorf(tenancy.NotFound, "the gateway does not serve this device yet")
	case syncproto.ResultInvalid:
		return tenancy.Errorf(tenancy.Invalid, "refused by the template: %s", r.Message)
	}
	return &tenancy.Error{Code: tenancy.Unavailable, Message: "the gateway could not apply the write", Err: errors.New(r.Message)}
}

// Status is a site's link and what it last reported.
type Status struct {
	Connected     bool
	LastSeen      time.Time
	Software      string
	Backlog       int64
	DevicesOnline int
}

// Site is the gateway's status: from its link when it connected since
// this process started, else from what the telemetry store last recorded.
func (s *Registry) Site(ctx context.Context, g tenancy.Gateway) (Status, error) {
	var out Status
	key := Key(g.ID)
	if st, ok := s.sync.Site(key); ok {
		out = Status{Connected: st.Connected, LastSeen: st.LastSeen, Software: st.Software,
			Backlog: st.Backlog, DevicesOnline: st.DevicesOnline}
	}
	if out.LastSeen.IsZero() { // not seen since this process started
		seen, err := s.store.GatewayLastSeen(ctx, key)
		if err != nil {
			return out, err
		}
		out.LastSeen = seen
		if out.DevicesOnline, err = s.store.DevicesOnline(ctx, key); err != nil {
			return out, err
		}
	}
	return out, nil
}

// GatewayReleased ends the link of a released gateway.
func (s *Registry) GatewayReleased(g tenancy.GatewayID) { s.sync.Disconnect(Key(g)) }
