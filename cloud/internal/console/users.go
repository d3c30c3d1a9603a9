package console

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/tenancy"
)

const usersPageSize = 50

// userRow is one line of the users page.
type userRow struct {
	User   tenancy.User
	Org    string
	Role   string
	Status string
	Tags   []tenancy.Tag
}

type usersData struct {
	Q       string
	Sub     bool
	Role    string
	Roles   []option
	Tag     string   // the tag filter's id ("": any)
	Tags    []option // offered only to who may manage tags
	CanTag  bool
	Rows    []userRow
	Total   int
	Next    string
	Prev    string
	CanAdd  bool
	OrgName string
}

// treeRoles are the roles of org's tree (names only).
func (c *Console) treeRoles(r *http.Request, s *session, org tenancy.OrgID) ([]tenancy.Role, error) {
	return c.svc.RoleNames(r.Context(), s.actor, org)
}

// roleNames maps a tree's role ids to names.
func roleNames(roles []tenancy.Role) map[tenancy.RoleID]string {
	m := make(map[tenancy.RoleID]string, len(roles))
	for _, ro := range roles {
		m[ro.ID] = ro.Name
	}
	return m
}

// statusLabel is a user status for people.
func statusLabel(st tenancy.UserStatus) string {
	switch st {
	case tenancy.StatusPending:
		return "Invited"
	case tenancy.StatusActive:
		return "Active"
	case tenancy.StatusInactive:
		return "Inactive"
	case tenancy.StatusSuspended:
		return "Suspended"
	}
	return string(st)
}

// usersPage is GET /users: the users of the current org (and below it
// unless sub=0) with role, status and last login; search by name or
// email, filter by role; numbered pages of 50.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.can(tenancy.OrgUsersView, tenancy.OrgResource(s.org)) {
		c.forbidden(w, r, s)
		return
	}
	q := r.URL.Query()
	d := usersData{Q: strings.TrimSpace(q.Get("q")), Sub: q.Get("sub") != "0", Role: q.Get("role"),
		CanAdd: s.can(tenancy.UsersInvite, tenancy.OrgResource(s.org)), CanTag: s.can(tenancy.TagsManage, tenancy.OrgResource(s.org))}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 0)
	role, _ := strconv.Atoi(d.Role)
	tag, _ := strconv.ParseInt(q.Get("tag"), 10, 64)
	if !d.CanTag {
		tag = 0
	}
	if tag > 0 {
		d.Tag = strconv.FormatInt(tag, 10)
	}
	l, err := c.svc.Users(r.Context(), s.actor, tenancy.UserQuery{OrgID: s.org, IncludeSub: d.Sub, RoleID: tenancy.RoleID(role),
		TagID: tenancy.TagID(tag), Query: d.Q, Page: tenancy.Page{Number: page, Size: usersPageSize}})
	if err != nil {
		if httpStatus(err) == http.StatusBadRequest {
			c.renderShell(w, r, s, http.StatusBadRequest, "users", view{Title: "Users", Nav: "users", Error: message(err), Data: d})
			return
		}
		c.fail(w, r, s, err)
		return
	}
	roles, err := c.treeRoles(r, s, s.org)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	names := roleNames(roles)
	d.Roles = make([]option, 0, len(roles))
	for _, ro := range roles {
		d.Roles = append(d.Roles, option{Value: strconv.Itoa(int(ro.ID)), Label: ro.Name, Selected: int(ro.ID) == role})
	}
	byID, err := c.scopeOrgs(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.OrgName = byID[s.org].Name
	tags := map[tenancy.UserID][]tenancy.Tag{}
	if d.CanTag {
		usable, err := c.usableTags(r, s, s.org)
		if err == nil {
			tags, err = c.svc.UsersTags(r.Context(), s.actor, l.Items)
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		for _, tg := range usable {
			id := strconv.FormatInt(int64(tg.ID), 10)
			d.Tags = append(d.Tags, option{Value: id, Label: tg.Name, Selected: id == d.Tag})
		}
	}
	for _, u := range l.Items {
		d.Rows = append(d.Rows, userRow{User: u, Org: byID[u.OrgID].Name, Role: names[u.RoleID], Status: statusLabel(u.Status), Tags: tags[u.ID]})
	}
	d.Total = l.Total
	link := func(p int) string {
		v := cloneQuery(q)
		v.Set("page", strconv.Itoa(p))
		return "/users?" + v.Encode()
	}
	if (page+1)*usersPageSize < l.Total {
		d.Next = link(page + 1)
	}
	if page > 0 {
		d.Prev = link(page - 1)
	}
	c.renderShell(w, r, s, http.StatusOK, "users", view{Title: "Users", Nav: "users", Notice: doneNotice(r), Data: d})
}

type usersAddData struct {
	Org     tenancy.OrgID
	OrgText string // the org field as sent (a name typed without JavaScript)
	Orgs    orgPicker
	Roles   []option
	Email   string
	Name    string
	Errs    formErrors
	Form    string // which form the errors are about: invite, create, import
	CSV     string
	Report  *tenancy.ImportReport
	MinPass int
}

// usersAddPage is GET /users/add: invite one person, create a user with
// a password, or invite many from a CSV file.
func (c *Console) usersAddPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderUsersAdd(w, r, s, http.StatusOK, usersAddData{Org: s.org, Errs: formErrors{}}, tenancy.RoleUser)
}

