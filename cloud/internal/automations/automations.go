// Package automations is the cloud's side of automations (shared/rules):
// who may list, save, delete and read the runs of an organization's
// automations (the AUTOMATIONS_* keys of the catalogue), and the checks
// an automation must pass before it is stored: every device it names is
// one the person may see, in the automation's organization or below.
// Placement (site or cloud) happens when a gateway's tenancy is built.
package automations

import (
	"context"
	"errors"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
)

// Store is what the service needs of persistence (cloud/internal/sqlite;
// the PostgreSQL store does not have these yet).
type Store interface {
	SaveAutomation(ctx context.Context, org tenancy.OrgID, a rules.Automation, actor tenancy.Actor, at time.Time) error
	DeleteAutomation(ctx context.Context, org tenancy.OrgID, id string, actor tenancy.Actor, at time.Time) error
	GetAutomation(ctx context.Context, id string) (rules.Automation, error)
	ListAutomations(ctx context.Context, orgs []tenancy.OrgID) ([]rules.Automation, error)
	AutomationRuns(ctx context.Context, id string, limit int) ([]rules.Run, error)
	GetDeviceByUID(ctx context.Context, uid string) (tenancy.Device, error)
}

// MaxRunsPage is the most runs one call returns.
const MaxRunsPage = 1000

// Service checks and carries out automation changes.
type Service struct {
	store   Store
	tree    func() *tenancy.Tree
	changed func(tenancy.Change)
	now     func() time.Time
	runner  Executor
}

// Executor runs automations in the cloud (Runner).
type Executor interface {
	RunNow(a rules.Automation, at time.Time)
	Where(ctx context.Context, a *rules.Automation) (site string, atSite bool, err error)
}

// Attach sets the executor of RunNow and Where (call before serving).
func (s *Service) Attach(e Executor) { s.runner = e }

// New returns a service. tree gives the current org tree (the tenancy
// service's Tree); changed is called after every change with the
// automation's org (the tenancy of the gateways at or above it is out of
// date). now may be nil (time.Now).
func New(store Store, tree func() *tenancy.Tree, changed func(tenancy.Change), now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if changed == nil {
		changed = func(tenancy.Change) {}
	}
	return &Service{store: store, tree: tree, changed: changed, now: now}
}

func (s *Service) org(a tenancy.Actor, org tenancy.OrgID) tenancy.OrgID {
	if org == 0 {
		return a.OrgID
	}
	return org
}

// List returns the automations of org (0: the actor's), AUTOMATIONS_VIEW.
func (s *Service) List(ctx context.Context, a tenancy.Actor, org tenancy.OrgID) ([]rules.Automation, error) {
	org = s.org(a, org)
	if err := tenancy.Decide(s.tree(), a, tenancy.AutomationsView, tenancy.Resource{OrgID: org, Org: true}); err != nil {
		return nil, err
	}
	return s.store.ListAutomations(ctx, []tenancy.OrgID{org})
}

// Save creates (AUTOMATIONS_CREATE) or replaces (AUTOMATIONS_EDIT) an
// automation of org (0: the actor's). Every device it names must be one
// the actor may see, in org or below; created tells which it was.
func (s *Service) Save(ctx context.Context, a tenancy.Actor, org tenancy.OrgID, au rules.Automation) (created bool, err error) {
	org = s.org(a, org)
	if err := au.Validate(); err != nil {
		return false, &tenancy.Error{Code: tenancy.Invalid, Message: err.Error(), Err: err}
	}
	tree := s.tree()
	perm := tenancy.AutomationsCreate
	old, err := s.store.GetAutomation(ctx, au.ID)
	switch {
	case err == nil:
		if tenancy.OrgID(old.OrgID) != org {
			return false, tenancy.Errorf(tenancy.Conflict, "automation id already in use")
		}
		perm = tenancy.AutomationsEdit
	case tenancy.CodeOf(err) != tenancy.NotFound:
		return false, err
	}
	if err := tenancy.Decide(tree, a, perm, tenancy.Resource{OrgID: org, Org: true}); err != nil {
		return false, err
	}
	for _, uid := range au.Devices() {
		d, err := s.store.GetDeviceByUID(ctx, uid)
		if err == nil {
			err = tenancy.Decide(tree, a, tenancy.OrgDevicesView, tenancy.Resource{OrgID: d.OrgID, OwnerID: d.OwnerID})
		}
		if err == nil && !tree.Within(org, d.OrgID) {
			err = tenancy.Errorf(tenancy.NotFound, "device not found")
		}
		if err != nil {
			if tenancy.CodeOf(err) == tenancy.NotFound {
				return false, tenancy.Errorf(tenancy.Invalid, "device %s: not found in this organization", uid)
			}
			return false, err
		}
	}
	if err := s.store.SaveAutomation(ctx, org, au, a, s.now()); err != nil {
		return false, err
	}
	s.changed(tenancy.Change{Orgs: []tenancy.OrgID{org}})
	return perm == tenancy.AutomationsCreate, nil
}

