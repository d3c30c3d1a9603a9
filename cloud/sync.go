package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/clientaddr"
	"outpost/cloud/internal/gatewaysync"
	"outpost/cloud/internal/platformapi"
	"outpost/cloud/internal/ratelimit"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// sites joins the tenancy, the telemetry store and the gateway sync
// endpoint: it is gatewaysync's Credentials and Tenancy and the Platform
// API's Live. Gateway ids travel as decimal strings of tenancy.GatewayID.
type sites struct {
	svc     *tenancy.Service
	store   cloudStore
	gs      *gatewaysync.Server
	cluster *cluster // nil: one instance (SQLite)
	timeout time.Duration
	log     *slog.Logger
}

var (
	_ gatewaysync.Credentials = (*sites)(nil)
	_ gatewaysync.Tenancy     = (*sites)(nil)
	_ gatewaysync.Devices     = (*sites)(nil)
	_ platformapi.Live        = (*sites)(nil)
)

func gatewayKey(id tenancy.GatewayID) string { return strconv.FormatInt(int64(id), 10) }

func (s *sites) AuthenticateGateway(ctx context.Context, credential string) (string, error) {
	g, err := s.svc.AuthenticateGateway(ctx, credential)
	switch tenancy.CodeOf(err) {
	case "":
		return gatewayKey(g.ID), nil
	case tenancy.Unauthenticated:
		return "", fmt.Errorf("%w: %w", gatewaysync.ErrUnauthorized, err)
	case tenancy.Forbidden:
		return "", fmt.Errorf("%w: %w", gatewaysync.ErrNotClaimed, err)
	}
	return "", err
}

// GatewayTenancy converts the tenancy's view of the gateway to the wire.
func (s *sites) GatewayTenancy(ctx context.Context, gatewayID string) (syncproto.Tenancy, error) {
	id, err := strconv.ParseInt(gatewayID, 10, 64)
	if err != nil {
		return syncproto.Tenancy{}, fmt.Errorf("cloud: gateway id %q: %w", gatewayID, err)
	}
	v, err := s.svc.GatewayView(ctx, tenancy.GatewayID(id))
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
		def := tm.Def
		def.ID = string(tm.ID)
		t.Templates = append(t.Templates, def)
	}
	for _, d := range v.Devices {
		t.Devices = append(t.Devices, syncproto.Device{UID: d.UID, ID: int64(d.ID), Name: d.Name, TemplateID: string(d.TemplateID),
			OrgID: int64(d.OrgID), OwnerID: int64(d.OwnerID), TokenHash: hex.EncodeToString(d.TokenHash[:])})
	}
	for _, st := range v.StaticTokens {
		qr := sha256.Sum256([]byte(st.QR))
		t.StaticTokens = append(t.StaticTokens, syncproto.StaticToken{
			ID: strconv.FormatInt(int64(st.ID), 10), QRHash: hex.EncodeToString(qr[:]),
			TemplateID: string(st.TemplateID), OrgID: int64(st.OrgID), TokenHash: hex.EncodeToString(st.TokenHash[:]),
			Status: string(st.Status), DeviceUID: st.DeviceUID, OwnerID: int64(st.OwnerID), ClaimedOrgID: int64(st.ClaimedOrgID)})
	}
	return t, nil
}

