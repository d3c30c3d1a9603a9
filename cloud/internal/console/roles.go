package console

import (
	"net/http"
	"strconv"

	"outpost/cloud/internal/tenancy"
)

// permGroup is one group of the permission matrix, as Blynk.Console
// groups them (TENANCY.md §12), with each key's label.
type permGroup struct {
	Name  string
	Perms []permLabel
}

type permLabel struct {
	Key   tenancy.Permission
	Label string
}

var permGroups = []permGroup{
	{"Roles", []permLabel{{tenancy.RolesView, "View roles and permissions"}, {tenancy.RolesCreate, "Create roles"},
		{tenancy.RolesEdit, "Edit roles"}, {tenancy.RolesDelete, "Delete roles"}}},
	{"Users", []permLabel{{tenancy.OrgUsersView, "View users"}, {tenancy.UsersInvite, "Invite new users"},
		{tenancy.UsersEdit, "Edit users"}, {tenancy.UsersDelete, "Delete users"}, {tenancy.UsersChangePassword, "Change user passwords"},
		{tenancy.UsersForceLogout, "Force logout"}, {tenancy.UsersActionsLogView, "View user actions log"},
		{tenancy.UsersTransfer, "Transfer users"}, {tenancy.UsersExport, "Download users list"}, {tenancy.UsersSuspend, "Suspend users"}}},
	{"Own devices", []permLabel{{tenancy.OwnDevicesView, "View devices"}, {tenancy.OwnDevicesControl, "Control own devices"},
		{tenancy.OwnDevicesDeleteData, "Delete device data"}, {tenancy.OwnDevicesReports, "Download reports"},
		{tenancy.OwnDevicesTimeline, "View timeline"}, {tenancy.OwnDevicesClaim, "Claim devices by QR"}}},
	{"Organization devices", []permLabel{{tenancy.OrgDevicesView, "View devices"}, {tenancy.OrgDevicesControl, "Control organization devices"},
		{tenancy.OrgDevicesCreate, "Add new devices"}, {tenancy.OrgDevicesEdit, "Edit devices"},
		{tenancy.OrgDevicesDeleteData, "Delete device data"}, {tenancy.OrgDevicesReports, "Download reports"},
		{tenancy.OrgDevicesServiceTab, "Access service tab"}, {tenancy.OrgDevicesDelete, "Delete devices"}}},
	{"Devices", []permLabel{{tenancy.DeviceAuthTokenEdit, "Edit auth tokens"}, {tenancy.DevicesTransfer, "Transfer devices"}}},
	{"Static tokens", []permLabel{{tenancy.ManageStaticTokens, "Manage static tokens"}}},
	{"Templates", []permLabel{{tenancy.ProductView, "View templates"}, {tenancy.ProductEdit, "Create and edit templates"}}},
	{"Organizations", []permLabel{{tenancy.OrgSettingsAccess, "Access organization settings"},
		{tenancy.OrgSwitchSub, "Switch to sub-organizations"}, {tenancy.OrgCreateSub, "Create sub-organizations"},
		{tenancy.OrgTransfer, "Transfer organizations"}, {tenancy.OrgDelete, "Delete organizations"}}},
	{"Owned locations", []permLabel{{tenancy.LocationsOwnView, "View"}, {tenancy.LocationsOwnCreate, "Create"},
		{tenancy.LocationsOwnEdit, "Edit"}, {tenancy.LocationsOwnDelete, "Delete"}, {tenancy.LocationsOwnAssignUsers, "Assign users"}}},
	{"Organization's locations", []permLabel{{tenancy.LocationsOrgView, "View"}, {tenancy.LocationsOrgCreate, "Create"},
		{tenancy.LocationsOrgEdit, "Edit"}, {tenancy.LocationsOrgDelete, "Delete"}, {tenancy.LocationsOrgAssignUsers, "Assign users"}}},
	{"Automations", []permLabel{{tenancy.AutomationsView, "View"}, {tenancy.AutomationsCreate, "Create"},
		{tenancy.AutomationsEdit, "Edit"}, {tenancy.AutomationsDelete, "Delete"}, {tenancy.AutomationsExecute, "Execute"}}},
	{"Developer API", []permLabel{{tenancy.OAuthClientsView, "View OAuth token settings"}, {tenancy.OAuthClientsCreate, "Create"},
		{tenancy.OAuthClientsEdit, "Edit"}, {tenancy.OAuthClientsDelete, "Delete"}}},
	{"Analytics", []permLabel{{tenancy.AnalyticsView, "View analytics"}, {tenancy.DashboardsManage, "Manage dashboards"}}},
	{"Tags", []permLabel{{tenancy.TagsManage, "Manage tags"}}},
	{"Sites", []permLabel{{tenancy.GatewaysView, "View gateways"}, {tenancy.GatewaysClaim, "Claim gateways"},
		{tenancy.GatewaysManage, "Manage gateways"}}},
}