func (c *Console) renderUsersAdd(w http.ResponseWriter, r *http.Request, s *session, status int, d usersAddData, role tenancy.RoleID) {
	if !s.perms.Has(tenancy.UsersInvite) {
		c.forbidden(w, r, s)
		return
	}
	cur := d.OrgText
	if cur == "" {
		cur = strconv.FormatInt(int64(d.Org), 10)
	}
	var err error
	if d.Orgs, err = c.orgPicker(r, s, "users.invite", cur, nil); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if d.Roles, err = c.roleOptions(r, s, s.org, role); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.MinPass = c.svc.Config().MinPassword
	c.renderShell(w, r, s, status, "usersadd", view{Title: "Add users", Nav: "users", Data: d})
}

// inviteMail is the invitation with its link, as the Platform API words it.
func (c *Console) inviteMail(u tenancy.User, token string) mail.Message {
	return mail.Message{To: u.Email, Subject: "You are invited to Outpost", Body: fmt.Sprintf(
		"Hello %s,\n\nYou have been invited to an organization on Outpost.\n"+
			"Open %s/accept-invitation?token=%s to set your password.\n\n"+
			"The invitation expires in %d days.\n",
		u.Name, c.base, url.QueryEscape(token), int(c.svc.Config().InviteTTL.Hours()/24))}
}

// userInvite is POST /users/invite (email, name, role, org).
func (c *Console) userInvite(w http.ResponseWriter, r *http.Request, s *session) {
	d := usersAddData{Org: tenancy.OrgID(c.formOrg(r, s, "org")), OrgText: r.PostFormValue("org"), Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Form: "invite"}
	role := tenancy.RoleID(formID(r, "role"))
	res, err := c.svc.InviteUser(r.Context(), s.actor, tenancy.Invite{Email: d.Email, Name: d.Name, RoleID: role, OrgID: d.Org})
	if err != nil {
		c.failForm(w, r, err, func(st int) {
			d.Errs = refusal(err, "email", "name", "role", "organization")
			c.renderUsersAdd(w, r, s, st, d, role)
		})
		return
	}
	c.send(r, c.inviteMail(res.User, res.Token))
	http.Redirect(w, r, "/users?done=invited", http.StatusSeeOther)
}

// userCreate is POST /users/create (email, name, role, org, password).
func (c *Console) userCreate(w http.ResponseWriter, r *http.Request, s *session) {
	d := usersAddData{Org: tenancy.OrgID(c.formOrg(r, s, "org")), OrgText: r.PostFormValue("org"), Email: r.PostFormValue("email"), Name: r.PostFormValue("name"), Form: "create"}
	role := tenancy.RoleID(formID(r, "role"))
	u, err := c.svc.CreateUser(r.Context(), s.actor, tenancy.NewUser{Email: d.Email, Name: d.Name, RoleID: role, OrgID: d.Org,
		Password: r.PostFormValue("password")})
	if err != nil {
		c.failForm(w, r, err, func(st int) {
			d.Errs = refusal(err, "email", "password", "email", "name", "role", "organization")
			c.renderUsersAdd(w, r, s, st, d, role)
		})
		return
	}
	http.Redirect(w, r, "/users/"+strconv.FormatInt(int64(u.ID), 10)+"?done=user-created", http.StatusSeeOther)
}

