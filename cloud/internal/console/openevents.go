package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"outpost/cloud/internal/tenancy"
)

// openEvents fills the device's open critical events (every tab shows
// their count in the header; the timeline lists them) and which event
// codes a person may resolve on it.
func (c *Console) openEvents(r *http.Request, d tenancy.Device, t tenancy.Template, dd *deviceData) error {
	if c.events == nil {
		return nil
	}
	open, err := c.events.Open(r.Context(), d, t)
	if err != nil {
		return err
	}
	dd.Open = open
	if dd.CanControl {
		dd.Resolvable = map[string]bool{}
		for _, e := range t.Def.Events {
			if e.Type == "critical" || e.Type == "warning" {
				dd.Resolvable[e.Code] = true
			}
		}
	}
	return nil
}

// timelineShown reads timeline entries from before on until it holds
// limit entries the timeline shows (events whose template event has "show
// on the timeline" off are left out), or the timeline ends; next is the
// cursor after the last entry read (0 at the end). It reads at most
// maxScan entries, so a timeline of hidden events cannot hold a page.
func (c *Console) timelineShown(r *http.Request, uid, kind string, hidden map[string]bool, before int64, limit int) ([]Event, int64, error) {
	const maxScan = 2000
	var out []Event
	for scanned := 0; ; {
		es, next, err := c.live.Timeline(r.Context(), uid, kind, before, limit)
		if err != nil {
			return nil, 0, err
		}
		for i, e := range es {
			if e.Kind == "event" && hidden[e.Code] {
				continue
			}
			out = append(out, e)
			if len(out) == limit {
				if i == len(es)-1 {
					return out, next, nil
				}
				return out, e.ID, nil
			}
		}
		scanned += len(es)
		if next == 0 || scanned >= maxScan {
			return out, next, nil
		}
		before = next
	}
}

// resolveEvent is POST /devices/{id}/events/{event}/resolve (comment;
// back=notifications returns to the notifications page): a person
// resolves an open critical or warning event. The events service decides
// (ORG_DEVICES_CONTROL or own): a forged request answers 403 or 404.
func (c *Console) resolveEvent(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	eid, err2 := strconv.ParseInt(r.PathValue("event"), 10, 64)
	if err != nil || err2 != nil || id <= 0 || eid <= 0 || c.events == nil {
		c.notFound(w, r, s)
		return
	}
	_, err = c.events.Resolve(r.Context(), s.actor, tenancy.DeviceID(id), eid, r.PostFormValue("comment"))
	result := "resolved"
	switch tenancy.CodeOf(err) {
	case "":
	case tenancy.Conflict:
		result = "already"
	case tenancy.Invalid:
		result = "invalid"
	default:
		c.fail(w, r, s, err)
		return
	}
	back := fmt.Sprintf("/devices/%d/timeline?", id)
	if r.PostFormValue("back") == "notifications" {
		back = "/notifications?"
	}
	http.Redirect(w, r, back+url.Values{"resolve": {result}}.Encode(), http.StatusSeeOther)
}

// resolvers names the people who resolved the entries' events: the
// signed-in person is "you", others their name where the person may see
// them (else the resolver template function's "user N").
func (c *Console) resolvers(r *http.Request, s *session, es []Event) map[string]string {
	out := map[string]string{}
	for _, e := range es {
		by := e.ResolvedBy
		if _, done := out[by]; done || !strings.HasPrefix(by, "user:") {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(by, "user:"), 10, 64)
		switch {
		case err != nil:
			continue
		case tenancy.UserID(id) == s.user.ID:
			out[by] = "you"
		default:
			if u, err := c.svc.User(r.Context(), s.actor, tenancy.UserID(id)); err == nil && u.Name != "" {
				out[by] = u.Name
			}
		}
	}
	return out
}

// resolveNotice is the page's notice or error after a resolution.
func resolveNotice(v *view, result string) {
	switch result {
	case "resolved":
		v.Notice = "The event is resolved."
	case "already":
		v.Error = "The event was resolved already."
	case "invalid":
		v.Error = "Not resolved: the comment is at most 1000 characters of text."
	}
}
