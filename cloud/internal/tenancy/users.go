package tenancy

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bootstrap describes a new tree: its root org and first Admin.
type Bootstrap struct {
	OrgName    string
	AdminEmail string
	AdminName  string
	Password   string
	// SpecialOrgs creates the "Clients" and "Partners" group orgs.
	SpecialOrgs bool
}

// Bootstrap creates a root org with the built-in roles at their default
// permissions and its first Admin (a developer). It needs no actor: it is
// what the first start of the cloud runs. A taken email gives Conflict.
func (s *Service) Bootstrap(ctx context.Context, b Bootstrap) (Org, User, error) {
	b.OrgName = strings.TrimSpace(b.OrgName)
	if err := validOrgName(b.OrgName); err != nil {
		return Org{}, User{}, err
	}
	email, err := normEmail(b.AdminEmail)
	if err != nil {
		return Org{}, User{}, err
	}
	hash, err := s.hashPassword(b.Password)
	if err != nil {
		return Org{}, User{}, err
	}
	var root Org
	var admin User
	err = s.atomicTree(ctx, "bootstrap", func(tx Tx, ed *treeEdit) error {
		ed.reload = true
		now := s.now().UTC()
		root = Org{Name: b.OrgName, Type: OrgRoot, Depth: 1, CanCreateSub: true, Active: true, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateOrg(ctx, &root); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "organization name %q is already in use", root.Name)
			}
			return err
		}
		root.RootID = root.ID
		for _, r := range []Role{{ID: RoleAdmin, Name: "Admin"}, {ID: RoleStaff, Name: "Staff"}, {ID: RoleUser, Name: "User"}} {
			r.RootID, r.BuiltIn = root.ID, true
			if err := tx.CreateRole(ctx, r); err != nil {
				return err
			}
			if err := tx.SetRolePerms(ctx, RolePerms{OrgID: root.ID, RoleID: r.ID, Perms: DefaultPermissions(r.ID)}); err != nil {
				return err
			}
		}
		admin = User{OrgID: root.ID, RoleID: RoleAdmin, Email: email, Name: b.AdminName, Type: UserDeveloper,
			Status: StatusPending, IsDev: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, &admin); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "email %s is already in use", email)
			}
			return err
		}
		if b.SpecialOrgs {
			for _, sp := range []struct {
				name string
				kind SpecialOrg
			}{{"Clients", SpecialClients}, {"Partners", SpecialPartners}} {
				o, err := s.newOrg(ctx, tx, ed, NewOrg{Name: sp.name}, root)
				if err != nil {
					return err
				}
				o.Special = sp.kind
				if err := tx.UpdateOrg(ctx, o); err != nil {
					return err
				}
			}
		}
		sys := Actor{UserID: admin.ID, OrgID: root.ID, RoleID: RoleAdmin}
		return s.audit(ctx, tx, sys, root.ID, "org.bootstrap", "org", root.ID, nil, root)
	})
	return root, admin, err
}

// normEmail lower-cases and checks an address: one @, a non-empty local
// part, a dotted domain, no spaces or controls. (net/mail would pull the
// network stack into this domain package.)
func normEmail(e string) (string, error) {
	e = strings.ToLower(strings.TrimSpace(e))
	bad := invalid("invalid email %q", e)
	at := strings.IndexByte(e, '@')
	if at < 1 || at != strings.LastIndexByte(e, '@') || len(e) > 254 {
		return "", bad
	}
	domain := e[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", bad
	}
	for _, r := range e {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return "", bad
		}
	}
	return e, nil
}

func (s *Service) hashPassword(pw string) (string, error) {
	if utf8.RuneCountInString(pw) < s.cfg.MinPassword || len(pw) > 128 {
		return "", invalid("password must be %d to 128 characters", s.cfg.MinPassword)
	}
	h, err := s.hasher.Hash(pw)
	if err != nil {
		return "", internal("hash password", err)
	}
	return h, nil
}