// MergeDevices adopts devices created on the gateway (tenancy's
// MergeGatewayDevices); refusals are logged, the gateway keeps them local.
func (s *sites) MergeDevices(ctx context.Context, gatewayID string, l syncproto.LocalDevices) error {
	id, err := strconv.ParseInt(gatewayID, 10, 64)
	if err != nil {
		return fmt.Errorf("cloud: gateway id %q: %w", gatewayID, err)
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
	res, err := s.svc.MergeGatewayDevices(ctx, tenancy.GatewayID(id), l.Templates, devs)
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

func (s *sites) DeviceLive(ctx context.Context, d tenancy.Device) (platformapi.DeviceLive, error) {
	var out platformapi.DeviceLive
	vals, err := s.store.DeviceValues(ctx, d.UID)
	if err != nil {
		return out, err
	}
	out.Values = make(map[int]string, len(vals))
	for _, v := range vals {
		out.Values[v.Pin] = v.Value
	}
	st, ok, err := s.store.DeviceStatus(ctx, d.UID)
	if err != nil || !ok {
		return out, err
	}
	out.Online, out.LastSeen = st.Online, st.LastSeen
	return out, nil
}

func (s *sites) History(ctx context.Context, d tenancy.Device, pin int, before int64, limit int) ([]platformapi.HistoryPoint, int64, error) {
	pts, next, err := s.store.History(ctx, d.UID, pin, before, limit)
	out := make([]platformapi.HistoryPoint, len(pts))
	for i, p := range pts {
		out[i] = platformapi.HistoryPoint{ID: p.ID, Value: p.Value, TS: p.TS}
	}
	return out, next, err
}

func (s *sites) Timeline(ctx context.Context, d tenancy.Device, before int64, limit int) ([]platformapi.TimelineEvent, int64, error) {
	es, next, err := s.store.Timeline(ctx, d.UID, before, limit)
	out := make([]platformapi.TimelineEvent, len(es))
	for i, e := range es {
		out[i] = platformapi.TimelineEvent{ID: e.ID, Kind: e.Kind, Code: e.Code, Description: e.Description, TS: e.TS}
	}
	return out, next, err
}

// servingGateway finds the gateway that serves org: the one claimed into
// the nearest org at or above it.
func (s *sites) servingGateway(ctx context.Context, org tenancy.OrgID) (tenancy.GatewayID, error) {
	tree := s.svc.Tree()
	for o := org; o != 0; o = tree.Parent(o) {
		l, err := s.store.ListGateways(ctx, tenancy.GatewayFilter{Scope: tenancy.Scope{OrgID: o}, Page: tenancy.Page{Size: 1}})
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
func (s *sites) Write(ctx context.Context, a tenancy.Actor, d tenancy.Device, pin int, value string) error {
	gw, err := s.servingGateway(ctx, d.OrgID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	actor := a.ClientID
	if a.UserID != 0 {
		actor = "user:" + strconv.FormatInt(int64(a.UserID), 10)
	}
	r, err := s.command(ctx, gatewayKey(gw), syncproto.Command{Kind: syncproto.CommandWrite, Device: d.UID, Pin: pin,
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

func (s *sites) Site(ctx context.Context, g tenancy.Gateway) (platformapi.SiteStatus, error) {
	var out platformapi.SiteStatus
	key := gatewayKey(g.ID)
	if st, ok := s.gs.Site(key); ok {
		out = platformapi.SiteStatus{Connected: st.Connected, LastSeen: st.LastSeen, Software: st.Software,
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

func (s *sites) GatewayReleased(g tenancy.GatewayID) { s.disconnect(gatewayKey(g)) }

// register is POST /api/v1/gateway/register {"name","software"}: a new
// gateway gets its id, claim code and credential (201), once.
func (s *sites) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string `json:"name"`
		Software string `json:"software"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	if err := dec.Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "body must be {\"name\":…,\"software\":…}")
		return
	}
	g, code, cred, err := s.svc.RegisterSite(r.Context(), in.Name)
	if tenancy.CodeOf(err) == tenancy.Invalid {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.log.Error("gateway registration failed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.log.Info("gateway registered", "gateway", g.ID, "name", g.Name, "software", in.Software)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(struct {
		GatewayID          string `json:"gatewayId"`
		ClaimCode          string `json:"claimCode"`
		ClaimCodeExpiresAt int64  `json:"claimCodeExpiresAt"` // Unix ms
		Credential         string `json:"credential"`
	}{gatewayKey(g.ID), code, g.ClaimExpiresAt.UnixMilli(), cred})
}

// renewClaimCode is POST /api/v1/gateway/claim-code with the gateway's
// credential as bearer token: an unclaimed gateway whose code expired (or
// is about to) gets a new one.
func (s *sites) renewClaimCode(w http.ResponseWriter, r *http.Request) {
	cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g, code, err := s.svc.RenewClaimCode(r.Context(), strings.TrimSpace(cred))
	switch tenancy.CodeOf(err) {
	case "":
	case tenancy.Unauthenticated:
		writeJSONError(w, http.StatusUnauthorized, err.Error())
		return
	case tenancy.Conflict:
		writeJSONError(w, http.StatusConflict, err.Error())
		return
	default:
		s.log.Error("claim code renewal failed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal error")
		return
	}
	s.log.Info("claim code renewed", "gateway", g.ID, "expiresAt", g.ClaimExpiresAt)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		ClaimCode          string `json:"claimCode"`
		ClaimCodeExpiresAt int64  `json:"claimCodeExpiresAt"`
	}{code, g.ClaimExpiresAt.UnixMilli()})
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"message": msg}})
}

// limitPerAddr answers 429 once a client address has used its quota.
func limitPerAddr(lim *ratelimit.Keyed, clients *clientaddr.Resolver, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !lim.Allow(clients.Addr(r)) {
			w.Header().Set("Retry-After", "60")
			writeJSONError(w, http.StatusTooManyRequests, "too many registrations from this address")
			return
		}
		h(w, r)
	}
}

// ClaimGatewayForDemo claims a registered gateway into the client org
// orgName under the first tree's root (creating the org if needed), acting
// as that root's first Admin. It is for the one-command site (the README's
// demo), which runs cloud and gateway in one process and has no installer
// to click through the Platform API: pass the claim code the gateway got
// from POST /api/v1/gateway/register. It returns the org's id.
func (s *Server) ClaimGatewayForDemo(ctx context.Context, claimCode, orgName string) (int64, error) {
	orgs, err := s.store.AllOrgs(ctx)
	if err != nil {
		return 0, fmt.Errorf("cloud: demo claim: %w", err)
	}
	var root tenancy.OrgID
	for _, o := range orgs {
		if o.ParentID == 0 && (root == 0 || o.ID < root) {
			root = o.ID
		}
	}
	if root == 0 {
		return 0, errors.New("cloud: demo claim: no organization tree yet")
	}
	admins, err := s.store.ListUsers(ctx, tenancy.UserFilter{Scope: tenancy.Scope{OrgID: root}, RoleID: tenancy.RoleAdmin,
		Page: tenancy.Page{Size: 1}})
	if err != nil || len(admins.Items) == 0 {
		return 0, fmt.Errorf("cloud: demo claim: no Admin in the root organization: %w", err)
	}
	a := tenancy.Actor{UserID: admins.Items[0].ID, OrgID: root, RoleID: tenancy.RoleAdmin}
	var org tenancy.OrgID
	for _, o := range orgs {
		if o.ParentID == root && o.Name == orgName {
			org = o.ID
		}
	}
	if org == 0 {
		o, err := s.svc.CreateOrg(ctx, a, tenancy.NewOrg{ParentID: root, Name: orgName})
		if err != nil {
			return 0, fmt.Errorf("cloud: demo claim: create %q: %w", orgName, err)
		}
		org = o.ID
	}
	if _, err := s.svc.ClaimGateway(ctx, a, claimCode, org); err != nil {
		return 0, fmt.Errorf("cloud: demo claim: %w", err)
	}
	return int64(org), nil
}
