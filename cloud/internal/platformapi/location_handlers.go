package platformapi

import (
	"net/http"

	"outpost/cloud/internal/tenancy"
)

func (c *call) locationID() (tenancy.LocationID, error) {
	id, err := c.id("locationId")
	return tenancy.LocationID(id), err
}

// listLocations is GET /organization/locations?orgId=&includeSubOrgs=.
func (c *call) listLocations() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	sub, err := c.boolean("includeSubOrgs")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Locations(c.ctx, c.actor, tenancy.LocationQuery{OrgID: tenancy.OrgID(org), IncludeSub: sub, Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toLocation))
}

// getLocation is GET /organization/location?locationId=.
func (c *call) getLocation() error {
	id, err := c.locationID()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Location(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toLocation(l))
}

type locationInput struct {
	Name    *string          `json:"name"`
	OrgID   tenancy.OrgID    `json:"orgId"`
	Owned   bool             `json:"owned"`
	Address *tenancy.Address `json:"address"`
	Lat     *float64         `json:"lat"`
	Lon     *float64         `json:"lon"`
}

func validLatLon(lat, lon *float64) error {
	if (lat != nil && (*lat < -90 || *lat > 90)) || (lon != nil && (*lon < -180 || *lon > 180)) {
		return badRequest("lat must be within ±90 and lon within ±180")
	}
	return nil
}

// createLocation is POST /organization/location/create; owned makes it the
// caller's own location rather than the organization's.
func (c *call) createLocation() error {
	var in locationInput
	if err := c.body(&in); err != nil {
		return err
	}
	if in.Name == nil || in.OrgID < 0 {
		return badRequest("name is required; orgId must be positive")
	}
	if err := validLatLon(in.Lat, in.Lon); err != nil {
		return err
	}
	n := tenancy.NewLocation{OrgID: in.OrgID, Owned: in.Owned, Name: *in.Name}
	if in.Address != nil {
		n.Address = *in.Address
	}
	if in.Lat != nil {
		n.Lat = *in.Lat
	}
	if in.Lon != nil {
		n.Lon = *in.Lon
	}
	l, err := c.api.svc.CreateLocation(c.ctx, c.actor, n)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toLocation(l))
}

// updateLocation is PUT /organization/location?locationId=.
func (c *call) updateLocation() error {
	id, err := c.locationID()
	if err != nil {
		return err
	}
	var in locationInput
	if err := c.body(&in); err != nil {
		return err
	}
	if in.OrgID != 0 || in.Owned {
		return badRequest("orgId and owned cannot be changed")
	}
	if err := validLatLon(in.Lat, in.Lon); err != nil {
		return err
	}
	l, err := c.api.svc.UpdateLocation(c.ctx, c.actor, id, tenancy.LocationUpdate{Name: in.Name, Address: in.Address, Lat: in.Lat, Lon: in.Lon})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toLocation(l))
}

// deleteLocation is DELETE /organization/location?locationId=.
func (c *call) deleteLocation() error {
	id, err := c.locationID()
	if err != nil {
		return err
	}
	if err := c.api.svc.DeleteLocation(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

// assignLocationUsers is PUT /organization/location/users?locationId= {userIds}.
func (c *call) assignLocationUsers() error {
	id, err := c.locationID()
	if err != nil {
		return err
	}
	var in struct {
		UserIDs []tenancy.UserID `json:"userIds"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	l, err := c.api.svc.AssignLocationUsers(c.ctx, c.actor, id, in.UserIDs)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toLocation(l))
}

// listGateways is GET /organization/gateways?orgId=&includeSubOrgs=.
func (c *call) listGateways() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	sub, err := c.boolean("includeSubOrgs")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Gateways(c.ctx, c.actor, tenancy.OrgID(org), sub, p)
	if err != nil {
		return err
	}
	out := list[siteJSON]{Content: make([]siteJSON, 0, len(l.Items)), TotalElements: l.Total}
	for _, g := range l.Items {
		sj, err := c.site(g)
		if err != nil {
			return err
		}
		out.Content = append(out.Content, sj)
	}
	return c.json(http.StatusOK, out)
}

// getGateway is GET /organization/gateway?gatewayId=.
func (c *call) getGateway() error {
	id, err := c.id("gatewayId")
	if err != nil {
		return err
	}
	g, err := c.api.svc.Gateway(c.ctx, c.actor, tenancy.GatewayID(id))
	if err != nil {
		return err
	}
	sj, err := c.site(g)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, sj)
}

// claimGateway is POST /organization/gateway/claim {claimCode, orgId}.
func (c *call) claimGateway() error {
	var in struct {
		ClaimCode string        `json:"claimCode"`
		OrgID     tenancy.OrgID `json:"orgId"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.ClaimCode == "" || in.OrgID < 0 {
		return badRequest("claimCode is required; orgId must be positive")
	}
	g, err := c.api.svc.ClaimGateway(c.ctx, c.actor, in.ClaimCode, in.OrgID)
	if err != nil {
		return err
	}
	sj, err := c.site(g)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, sj)
}

// releaseGateway is POST /organization/gateway/release?gatewayId=: the
// answer carries the new claim code, shown once.
func (c *call) releaseGateway() error {
	id, err := c.id("gatewayId")
	if err != nil {
		return err
	}
	code, err := c.api.svc.ReleaseGateway(c.ctx, c.actor, tenancy.GatewayID(id))
	if err != nil {
		return err
	}
	if c.api.live != nil {
		c.api.live.GatewayReleased(tenancy.GatewayID(id))
	}
	c.w.Header().Set("Cache-Control", "no-store")
	return c.json(http.StatusOK, struct {
		ClaimCode string `json:"claimCode"`
	}{code})
}

// audit is GET /organization/audit?orgId=&includeSubOrgs=: newest first.
func (c *call) audit() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	sub, err := c.boolean("includeSubOrgs")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Audit(c.ctx, c.actor, tenancy.AuditQuery{OrgID: tenancy.OrgID(org), IncludeSub: sub, Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toAudit))
}