// usersImport is POST /users/import (org, csv as a file or pasted): the
// service invites row by row; the page shows every row's outcome and
// mails each created user their invitation.
func (c *Console) usersImport(w http.ResponseWriter, r *http.Request, s *session) {
	d := usersAddData{Org: tenancy.OrgID(c.formOrg(r, s, "org")), OrgText: r.PostFormValue("org"), Form: "import"}
	data := []byte(r.PostFormValue("csv"))
	if f, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			data = b
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		d.Errs = formErrors{"csv": "Choose a CSV file or paste its rows."}
		c.renderUsersAdd(w, r, s, http.StatusBadRequest, d, tenancy.RoleUser)
		return
	}
	rep, err := c.svc.InviteCSV(r.Context(), s.actor, d.Org, data)
	if err != nil {
		c.failForm(w, r, err, func(st int) {
			d.Errs = formErrors{"csv": message(err)}
			c.renderUsersAdd(w, r, s, st, d, tenancy.RoleUser)
		})
		return
	}
	for i, row := range rep.Rows {
		if row.Created {
			u, err := c.svc.User(r.Context(), s.actor, row.UserID)
			if err != nil {
				u = tenancy.User{Email: row.Email}
			}
			c.send(r, c.inviteMail(u, row.Token))
		}
		rep.Rows[i].Token = "" // the token is the invitee's secret: mailed, never shown
	}
	d.Report = &rep
	d.Errs = formErrors{}
	c.renderUsersAdd(w, r, s, http.StatusOK, d, tenancy.RoleUser)
}

type userData struct {
	User      tenancy.User
	Org       tenancy.Org
	Role      string
	Status    string
	Roles     []option
	Orgs      orgPicker // transfer destinations
	TRoles    []option  // roles for the transfer
	Errs      formErrors
	Self      bool
	CanRole   bool
	CanMove   bool
	CanSusp   bool
	CanLogout bool
	CanReset  bool
	CanDelete bool
	CanResend bool // a pending user's invitation
	CanTag    bool
	Tags      []tagChoice // the usable tags, the user's checked
}

// userPage is GET /users/{id}: one user and what may be done to them.
func (c *Console) userPage(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	c.renderUser(w, r, s, http.StatusOK, tenancy.UserID(id), nil, "", 0)
}

