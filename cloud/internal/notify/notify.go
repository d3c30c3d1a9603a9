// Package notify tells people: each notification is stored (the console's
// list and unread count read it) with why it was sent, and mailed, within
// a per-person cap per hour.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/tenancy"
)

// Notification is one notification of one person.
type Notification struct {
	ID      int64
	UserID  tenancy.UserID
	OrgID   tenancy.OrgID
	At      time.Time
	Subject string
	Body    string
	Why     string // what caused it, in words ("automation … triggered by …")
	Read    bool
	About   About // the device event it tells of (zero: none)
}

// About names the device event a notification tells of: the console
// offers to resolve it from the notification while it is open.
type About struct {
	Device    tenancy.DeviceID
	EventCode string
	EventAt   time.Time
}

// Store is what the service needs of persistence (cloud/internal/sqlite,
// cloud/internal/postgres).
type Store interface {
	AddNotification(ctx context.Context, n Notification) (int64, error)
	CountNotificationsSince(ctx context.Context, user tenancy.UserID, t time.Time) (int, error)
	ListUsers(ctx context.Context, f tenancy.UserFilter) (tenancy.List[tenancy.User], error)
	// Notifications lists a person's notifications with ids below before
	// (0: the newest), newest first.
	Notifications(ctx context.Context, user tenancy.UserID, before int64, limit int) ([]Notification, error)
	// UnreadNotifications counts a person's unread notifications (an
	// index holds the unread rows only: the console asks on every page).
	UnreadNotifications(ctx context.Context, user tenancy.UserID) (int, error)
	// MarkNotificationsRead marks a person's unread notifications with
	// ids from..upTo read.
	MarkNotificationsRead(ctx context.Context, user tenancy.UserID, from, upTo int64, at time.Time) error
}

// Mailer sends mail (mail.Mailbox, mail.SMTP).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// DefaultPerHour is Blynk's cap on automation mails per person and hour.
const DefaultPerHour = 20

// Service notifies people.
type Service struct {
	store   Store
	mailer  Mailer
	tree    func() *tenancy.Tree
	perHour int
	now     func() time.Time
	log     *slog.Logger
}

// New returns a service; perHour ≤ 0 means DefaultPerHour, now nil
// time.Now.
func New(store Store, mailer Mailer, tree func() *tenancy.Tree, perHour int, now func() time.Time, log *slog.Logger) *Service {
	if perHour <= 0 {
		perHour = DefaultPerHour
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, mailer: mailer, tree: tree, perHour: perHour, now: now, log: log.With("component", "notify")}
}

// Result says what one call did.
type Result struct {
	Sent   int // people notified (stored and mailed)
	Capped int // people over their hourly cap: not notified
}

