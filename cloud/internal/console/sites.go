package console

import (
	"net/http"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
)

type siteRow struct {
	Gateway tenancy.Gateway
	Org     string
	Status  SiteStatus
	Devices int
	Release bool // the user may release it
}

type sitesData struct {
	Sites   []siteRow
	Claim   orgPicker // orgs the user may claim into; none: no claim form
	Code    string
	Claimed string
}

func (c *Console) siteRow(r *http.Request, s *session, g tenancy.Gateway, orgs map[tenancy.OrgID]tenancy.Org) (siteRow, error) {
	row := siteRow{Gateway: g, Org: c.orgName(r, s, orgs, g.OrgID), Release: s.can(tenancy.GatewaysManage, tenancy.Resource{OrgID: g.OrgID})}
	if c.live != nil {
		st, err := c.live.Site(r.Context(), g)
		if err != nil {
			return row, err
		}
		row.Status = st
	}
	l, err := c.svc.Devices(r.Context(), s.actor, tenancy.DeviceQuery{OrgID: g.OrgID, IncludeSub: true, Page: tenancy.Page{Size: 1}})
	if err != nil && tenancy.CodeOf(err) != tenancy.NotFound {
		return row, err
	}
	row.Devices = l.Total
	return row, nil
}

// sitesPage is GET /sites: the gateways in scope with their status, and
// the claim form where the user may claim.
func (c *Console) sitesPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderSites(w, r, s, http.StatusOK, "", "")
}

func (c *Console) renderSites(w http.ResponseWriter, r *http.Request, s *session, status int, code, errMsg string) {
	if !s.perms.Has(tenancy.GatewaysView) {
		c.forbidden(w, r, s)
		return
	}
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	l, err := c.svc.Gateways(r.Context(), s.actor, s.org, true, tenancy.Page{Size: tenancy.MaxPageSize})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := sitesData{Code: code}
	for _, g := range l.Items {
		row, err := c.siteRow(r, s, g, orgs)
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		d.Sites = append(d.Sites, row)
	}
	if d.Claim, err = c.orgPicker(r, s, "sites.claim", strconv.FormatInt(int64(s.org), 10), nil); err != nil {
		c.serverError(w, r, err)
		return
	}
	v := view{Title: "Sites", Nav: "sites", Shell: sh, Data: d, Error: errMsg}
	switch r.URL.Query().Get("done") {
	case "claimed":
		v.Notice = "The gateway was claimed. Its devices appear once it connects."
	case "released":
		v.Notice = "The gateway was released; it must register again before anyone can claim it."
	}
	c.render(w, r, status, "sites", v)
}

// siteClaim is POST /sites/claim (code, org).
func (c *Console) siteClaim(w http.ResponseWriter, r *http.Request, s *session) {
	code := strings.TrimSpace(r.PostFormValue("code"))
	org := c.formOrg(r, s, "org")
	if code == "" {
		c.renderSites(w, r, s, http.StatusBadRequest, code, "Enter the claim code shown by the gateway.")
		return
	}
	if _, err := c.svc.ClaimGateway(r.Context(), s.actor, code, tenancy.OrgID(org)); err != nil {
		switch tenancy.CodeOf(err) {
		case tenancy.NotFound:
			c.renderSites(w, r, s, http.StatusNotFound, code, "No unclaimed gateway has this code, or you may not claim into that organization.")
		case tenancy.Forbidden:
			c.renderSites(w, r, s, http.StatusForbidden, code, "Your role may not claim gateways into that organization.")
		default:
			c.fail(w, r, s, err)
		}
		return
	}
	http.Redirect(w, r, "/sites?done=claimed", http.StatusSeeOther)
}

type siteData struct {
	Site siteRow
	Rows []deviceRow
	More bool
}

// sitePage is GET /sites/{id}: a gateway and the devices it serves.
func (c *Console) sitePage(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.notFound(w, r, s)
		return
	}
	g, err := c.svc.Gateway(r.Context(), s.actor, tenancy.GatewayID(id))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	row, err := c.siteRow(r, s, g, orgs)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	p, err := c.svc.DeviceList(r.Context(), s.actor, tenancy.DeviceListQuery{DeviceQuery: tenancy.DeviceQuery{OrgID: g.OrgID,
		IncludeSub: true, Page: tenancy.Page{Size: 200}}})
	if err != nil && tenancy.CodeOf(err) != tenancy.NotFound {
		c.serverError(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "site", view{Title: g.Name, Nav: "sites", Shell: sh,
		Data: siteData{Site: row, Rows: listRows(c.now(), p.Rows), More: p.Next != ""}})
}

// siteRelease is POST /sites/{id}/release (GATEWAYS_MANAGE).
func (c *Console) siteRelease(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.notFound(w, r, s)
		return
	}
	if _, err := c.svc.ReleaseGateway(r.Context(), s.actor, tenancy.GatewayID(id)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if c.live != nil {
		c.live.GatewayReleased(tenancy.GatewayID(id))
	}
	http.Redirect(w, r, "/sites?done=released", http.StatusSeeOther)
}
