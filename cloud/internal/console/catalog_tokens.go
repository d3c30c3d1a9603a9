package console

import (
	"encoding/base64"
	"encoding/csv"
	"html/template"
	"net/http"
	"strconv"

	"outpost/cloud/internal/tenancy"
	"outpost/internal/qrpng"
)

type staticTokenRow struct {
	ID         tenancy.StaticTokenID
	Payload    string
	Template   string
	Device     tenancy.DeviceID
	Claimed    bool
	ClaimedOrg string
	ClaimedAt  string
	Disclaim   bool
	Delete     bool
	QR         template.URL // data: URL of the PNG, on the sheet only
}

type staticTokensData struct {
	CanManage bool
	CanClaim  bool
	Templates []option
	Status    string // "", "unclaimed", "claimed"
	Rows      []staticTokenRow
	Total     int
	Next      string
	Form      form
	Claim     form
	Created   int
}

const staticTokensPage = 200

// staticTokenRows lists one page of the current org's static tokens with
// a status ("claimed", "unclaimed", "": any).
func (c *Console) staticTokenRows(r *http.Request, s *session, orgs map[tenancy.OrgID]tenancy.Org, status string, after int64, size int) ([]staticTokenRow, int, int64, error) {
	var st tenancy.StaticTokenStatus
	switch status {
	case "claimed":
		st = tenancy.Claimed
	case "unclaimed":
		st = tenancy.Unclaimed
	}
	l, err := c.svc.StaticTokens(r.Context(), s.actor, s.org, st, tenancy.Page{Size: size, After: after})
	if err != nil {
		return nil, 0, 0, err
	}
	names := map[tenancy.TemplateID]string{}
	if tl, err := c.svc.Templates(r.Context(), s.actor, s.org, tenancy.Page{Size: tenancy.MaxPageSize}); err == nil {
		for _, t := range tl.Items {
			names[t.ID] = t.Def.Name
		}
	}
	var rows []staticTokenRow
	for _, st := range l.Items {
		claimed := st.Status == tenancy.Claimed
		manage := s.can(tenancy.ManageStaticTokens, tenancy.OrgResource(st.OrgID))
		row := staticTokenRow{ID: st.ID, Payload: tenancy.QRPayload(st), Template: names[st.TemplateID], Device: st.DeviceID, Claimed: claimed,
			Disclaim: claimed && manage, Delete: manage}
		if row.Template == "" {
			row.Template = string(st.TemplateID)
		}
		if claimed {
			row.ClaimedOrg = c.orgName(r, s, orgs, st.ClaimedOrgID)
			row.ClaimedAt = st.ClaimedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		rows = append(rows, row)
	}
	return rows, l.Total, l.Next, nil
}

// staticTokensPage is GET /static-tokens?status=&after=: generate, list,
// export and claim.
func (c *Console) staticTokensPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.renderStaticTokens(w, r, s, http.StatusOK, form{}, form{}, view{})
}

func (c *Console) renderStaticTokens(w http.ResponseWriter, r *http.Request, s *session, status int, f, claim form, v view) {
	d := staticTokensData{CanManage: s.can(tenancy.ManageStaticTokens, tenancy.OrgResource(s.org)),
		CanClaim: s.can(tenancy.OwnDevicesClaim, tenancy.OrgResource(s.actor.OrgID)), Status: r.URL.Query().Get("status"), Form: f, Claim: claim}
	if !d.CanManage && !d.CanClaim {
		c.forbidden(w, r, s)
		return
	}
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	if d.CanManage {
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		var next int64
		if d.Rows, d.Total, next, err = c.staticTokenRows(r, s, orgs, d.Status, after, staticTokensPage); err != nil {
			c.fail(w, r, s, err)
			return
		}
		if next != 0 {
			d.Next = "/static-tokens?status=" + d.Status + "&after=" + strconv.FormatInt(next, 10)
		}
		if d.Templates, err = c.templateOptions(r, s, f.V("template")); err != nil {
			c.serverError(w, r, err)
			return
		}
	}
	switch r.URL.Query().Get("done") {
	case "disclaimed":
		v.Notice = "The device went back to this organization, unowned; its QR code can be claimed again."
	case "deleted":
		v.Notice = "The static token was deleted, and its device with it."
	}
	v.Title, v.Nav, v.Shell, v.Data = "Static tokens", "static-tokens", sh, d
	c.render(w, r, status, "statictokens", v)
}

// staticTokensCreate is POST /static-tokens (template, count).
func (c *Console) staticTokensCreate(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "template", "count")
	n, err := strconv.Atoi(f.V("count"))
	switch {
	case f.V("template") == "":
		f.Errs["template"] = "Choose a template."
	case err != nil || n < 1 || n > 1000:
		f.Errs["count"] = "Enter a number from 1 to 1000."
	}
	if len(f.Errs) > 0 {
		c.renderStaticTokens(w, r, s, http.StatusBadRequest, f, form{}, view{})
		return
	}
	l, err := c.svc.CreateStaticTokens(r.Context(), s.actor, s.org, tenancy.TemplateID(f.V("template")), n)
	if err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		f.Errs["template"] = message(err)
		c.renderStaticTokens(w, r, s, st, f, form{}, view{})
		return
	}
	c.renderStaticTokens(w, r, s, http.StatusCreated, form{}, form{}, view{Notice: strconv.Itoa(len(l)) +
		" static tokens were created. Export them as CSV to flash the AuthTokens, and print the QR sheet for the boxes."})
}

