package webhooks

import (
	"context"
	"fmt"

	"outpost/cloud/internal/tenancy"
)

// ServiceStore is what the service needs of persistence.
type ServiceStore interface {
	SaveWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, id int64) (Webhook, int, error)
	ListWebhooks(ctx context.Context, org int64) ([]Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
	Deliveries(ctx context.Context, webhookID int64, limit int) ([]Delivery, error)
}

// Service manages an organization's webhooks. The catalogue has no
// webhook keys yet: ORG_SETTINGS_ACCESS (Blynk keeps webhooks under the
// organization's settings) decides.
type Service struct {
	store   ServiceStore
	tree    func() *tenancy.Tree
	sender  *Dispatcher
	changed func()
}

// NewService returns a service; sender makes the test sends (nil: they
// are refused); changed is called after every change.
func NewService(store ServiceStore, tree func() *tenancy.Tree, sender *Dispatcher, changed func()) *Service {
	return &Service{store: store, tree: tree, sender: sender, changed: changed}
}

// Redacted is what the API shows instead of a secret.
const Redacted = "********"

// Redact hides the webhook's secrets.
func Redact(w Webhook) Webhook {
	if w.Secret != "" {
		w.Secret = Redacted
	}
	if w.Auth.Password != "" {
		w.Auth.Password = Redacted
	}
	if w.Auth.Token != "" {
		w.Auth.Token = Redacted
	}
	return w
}

func (s *Service) decide(a tenancy.Actor, org int64) error {
	return tenancy.Decide(s.tree(), a, tenancy.OrgSettingsAccess, tenancy.Resource{OrgID: tenancy.OrgID(org), Org: true})
}

func hidden() error {
	return tenancy.Errorf(tenancy.NotFound, "object not found or you don't have access to it")
}

func (s *Service) get(ctx context.Context, a tenancy.Actor, id int64) (Webhook, error) {
	w, _, err := s.store.GetWebhook(ctx, id)
	if tenancy.CodeOf(err) == tenancy.NotFound || (err == nil && !s.tree().InScope(a, tenancy.OrgID(w.OrgID))) {
		return w, hidden()
	}
	if err != nil {
		return w, err
	}
	return w, s.decide(a, w.OrgID)
}

// List returns org's webhooks (0: the actor's), secrets redacted.
func (s *Service) List(ctx context.Context, a tenancy.Actor, org int64) ([]Webhook, error) {
	if org == 0 {
		org = int64(a.OrgID)
	}
	if err := s.decide(a, org); err != nil {
		return nil, err
	}
	ws, err := s.store.ListWebhooks(ctx, org)
	for i := range ws {
		ws[i] = Redact(ws[i])
	}
	return ws, err
}

// Save creates (w.ID 0) or replaces a webhook of org; a redacted secret
// in a replacement keeps the stored one.
func (s *Service) Save(ctx context.Context, a tenancy.Actor, org int64, w *Webhook) (created bool, err error) {
	if org == 0 {
		org = int64(a.OrgID)
	}
	if err := s.decide(a, org); err != nil {
		return false, err
	}
	w.OrgID = org
	if w.ID != 0 {
		old, err := s.get(ctx, a, w.ID)
		if err != nil {
			return false, err
		}
		if old.OrgID != org {
			return false, hidden()
		}
		if w.Secret == Redacted {
			w.Secret = old.Secret
		}
		if w.Auth.Password == Redacted {
			w.Auth.Password = old.Auth.Password
		}
		if w.Auth.Token == Redacted {
			w.Auth.Token = old.Auth.Token
		}
	}
	created = w.ID == 0
	if err := s.store.SaveWebhook(ctx, w); err != nil {
		return false, err
	}
	s.changed()
	return created, nil
}

// Delete deletes a webhook and its log.
func (s *Service) Delete(ctx context.Context, a tenancy.Actor, id int64) error {
	if _, err := s.get(ctx, a, id); err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	s.changed()
	return nil
}

// Deliveries is a webhook's delivery log, newest first (limit 1..1000).
func (s *Service) Deliveries(ctx context.Context, a tenancy.Actor, id int64, limit int) ([]Delivery, error) {
	if limit < 1 || limit > 1000 {
		return nil, tenancy.Errorf(tenancy.Invalid, "limit must be 1..1000")
	}
	if _, err := s.get(ctx, a, id); err != nil {
		return nil, err
	}
	return s.store.Deliveries(ctx, id, limit)
}

// Status is a webhook as its list shows it: secrets redacted, with its
// consecutive failed deliveries and, when disabled, why.
type Status struct {
	Webhook
	Failures       int
	DisabledReason string
}

// Statuses lists org's webhooks (0: the actor's) with their state.
func (s *Service) Statuses(ctx context.Context, a tenancy.Actor, org int64) ([]Status, error) {
	ws, err := s.List(ctx, a, org)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(ws))
	for _, w := range ws {
		_, failures, err := s.store.GetWebhook(ctx, w.ID)
		if tenancy.CodeOf(err) == tenancy.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, status(w, failures))
	}
	return out, nil
}

// status derives why a webhook is disabled: saving one resets its
// failures, so a disabled webhook whose failures reached its limit was
// disabled by them, any other by a person.
func status(w Webhook, failures int) Status {
	st := Status{Webhook: w, Failures: failures}
	if !w.Enabled {
		limit := w.DisableAfter
		if limit == 0 {
			limit = DefaultDisable
		}
		st.DisabledReason = "turned off"
		if failures >= limit {
			st.DisabledReason = fmt.Sprintf("disabled after %d consecutive failed deliveries", failures)
		}
	}
	return st
}

// Get returns one webhook, secrets redacted, with its state.
func (s *Service) Get(ctx context.Context, a tenancy.Actor, id int64) (Status, error) {
	if _, err := s.get(ctx, a, id); err != nil {
		return Status{}, err
	}
	w, failures, err := s.store.GetWebhook(ctx, id)
	if err != nil {
		return Status{}, err
	}
	return status(Redact(w), failures), nil
}

// TestSend sends one request of a webhook now with sample values (see
// Dispatcher.TestSend), enabled or not.
func (s *Service) TestSend(ctx context.Context, a tenancy.Actor, id int64) (TestResult, error) {
	w, err := s.get(ctx, a, id)
	if err != nil {
		return TestResult{}, err
	}
	if s.sender == nil {
		return TestResult{}, tenancy.Errorf(tenancy.NotFound, "test sends are not available on this server")
	}
	return s.sender.TestSend(ctx, w), nil
}