// UserQuery lists users of OrgID (default: the actor's org), with
// IncludeSub those below it too.
type UserQuery struct {
	OrgID      OrgID
	IncludeSub bool
	RoleID     RoleID
	TagID      TagID // users carrying the tag; needs TAGS_MANAGE
	Query      string
	Page       Page
}

// NewUser creates a user with a password directly (create-in-org).
type NewUser struct {
	Email    string
	Name     string
	OrgID    OrgID
	RoleID   RoleID
	Password string
	Type     UserType // default end-user
	Phone    string
	TZ       string
	Locale   string
}

// UserUpdate changes the fields that are set; email is immutable.
type UserUpdate struct {
	Name, Title, Nick, Phone, TZ, Locale *string
	IsDev                                *bool
}

// UserTransfer moves a user to another org of the same tree.
type UserTransfer struct {
	OrgID       OrgID
	RoleID      RoleID
	MoveDevices bool // move the devices the user owns along
}

// UserTransferResult reports a user transfer.
type UserTransferResult struct {
	User         User
	FromOrgID    OrgID
	MovedDevices int
	// NoAdminLeft warns that the org the user left has no Admin any more
	// (Blynk warns, it does not refuse; §13.11).
	NoAdminLeft bool
}

// getUser loads a user and checks that the actor may do p to them.
func (s *Service) getUser(ctx context.Context, tx Tx, a Actor, id UserID, p Permission) (User, error) {
	u, err := tx.GetUser(ctx, id)
	if errIs(err, NotFound) {
		return User{}, notFound("user")
	}
	if err != nil {
		return User{}, err
	}
	if err := s.decide(a, p, Resource{OrgID: u.OrgID}, "user"); err != nil {
		return User{}, err
	}
	return u, nil
}

// WithStatus fills the derived Inactive status.
func (s *Service) WithStatus(u User) User {
	u.Status = u.StatusAt(s.now(), s.cfg.InactiveAfter)
	return u
}

// Me returns the acting user.
func (s *Service) Me(ctx context.Context, a Actor) (User, error) {
	if a.UserID == 0 {
		return User{}, notFound("user")
	}
	u, err := s.store.GetUser(ctx, a.UserID)
	if err != nil {
		return User{}, internal("get user", err)
	}
	return s.WithStatus(u), nil
}

// User returns a user in scope (ORG_USERS_VIEW); a user may always see
// themself.
func (s *Service) User(ctx context.Context, a Actor, id UserID) (User, error) {
	if id == a.UserID {
		return s.Me(ctx, a)
	}
	u, err := s.getUser(ctx, s.store, a, id, OrgUsersView)
	if err != nil {
		return User{}, internal("get user", err)
	}
	return s.WithStatus(u), nil
}

// Users lists users in scope (ORG_USERS_VIEW).
func (s *Service) Users(ctx context.Context, a Actor, q UserQuery) (List[User], error) {
	page, err := q.Page.Normalize()
	if err != nil {
		return List[User]{}, err
	}
	if err := validQuery(q.Query); err != nil {
		return List[User]{}, err
	}
	org := q.OrgID
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, OrgUsersView, OrgResource(org), "organization"); err != nil {
		if errIs(err, Forbidden) && org == a.OrgID {
			return List[User]{}, nil // may not view users: an empty list, like devices
		}
		return List[User]{}, err
	}
	if q.TagID != 0 {
		// Tags are shown to administrators only (§6): filtering by them too.
		if err := s.decide(a, TagsManage, OrgResource(org), "organization"); err != nil {
			return List[User]{}, err
		}
	}
	t := s.tree.Load()
	l, err := s.store.ListUsers(ctx, UserFilter{Scope: t.ScopeOf(a, org, q.IncludeSub), RoleID: q.RoleID, TagID: q.TagID, Query: q.Query, Page: page})
	if err != nil {
		return l, internal("list users", err)
	}
	for i := range l.Items {
		l.Items[i] = s.WithStatus(l.Items[i])
	}
	return l, nil
}

