package tenancy

import (
	"context"
	"time"
)

// AuditQuery lists audit entries of OrgID (default: the actor's), or
// only those about one object (ObjectType "device", ObjectID its id).
type AuditQuery struct {
	OrgID      OrgID
	IncludeSub bool
	ObjectType string
	ObjectID   string
	UserID     UserID    // 0: anyone's
	Action     string    // exact, e.g. "user.transfer"; "": any
	Since      time.Time // inclusive; zero: no bound
	Until      time.Time // exclusive; zero: no bound
	Page       Page
	SkipTotal  bool // Total stays 0 (a page with "older" links needs none)
}

// Audit lists the audit log in scope, newest first
// (USERS_ACTIONS_LOG_VIEW).
func (s *Service) Audit(ctx context.Context, a Actor, q AuditQuery) (List[AuditEntry], error) {
	org := q.OrgID
	if org == 0 {
		org = a.OrgID
	}
	page, err := q.Page.Normalize()
	if err != nil {
		return List[AuditEntry]{}, err
	}
	if err := s.decide(a, UsersActionsLogView, OrgResource(org), "organization"); err != nil {
		return List[AuditEntry]{}, err
	}
	l, err := s.store.ListAudit(ctx, AuditFilter{Scope: s.tree.Load().ScopeOf(a, org, q.IncludeSub),
		ObjectType: q.ObjectType, ObjectID: q.ObjectID, UserID: q.UserID, Action: q.Action, Since: q.Since, Until: q.Until, Page: page,
		SkipTotal: q.SkipTotal})
	if err != nil {
		return l, internal("list audit", err)
	}
	return l, nil
}
