package siteregistry

import (
	"context"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/rules"
)

// placedAutomations returns the automations of the gateway's organizations
// that run at that gateway: every device they read or write is in its view
// and they call no webhook (rules.Place). The others are the cloud's to
// run (pending: the cloud-side evaluator).
func (s *Registry) placedAutomations(ctx context.Context, v tenancy.GatewayView) ([]rules.Automation, error) {
	orgs := make([]tenancy.OrgID, len(v.Orgs))
	for i, o := range v.Orgs {
		orgs[i] = o.ID
	}
	if s.autos == nil {
		return nil, nil
	}
	all, err := s.autos.ListAutomations(ctx, orgs)
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