// staticTokensCSV is GET /static-tokens/export.csv?status=: one line per
// token with its QR payload and the AuthToken to flash.
func (c *Console) staticTokensCSV(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.can(tenancy.ManageStaticTokens, tenancy.OrgResource(s.org)) {
		http.Error(w, "not permitted", http.StatusForbidden)
		return
	}
	_, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	status := r.URL.Query().Get("status")
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="static-tokens.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"qr_payload", "auth_token", "template", "device_id", "status", "claimed_org", "claimed_at"})
	var after int64
	for {
		rows, _, next, err := c.staticTokenRows(r, s, orgs, status, after, tenancy.MaxPageSize)
		if err != nil {
			c.log.ErrorContext(r.Context(), "static token export", "err", err)
			return // the header is sent: a cut CSV is all we can say
		}
		for _, row := range rows {
			tok := ""
			if d, err := c.svc.StaticTokenDevice(r.Context(), s.actor, row.ID); err == nil {
				tok = d.Token
			}
			st := "UNCLAIMED"
			if row.Claimed {
				st = "CLAIMED"
			}
			cw.Write([]string{row.Payload, tok, csvSafe(row.Template), itoa(row.Device), st, csvSafe(row.ClaimedOrg), row.ClaimedAt})
		}
		if next == 0 {
			break
		}
		after = next
	}
	cw.Flush()
}

// staticTokensSheet is GET /static-tokens/sheet?status=&after=: a
// printable page of QR codes (PNG data URLs: CSP allows img data:).
func (c *Console) staticTokensSheet(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.can(tenancy.ManageStaticTokens, tenancy.OrgResource(s.org)) {
		c.forbidden(w, r, s)
		return
	}
	sh, orgs, err := c.shell(r, s)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	status := r.URL.Query().Get("status")
	if status == "" {
		status = "unclaimed"
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	rows, _, next, err := c.staticTokenRows(r, s, orgs, status, after, 60)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for i := range rows {
		png, err := qrpng.Encode(rows[i].Payload, 240)
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		// Our own PNG bytes, base64: not user data.
		rows[i].QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	d := staticTokensData{Rows: rows, Status: status}
	if next != 0 {
		d.Next = "/static-tokens/sheet?status=" + status + "&after=" + strconv.FormatInt(next, 10)
	}
	c.render(w, r, http.StatusOK, "tokensheet", view{Title: "QR sheet", Nav: "static-tokens", Shell: sh, Data: d})
}

// staticTokenClaim is POST /static-tokens/claim (qr: the payload typed or
// pasted, name): the device joins the user's home organization, owned by
// them.
func (c *Console) staticTokenClaim(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(r, "qr", "name")
	if f.V("qr") == "" {
		f.Errs["qr"] = "Type or paste the code printed under the QR code."
		c.renderStaticTokens(w, r, s, http.StatusBadRequest, form{}, f, view{})
		return
	}
	d, err := c.svc.ClaimStaticToken(r.Context(), s.actor, f.V("qr"), f.V("name"))
	if err != nil {
		st := httpStatus(err)
		if st == http.StatusInternalServerError {
			c.serverError(w, r, err)
			return
		}
		field := "qr"
		if st == http.StatusNotFound {
			f.Errs[field] = "No unclaimed device has this code."
		} else {
			if tenancy.CodeOf(err) == tenancy.Invalid && f.V("name") != "" {
				field = "name"
			}
			f.Errs[field] = message(err)
		}
		c.renderStaticTokens(w, r, s, st, form{}, f, view{})
		return
	}
	http.Redirect(w, r, "/devices/"+itoa(d.ID), http.StatusSeeOther)
}

// staticTokenDisclaim is POST /static-tokens/{id}/disclaim: only the
// creating organization (TENANCY.md §8).
func (c *Console) staticTokenDisclaim(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := int64Path(r, "id")
	if !ok {
		c.notFound(w, r, s)
		return
	}
	if err := c.svc.DisclaimStaticToken(r.Context(), s.actor, tenancy.StaticTokenID(id)); err != nil {
		if st := httpStatus(err); st == http.StatusBadRequest || st == http.StatusConflict {
			c.renderStaticTokens(w, r, s, st, form{}, form{}, view{Error: message(err)})
			return
		}
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/static-tokens?done=disclaimed", http.StatusSeeOther)
}

// staticTokenDelete is POST /static-tokens/{id}/delete: the token and its
// device go (after a claim the device is gone for good, TENANCY.md §8).
func (c *Console) staticTokenDelete(w http.ResponseWriter, r *http.Request, s *session) {
	id, ok := int64Path(r, "id")
	if !ok {
		c.notFound(w, r, s)
		return
	}
	if err := c.svc.DeleteStaticToken(r.Context(), s.actor, tenancy.StaticTokenID(id)); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/static-tokens?done=deleted", http.StatusSeeOther)
}
