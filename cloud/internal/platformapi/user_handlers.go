package platformapi

import (
	"io"
	"net/http"

	"outpost/cloud/internal/tenancy"
)

// listUsers is GET /organization/users.
func (c *call) listUsers() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	sub, err := c.boolean("includeSubOrgUsers")
	if err != nil {
		return err
	}
	role, err := c.optID("roleId")
	if err != nil {
		return err
	}
	tag, err := c.optID("tagId")
	if err != nil {
		return err
	}
	p, err := c.page()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Users(c.ctx, c.actor, tenancy.UserQuery{OrgID: tenancy.OrgID(org), IncludeSub: sub,
		RoleID: tenancy.RoleID(role), TagID: tenancy.TagID(tag), Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toUser))
}

// searchUsers is GET /organization/search/users?query=: users in scope by
// name or email, sub-organizations included.
func (c *call) searchUsers() error {
	q, p, err := c.search()
	if err != nil {
		return err
	}
	l, err := c.api.svc.Users(c.ctx, c.actor, tenancy.UserQuery{IncludeSub: true, Query: q, Page: p})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapList(l, toUser))
}

func (c *call) userID() (tenancy.UserID, error) {
	id, err := c.id("userId")
	return tenancy.UserID(id), err
}

// getUser is GET /organization/user?userId=.
func (c *call) getUser() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	u, err := c.api.svc.User(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toUser(u))
}

// createUserInOrg is POST /organization/users/create-in-org.
func (c *call) createUserInOrg() error {
	var in struct {
		Email    string         `json:"email"`
		Password string         `json:"password"`
		Name     string         `json:"name"`
		OrgID    tenancy.OrgID  `json:"orgId"`
		RoleID   tenancy.RoleID `json:"roleId"`
		Phone    string         `json:"phoneNumber"`
		TZ       string         `json:"timeZone"`
		Locale   string         `json:"locale"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.OrgID <= 0 || in.RoleID <= 0 {
		return badRequest("orgId and roleId are required")
	}
	u, err := c.api.svc.CreateUser(c.ctx, c.actor, tenancy.NewUser{Email: in.Email, Name: in.Name, OrgID: in.OrgID,
		RoleID: in.RoleID, Password: in.Password, Phone: in.Phone, TZ: in.TZ, Locale: in.Locale})
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, toUser(c.api.svc.WithStatus(u)))
}

// inviteUser is POST /organization/users/invite.
func (c *call) inviteUser() error {
	var in struct {
		Email  string         `json:"email"`
		Name   string         `json:"name"`
		RoleID tenancy.RoleID `json:"roleId"`
		OrgID  tenancy.OrgID  `json:"orgId"`
		Phone  string         `json:"phoneNumber"`
		Locale string         `json:"locale"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.OrgID < 0 || in.RoleID < 0 {
		return badRequest("orgId and roleId must be positive")
	}
	res, err := c.api.svc.InviteUser(c.ctx, c.actor, tenancy.Invite{Email: in.Email, Name: in.Name, RoleID: in.RoleID,
		OrgID: in.OrgID, Phone: in.Phone, Locale: in.Locale})
	if err != nil {
		return err
	}
	c.api.send(c, c.api.inviteMail(c, res.User, res.Token))
	return c.json(http.StatusCreated, toUser(res.User))
}

type importRowJSON struct {
	Line    int            `json:"line"`
	Email   string         `json:"email"`
	Created bool           `json:"created"`
	UserID  tenancy.UserID `json:"userId,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// inviteCSV is POST /organization/users/invite/csv?orgId=: the body is a
// CSV file (email,name[,role[,phone]]); the answer reports every row.
func (c *call) inviteCSV() error {
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	data, err := io.ReadAll(c.r.Body)
	if err != nil {
		return err // only MaxBytesError reaches here in practice
	}
	rep, err := c.api.svc.InviteCSV(c.ctx, c.actor, tenancy.OrgID(org), data)
	if err != nil {
		return err
	}
	rows := make([]importRowJSON, 0, len(rep.Rows))
	for _, r := range rep.Rows {
		rows = append(rows, importRowJSON{Line: r.Line, Email: r.Email, Created: r.Created, UserID: r.UserID, Error: r.Error})
		if r.Created {
			u, err := c.api.svc.User(c.ctx, c.actor, r.UserID)
			if err == nil {
				c.api.send(c, c.api.inviteMail(c, u, r.Token))
			}
		}
	}
	return c.json(http.StatusOK, struct {
		Created int             `json:"created"`
		Failed  int             `json:"failed"`
		Rows    []importRowJSON `json:"rows"`
	}{rep.Created, rep.Failed, rows})
}

// transferUser is POST /organization/users/transfer.
func (c *call) transferUser() error {
	var in struct {
		UserID      tenancy.UserID `json:"userId"`
		TargetOrgID tenancy.OrgID  `json:"targetOrgId"`
		RoleID      tenancy.RoleID `json:"roleId"`
		MoveDevices bool           `json:"moveDevices"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.UserID <= 0 || in.TargetOrgID <= 0 || in.RoleID <= 0 {
		return badRequest("userId, targetOrgId and roleId are required")
	}
	res, err := c.api.svc.TransferUser(c.ctx, c.actor, in.UserID, tenancy.UserTransfer{OrgID: in.TargetOrgID,
		RoleID: in.RoleID, MoveDevices: in.MoveDevices})
	if err != nil {
		return err
	}
	out := struct {
		userJSON
		FromOrgID    tenancy.OrgID `json:"fromOrgId"`
		MovedDevices int           `json:"movedDevices"`
		Warning      string        `json:"warning,omitempty"`
	}{userJSON: toUser(res.User), FromOrgID: res.FromOrgID, MovedDevices: res.MovedDevices}
	if res.NoAdminLeft {
		out.Warning = "organization has no Admin"
	}
	return c.json(http.StatusCreated, out)
}

// setUserRole is PUT /organization/users/role?userId=&roleId=.
func (c *call) setUserRole() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	role, err := c.id("roleId")
	if err != nil {
		return err
	}
	u, err := c.api.svc.SetUserRole(c.ctx, c.actor, id, tenancy.RoleID(role))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toUser(u))
}

