package platformapi

import (
	"net/http"

	"outpost/cloud/internal/tenancy"
)

// orgProfile is GET /organization/profile: the caller's own org.
func (c *call) orgProfile() error {
	o, err := c.api.svc.Org(c.ctx, c.actor, c.actor.OrgID)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toOrg(o))
}

// getOrg is GET /organization?orgId=.
func (c *call) getOrg() error {
	id, err := c.id("orgId")
	if err != nil {
		return err
	}
	o, err := c.api.svc.Org(c.ctx, c.actor, tenancy.OrgID(id))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toOrg(o))
}

// searchOrgs is GET /organization/search?query=: orgs in scope by name.
func (c *call) searchOrgs() error {
	q, p, err := c.search()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Orgs(c.ctx, c.actor, tenancy.OrgQuery{Query: q, IncludeSub: true, Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toOrg))
}

// subOrgs is GET /organization/sub-organizations?orgId=: direct children.
func (c *call) subOrgs() error {
	id, err := c.optID("orgId")
	if err != nil {
		return err
	}
	if id == 0 {
		id = int64(c.actor.OrgID)
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Orgs(c.ctx, c.actor, tenancy.OrgQuery{Parent: tenancy.OrgID(id), Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toOrg))
}

type orgInput struct {
	Name             *string          `json:"name"`
	Type             tenancy.OrgType  `json:"type"`
	Description      *string          `json:"description"`
	TZ               *string          `json:"tz"`
	ParentID         tenancy.OrgID    `json:"parentId"`
	Phone            *string          `json:"phoneNumber"`
	UnitSystem       *string          `json:"unitSystem"`
	Address          *tenancy.Address `json:"address"`
	CanCreateSubOrgs *bool            `json:"canCreateSubOrgs"`
	IsActive         *bool            `json:"isActive"`
	// HistoryRetentionDays is set on update only.
	HistoryRetentionDays *int `json:"historyRetentionDays"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func validUnitSystem(u *string) error {
	if u != nil && *u != "" && *u != "IMPERIAL" && *u != "METRIC" {
		return badRequest("unitSystem must be IMPERIAL or METRIC")
	}
	return nil
}

// createOrg is POST /organization/create; parentId defaults to the
// caller's org.
func (c *call) createOrg() error {
	var in orgInput
	if err := c.body(&in); err != nil {
		return err
	}
	if in.Name == nil {
		return badRequest("name is required")
	}
	if err := validUnitSystem(in.UnitSystem); err != nil {
		return err
	}
	if in.IsActive != nil || in.HistoryRetentionDays != nil {
		return badRequest("isActive and historyRetentionDays cannot be set on creation")
	}
	if in.ParentID == 0 {
		in.ParentID = c.actor.OrgID
	}
	n := tenancy.NewOrg{ParentID: in.ParentID, Name: *in.Name, Description: deref(in.Description), Type: in.Type,
		TZ: deref(in.TZ), Phone: deref(in.Phone), UnitSystem: deref(in.UnitSystem), CanCreateSub: in.CanCreateSubOrgs}
	if in.Address != nil {
		n.Address = *in.Address
	}
	o, err := c.api.svc.CreateOrg(c.ctx, c.actor, n)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toOrg(o))
}

// updateOrg is PUT /organization?orgId=.
func (c *call) updateOrg() error {
	id, err := c.id("orgId")
	if err != nil {
		return err
	}
	var in orgInput
	if err := c.body(&in); err != nil {
		return err
	}
	if in.Type != "" || in.ParentID != 0 {
		return badRequest("type and parentId cannot be changed here (use /organization/transfer to move an organization)")
	}
	if err := validUnitSystem(in.UnitSystem); err != nil {
		return err
	}
	o, err := c.api.svc.UpdateOrg(c.ctx, c.actor, tenancy.OrgID(id), tenancy.OrgUpdate{Name: in.Name,
		Description: in.Description, TZ: in.TZ, Phone: in.Phone, UnitSystem: in.UnitSystem, Address: in.Address,
		CanCreateSub: in.CanCreateSubOrgs, Active: in.IsActive, HistoryRetentionDays: in.HistoryRetentionDays})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toOrg(o))
}

// deleteOrg is DELETE /organization?orgId=.
func (c *call) deleteOrg() error {
	id, err := c.id("orgId")
	if err != nil {
		return err
	}
	if err := c.api.svc.DeleteOrg(c.ctx, c.actor, tenancy.OrgID(id)); err != nil {
		return err
	}
	return c.noContent()
}

// transferOrg is POST /organization/transfer {orgId, newParentId}.
func (c *call) transferOrg() error {
	var in struct {
		OrgID       tenancy.OrgID `json:"orgId"`
		NewParentID tenancy.OrgID `json:"newParentId"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.OrgID <= 0 || in.NewParentID <= 0 {
		return badRequest("orgId and newParentId are required")
	}
	o, err := c.api.svc.TransferOrg(c.ctx, c.actor, in.OrgID, in.NewParentID)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toOrg(o))
}

// createTree is POST /api/v1/trees/create {name, adminEmail, adminName}:
// another root tree with its first Admin, for a super admin (an Admin of
// the first root organization). The generated password is answered once.
func (c *call) createTree() error {
	var in struct {
		Name       string `json:"name"`
		AdminEmail string `json:"adminEmail"`
		AdminName  string `json:"adminName"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	org, admin, pw, err := c.api.svc.CreateTree(c.ctx, c.actor, tenancy.Bootstrap{OrgName: in.Name, AdminEmail: in.AdminEmail, AdminName: in.AdminName})
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, struct {
		Org           orgJSON  `json:"organization"`
		Admin         userJSON `json:"admin"`
		AdminPassword string   `json:"adminPassword"`
	}{toOrg(org), toUser(admin), pw})
}