// roleExists checks that role is defined in the tree of org.
func (s *Service) roleExists(ctx context.Context, tx Tx, org OrgID, role RoleID) error {
	roles, err := tx.ListRoles(ctx, s.tree.Load().Root(org))
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r.ID == role {
			return nil
		}
	}
	return notFound("role")
}

// assignable refuses giving someone a role that holds permissions the
// actor itself lacks, so nobody can hand out more than they have (a Staff
// member may invite Staff or User, not Admin). Clients are not limited.
func (s *Service) assignable(a Actor, org OrgID, role RoleID) error {
	if a.IsClient() {
		return nil
	}
	t := s.tree.Load()
	if !t.Perms(org, role).SubsetOf(t.ActorPerms(a)) {
		return invalid("role %d is not allowed: it holds permissions you do not have", role)
	}
	return nil
}

// CreateUser creates a user with a password in an org (USERS_INVITE). The
// user is Pending until the first login.
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (User, error) {
	if in.OrgID == 0 {
		in.OrgID = a.OrgID
	}
	if err := s.decide(a, UsersInvite, OrgResource(in.OrgID), "organization"); err != nil {
		return User{}, err
	}
	email, err := normEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	if err := validName("name", strings.TrimSpace(in.Name), 1, 100); err != nil {
		return User{}, err
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return User{}, err
	}
	typ := in.Type
	if typ == "" {
		typ = UserEndUser
	}
	var u User
	err = s.atomic(ctx, "create user", func(tx Tx) error {
		if err := s.roleExists(ctx, tx, in.OrgID, in.RoleID); err != nil {
			return err
		}
		if err := s.assignable(a, in.OrgID, in.RoleID); err != nil {
			return err
		}
		now := s.now().UTC()
		u = User{OrgID: in.OrgID, RoleID: in.RoleID, Email: email, Name: strings.TrimSpace(in.Name), Phone: in.Phone,
			TZ: in.TZ, Locale: in.Locale, Type: typ, Status: StatusPending, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, &u); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "email %s is already in use", email)
			}
			return err
		}
		return s.audit(ctx, tx, a, u.OrgID, "user.create", "user", u.ID, nil, u)
	})
	return u, err
}

// UpdateUser edits a user's profile (USERS_EDIT, or oneself). Developer
// mode needs the Admin role.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id UserID, up UserUpdate) (User, error) {
	var out User
	err := s.atomic(ctx, "update user", func(tx Tx) error {
		var before User
		var err error
		if id == a.UserID {
			before, err = tx.GetUser(ctx, id)
		} else {
			before, err = s.getUser(ctx, tx, a, id, UsersEdit)
		}
		if err != nil {
			return err
		}
		for _, f := range []struct {
			what string
			v    *string
		}{{"name", up.Name}, {"title", up.Title}, {"nickName", up.Nick}} {
			if f.v != nil {
				if err := validName(f.what, *f.v, 0, 100); err != nil {
					return err
				}
			}
		}
		u := before
		setStr(&u.Name, up.Name)
		setStr(&u.Title, up.Title)
		setStr(&u.Nick, up.Nick)
		setStr(&u.Phone, up.Phone)
		setStr(&u.TZ, up.TZ)
		setStr(&u.Locale, up.Locale)
		if up.IsDev != nil {
			if *up.IsDev && u.RoleID != RoleAdmin {
				return invalid("developer mode requires the Admin role")
			}
			u.IsDev = *up.IsDev
		}
		u.UpdatedAt = s.now().UTC()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = u
		return s.audit(ctx, tx, a, u.OrgID, "user.update", "user", id, before, u)
	})
	return s.WithStatus(out), err
}