// updateUser is PUT /organization/user?userId=.
func (c *call) updateUser() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	var in struct {
		Name   *string `json:"name"`
		Title  *string `json:"title"`
		Nick   *string `json:"nickName"`
		Phone  *string `json:"phoneNumber"`
		TZ     *string `json:"tz"`
		Locale *string `json:"locale"`
		IsDev  *bool   `json:"isDev"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	u, err := c.api.svc.UpdateUser(c.ctx, c.actor, id, tenancy.UserUpdate{Name: in.Name, Title: in.Title, Nick: in.Nick,
		Phone: in.Phone, TZ: in.TZ, Locale: in.Locale, IsDev: in.IsDev})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, toUser(u))
}

// deleteUser is DELETE /organization/user?userId=.
func (c *call) deleteUser() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	if err := c.api.svc.DeleteUser(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

// suspendHandler is POST /organization/users/suspend and /unsuspend.
func suspendHandler(suspended bool) func(*call) error {
	return func(c *call) error {
		id, err := c.userID()
		if err != nil {
			return err
		}
		u, err := c.api.svc.SetSuspended(c.ctx, c.actor, id, suspended)
		if err != nil {
			return err
		}
		return c.json(http.StatusOK, toUser(u))
	}
}

// forceLogout is POST /organization/users/logout?userId=.
func (c *call) forceLogout() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	if err := c.api.svc.ForceLogout(c.ctx, c.actor, id); err != nil {
		return err
	}
	return c.noContent()
}

// setUserPassword is POST /organization/users/password?userId= {password}.
func (c *call) setUserPassword() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if err := c.api.svc.SetPassword(c.ctx, c.actor, id, in.Password); err != nil {
		return err
	}
	return c.noContent()
}

// userTags is GET /organization/user/tags?userId= (ours; Blynk tags users
// in its console only).
func (c *call) userTags() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	ts, err := c.api.svc.UserTags(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mapSlice(ts, toTag))
}

// setUserTags is PUT /organization/user/tags?userId= {tagIds}.
func (c *call) setUserTags() error {
	id, err := c.userID()
	if err != nil {
		return err
	}
	var in struct {
		TagIDs []tenancy.TagID `json:"tagIds"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if err := c.api.svc.SetUserTags(c.ctx, c.actor, id, in.TagIDs); err != nil {
		return err
	}
	return c.noContent()
}
