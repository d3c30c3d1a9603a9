package console

import (
	"net/http"
	"strings"

	"outpost/cloud/internal/tenancy"
)

type developersData struct {
	Clients   []tenancy.OAuthClient
	CanCreate bool
	CanEdit   bool
	CanDelete bool
	Form      form
	// Secret is shown once, right after create or rotate.
	NewID, Secret string
}

// developersPage is GET /developers: the current org's OAuth2 clients.
func (c *Console) developersPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderDevelopers(w, r, s, http.StatusOK, developersData{}, view{})
}

func (c *Console) renderDevelopers(w http.ResponseWriter, r *http.Request, s *session, status int, d developersData, v view) {
	cs, err := c.svc.OAuthClients(r.Context(), s.actor, s.org)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	res := tenancy.OrgResource(s.org)
	d.Clients, d.CanCreate, d.CanEdit, d.CanDelete = cs, s.can(tenancy.OAuthClientsCreate, res), s.can(tenancy.OAuthClientsEdit, res), s.can(tenancy.OAuthClientsDelete, res)
	v.Title, v.Nav, v.Data = "Developers", "developers", d
	c.renderShell(w, r, s, status, "developers", v)
}

// oauthCreate is POST /developers (name, redirect: one URL a line).
func (c *Console) oauthCreate(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "name", "redirect")
	urls := strings.Fields(f.V("redirect"))
	if f.V("name") == "" {
		f.Errs["name"] = "Enter the client's name."
		c.renderDevelopers(w, r, s, http.StatusBadRequest, developersData{Form: f}, view{})
		return
	}
	cl, secret, err := c.svc.CreateOAuthClient(r.Context(), s.actor, tenancy.NewOAuthClient{OrgID: s.org, Name: f.V("name"), RedirectURLs: urls})
	if err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		field := "name"
		if strings.Contains(message(err), "redirect") {
			field = "redirect"
		}
		f.Errs[field] = message(err)
		c.renderDevelopers(w, r, s, st, developersData{Form: f}, view{})
		return
	}
	c.renderDevelopers(w, r, s, http.StatusCreated, developersData{NewID: cl.ID, Secret: secret},
		view{Notice: "The client " + cl.Name + " was created."})
}

// oauthRotate is POST /developers/{id}/rotate: a new secret, shown once;
// the old one and its tokens stop working.
func (c *Console) oauthRotate(w http.ResponseWriter, r *http.Request, s *session) {
	cl, secret, err := c.svc.RotateOAuthClientSecret(r.Context(), s.actor, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.renderDevelopers(w, r, s, http.StatusOK, developersData{NewID: cl.ID, Secret: secret},
		view{Notice: "The secret of " + cl.Name + " was replaced; the old secret and its tokens no longer work."})
}

// oauthDelete is POST /developers/{id}/delete.
func (c *Console) oauthDelete(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.svc.DeleteOAuthClient(r.Context(), s.actor, r.PathValue("id")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/developers", http.StatusSeeOther)
}