// matrixRow is one permission with a mark per role.
type matrixRow struct {
	permLabel
	Has []bool // by the position of the role in rolesData.Roles
}

type matrixGroup struct {
	Name string
	Rows []matrixRow
}

type rolesData struct {
	OrgName   string
	Roles     []tenancy.RoleInfo
	Groups    []matrixGroup
	CanCreate bool
	CanEdit   bool
	Name      string
	Errs      formErrors
}

// rolesPage is GET /roles: every role's permissions in the current org as
// a matrix grouped as Blynk groups them; new custom roles.
func (c *Console) rolesPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderRoles(w, r, s, http.StatusOK, "", nil)
}

func (c *Console) renderRoles(w http.ResponseWriter, r *http.Request, s *session, status int, name string, errs formErrors) {
	roles, err := c.svc.Roles(r.Context(), s.actor, s.org)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	root := s.tree.Root(s.org)
	d := rolesData{Roles: roles, Name: name, Errs: errs,
		CanCreate: s.can(tenancy.RolesCreate, tenancy.OrgResource(root)) && s.org == s.actor.OrgID && root == s.actor.OrgID,
		CanEdit:   s.can(tenancy.RolesEdit, tenancy.OrgResource(s.org))}
	if d.Errs == nil {
		d.Errs = formErrors{}
	}
	for _, g := range permGroups {
		mg := matrixGroup{Name: g.Name}
		for _, p := range g.Perms {
			row := matrixRow{permLabel: p, Has: make([]bool, len(roles))}
			for i, ro := range roles {
				row.Has[i] = ro.Perms.Has(p.Key)
			}
			mg.Rows = append(mg.Rows, row)
		}
		d.Groups = append(d.Groups, mg)
	}
	if _, byID, err := c.shell(r, s); err == nil {
		d.OrgName = byID[s.org].Name
	}
	errMsg := d.Errs.unshown(map[string]bool{"name": d.CanCreate})
	c.renderShell(w, r, s, status, "roles", view{Title: "Roles and permissions", Nav: "roles", Notice: doneNotice(r), Error: errMsg, Data: d})
}

// roleCreate is POST /roles (name): a custom role of the tree, without
// permissions until they are set.
func (c *Console) roleCreate(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PostFormValue("name")
	ro, err := c.svc.CreateRole(r.Context(), s.actor, name)
	if err != nil {
		c.failForm(w, r, err, func(st int) {
			if st == http.StatusForbidden || st == http.StatusNotFound {
				c.fail(w, r, s, err)
				return
			}
			c.renderRoles(w, r, s, st, name, formErrors{"name": message(err)})
		})
		return
	}
	http.Redirect(w, r, "/roles/"+strconv.Itoa(int(ro.ID))+"?done=role-created", http.StatusSeeOther)
}

type permCheck struct {
	permLabel
	Checked bool
}

type permCheckGroup struct {
	Name  string
	Perms []permCheck
}

type roleData struct {
	Role      tenancy.RoleInfo
	OrgName   string
	Groups    []permCheckGroup
	Others    []option // replacements when deleting
	Errs      formErrors
	Push      string
	HasSub    bool
	CanEdit   bool
	CanRename bool
	CanDelete bool
}

// rolePage is GET /roles/{id}: one role's permissions in the current org,
// editable with a push down to the sub-organizations.
func (c *Console) rolePage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderRole(w, r, s, http.StatusOK, nil, nil, "")
}