// Recipients are the members of org and the Admins of the orgs above it
// (who see it), active or pending, once each.
func (s *Service) Recipients(ctx context.Context, org tenancy.OrgID) ([]tenancy.User, error) {
	var out []tenancy.User
	seen := map[tenancy.UserID]bool{}
	tree := s.tree()
	for o, first := org, true; o != 0; o, first = tree.Parent(o), false {
		f := tenancy.UserFilter{Scope: tenancy.Scope{OrgID: o}, Page: tenancy.Page{Size: tenancy.MaxPageSize}}
		if !first {
			f.RoleID = tenancy.RoleAdmin
		}
		for {
			l, err := s.store.ListUsers(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, u := range l.Items {
				if !seen[u.ID] && u.Status != tenancy.StatusSuspended {
					seen[u.ID] = true
					out = append(out, u)
				}
			}
			if l.Next == 0 {
				break
			}
			f.Page.After = l.Next
		}
	}
	return out, nil
}

// ToOrg notifies the recipients of org by mail and in the console. A
// person who had perHour notifications in the last hour is skipped
// (counted in Capped).
func (s *Service) ToOrg(ctx context.Context, org tenancy.OrgID, subject, body, why string) (Result, error) {
	users, err := s.Recipients(ctx, org)
	if err != nil {
		return Result{}, fmt.Errorf("notify: recipients: %w", err)
	}
	rs := make([]Recipient, len(users))
	for i, u := range users {
		rs[i] = Recipient{User: u, Why: why}
	}
	return s.ToUsers(ctx, org, rs, subject, body, Channels{Mail: true, Console: true})
}

// Recipient is a person to notify and why they are told.
type Recipient struct {
	User tenancy.User
	Why  string
}

// Channels are the ways a person is told: a mail, an entry in the
// console's list (the stored notification).
type Channels struct {
	Mail, Console bool
}

// ToUsers notifies each recipient once (a user listed twice is told once,
// with the first reason) through ch; suspended users are skipped. The
// hourly cap counts the stored (console) notifications: a person at the
// cap gets neither the entry nor the mail. A mail-only notification is not
// stored, so it does not count toward the cap.
func (s *Service) ToUsers(ctx context.Context, org tenancy.OrgID, rs []Recipient, subject, body string, ch Channels) (Result, error) {
	return s.ToUsersAbout(ctx, org, rs, subject, body, ch, About{})
}

// ToUsersAbout is ToUsers for a notification that tells of a device's
// event (stored with it).
func (s *Service) ToUsersAbout(ctx context.Context, org tenancy.OrgID, rs []Recipient, subject, body string, ch Channels, about About) (Result, error) {
	var r Result
	now := s.now()
	seen := map[tenancy.UserID]bool{}
	for _, rc := range rs {
		u := rc.User
		if seen[u.ID] || u.Status == tenancy.StatusSuspended || (!ch.Mail && !ch.Console) {
			continue
		}
		seen[u.ID] = true
		n, err := s.store.CountNotificationsSince(ctx, u.ID, now.Add(-time.Hour))
		if err != nil {
			return r, fmt.Errorf("notify: %w", err)
		}
		if n >= s.perHour {
			r.Capped++
			s.log.Warn("notification not sent: hourly cap reached", "user", u.ID, "cap", s.perHour, "why", rc.Why)
			continue
		}
		if ch.Console {
			if _, err := s.store.AddNotification(ctx, Notification{UserID: u.ID, OrgID: org, At: now, Subject: subject,
				Body: body, Why: rc.Why, About: about}); err != nil {
				return r, fmt.Errorf("notify: %w", err)
			}
		}
		if ch.Mail && s.mailer != nil {
			if err := s.mailer.Send(ctx, mail.Message{To: u.Email, Subject: subject, Body: body + "\n\n" + rc.Why}); err != nil {
				return r, fmt.Errorf("notify: mail %d: %w", u.ID, err)
			}
		}
		r.Sent++
	}
	return r, nil
}

// MaxPage is the most notifications one List returns.
const MaxPage = 200

// Page is one page of a person's notifications, newest first; Next is the
// before of the next page (0: none).
type Page struct {
	Items []Notification
	Next  int64
}

// List returns a person's notifications with ids below before (0: the
// newest), newest first; limit is clamped to 1..MaxPage. A person reads
// only their own: callers pass the signed-in user.
func (s *Service) List(ctx context.Context, user tenancy.UserID, before int64, limit int) (Page, error) {
	limit = min(max(limit, 1), MaxPage)
	ns, err := s.store.Notifications(ctx, user, before, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("notify: list: %w", err)
	}
	p := Page{Items: ns}
	if len(ns) > limit {
		p.Items = ns[:limit]
		p.Next = ns[limit-1].ID
	}
	return p, nil
}

// Unread counts a person's unread notifications.
func (s *Service) Unread(ctx context.Context, user tenancy.UserID) (int, error) {
	n, err := s.store.UnreadNotifications(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("notify: unread: %w", err)
	}
	return n, nil
}

// MarkRead marks a person's notifications with ids from..upTo read (the
// ones a page showed).
func (s *Service) MarkRead(ctx context.Context, user tenancy.UserID, from, upTo int64) error {
	if err := s.store.MarkNotificationsRead(ctx, user, from, upTo, s.now()); err != nil {
		return fmt.Errorf("notify: mark read: %w", err)
	}
	return nil
}

// MarkAllRead marks every notification of a person read.
func (s *Service) MarkAllRead(ctx context.Context, user tenancy.UserID) error {
	return s.MarkRead(ctx, user, 0, math.MaxInt64)
}
