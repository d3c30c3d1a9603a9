package console

import (
	"context"
	"net/http"
	"strconv"

	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/tenancy"
)

// Notifications is what the bell and the notifications page need
// (notify.Service): a person's own notifications, never another's.
type Notifications interface {
	List(ctx context.Context, user tenancy.UserID, before int64, limit int) (notify.Page, error)
	Unread(ctx context.Context, user tenancy.UserID) (int, error)
	MarkRead(ctx context.Context, user tenancy.UserID, from, upTo int64) error
	MarkAllRead(ctx context.Context, user tenancy.UserID) error
}

// notificationsPage is how many notifications one page shows.
const notificationsPage = 25

// notifyRoutes are the bell's page: the signed-in person's notifications.
func (c *Console) notifyRoutes(mux *http.ServeMux) {
	mux.Handle("GET /notifications", c.auth(c.notificationsPage))
	mux.Handle("POST /notifications/read", c.auth(c.notificationsReadAll))
}

// shellExtras fills the header's parts of issue 17: the bell with the
// unread count (one indexed count per page) and the automation and
// webhook links. A failed count leaves the bell without a number: the
// page itself does not depend on it.
func (c *Console) shellExtras(r *http.Request, s *session, sh *shell) {
	org := tenancy.OrgResource(s.org)
	sh.Automations = c.autos != nil && s.can(tenancy.AutomationsView, org)
	sh.Webhooks = c.canWebhooks(s) // the pages exist and the user may manage them
	if c.notes == nil {
		return
	}
	sh.Bell = true
	n, err := c.notes.Unread(r.Context(), s.user.ID)
	if err != nil {
		c.log.WarnContext(r.Context(), "unread notifications not counted", "user", s.user.ID, "err", err)
		return
	}
	sh.Unread = n
}

type noteRow struct {
	notify.Notification
	New bool // unread until this page showed it
	// Open is the open critical event the notification tells of, when the
	// person may resolve it (ID 0: none, resolved, or not theirs to).
	Open Event
}

type notificationsData struct {
	Rows        []noteRow
	Next, First string // links to the older page and back to the newest
	Unread      int    // left after this page was shown
}

// notificationsPage is GET /notifications[?before=id]: newest first, and
// the ones it shows are marked read (they keep a "new" mark on this
// showing).
func (c *Console) notificationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.notes == nil {
		c.notFound(w, r, s)
		return
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	p, err := c.notes.List(r.Context(), s.user.ID, max(before, 0), notificationsPage)
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	d := notificationsData{}
	var lo, hi int64
	for _, n := range p.Items {
		d.Rows = append(d.Rows, noteRow{Notification: n, New: !n.Read})
		if !n.Read {
			if lo == 0 || n.ID < lo {
				lo = n.ID
			}
			hi = max(hi, n.ID)
		}
	}
	if err := c.noteEvents(r, s, d.Rows); err != nil {
		c.serverError(w, r, err)
		return
	}
	if hi != 0 {
		if err := c.notes.MarkRead(r.Context(), s.user.ID, lo, hi); err != nil {
			c.serverError(w, r, err)
			return
		}
	}
	if p.Next != 0 {
		d.Next = "/notifications?before=" + strconv.FormatInt(p.Next, 10)
	}
	if before > 0 {
		d.First = "/notifications"
	}
	v := view{Title: "Notifications", Nav: "notifications", Data: d}
	if r.URL.Query().Get("done") == "read" {
		v.Notice = "Every notification is marked read."
	}
	resolveNotice(&v, r.URL.Query().Get("resolve"))
	c.renderShell(w, r, s, http.StatusOK, "notifications", v)
}

// noteEvents finds, for the notifications that tell of a device's event,
// the event while it is open and the person may resolve it (one look at
// each device's open events per page).
func (c *Console) noteEvents(r *http.Request, s *session, rows []noteRow) error {
	if c.events == nil {
		return nil
	}
	open := map[tenancy.DeviceID][]Event{}
	for i := range rows {
		ab := rows[i].About
		if ab.Device == 0 || ab.EventCode == "" {
			continue
		}
		es, seen := open[ab.Device]
		if !seen {
			d, t, err := c.svc.DeviceTemplate(r.Context(), s.actor, ab.Device)
			switch {
			case err == nil && s.can(tenancy.OrgDevicesControl, tenancy.Resource{OrgID: d.OrgID, OwnerID: d.OwnerID}):
				if es, err = c.events.Open(r.Context(), d, t); err != nil {
					return err
				}
			case err != nil && tenancy.CodeOf(err) == tenancy.Internal:
				return err
			}
			open[ab.Device] = es // gone or not the person's to resolve: none
		}
		for j := range es {
			if es[j].Code == ab.EventCode && es[j].TS.Equal(ab.EventAt) {
				rows[i].Open = es[j]
				break
			}
		}
	}
	return nil
}

// notificationsReadAll is POST /notifications/read: mark all read.
func (c *Console) notificationsReadAll(w http.ResponseWriter, r *http.Request, s *session) {
	if c.notes == nil {
		c.notFound(w, r, s)
		return
	}
	if err := c.notes.MarkAllRead(r.Context(), s.user.ID); err != nil {
		c.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/notifications?done=read", http.StatusSeeOther)
}
