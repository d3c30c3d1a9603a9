package cloud

import (
	"context"
	"errors"
	"fmt"

	"outpost/cloud/internal/platformapi"
	"outpost/cloud/internal/siteregistry"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
)

// apiLive is the Platform API's view of the sites: the telemetry store for
// what the gateways reported, the site registry for writes and status.
type apiLive struct {
	*siteregistry.Registry
	store *sqlite.Store
}

var _ platformapi.Live = apiLive{}

func (s apiLive) DeviceLive(ctx context.Context, d tenancy.Device) (platformapi.DeviceLive, error) {
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

func (s apiLive) History(ctx context.Context, d tenancy.Device, pin int, before int64, limit int) ([]platformapi.HistoryPoint, int64, error) {
	pts, next, err := s.store.History(ctx, d.UID, pin, before, limit)
	out := make([]platformapi.HistoryPoint, len(pts))
	for i, p := range pts {
		out[i] = platformapi.HistoryPoint{ID: p.ID, Value: p.Value, TS: p.TS}
	}
	return out, next, err
}

func (s apiLive) Timeline(ctx context.Context, d tenancy.Device, before int64, limit int) ([]platformapi.TimelineEvent, int64, error) {
	es, next, err := s.store.Timeline(ctx, d.UID, before, limit)
	out := make([]platformapi.TimelineEvent, len(es))
	for i, e := range es {
		out[i] = platformapi.TimelineEvent{ID: e.ID, Kind: e.Kind, Code: e.Code, Description: e.Description, TS: e.TS}
	}
	return out, next, err
}

func (s apiLive) Site(ctx context.Context, g tenancy.Gateway) (platformapi.SiteStatus, error) {
	st, err := s.Registry.Site(ctx, g)
	return platformapi.SiteStatus(st), err
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
