package platformapi

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"outpost/cloud/internal/tenancy"
)

func (c *call) deviceID() (tenancy.DeviceID, error) {
	id, err := c.id("deviceId")
	return tenancy.DeviceID(id), err
}

// listDevices is GET /organization/devices.
func (c *call) listDevices() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	sub, err := c.boolean("includeSubOrgDevices")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Devices(c.ctx, c.actor, tenancy.DeviceQuery{OrgID: tenancy.OrgID(org), IncludeSub: sub,
		TemplateID: tenancy.TemplateID(c.query("templateId")), Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toDevice))
}

// searchDevices is GET /organization/search/devices?query=: by name, in
// every org in scope.
func (c *call) searchDevices() error {
	q, p, err := c.search()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Devices(c.ctx, c.actor, tenancy.DeviceQuery{IncludeSub: true, Query: q, Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toDevice))
}

// devicesByOwner is GET /organization/device/by-owner?ownerEmail=.
func (c *call) devicesByOwner() error {
	email := strings.ToLower(c.query("ownerEmail"))
	if email == "" {
		return badRequest("ownerEmail is required")
	}
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	users, err := c.api.svc.Users(c.ctx, c.actor, tenancy.UserQuery{OrgID: tenancy.OrgID(org), IncludeSub: true, Query: email,
		Page: tenancy.Page{Size: tenancy.MaxPageSize}})
	if err != nil {
		return err
	}
	var owner tenancy.UserID
	for _, u := range users.Items {
		if u.Email == email {
			owner = u.ID
		}
	}
	if owner == 0 {
		return tenancy.Errorf(tenancy.NotFound, "user not found or you don't have access to it")
	}
	l, err := c.api.svc.Devices(c.ctx, c.actor, tenancy.DeviceQuery{OrgID: tenancy.OrgID(org), IncludeSub: true, OwnerID: owner, Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toDevice))
}

// getDevice is GET /organization/device (and /baseInfo: the cloud holds
// no datastream values, so both answer the same).
func (c *call) getDevice() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	d, err := c.api.svc.Device(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toDevice(d))
}

// createDevice is POST /organization/device/create.
func (c *call) createDevice() error {
	var in struct {
		TemplateID tenancy.TemplateID `json:"templateId"`
		OrgID      tenancy.OrgID      `json:"orgId"`
		Name       string             `json:"name"`
		OwnerID    tenancy.UserID     `json:"ownerId"`
		OnwerID    tenancy.UserID     `json:"onwerId"` // Blynk's documented typo, accepted
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.OwnerID == 0 {
		in.OwnerID = in.OnwerID
	}
	if in.OrgID < 0 || in.OwnerID < 0 {
		return badRequest("orgId and ownerId must be positive")
	}
	if utf8.RuneCountInString(strings.TrimSpace(in.Name)) > 50 {
		return badRequest("name must be at most 50 characters")
	}
	d, err := c.api.svc.CreateDevice(c.ctx, c.actor, tenancy.NewDevice{TemplateID: in.TemplateID, OrgID: in.OrgID,
		Name: in.Name, OwnerID: in.OwnerID})
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toDevice(d))
}

// renameDevice is PUT /organization/device?deviceId= {name}.
func (c *call) renameDevice() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	d, err := c.api.svc.RenameDevice(c.ctx, c.actor, id, in.Name)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toDevice(d))
}

// regenerateToken is POST /organization/device/token?deviceId=.
func (c *call) regenerateToken() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	d, err := c.api.svc.RegenerateDeviceToken(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toDevice(d))
}

// deleteDevice is DELETE /organization/device?deviceId=.
func (c *call) deleteDevice() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	if err := c.api.svc.DeleteDevice(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

// removeOwner is DELETE /organization/device/owner?deviceId=.
func (c *call) removeOwner() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	if _, err := c.api.svc.RemoveDeviceOwner(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

// transferDevice is POST /organization/device/transfer {deviceId, newUserId
// or newOrgId}.
func (c *call) transferDevice() error {
	var in struct {
		DeviceID  tenancy.DeviceID `json:"deviceId"`
		NewUserID tenancy.UserID   `json:"newUserId"`
		NewOrgID  tenancy.OrgID    `json:"newOrgId"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.DeviceID <= 0 || in.NewUserID < 0 || in.NewOrgID < 0 {
		return badRequest("deviceId is required; newUserId and newOrgId must be positive")
	}
	if _, err := c.api.svc.TransferDevice(c.ctx, c.actor, in.DeviceID, tenancy.DeviceTransfer{UserID: in.NewUserID, OrgID: in.NewOrgID}); err != nil {
		return err
	}
	return c.noContent()
}

// deviceTags is GET /organization/device/tags?deviceId=.
func (c *call) deviceTags() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	ts, err := c.api.svc.DeviceTags(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapSlice(ts, toTag))
}

// setDeviceTags is PUT /organization/device/tags?deviceId= {tagIds}.
func (c *call) setDeviceTags() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	var in struct {
		TagIDs []tenancy.TagID `json:"tagIds"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if err := c.api.svc.SetDeviceTags(c.ctx, c.actor, id, in.TagIDs); err != nil {
		return err
	}
	return c.noContent()
}

// listTags is GET /organization/tags?orgId=.
func (c *call) listTags() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	ts, err := c.api.svc.Tags(c.ctx, c.actor, tenancy.OrgID(org))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapSlice(ts, toTag))
}

// createTag is POST /organization/tags/create {name, orgId}.
func (c *call) createTag() error {
	var in struct {
		Name  string        `json:"name"`
		OrgID tenancy.OrgID `json:"orgId"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.OrgID < 0 {
		return badRequest("orgId must be positive")
	}
	t, err := c.api.svc.CreateTag(c.ctx, c.actor, in.OrgID, in.Name)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toTag(t))
}

// deleteTag is DELETE /organization/tag?tagId=.
func (c *call) deleteTag() error {
	id, err := c.id("tagId")
	if err != nil {
		return err
	}
	if err := c.api.svc.DeleteTag(c.ctx, c.actor, tenancy.TagID(id)); err != nil {
		return err
	}
	return c.noContent()
}