// SetUserRole changes a user's role in their org (USERS_EDIT); nobody
// changes their own.
func (s *Service) SetUserRole(ctx context.Context, a Actor, id UserID, role RoleID) (User, error) {
	if id == a.UserID {
		return User{}, invalid("you cannot change your own role")
	}
	var out User
	err := s.atomic(ctx, "set user role", func(tx Tx) error {
		before, err := s.getUser(ctx, tx, a, id, UsersEdit)
		if err != nil {
			return err
		}
		if err := s.roleExists(ctx, tx, before.OrgID, role); err != nil {
			return err
		}
		if err := s.assignable(a, before.OrgID, role); err != nil {
			return err
		}
		u := before
		u.RoleID = role
		if role != RoleAdmin {
			u.IsDev = false
		}
		u.UpdatedAt = s.now().UTC()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = u
		return s.audit(ctx, tx, a, u.OrgID, "user.role", "user", id, before, u)
	})
	return s.WithStatus(out), err
}

// TransferUser moves a user to another org of the same tree within the
// actor's scope (USERS_TRANSFER), with any role (§11.4), optionally with
// the devices they own. Moving to the org the user is in is refused (use
// the role endpoint to change a role). The locations the user owns always
// move along, so the user keeps them; their assigned users outside the
// destination's subtree are unassigned. The change is logged in both orgs,
// each moved device and location with an entry of its own; the user and
// the destination's Admins are notified (§3).
func (s *Service) TransferUser(ctx context.Context, a Actor, id UserID, in UserTransfer) (UserTransferResult, error) {
	if err := s.decide(a, UsersTransfer, OrgResource(in.OrgID), "destination organization"); err != nil {
		return UserTransferResult{}, err
	}
	var res UserTransferResult
	var from, to Org
	var roleName string
	var admins []User
	t := s.tree.Load()
	err := s.atomic(ctx, "transfer user", func(tx Tx) error {
		before, err := s.getUser(ctx, tx, a, id, UsersTransfer)
		if err != nil {
			return err
		}
		if before.OrgID == in.OrgID {
			return invalid("the user is already in this organization")
		}
		if err := s.roleExists(ctx, tx, in.OrgID, in.RoleID); err != nil {
			return err
		}
		if err := s.assignable(a, in.OrgID, in.RoleID); err != nil {
			return err
		}
		if from, err = tx.GetOrg(ctx, before.OrgID); err != nil {
			return err
		}
		if to, err = tx.GetOrg(ctx, in.OrgID); err != nil {
			return err
		}
		if roleName, err = s.roleName(ctx, tx, to.RootID, in.RoleID); err != nil {
			return err
		}
		u := before
		u.OrgID, u.RoleID, u.UpdatedAt = in.OrgID, in.RoleID, s.now().UTC()
		if u.RoleID != RoleAdmin {
			u.IsDev = false
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		res = UserTransferResult{User: u, FromOrgID: before.OrgID}
		whole := Scope{OrgID: t.Root(before.OrgID), Subtree: true}
		if in.MoveDevices {
			if res.MovedDevices, err = s.moveOwnedDevices(ctx, tx, a, whole, id, in.OrgID); err != nil {
				return err
			}
		}
		if err := s.moveOwnedLocations(ctx, tx, a, whole, id, in.OrgID); err != nil {
			return err
		}
		if before.RoleID == RoleAdmin {
			left, err := tx.ListUsers(ctx, UserFilter{Scope: Scope{OrgID: before.OrgID}, RoleID: RoleAdmin, Page: Page{Size: 1}})
			if err != nil {
				return err
			}
			res.NoAdminLeft = left.Total == 0
		}
		l, err := tx.ListUsers(ctx, UserFilter{Scope: Scope{OrgID: in.OrgID}, RoleID: RoleAdmin, Page: Page{Size: MaxPageSize}})
		if err != nil {
			return err
		}
		admins = l.Items
		return s.auditBoth(ctx, tx, a, before.OrgID, in.OrgID, "user.transfer", "user", id, before, u)
	})
	if err != nil {
		return UserTransferResult{}, err
	}
	res.User = s.WithStatus(res.User)
	moved := fmt.Sprintf("moved from %s to %s with the role %s", from.Name, to.Name, roleName)
	s.notifyUser(ctx, Notification{UserID: id, Kind: "user.transferred", Message: "you were " + moved})
	for _, ad := range admins {
		if ad.ID != id {
			s.notifyUser(ctx, Notification{UserID: ad.ID, Kind: "user.transferred.in",
				Message: fmt.Sprintf("%s (%s) was %s", res.User.Name, res.User.Email, moved)})
		}
	}
	return res, nil
}

// roleName is the name of role in the tree of root.
func (s *Service) roleName(ctx context.Context, tx Tx, root OrgID, role RoleID) (string, error) {
	roles, err := tx.ListRoles(ctx, root)
	if err != nil {
		return "", err
	}
	for _, r := range roles {
		if r.ID == role {
			return r.Name, nil
		}
	}
	return "", notFound("role")
}

// auditBoth logs a change that moves something from one org to another in
// both orgs' logs.
func (s *Service) auditBoth(ctx context.Context, tx Tx, a Actor, from, to OrgID, action, objType string, objID any, before, after any) error {
	if err := s.audit(ctx, tx, a, from, action, objType, objID, before, after); err != nil {
		return err
	}
	if to == from {
		return nil
	}
	return s.audit(ctx, tx, a, to, action, objType, objID, before, after)
}

// moveOwnedDevices moves every device owner owns (anywhere in the tree)
// into org, each logged on its own. The template of each must be enabled
// in org, as for any device transfer (§4).
func (s *Service) moveOwnedDevices(ctx context.Context, tx Tx, a Actor, whole Scope, owner UserID, org OrgID) (int, error) {
	var devs []Device
	for page := (Page{Size: MaxPageSize}); ; {
		l, err := tx.ListDevices(ctx, DeviceFilter{Scope: whole, OwnerID: owner, Page: page})
		if err != nil {
			return 0, err
		}
		devs = append(devs, l.Items...)
		if l.Next == 0 || len(l.Items) == 0 {
			break
		}
		page.After = l.Next
	}
	n := 0
	for _, before := range devs {
		if before.OrgID == org {
			continue
		}
		if err := templateUsable(ctx, tx, org, before.TemplateID); err != nil {
			return 0, invalid("device %q cannot move with its owner: template %s is not enabled in the destination organization", before.Name, before.TemplateID)
		}
		d := before
		d.OrgID, d.UpdatedAt = org, s.now().UTC()
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return 0, err
		}
		if err := s.auditBoth(ctx, tx, a, before.OrgID, org, "device.transfer", "device", d.ID, before, d); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// moveOwnedLocations moves every location owner owns into org; assigned
// users who would not be in the location's new reach are unassigned.
func (s *Service) moveOwnedLocations(ctx context.Context, tx Tx, a Actor, whole Scope, owner UserID, org OrgID) error {
	l, err := tx.ListLocations(ctx, LocationFilter{Scope: whole, OwnerID: owner, Page: Page{Size: MaxPageSize}})
	if err != nil {
		return err
	}
	t := s.tree.Load()
	for _, before := range l.Items {
		if before.OrgID == org {
			continue
		}
		loc := before
		loc.OrgID, loc.Users = org, nil
		for _, uid := range before.Users {
			if uid == owner {
				loc.Users = append(loc.Users, uid)
				continue
			}
			u, err := tx.GetUser(ctx, uid)
			if err == nil && t.Within(org, u.OrgID) {
				loc.Users = append(loc.Users, uid)
			}
		}
		if err := tx.UpdateLocation(ctx, loc); err != nil {
			return err
		}
		if err := s.auditBoth(ctx, tx, a, before.OrgID, org, "location.transfer", "location", loc.ID, before, loc); err != nil {
			return err
		}
	}
	return nil
}

// SetSuspended suspends or reinstates a user (USERS_SUSPEND). Suspending
// revokes their sessions at once.
func (s *Service) SetSuspended(ctx context.Context, a Actor, id UserID, suspended bool) (User, error) {
	if id == a.UserID {
		return User{}, invalid("you cannot suspend yourself")
	}
	var out User
	err := s.atomic(ctx, "suspend user", func(tx Tx) error {
		before, err := s.getUser(ctx, tx, a, id, UsersSuspend)
		if err != nil {
			return err
		}
		u := before
		switch {
		case suspended:
			u.Status = StatusSuspended
			if _, err := tx.RevokeUserSessions(ctx, id, s.now().UTC()); err != nil {
				return err
			}
		case before.Status == StatusSuspended && before.LastLoginAt.IsZero():
			u.Status = StatusPending
		case before.Status == StatusSuspended:
			u.Status = StatusActive
		}
		u.UpdatedAt = s.now().UTC()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = u
		action := "user.unsuspend"
		if suspended {
			action = "user.suspend"
		}
		return s.audit(ctx, tx, a, u.OrgID, action, "user", id, before, u)
	})
	return s.WithStatus(out), err
}

// ForceLogout revokes every session of the user immediately
// (USERS_FORCE_LOGOUT).
func (s *Service) ForceLogout(ctx context.Context, a Actor, id UserID) error {
	return s.atomic(ctx, "force logout", func(tx Tx) error {
		u, err := s.getUser(ctx, tx, a, id, UsersForceLogout)
		if err != nil {
			return err
		}
		n, err := tx.RevokeUserSessions(ctx, id, s.now().UTC())
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, a, u.OrgID, "user.force_logout", "user", id, nil, map[string]int{"sessions": n})
	})
}

// DeleteUser deletes a user (USERS_DELETE); their devices lose their owner
// and stay in their orgs.
func (s *Service) DeleteUser(ctx context.Context, a Actor, id UserID) error {
	if id == a.UserID {
		return invalid("you cannot delete yourself")
	}
	return s.atomic(ctx, "delete user", func(tx Tx) error {
		u, err := s.getUser(ctx, tx, a, id, UsersDelete)
		if err != nil {
			return err
		}
		if _, err := tx.RevokeUserSessions(ctx, id, s.now().UTC()); err != nil {
			return err
		}
		if err := s.noteOwnedDevices(ctx, tx, u); err != nil {
			return err
		}
		if _, err := tx.ClearOwner(ctx, id); err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, u.OrgID, "user.delete", "user", id, u, nil)
	})
}

