package tenancy

import (
	"context"
	"strings"
)

// RoleInfo is a role with its permissions in one org.
type RoleInfo struct {
	Role
	Perms PermSet
}

// PushMode says what SetRolePermissions does to the org's descendants.
type PushMode int

// Push modes ("Apply to sub-organizations", §2).
const (
	PushNone      PushMode = iota // only this org
	PushMerge                     // descendants gain the keys, keep their others
	PushOverwrite                 // every descendant gets exactly this set
)

// Roles lists the tree's roles with their permissions in org (ROLES_VIEW).
func (s *Service) Roles(ctx context.Context, a Actor, org OrgID) ([]RoleInfo, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, RolesView, OrgResource(org), "organization"); err != nil {
		return nil, err
	}
	t := s.tree.Load()
	roles, err := s.store.ListRoles(ctx, t.Root(org))
	if err != nil {
		return nil, internal("list roles", err)
	}
	out := make([]RoleInfo, len(roles))
	for i, r := range roles {
		out[i] = RoleInfo{Role: r, Perms: t.Perms(org, r.ID)}
	}
	return out, nil
}

func validRoleName(n string) error {
	return validName("role name", n, 1, 64)
}

// CreateRole adds a custom role to the actor's tree (ROLES_CREATE in the
// root org). It starts with no permissions anywhere. A 10th role is
// LimitReached.
func (s *Service) CreateRole(ctx context.Context, a Actor, name string) (Role, error) {
	root := s.tree.Load().Root(a.OrgID)
	if err := s.decide(a, RolesCreate, OrgResource(root), "organization"); err != nil {
		return Role{}, err
	}
	name = strings.TrimSpace(name)
	if err := validRoleName(name); err != nil {
		return Role{}, err
	}
	var r Role
	err := s.atomic(ctx, "create role", func(tx Tx) error {
		roles, err := tx.ListRoles(ctx, root)
		if err != nil {
			return err
		}
		if len(roles) >= MaxRoles {
			return Errorf(LimitReached, "at most %d roles", MaxRoles)
		}
		next := RoleID(1)
		for _, x := range roles {
			if strings.EqualFold(x.Name, name) {
				return Errorf(Conflict, "role name %q is already in use", name)
			}
			next = max(next, x.ID+1)
		}
		r = Role{RootID: root, ID: next, Name: name}
		if err := tx.CreateRole(ctx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, root, "role.create", "role", r.ID, nil, r)
	})
	return r, err
}

// RenameRole renames a role across the whole tree (ROLES_EDIT in root).
func (s *Service) RenameRole(ctx context.Context, a Actor, id RoleID, name string) (Role, error) {
	root := s.tree.Load().Root(a.OrgID)
	if err := s.decide(a, RolesEdit, OrgResource(root), "organization"); err != nil {
		return Role{}, err
	}
	name = strings.TrimSpace(name)
	if err := validRoleName(name); err != nil {
		return Role{}, err
	}
	var r Role
	err := s.atomic(ctx, "rename role", func(tx Tx) error {
		roles, err := tx.ListRoles(ctx, root)
		if err != nil {
			return err
		}
		found := false
		for _, x := range roles {
			if x.ID == id {
				r, found = x, true
			} else if strings.EqualFold(x.Name, name) {
				return Errorf(Conflict, "role name %q is already in use", name)
			}
		}
		if !found {
			return notFound("role")
		}
		before := r
		r.Name = name
		if err := tx.UpdateRole(ctx, r); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, root, "role.rename", "role", id, before, r)
	})
	return r, err
}