func (c *Console) renderUser(w http.ResponseWriter, r *http.Request, s *session, status int, id tenancy.UserID, errs formErrors,
	selOrg string, selRole tenancy.RoleID) {
	u, err := c.svc.User(r.Context(), s.actor, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if id == s.user.ID && !s.can(tenancy.OrgUsersView, tenancy.OrgResource(u.OrgID)) {
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
		return
	}
	o, err := c.svc.Org(r.Context(), s.actor, u.OrgID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	res := tenancy.Resource{OrgID: u.OrgID}
	self := id == s.user.ID
	d := userData{User: u, Org: o, Status: statusLabel(u.Status), Errs: errs, Self: self,
		CanRole: !self && s.can(tenancy.UsersEdit, res), CanMove: !self && s.can(tenancy.UsersTransfer, res),
		CanSusp: !self && s.can(tenancy.UsersSuspend, res), CanLogout: s.can(tenancy.UsersForceLogout, res),
		CanReset: !self && s.can(tenancy.UsersChangePassword, res), CanDelete: !self && s.can(tenancy.UsersDelete, res),
		CanResend: u.Status == tenancy.StatusPending && s.can(tenancy.UsersInvite, res)}
	if d.Errs == nil {
		d.Errs = formErrors{}
	}
	if d.CanTag = s.can(tenancy.TagsManage, res) && s.can(tenancy.UsersEdit, res); d.CanTag {
		have, err := c.svc.UserTags(r.Context(), s.actor, id)
		if err == nil {
			d.Tags, err = c.tagChoices(r, s, u.OrgID, have)
		}
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	roles, err := c.treeRoles(r, s, u.OrgID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Role = roleNames(roles)[u.RoleID]
	if selRole == 0 {
		selRole = u.RoleID
	}
	for _, ro := range roles {
		d.Roles = append(d.Roles, option{Value: strconv.Itoa(int(ro.ID)), Label: ro.Name, Selected: ro.ID == u.RoleID})
		d.TRoles = append(d.TRoles, option{Value: strconv.Itoa(int(ro.ID)), Label: ro.Name, Selected: ro.ID == selRole})
	}
	if d.CanMove {
		if d.Orgs, err = c.orgPicker(r, s, "users.transfer", selOrg, func(o tenancy.Org) bool { return o.ID != u.OrgID }); err != nil {
			c.fail(w, r, s, err)
			return
		}
		d.CanMove = d.Orgs.Count > 0
	}
	errMsg := d.Errs.unshown(map[string]bool{"role": d.CanRole, "tags": d.CanTag, "transfer": d.CanMove, "suspend": d.CanSusp, "logout": d.CanLogout,
		"reset": d.CanReset, "delete": d.CanDelete, "resend": d.CanResend})
	c.renderShell(w, r, s, status, "user", view{Scripts: adminScripts, Title: u.Name, Nav: "users", Notice: doneNotice(r), Error: errMsg, Data: d})
}

// userAction runs one action on the user of the path; a refusal shows
// the user's page with the message at the action's field.
func (c *Console) userAction(w http.ResponseWriter, r *http.Request, s *session, field string, done *string, act func(id tenancy.UserID) error) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	if err := act(tenancy.UserID(id)); err != nil {
		if tenancy.CodeOf(err) == tenancy.NotFound && field != "transfer" && field != "tags" { // those name another object
			c.notFound(w, r, s)
			return
		}
		c.failForm(w, r, err, func(st int) {
			c.renderUser(w, r, s, st, tenancy.UserID(id), formErrors{field: message(err)},
				r.PostFormValue("org"), tenancy.RoleID(formID(r, "role")))
		})
		return
	}
	to := "/users/" + strconv.FormatInt(id, 10) + "?done=" + *done
	if *done == "deleted" {
		to = "/users?done=deleted"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// userTags is POST /users/{id}/tags (tag: the ids, at most 5).
func (c *Console) userTags(w http.ResponseWriter, r *http.Request, s *session) {
	c.userAction(w, r, s, "tags", ptr("saved"), func(id tenancy.UserID) error {
		return c.svc.SetUserTags(r.Context(), s.actor, id, formTagIDs(r))
	})
}

func (c *Console) userRole(w http.ResponseWriter, r *http.Request, s *session) {
	c.userAction(w, r, s, "role", ptr("role"), func(id tenancy.UserID) error {
		_, err := c.svc.SetUserRole(r.Context(), s.actor, id, tenancy.RoleID(formID(r, "role")))
		return err
	})
}

// userTransfer is POST /users/{id}/transfer (org, role, devices).
func (c *Console) userTransfer(w http.ResponseWriter, r *http.Request, s *session) {
	done := "user-transferred"
	c.userAction(w, r, s, "transfer", &done, func(id tenancy.UserID) error {
		res, err := c.svc.TransferUser(r.Context(), s.actor, id, tenancy.UserTransfer{OrgID: tenancy.OrgID(c.formOrg(r, s, "org")),
			RoleID: tenancy.RoleID(formID(r, "role")), MoveDevices: r.PostFormValue("devices") == "on"})
		if err == nil && res.NoAdminLeft {
			done = "user-transferred-no-admin" // Blynk warns, it does not refuse (§13.11)
		}
		return err
	})
}

// userSuspend is POST /users/{id}/suspend (suspend=1 or 0).
func (c *Console) userSuspend(w http.ResponseWriter, r *http.Request, s *session) {
	susp := r.PostFormValue("suspend") != "0"
	done := "suspended"
	if !susp {
		done = "reactivated"
	}
	c.userAction(w, r, s, "suspend", &done, func(id tenancy.UserID) error {
		_, err := c.svc.SetSuspended(r.Context(), s.actor, id, susp)
		return err
	})
}

func (c *Console) userLogout(w http.ResponseWriter, r *http.Request, s *session) {
	c.userAction(w, r, s, "logout", ptr("logged-out"), func(id tenancy.UserID) error {
		return c.svc.ForceLogout(r.Context(), s.actor, id)
	})
}

// userReset is POST /users/{id}/reset: mails the user a reset link.
func (c *Console) userReset(w http.ResponseWriter, r *http.Request, s *session) {
	c.userAction(w, r, s, "reset", ptr("reset"), func(id tenancy.UserID) error {
		tok, u, err := c.svc.SendPasswordReset(r.Context(), s.actor, id)
		if err != nil {
			return err
		}
		ttl := c.svc.Config().ResetTTL
		c.send(r, mail.Message{To: u.Email, Subject: "Reset your Outpost password", Body: fmt.Sprintf(
			"Hello %s,\n\nAn administrator of your organization sent you this link to set a new password:\n%s/reset-password?token=%s\n"+
				"It is valid for %s and works once.\n", u.Name, c.base, url.QueryEscape(tok), ttl.Round(time.Minute))})
		return nil
	})
}

// userResend is POST /users/{id}/resend: a fresh invitation mail for a
// user who never accepted one.
func (c *Console) userResend(w http.ResponseWriter, r *http.Request, s *session) {
	c.userAction(w, r, s, "resend", ptr("invited"), func(id tenancy.UserID) error {
		res, err := c.svc.ResendInvitation(r.Context(), s.actor, id)
		if err == nil {
			c.send(r, c.inviteMail(res.User, res.Token))
		}
		return err
	})
}

func (c *Console) userDelete(w http.ResponseWriter, r *http.Request, s *session) {
	c.userAction(w, r, s, "delete", ptr("deleted"), func(id tenancy.UserID) error {
		return c.svc.DeleteUser(r.Context(), s.actor, id)
	})
}

// addForm is one of the add-users forms: its id prefix, the page's data
// and the refusals when they concern this form.
type addForm struct {
	P    string
	D    usersAddData
	Errs formErrors
}

// For is the data of the form named p (invite, create, import).
func (d usersAddData) For(p string) addForm {
	f := addForm{P: p, D: d, Errs: formErrors{}}
	if d.Form == p {
		f.Errs = d.Errs
	}
	return f
}

func ptr[T any](v T) *T { return &v }

// usersBulkTag is POST /users/bulk-tag: Blynk's "Apply Tag" on the users
// selected in the list (id, at most a page), each through the service on
// its own (SetUserTags: TAGS_MANAGE and USERS_EDIT, at most 5 tags); the
// answer reports each user's outcome.
func (c *Console) usersBulkTag(w http.ResponseWriter, r *http.Request, s *session) {
	r.ParseForm()
	tag := tenancy.TagID(formID(r, "tag"))
	ids := formIDs[tenancy.UserID](r, "id")
	msg := ""
	switch {
	case len(ids) == 0:
		msg = "Select the users first."
	case len(ids) > usersPageSize:
		msg = fmt.Sprintf("Select at most %d users.", usersPageSize)
	case tag == 0:
		msg = "Choose the tag to apply."
	}
	bd := bulkData{Action: "tag", Users: true}
	if msg != "" {
		c.renderShell(w, r, s, http.StatusBadRequest, "bulk", view{Title: "Bulk action", Nav: "users", Error: msg, Data: bd})
		return
	}
	ctx := r.Context()
	for _, id := range ids {
		row := bulkRow{Name: "user " + strconv.FormatInt(int64(id), 10)}
		have, err := c.svc.UserTags(ctx, s.actor, id)
		if err == nil {
			if u, uerr := c.svc.User(ctx, s.actor, id); uerr == nil {
				row.Name = u.Email
			}
			if !slices.ContainsFunc(have, func(t tenancy.Tag) bool { return t.ID == tag }) {
				tags := []tenancy.TagID{tag}
				for _, h := range have {
					tags = append(tags, h.ID)
				}
				err = c.svc.SetUserTags(ctx, s.actor, id, tags)
			}
		}
		if err != nil {
			if httpStatus(err) == http.StatusInternalServerError {
				c.serverError(w, r, err)
				return
			}
			row.Result = message(err)
		} else {
			row.OK, row.Result = true, "done"
			bd.Done++
		}
		bd.Rows = append(bd.Rows, row)
	}
	c.renderShell(w, r, s, http.StatusOK, "bulk", view{Title: "Bulk action", Nav: "users", Data: bd})
}