// hidden is the answer for a missing automation and for one the actor may
// not see: the same, so ids cannot be probed.
func hidden() error {
	return tenancy.Errorf(tenancy.NotFound, "object not found or you don't have access to it")
}

// get loads an automation the actor may see.
func (s *Service) get(ctx context.Context, a tenancy.Actor, id string, p tenancy.Permission) (rules.Automation, error) {
	au, err := s.store.GetAutomation(ctx, id)
	if tenancy.CodeOf(err) == tenancy.NotFound {
		return au, hidden()
	}
	if err != nil {
		return au, err
	}
	if err := tenancy.Decide(s.tree(), a, tenancy.AutomationsView, tenancy.Resource{OrgID: tenancy.OrgID(au.OrgID)}); err != nil {
		return au, err
	}
	if p != tenancy.AutomationsView {
		if err := tenancy.Decide(s.tree(), a, p, tenancy.Resource{OrgID: tenancy.OrgID(au.OrgID), Org: true}); err != nil {
			return au, err
		}
	}
	return au, nil
}

// Get returns one automation (AUTOMATIONS_VIEW).
func (s *Service) Get(ctx context.Context, a tenancy.Actor, id string) (rules.Automation, error) {
	return s.get(ctx, a, id, tenancy.AutomationsView)
}

// Delete deletes an automation (AUTOMATIONS_DELETE); its runs stay.
func (s *Service) Delete(ctx context.Context, a tenancy.Actor, id string) error {
	au, err := s.get(ctx, a, id, tenancy.AutomationsDelete)
	if err != nil {
		return err
	}
	if err := s.store.DeleteAutomation(ctx, tenancy.OrgID(au.OrgID), id, a, s.now()); err != nil {
		return err
	}
	s.changed(tenancy.Change{Orgs: []tenancy.OrgID{tenancy.OrgID(au.OrgID)}})
	return nil
}

// Runs returns an automation's recorded runs, newest first
// (AUTOMATIONS_VIEW); limit is 1..MaxRunsPage.
func (s *Service) Runs(ctx context.Context, a tenancy.Actor, id string, limit int) ([]rules.Run, error) {
	if limit < 1 || limit > MaxRunsPage {
		return nil, tenancy.Errorf(tenancy.Invalid, "limit must be 1..%d", MaxRunsPage)
	}
	if _, err := s.get(ctx, a, id, tenancy.AutomationsView); err != nil {
		return nil, err
	}
	return s.store.AutomationRuns(ctx, id, limit)
}

// RunNow runs an automation's actions once in the cloud
// (AUTOMATIONS_EXECUTE), enabled or not, whatever its trigger; the run is
// recorded when it ends. It returns once the run is queued.
func (s *Service) RunNow(ctx context.Context, a tenancy.Actor, id string) error {
	au, err := s.get(ctx, a, id, tenancy.AutomationsExecute)
	if err != nil {
		return err
	}
	if s.runner == nil {
		return tenancy.Errorf(tenancy.Unavailable, "automations do not run in this cloud")
	}
	s.runner.RunNow(au, s.now())
	return nil
}

// Where names the site that runs an automation ("" and false: the cloud;
// an error when no executor is attached or a device's site is unknown).
func (s *Service) Where(ctx context.Context, au *rules.Automation) (site string, atSite bool, err error) {
	if s.runner == nil {
		return "", false, errors.New("automations: no executor attached")
	}
	return s.runner.Where(ctx, au)
}