// DeleteRole deletes a custom role, moving its users to replacement
// (ROLES_DELETE in root). Built-in roles cannot be deleted.
func (s *Service) DeleteRole(ctx context.Context, a Actor, id, replacement RoleID) (moved int, err error) {
	root := s.tree.Load().Root(a.OrgID)
	if err := s.decide(a, RolesDelete, OrgResource(root), "organization"); err != nil {
		return 0, err
	}
	if id == RoleAdmin {
		return 0, invalid("the Admin role cannot be deleted")
	}
	if id == replacement {
		return 0, invalid("the replacement must be another role")
	}
	err = s.atomicTree(ctx, "delete role", func(tx Tx, ed *treeEdit) error {
		ed.reload = true
		roles, err := tx.ListRoles(ctx, root)
		if err != nil {
			return err
		}
		var victim *Role
		hasRepl := false
		for i, x := range roles {
			if x.ID == id {
				victim = &roles[i]
			}
			hasRepl = hasRepl || x.ID == replacement
		}
		if victim == nil {
			return notFound("role")
		}
		if victim.BuiltIn {
			return invalid("built-in roles cannot be deleted")
		}
		if !hasRepl {
			return invalid("a replacement role is required")
		}
		if moved, err = tx.ReassignRole(ctx, root, id, replacement); err != nil {
			return err
		}
		if err := tx.DeleteRole(ctx, root, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, root, "role.delete", "role", id, *victim, map[string]any{"replacement": replacement, "movedUsers": moved})
	})
	return moved, err
}

// SetRolePermissions sets a role's permissions in org (ROLES_EDIT there)
// and, per push, in every org below it. An actor cannot change the
// permissions of its own role in its own org (so nobody locks themself out
// or grants themself more), nor grant keys it does not hold itself.
func (s *Service) SetRolePermissions(ctx context.Context, a Actor, org OrgID, role RoleID, perms PermSet, push PushMode) error {
	if err := s.decide(a, RolesEdit, OrgResource(org), "organization"); err != nil {
		return err
	}
	if !a.IsClient() && org == a.OrgID && role == a.RoleID {
		return forbidden("you cannot change the permissions of your own role")
	}
	t := s.tree.Load()
	if !a.IsClient() && !perms.SubsetOf(t.ActorPerms(a)) {
		return forbidden("you cannot grant permissions you do not have: %v", perms.Minus(t.ActorPerms(a)).Strings())
	}
	return s.atomicTree(ctx, "set permissions", func(tx Tx, ed *treeEdit) error {
		if err := s.roleExists(ctx, tx, org, role); err != nil {
			return err
		}
		before := t.Perms(org, role)
		if err := tx.SetRolePerms(ctx, RolePerms{OrgID: org, RoleID: role, Perms: perms}); err != nil {
			return err
		}
		ed.perms = append(ed.perms, RolePerms{OrgID: org, RoleID: role, Perms: perms})
		if push != PushNone {
			desc, err := tx.Descendants(ctx, org)
			if err != nil {
				return err
			}
			for _, d := range desc {
				if d == org {
					continue
				}
				p := perms
				if push == PushMerge {
					p = t.Perms(d, role).Union(perms)
				}
				if err := tx.SetRolePerms(ctx, RolePerms{OrgID: d, RoleID: role, Perms: p}); err != nil {
					return err
				}
				ed.perms = append(ed.perms, RolePerms{OrgID: d, RoleID: role, Perms: p})
			}
		}
		return s.audit(ctx, tx, a, org, "role.permissions", "role", role,
			map[string]any{"permissions": before.Strings()}, map[string]any{"permissions": perms.Strings(), "push": push})
	})
}

// RoleNames lists the roles of org's tree, without their permissions, to
// anyone whose scope holds org: a user list or an invitation form names
// roles to people who may not view the permission matrix (ROLES_VIEW).
func (s *Service) RoleNames(ctx context.Context, a Actor, org OrgID) ([]Role, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.scopeCheck(a, org, "organization"); err != nil {
		return nil, err
	}
	roles, err := s.store.ListRoles(ctx, s.tree.Load().Root(org))
	if err != nil {
		return nil, internal("list roles", err)
	}
	return roles, nil
}