// renderRole shows the role page; checked (when not nil) is the submitted
// set.
func (c *Console) renderRole(w http.ResponseWriter, r *http.Request, s *session, status int, checked *tenancy.PermSet, errs formErrors, push string) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	roles, err := c.svc.Roles(r.Context(), s.actor, s.org)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := roleData{Errs: errs, Push: push, HasSub: s.tree.Height(s.org) > 0}
	found := false
	for _, ro := range roles {
		if int64(ro.ID) == id {
			d.Role, found = ro, true
		} else {
			d.Others = append(d.Others, option{Value: strconv.Itoa(int(ro.ID)), Label: ro.Name})
		}
	}
	if !found {
		c.notFound(w, r, s)
		return
	}
	if d.Errs == nil {
		d.Errs = formErrors{}
	}
	root := s.tree.Root(s.org)
	atRoot := s.org == s.actor.OrgID && root == s.actor.OrgID
	d.CanEdit = s.can(tenancy.RolesEdit, tenancy.OrgResource(s.org)) && !(s.org == s.actor.OrgID && d.Role.ID == s.actor.RoleID)
	d.CanRename = atRoot && s.can(tenancy.RolesEdit, tenancy.OrgResource(root))
	d.CanDelete = atRoot && !d.Role.BuiltIn && s.can(tenancy.RolesDelete, tenancy.OrgResource(root))
	set := d.Role.Perms
	if checked != nil {
		set = *checked
	}
	for _, g := range permGroups {
		cg := permCheckGroup{Name: g.Name}
		for _, p := range g.Perms {
			cg.Perms = append(cg.Perms, permCheck{permLabel: p, Checked: set.Has(p.Key)})
		}
		d.Groups = append(d.Groups, cg)
	}
	if _, byID, err := c.shell(r, s); err == nil {
		d.OrgName = byID[s.org].Name
	}
	errMsg := d.Errs.unshown(map[string]bool{"perms": d.CanEdit, "name": d.CanRename, "delete": d.CanDelete})
	c.renderShell(w, r, s, status, "role", view{Scripts: adminScripts, Title: d.Role.Name, Nav: "roles", Notice: doneNotice(r), Error: errMsg, Data: d})
}

var pushModes = map[string]tenancy.PushMode{"": tenancy.PushNone, "none": tenancy.PushNone, "merge": tenancy.PushMerge, "overwrite": tenancy.PushOverwrite}

// rolePerms is POST /roles/{id} (perm…, push): the role's permissions in
// the current org and, per push, below it.
func (c *Console) rolePerms(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	if err := r.ParseForm(); err != nil {
		c.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	push := r.PostFormValue("push")
	mode, ok := pushModes[push]
	if !ok {
		mode = tenancy.PushNone
	}
	set, err := tenancy.ParsePermSet(r.PostForm["perm"])
	if err == nil {
		err = c.svc.SetRolePermissions(r.Context(), s.actor, s.org, tenancy.RoleID(id), set, mode)
	}
	if err != nil {
		if tenancy.CodeOf(err) == tenancy.NotFound {
			c.notFound(w, r, s)
			return
		}
		c.failForm(w, r, err, func(st int) {
			c.renderRole(w, r, s, st, &set, formErrors{"perms": message(err)}, push)
		})
		return
	}
	http.Redirect(w, r, "/roles/"+strconv.FormatInt(id, 10)+"?done=perms", http.StatusSeeOther)
}

func (c *Console) roleRename(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	if _, err := c.svc.RenameRole(r.Context(), s.actor, tenancy.RoleID(id), r.PostFormValue("name")); err != nil {
		if tenancy.CodeOf(err) == tenancy.NotFound {
			c.notFound(w, r, s)
			return
		}
		c.failForm(w, r, err, func(st int) { c.renderRole(w, r, s, st, nil, formErrors{"name": message(err)}, "") })
		return
	}
	http.Redirect(w, r, "/roles/"+strconv.FormatInt(id, 10)+"?done=renamed", http.StatusSeeOther)
}

// roleDelete is POST /roles/{id}/delete (replacement).
func (c *Console) roleDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := pathID(r)
	if !ok {
		c.notFound(w, r, s)
		return
	}
	if _, err := c.svc.DeleteRole(r.Context(), s.actor, tenancy.RoleID(id), tenancy.RoleID(formID(r, "replacement"))); err != nil {
		if tenancy.CodeOf(err) == tenancy.NotFound {
			c.notFound(w, r, s)
			return
		}
		c.failForm(w, r, err, func(st int) { c.renderRole(w, r, s, st, nil, formErrors{"delete": message(err)}, "") })
		return
	}
	http.Redirect(w, r, "/roles?done=deleted", http.StatusSeeOther)
}
