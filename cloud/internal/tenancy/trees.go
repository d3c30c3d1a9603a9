package tenancy

import "context"

// FirstRoot is the root organization created first (the lowest id among
// the roots): the operator's own tree. 0 when there is none.
func (t *Tree) FirstRoot() OrgID {
	var first OrgID
	for id, n := range t.orgs {
		if n.parent == 0 && (first == 0 || id < first) {
			first = id
		}
	}
	return first
}

// IsSuperAdmin reports whether the actor may create root trees: a person
// holding the Admin role in the first root organization, the tree the
// cloud created at its first start. Clients never are: a tree is made by
// people (or the operator command).
func (t *Tree) IsSuperAdmin(a Actor) bool {
	return !a.IsClient() && a.UserID != 0 && a.RoleID == RoleAdmin && a.OrgID != 0 && a.OrgID == t.FirstRoot()
}

// CreateTree creates another root tree (a new customer of a multi-tenant
// cloud) with its first Admin; only a super admin may (see IsSuperAdmin).
// An empty password is generated and returned in Password. Trees never see
// each other: the new Admin reaches only the new tree, and nobody of
// another tree reaches it.
func (s *Service) CreateTree(ctx context.Context, a Actor, b Bootstrap) (Org, User, string, error) {
	if !s.tree.Load().IsSuperAdmin(a) {
		return Org{}, User{}, "", forbidden("only an Admin of the first root organization can create organization trees")
	}
	pw := b.Password
	if pw == "" {
		var err error
		if pw, err = s.newSecret("", 20); err != nil {
			return Org{}, User{}, "", err
		}
		b.Password = pw
	} else {
		pw = ""
	}
	b.SpecialOrgs = false
	o, u, err := s.Bootstrap(ctx, b)
	if err != nil {
		return Org{}, User{}, "", err
	}
	return o, u, pw, nil
}