// SetPassword sets another user's password (USERS_CHANGE_PASSWORD) and
// logs them out everywhere.
func (s *Service) SetPassword(ctx context.Context, a Actor, id UserID, password string) error {
	hash, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	return s.atomic(ctx, "set password", func(tx Tx) error {
		u, err := s.getUser(ctx, tx, a, id, UsersChangePassword)
		if err != nil {
			return err
		}
		u.PasswordHash, u.UpdatedAt = hash, s.now().UTC()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := s.revokeCredentials(ctx, tx, id, 0); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, u.OrgID, "user.password.set", "user", id, nil, nil)
	})
}

// ChangePassword is the self-service change: the old password must match.
// Every other session of the user ends (the actor's own, a.SessionID,
// stays) and so do the tokens of the OAuth clients the user created.
func (s *Service) ChangePassword(ctx context.Context, a Actor, oldPassword, newPassword string) error {
	if a.UserID == 0 {
		return forbidden("only people have passwords")
	}
	hash, err := s.hashPassword(newPassword)
	if err != nil {
		return err
	}
	return s.atomic(ctx, "change password", func(tx Tx) error {
		u, err := tx.GetUser(ctx, a.UserID)
		if err != nil {
			return err
		}
		if s.hasher.Verify(u.PasswordHash, oldPassword) != nil {
			return invalid("current password is wrong")
		}
		u.PasswordHash, u.UpdatedAt = hash, s.now().UTC()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := s.revokeCredentials(ctx, tx, u.ID, a.SessionID); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, u.OrgID, "user.password.change", "user", u.ID, nil, nil)
	})
}

