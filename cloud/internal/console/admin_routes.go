package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
)

// adminRoutes mounts the administration pages: organizations, users,
// roles and the audit log. Every action calls the tenancy service, so
// the same Decide rules as the Platform API's apply; a page offers only
// what the user's role allows, and the service refuses the rest.
func (c *Console) adminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /pick/orgs", c.auth(c.pickOrgs))
	mux.Handle("GET /orgs/new", c.auth(c.orgNewPage))
	mux.Handle("POST /orgs/new", c.auth(c.orgCreate))
	mux.Handle("GET /orgs/{id}", c.auth(c.orgPage))
	mux.Handle("POST /orgs/{id}", c.auth(c.orgUpdate))
	mux.Handle("POST /orgs/{id}/transfer", c.auth(c.orgTransfer))
	mux.Handle("POST /orgs/{id}/delete", c.auth(c.orgDelete))

	mux.Handle("GET /users", c.auth(c.usersPage))
	mux.Handle("GET /users/add", c.auth(c.usersAddPage))
	mux.Handle("POST /users/invite", c.auth(c.userInvite))
	mux.Handle("POST /users/create", c.auth(c.userCreate))
	mux.Handle("POST /users/import", c.auth(c.usersImport))
	mux.Handle("GET /users/{id}", c.auth(c.userPage))
	mux.Handle("POST /users/{id}/role", c.auth(c.userRole))
	mux.Handle("POST /users/{id}/tags", c.auth(c.userTags))
	mux.Handle("POST /users/bulk-tag", c.auth(c.usersBulkTag))
	mux.Handle("POST /users/{id}/transfer", c.auth(c.userTransfer))
	mux.Handle("POST /users/{id}/suspend", c.auth(c.userSuspend))
	mux.Handle("POST /users/{id}/logout", c.auth(c.userLogout))
	mux.Handle("POST /users/{id}/reset", c.auth(c.userReset))
	mux.Handle("POST /users/{id}/resend", c.auth(c.userResend))
	mux.Handle("POST /users/{id}/delete", c.auth(c.userDelete))

	mux.Handle("GET /roles", c.auth(c.rolesPage))
	mux.Handle("POST /roles", c.auth(c.roleCreate))
	mux.Handle("GET /roles/{id}", c.auth(c.rolePage))
	mux.Handle("POST /roles/{id}", c.auth(c.rolePerms))
	mux.Handle("POST /roles/{id}/rename", c.auth(c.roleRename))
	mux.Handle("POST /roles/{id}/delete", c.auth(c.roleDelete))

	mux.Handle("GET /audit", c.auth(c.auditPage))
}

// adminScripts are the modules of the pages with destructive forms.
var adminScripts = []string{"admin.js"}

// adminNav is which administration links the header offers.
type adminNav struct {
	Users, Roles, Audit bool
}

func (s *session) adminNav() adminNav {
	return adminNav{Users: s.perms.Has(tenancy.OrgUsersView), Roles: s.perms.Has(tenancy.RolesView),
		Audit: s.perms.Has(tenancy.UsersActionsLogView)}
}

// formErrors are the service's refusals of a form, by field: the page
// shows each next to its field ("" is the form as a whole).
type formErrors map[string]string

// refusal files a service error under the field its message is about:
// the first of fields whose name the message mentions, else the form's
// main field def.
func refusal(err error, def string, fields ...string) formErrors {
	msg := message(err)
	low := strings.ToLower(msg)
	for _, f := range fields {
		if strings.Contains(low, f) {
			return formErrors{f: msg}
		}
	}
	return formErrors{def: msg}
}

// pathID is the integer {id} of the path, or false.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// formID is an integer form field (0 when absent or malformed).
func formID(r *http.Request, name string) int64 {
	id, _ := strconv.ParseInt(strings.TrimSpace(r.PostFormValue(name)), 10, 64)
	return max(id, 0)
}

// formIDs reads the distinct positive ids posted under name (a list's
// selection), in the order posted; others are left out.
func formIDs[T ~int64](r *http.Request, name string) []T {
	var ids []T
	for _, v := range r.PostForm[name] {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 && !slices.Contains(ids, T(n)) {
			ids = append(ids, T(n))
		}
	}
	return ids
}

// failForm answers a refused form: a server error as such, otherwise the
// page again (render) with the refusal's status.
func (c *Console) failForm(w http.ResponseWriter, r *http.Request, err error, render func(status int)) {
	st := httpStatus(err)
	if st == http.StatusInternalServerError {
		c.serverError(w, r, err)
		return
	}
	render(st)
}

// roleOptions are the roles of the tree of org, with sel selected.
func (c *Console) roleOptions(r *http.Request, s *session, org tenancy.OrgID, sel tenancy.RoleID) ([]option, error) {
	roles, err := c.treeRoles(r, s, org)
	if err != nil {
		return nil, err
	}
	out := make([]option, 0, len(roles))
	for _, ro := range roles {
		out = append(out, option{Value: strconv.Itoa(int(ro.ID)), Label: ro.Name, Selected: ro.ID == sel})
	}
	return out, nil
}

// unshown takes out the refusals of forms the page does not offer (the
// request was forged or the page changed since) and returns them as one
// page-level message.
func (e formErrors) unshown(shown map[string]bool) string {
	var msgs []string
	for k, m := range e {
		if !shown[k] {
			msgs = append(msgs, m)
			delete(e, k)
		}
	}
	slices.Sort(msgs)
	return strings.Join(msgs, " ")
}
