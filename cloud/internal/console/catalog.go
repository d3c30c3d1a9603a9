package console

import (
	"net/http"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
)

// catalogRoutes are the administration pages of what an organization
// holds: templates, device administration, locations and tags, static
// tokens and OAuth clients (issue 14, items 4-8).
func (c *Console) catalogRoutes(mux *http.ServeMux) {
	mux.Handle("GET /templates", c.auth(c.templatesPage))
	mux.Handle("POST /templates", c.auth(c.templateCreate))
	mux.Handle("GET /templates/{id}", c.auth(c.templatePage))
	mux.Handle("POST /templates/{id}", c.auth(c.templateEdit))
	mux.Handle("POST /templates/{id}/delete", c.auth(c.templateDelete))
	mux.Handle("POST /templates/{id}/datastreams", c.auth(c.datastreamAdd))
	mux.Handle("POST /templates/{id}/datastreams/{pin}/delete", c.auth(c.datastreamDelete))
	mux.Handle("POST /templates/{id}/events", c.auth(c.eventAdd))
	mux.Handle("POST /templates/{id}/system", c.auth(c.systemEdit))
	mux.Handle("POST /templates/{id}/events/{code}/delete", c.auth(c.eventDelete))
	mux.Handle("POST /templates/{id}/meta", c.auth(c.metaAdd))
	mux.Handle("POST /templates/{id}/meta/{mid}/delete", c.auth(c.metaDelete))
	mux.Handle("POST /templates/{id}/enabled", c.auth(c.templateEnabled))

	mux.Handle("GET /devices/new", c.auth(c.deviceNewPage))
	mux.Handle("POST /devices/new", c.auth(c.deviceCreate))
	mux.Handle("GET /devices/{id}/manage", c.auth(c.deviceManagePage))
	mux.Handle("POST /devices/{id}/rename", c.auth(c.deviceRename))
	mux.Handle("POST /devices/{id}/transfer", c.auth(c.deviceTransfer))
	mux.Handle("POST /devices/{id}/remove-owner", c.auth(c.deviceRemoveOwner))
	mux.Handle("POST /devices/{id}/delete", c.auth(c.deviceDelete))
	mux.Handle("POST /devices/{id}/token", c.auth(c.deviceNewToken))
	mux.Handle("POST /devices/{id}/tags", c.auth(c.deviceSetTags))
	mux.Handle("POST /devices/{id}/location", c.auth(c.deviceSetLocation))
	mux.Handle("POST /devices/bulk", c.auth(c.devicesBulk))

	mux.Handle("GET /locations", c.auth(c.locationsPage))
	mux.Handle("POST /locations", c.auth(c.locationCreate))
	mux.Handle("GET /locations/{id}", c.auth(c.locationPage))
	mux.Handle("POST /locations/{id}", c.auth(c.locationEdit))
	mux.Handle("POST /locations/{id}/users", c.auth(c.locationUsers))
	mux.Handle("POST /locations/{id}/devices", c.auth(c.locationDevice))
	mux.Handle("POST /locations/{id}/delete", c.auth(c.locationDelete))
	mux.Handle("GET /tags", c.auth(c.tagsPage))
	mux.Handle("POST /tags", c.auth(c.tagCreate))
	mux.Handle("POST /tags/{id}", c.auth(c.tagRename))
	mux.Handle("POST /tags/{id}/delete", c.auth(c.tagDelete))

	mux.Handle("GET /static-tokens", c.auth(c.staticTokensPage))
	mux.Handle("POST /static-tokens", c.auth(c.staticTokensCreate))
	mux.Handle("GET /static-tokens/export.csv", c.auth(c.staticTokensCSV))
	mux.Handle("GET /static-tokens/sheet", c.auth(c.staticTokensSheet))
	mux.Handle("POST /static-tokens/claim", c.auth(c.staticTokenClaim))
	mux.Handle("POST /static-tokens/{id}/disclaim", c.auth(c.staticTokenDisclaim))
	mux.Handle("POST /static-tokens/{id}/delete", c.auth(c.staticTokenDelete))

	mux.Handle("GET /developers", c.auth(c.developersPage))
	mux.Handle("POST /developers", c.auth(c.oauthCreate))
	mux.Handle("POST /developers/{id}/rotate", c.auth(c.oauthRotate))
	mux.Handle("POST /developers/{id}/delete", c.auth(c.oauthDelete))
}

// catalogNav is what the header's catalog links show: each only where the
// user's role may use the page in the current organization.
type catalogNav struct {
	Templates, Locations, Tags, StaticTokens, Developers bool
}

func (s *session) catalogNav() catalogNav {
	org := tenancy.OrgResource(s.org)
	return catalogNav{
		Templates:    s.can(tenancy.ProductView, org),
		Locations:    s.can(tenancy.LocationsOrgView, org) || s.can(tenancy.LocationsOwnView, org),
		Tags:         s.can(tenancy.TagsManage, org),
		StaticTokens: s.can(tenancy.ManageStaticTokens, org) || s.can(tenancy.OwnDevicesClaim, tenancy.OrgResource(s.actor.OrgID)),
		Developers:   s.can(tenancy.OAuthClientsView, org),
	}
}

// fieldErrs are the messages shown next to a form's fields, keyed by the
// field's name; "" is the form as a whole.
type fieldErrs map[string]string

// form is a submitted form to show again: its values and its errors.
type form struct {
	Values map[string]string
	Errs   fieldErrs
}

func (f form) V(name string) string { return f.Values[name] }
func (f form) E(name string) string { return f.Errs[name] }

// newForm keeps the named fields of a request's form.
func newForm(r *http.Request, names ...string) form {
	f := form{Values: map[string]string{}, Errs: fieldErrs{}}
	for _, n := range names {
		f.Values[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	return f
}

// int64Path parses a numeric path value; ok false answers 404.
func int64Path(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

func itoa[T ~int64 | ~int](v T) string { return strconv.FormatInt(int64(v), 10) }