// RequestPasswordReset creates a reset token for email, asked from the
// client address addr. An unknown or suspended email gives an empty token
// and no error, so the answer does not reveal which emails exist; the
// caller mails the token if non-empty. Each request counts as a failed
// attempt with the login guard (someone does not know the password), so
// nobody can fill a mailbox with reset links.
func (s *Service) RequestPasswordReset(ctx context.Context, email, addr string) (string, User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if err := s.throttled(addr, email); err != nil {
		return "", User{}, err
	}
	s.failed(addr, email)
	u, err := s.store.GetUserByEmail(ctx, email)
	if errIs(err, NotFound) || (err == nil && u.Status == StatusSuspended) {
		return "", User{}, nil
	}
	if err != nil {
		return "", User{}, internal("get user", err)
	}
	tok, err := s.newSecret("rst_", 40)
	if err != nil {
		return "", User{}, err
	}
	now := s.now().UTC()
	err = s.store.CreatePasswordReset(ctx, PasswordReset{TokenHash: HashToken(tok), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetTTL)})
	if err != nil {
		return "", User{}, internal("create reset", err)
	}
	return tok, u, nil
}

// SendPasswordReset creates a reset token for another user of the actor's
// scope (USERS_CHANGE_PASSWORD), as an Admin's "send password reset" does;
// the caller mails it to the user. A suspended user gets none (Invalid).
// The user's password and sessions stay as they are until the link is
// used.
func (s *Service) SendPasswordReset(ctx context.Context, a Actor, id UserID) (string, User, error) {
	tok, err := s.newSecret("rst_", 40)
	if err != nil {
		return "", User{}, err
	}
	var u User
	err = s.atomic(ctx, "send password reset", func(tx Tx) error {
		if u, err = s.getUser(ctx, tx, a, id, UsersChangePassword); err != nil {
			return err
		}
		if u.Status == StatusSuspended {
			return invalid("the user is suspended: reactivate them first")
		}
		now := s.now().UTC()
		if err := tx.CreatePasswordReset(ctx, PasswordReset{TokenHash: HashToken(tok), UserID: u.ID, CreatedAt: now,
			ExpiresAt: now.Add(s.cfg.ResetTTL)}); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, u.OrgID, "user.password.reset_sent", "user", id, nil, nil)
	})
	if err != nil {
		return "", User{}, err
	}
	return tok, s.WithStatus(u), nil
}

