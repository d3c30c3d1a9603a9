package platformapi

import (
	"net/http"

	"outpost/cloud/internal/tenancy"
)

// permissions is GET /permissions: the catalogue of permission keys.
func (c *call) permissions() error {
	return c.json(http.StatusOK, tenancy.NewPermSet(tenancy.AllPermissions()...).Strings())
}

// listRoles is GET /organization/roles?orgId=: the tree's roles with their
// permissions in that org.
func (c *call) listRoles() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	rs, err := c.api.svc.Roles(c.ctx, c.actor, tenancy.OrgID(org))
	if err != nil {
		return err
	}
	if org == 0 {
		org = int64(c.actor.OrgID)
	}
	return c.json(http.StatusOK, mapSlice(rs, func(r tenancy.RoleInfo) roleJSON {
		return roleJSON{ID: r.ID, Name: r.Name, BuiltIn: r.BuiltIn, OrgID: tenancy.OrgID(org), Permissions: r.Perms.Strings()}
	}))
}

// createRole is POST /organization/roles/create {name}.
func (c *call) createRole() error {
	var in struct {
		Name string `json:"name"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	r, err := c.api.svc.CreateRole(c.ctx, c.actor, in.Name)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, roleJSON{ID: r.ID, Name: r.Name, BuiltIn: r.BuiltIn, Permissions: []string{}})
}

// renameRole is PUT /organization/role?roleId= {name}.
func (c *call) renameRole() error {
	id, err := c.id("roleId")
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	r, err := c.api.svc.RenameRole(c.ctx, c.actor, tenancy.RoleID(id), in.Name)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, roleJSON{ID: r.ID, Name: r.Name, BuiltIn: r.BuiltIn, Permissions: []string{}})
}

// deleteRole is DELETE /organization/role?roleId=&replacementRoleId=.
func (c *call) deleteRole() error {
	id, err := c.id("roleId")
	if err != nil {
		return err
	}
	repl, err := c.optID("replacementRoleId")
	if err != nil {
		return err
	}
	if repl == 0 {
		return badRequest("replacementRoleId is required: the role's users move to it")
	}
	moved, err := c.api.svc.DeleteRole(c.ctx, c.actor, tenancy.RoleID(id), tenancy.RoleID(repl))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, struct {
		MovedUsers int `json:"movedUsers"`
	}{moved})
}

// setRolePermissions is PUT /organization/role/permissions?orgId=&roleId=
// {permissions, applyToSubOrgs, overwrite}: applyToSubOrgs pushes the set to
// every descendant, replacing theirs with overwrite, adding to them without.
func (c *call) setRolePermissions() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	if org == 0 {
		org = int64(c.actor.OrgID)
	}
	role, err := c.id("roleId")
	if err != nil {
		return err
	}
	var in struct {
		Permissions    []string `json:"permissions"`
		ApplyToSubOrgs bool     `json:"applyToSubOrgs"`
		Overwrite      bool     `json:"overwrite"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.Permissions == nil {
		return badRequest("permissions is required (an empty list removes every permission)")
	}
	ps, err := tenancy.ParsePermSet(in.Permissions)
	if err != nil {
		return err
	}
	push := tenancy.PushNone
	switch {
	case in.ApplyToSubOrgs && in.Overwrite:
		push = tenancy.PushOverwrite
	case in.ApplyToSubOrgs:
		push = tenancy.PushMerge
	case in.Overwrite:
		return badRequest("overwrite needs applyToSubOrgs")
	}
	if err := c.api.svc.SetRolePermissions(c.ctx, c.actor, tenancy.OrgID(org), tenancy.RoleID(role), ps, push); err != nil {
		return err
	}
	return c.noContent()
}

// listOAuthClients is GET /organization/oauth-clients?orgId=.
func (c *call) listOAuthClients() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	cs, err := c.api.svc.OAuthClients(c.ctx, c.actor, tenancy.OrgID(org))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapSlice(cs, toClient))
}

// createOAuthClient is POST /organization/oauth-clients/create; the secret
// is in this answer only.
func (c *call) createOAuthClient() error {
	var in struct {
		Name         string        `json:"name"`
		OrgID        tenancy.OrgID `json:"orgId"`
		RedirectURLs []string      `json:"redirectUrls"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.OrgID < 0 {
		return badRequest("orgId must be positive")
	}
	cl, secret, err := c.api.svc.CreateOAuthClient(c.ctx, c.actor, tenancy.NewOAuthClient{OrgID: in.OrgID, Name: in.Name,
		RedirectURLs: in.RedirectURLs})
	if err != nil {
		return err
	}
	out := toClient(cl)
	out.ClientSecret = secret
	c.w.Header().Set("Cache-Control", "no-store")
	return c.json(http.StatusCreated, out)
}

// deleteOAuthClient is DELETE /organization/oauth-client?clientId=.
func (c *call) deleteOAuthClient() error {
	id := c.query("clientId")
	if id == "" {
		return badRequest("clientId is required")
	}
	if err := c.api.svc.DeleteOAuthClient(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}
