package cloud

import (
	"context"
	"fmt"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
)

// placedAutomations returns the automations of the gateway's organizations
// that run at that gateway: every device they read or write is in its view
// and they call no webhook (rules.Place). The others are the cloud's to
// run (pending: the cloud-side evaluator).
func (s *sites) placedAutomations(ctx context.Context, v tenancy.GatewayView) ([]rules.Automation, error) {
	orgs := make([]tenancy.OrgID, len(v.Orgs))
	for i, o := range v.Orgs {
		orgs[i] = o.ID
	}
	all, err := s.store.ListAutomations(ctx, orgs)
	if err != nil {
		return nil, err
	}
	here := make(map[string]bool, len(v.Devices))
	for _, d := range v.Devices {
		here[d.UID] = true
	}
	siteOf := func(uid string) string {
		if here[uid] {
			return "here"
		}
		return ""
	}
	var out []rules.Automation
	for i := range all {
		if _, ok := rules.Place(&all[i], siteOf); ok {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// SaveAutomation stores an automation in the organization of its first
// device and brings the gateways up to date. It is what the Platform API's
// automation routes will call (pending, with their permission checks); a
// test and the demo use it meanwhile.
func (s *Server) SaveAutomation(ctx context.Context, a rules.Automation) error {
	devs := a.Devices()
	if len(devs) == 0 {
		return fmt.Errorf("cloud: automation %s names no device", a.ID)
	}
	d, err := s.store.GetDeviceByUID(ctx, devs[0])
	if err != nil {
		return fmt.Errorf("cloud: automation %s: %w", a.ID, err)
	}
	if err := s.store.SaveAutomation(ctx, d.OrgID, a, tenancy.Actor{}, time.Now()); err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	s.sync.TenancyChanged()
	return nil
}

// AutomationRuns returns the runs recorded for an automation (at its site
// or in the cloud), newest first.
func (s *Server) AutomationRuns(ctx context.Context, id string, limit int) ([]rules.Run, error) {
	return s.store.AutomationRuns(ctx, id, limit)
}