// ResetPassword redeems a reset token (single use) and logs the user out
// everywhere, OAuth clients they created included (revokeCredentials). A
// wrong token counts as a failed attempt of the client address addr.
func (s *Service) ResetPassword(ctx context.Context, token, password, addr string) error {
	if err := s.throttled(addr, ""); err != nil {
		return err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	return s.atomic(ctx, "reset password", func(tx Tx) error {
		now := s.now().UTC()
		r, err := tx.UsePasswordReset(ctx, HashToken(token), now)
		if errIs(err, NotFound) {
			s.failed(addr, "")
			return invalid("the reset link is invalid or has expired")
		}
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, r.UserID)
		if err != nil {
			return err
		}
		u.PasswordHash, u.UpdatedAt = hash, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := s.revokeCredentials(ctx, tx, u.ID, 0); err != nil {
			return err
		}
		return s.audit(ctx, tx, Actor{UserID: u.ID, OrgID: u.OrgID, RoleID: u.RoleID}, u.OrgID, "user.password.reset", "user", u.ID, nil, nil)
	})
}

// revokeCredentials ends what a password change must end: every session of
// the user but keep, and the access and refresh tokens of the OAuth clients
// the user created. Whoever learnt the old password may have opened either;
// a client's secret stays valid, so an integration just asks for a new
// token.
func (s *Service) revokeCredentials(ctx context.Context, tx Tx, u UserID, keep SessionID) error {
	now := s.now().UTC()
	if _, err := tx.RevokeOtherSessions(ctx, u, keep, now); err != nil {
		return err
	}
	return tx.RevokeCreatorTokens(ctx, u, now)
}
