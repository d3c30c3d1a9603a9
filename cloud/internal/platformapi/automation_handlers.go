package platformapi

import (
	"context"
	"net/http"
	"strconv"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
)

// Automations is what the API does with automations (shared/rules): the
// cloud wiring passes cloud/internal/automations' service; nil: the routes
// answer 404. Errors are tenancy-coded.
type Automations interface {
	List(ctx context.Context, a tenancy.Actor, org tenancy.OrgID) ([]rules.Automation, error)
	Get(ctx context.Context, a tenancy.Actor, id string) (rules.Automation, error)
	Save(ctx context.Context, a tenancy.Actor, org tenancy.OrgID, au rules.Automation) (created bool, err error)
	Delete(ctx context.Context, a tenancy.Actor, id string) error
	Runs(ctx context.Context, a tenancy.Actor, id string, limit int) ([]rules.Run, error)
	RunNow(ctx context.Context, a tenancy.Actor, id string) error
}

func (c *call) automations() (Automations, error) {
	if c.api.automations == nil {
		return nil, tenancy.Errorf(tenancy.NotFound, "no automations on this cloud")
	}
	return c.api.automations, nil
}

// listAutomations is GET /organization/automations?orgId=.
func (c *call) listAutomations() error {
	au, err := c.automations()
	if err != nil {
		return err
	}
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	list, err := au.List(c.ctx, c.actor, tenancy.OrgID(org))
	if err != nil {
		return err
	}
	if list == nil {
		list = []rules.Automation{}
	}
	return c.json(http.StatusOK, list)
}

// getAutomation is GET /organization/automation?id=.
func (c *call) getAutomation() error {
	au, err := c.automations()
	if err != nil {
		return err
	}
	a, err := au.Get(c.ctx, c.actor, c.query("id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, a)
}

// saveAutomation is PUT /organization/automation?orgId= with the
// automation as the body: 201 when created, 200 when replaced.
func (c *call) saveAutomation() error {
	au, err := c.automations()
	if err != nil {
		return err
	}
	org, err := c.optID("orgId")
	if err != nil {
		return err
	}
	var a rules.Automation
	if err := c.body(&a); err != nil {
		return err
	}
	created, err := au.Save(c.ctx, c.actor, tenancy.OrgID(org), a)
	if err != nil {
		return err
	}
	saved, err := au.Get(c.ctx, c.actor, a.ID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.json(status, saved)
}

// deleteAutomation is DELETE /organization/automation?id=.
func (c *call) deleteAutomation() error {
	au, err := c.automations()
	if err != nil {
		return err
	}
	if err := au.Delete(c.ctx, c.actor, c.query("id")); err != nil {
		return err
	}
	return c.noContent()
}

// automationRuns is GET /organization/automation/runs?id=&limit= (limit
// 1..1000, default 50), newest first.
func (c *call) automationRuns() error {
	au, err := c.automations()
	if err != nil {
		return err
	}
	limit := 50
	if s := c.query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return badRequest("limit must be an integer")
		}
		limit = n
	}
	runs, err := au.Runs(c.ctx, c.actor, c.query("id"), limit)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []rules.Run{}
	}
	return c.json(http.StatusOK, runs)
}

// runAutomation is POST /organization/automation/run?id=: its actions run
// once in the cloud (AUTOMATIONS_EXECUTE), whatever the trigger; 202, the
// run is in the run log when it ends.
func (c *call) runAutomation() error {
	au, err := c.automations()
	if err != nil {
		return err
	}
	if err := au.RunNow(c.ctx, c.actor, c.query("id")); err != nil {
		return err
	}
	return c.json(http.StatusAccepted, map[string]bool{"queued": true})
}
