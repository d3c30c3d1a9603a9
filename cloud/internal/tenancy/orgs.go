package tenancy

import (
	"context"
	"strings"
	"unicode/utf8"
)

// NewOrg describes an organization to create.
type NewOrg struct {
	ParentID     OrgID // required (0 only through Bootstrap)
	Name         string
	Description  string
	Type         OrgType // default BUSINESS; forced PERSONAL under a PERSONAL parent
	TZ           string
	Phone        string
	UnitSystem   string
	Address      Address
	CanCreateSub *bool // default: on when the parent is a root, off otherwise
}

// OrgUpdate changes the fields that are set.
type OrgUpdate struct {
	Name, Description, TZ, Phone, UnitSystem *string
	Address                                  *Address
	CanCreateSub                             *bool
	Active                                   *bool
	// HistoryRetentionDays: 0 clears the org's own bound.
	HistoryRetentionDays *int
}

// MaxHistoryRetentionDays bounds an organization's history retention
// (a hundred years).
const MaxHistoryRetentionDays = 36500

// EffectiveRetention is how long the history of org's devices is kept by
// the organizations' settings: the shortest HistoryRetentionDays of org
// and its ancestors (days; 0: none of them bounds it). orgs holds every
// organization by id.
func EffectiveRetention(orgs map[OrgID]Org, org OrgID) int {
	days := 0
	for id, n := org, 0; id != 0 && n <= len(orgs); n++ { // n: a cycle cannot loop
		o, ok := orgs[id]
		if !ok {
			break
		}
		if d := o.HistoryRetentionDays; d > 0 && (days == 0 || d < days) {
			days = d
		}
		id = o.ParentID
	}
	return days
}

// OrgQuery lists orgs: the direct children of Parent when set, otherwise
// OrgID (default: the actor's org) and, with IncludeSub, all below it.
type OrgQuery struct {
	Parent     OrgID
	OrgID      OrgID
	IncludeSub bool
	Query      string
	Page       Page
}

func validOrgName(name string) error {
	return validName("organization name", name, 3, 100)
}

func validDescription(d string) error {
	if err := checkText("description", d, true); err != nil {
		return err
	}
	if utf8.RuneCountInString(d) > 1000 || strings.ContainsAny(d, `/\<>`) {
		return invalid("description must be at most 1000 characters without / \\ < >")
	}
	return nil
}

// Org returns an org in the actor's scope.
func (s *Service) Org(ctx context.Context, a Actor, id OrgID) (Org, error) {
	if err := s.scopeCheck(a, id, "organization"); err != nil {
		return Org{}, err
	}
	o, err := s.store.GetOrg(ctx, id)
	if errIs(err, NotFound) {
		return Org{}, notFound("organization")
	}
	if err != nil {
		return Org{}, internal("get org", err)
	}
	return o, nil
}

// Orgs lists orgs in the actor's scope.
func (s *Service) Orgs(ctx context.Context, a Actor, q OrgQuery) (List[Org], error) {
	page, err := q.Page.Normalize()
	if err != nil {
		return List[Org]{}, err
	}
	if err := validQuery(q.Query); err != nil {
		return List[Org]{}, err
	}
	t := s.tree.Load()
	f := OrgFilter{Query: q.Query, Page: page}
	switch {
	case q.Parent != 0:
		if !t.InScope(a, q.Parent) {
			return List[Org]{}, notFound("organization")
		}
		if !t.ReachesSub(a) {
			return List[Org]{}, nil
		}
		f.Parent = q.Parent
	default:
		org := q.OrgID
		if org == 0 {
			org = a.OrgID
		}
		if !t.InScope(a, org) {
			return List[Org]{}, notFound("organization")
		}
		f.Scope = t.ScopeOf(a, org, q.IncludeSub)
	}
	l, err := s.store.ListOrgs(ctx, f)
	if err != nil {
		return l, internal("list orgs", err)
	}
	return l, nil
}

// CreateOrg creates a sub-organization. It needs ORG_CREATE_SUB and the
// parent's "can create sub-organizations" flag, keeps depth ≤ MaxDepth, and
// copies the parent's role permissions and enabled templates.
func (s *Service) CreateOrg(ctx context.Context, a Actor, in NewOrg) (Org, error) {
	if in.ParentID == 0 {
		return Org{}, invalid("parentId is required")
	}
	if err := s.decide(a, OrgCreateSub, OrgResource(in.ParentID), "parent organization"); err != nil {
		return Org{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validOrgName(in.Name); err != nil {
		return Org{}, err
	}
	if err := validDescription(in.Description); err != nil {
		return Org{}, err
	}
	t := s.tree.Load()
	if d := t.Depth(in.ParentID) + 1; d > s.cfg.MaxDepth {
		return Org{}, Errorf(LimitReached, "maximum organization depth is %d levels", s.cfg.MaxDepth)
	}
	var out Org
	err := s.atomicTree(ctx, "create org", func(tx Tx, ed *treeEdit) error {
		parent, err := tx.GetOrg(ctx, in.ParentID)
		if err != nil {
			return err
		}
		o, err := s.newOrg(ctx, tx, ed, in, parent)
		if err != nil {
			return err
		}
		out = o
		return s.audit(ctx, tx, a, o.ID, "org.create", "org", o.ID, nil, o)
	})
	if errIs(err, NotFound) {
		return Org{}, notFound("parent organization")
	}
	return out, err
}

// newOrg inserts a child of parent and lets it inherit the parent's
// permission sets and enabled templates (§2 "permission templates", §5).
func (s *Service) newOrg(ctx context.Context, tx Tx, ed *treeEdit, in NewOrg, parent Org) (Org, error) {
	typ := in.Type
	if typ == "" {
		typ = OrgBusiness
	}
	if !typ.Valid() || typ == OrgRoot {
		return Org{}, invalid("invalid organization type %q", in.Type)
	}
	if parent.Type == OrgPersonal {
		typ = OrgPersonal
	}
	canSub := parent.Depth == 1
	if in.CanCreateSub != nil {
		canSub = *in.CanCreateSub
	}
	now := s.now().UTC()
	o := Org{
		ParentID: parent.ID, RootID: parent.RootID, Depth: parent.Depth + 1,
		Name: in.Name, Description: in.Description, Type: typ, CanCreateSub: canSub,
		TZ: in.TZ, Phone: in.Phone, UnitSystem: in.UnitSystem, Address: in.Address,
		Active: true, CreatedAt: now, UpdatedAt: now,
	}
	if o.Depth > s.cfg.MaxDepth {
		return Org{}, Errorf(LimitReached, "maximum organization depth is %d levels", s.cfg.MaxDepth)
	}
	if err := tx.CreateOrg(ctx, &o); err != nil {
		if errIs(err, Conflict) {
			return Org{}, Errorf(Conflict, "organization name %q is already in use", o.Name)
		}
		return Org{}, err
	}
	perms, err := tx.ListRolePerms(ctx, parent.ID)
	if err != nil {
		return Org{}, err
	}
	for _, rp := range perms {
		rp.OrgID = o.ID
		if err := tx.SetRolePerms(ctx, rp); err != nil {
			return Org{}, err
		}
		ed.perms = append(ed.perms, rp)
	}
	ed.orgs = append(ed.orgs, o)
	// Every page of the parent's templates (gatewayview pages them alike).
	for page := (Page{Size: MaxPageSize}); ; page.Number++ {
		tmpls, err := tx.ListTemplates(ctx, TemplateFilter{RootID: parent.RootID, EnabledIn: parent.ID, Page: page})
		if err != nil {
			return Org{}, err
		}
		for _, tm := range tmpls.Items {
			if err := tx.SetTemplateEnabled(ctx, o.ID, tm.ID, true); err != nil {
				return Org{}, err
			}
		}
		if len(tmpls.Items) < page.Size {
			return o, nil
		}
	}
}

// UpdateOrg edits an org's settings (ORG_SETTINGS_ACCESS).
func (s *Service) UpdateOrg(ctx context.Context, a Actor, id OrgID, up OrgUpdate) (Org, error) {
	if err := s.decide(a, OrgSettingsAccess, OrgResource(id), "organization"); err != nil {
		return Org{}, err
	}
	var out Org
	err := s.atomicTree(ctx, "update org", func(tx Tx, ed *treeEdit) error {
		before, err := tx.GetOrg(ctx, id)
		if err != nil {
			return err
		}
		o := before
		if up.Name != nil {
			o.Name = strings.TrimSpace(*up.Name)
			if err := validOrgName(o.Name); err != nil {
				return err
			}
		}
		if up.Description != nil {
			if err := validDescription(*up.Description); err != nil {
				return err
			}
			o.Description = *up.Description
		}
		setStr(&o.TZ, up.TZ)
		setStr(&o.Phone, up.Phone)
		setStr(&o.UnitSystem, up.UnitSystem)
		if up.Address != nil {
			o.Address = *up.Address
		}
		if up.CanCreateSub != nil {
			o.CanCreateSub = *up.CanCreateSub
		}
		if up.Active != nil {
			o.Active = *up.Active
		}
		if up.HistoryRetentionDays != nil {
			if d := *up.HistoryRetentionDays; d < 0 || d > MaxHistoryRetentionDays {
				return invalid("history retention: %d days (want 0 for none, or 1 to %d)", d, MaxHistoryRetentionDays)
			}
			o.HistoryRetentionDays = *up.HistoryRetentionDays
		}
		o.UpdatedAt = s.now().UTC()
		if err := tx.UpdateOrg(ctx, o); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "organization name %q is already in use", o.Name)
			}
			return err
		}
		out = o
		ed.orgs = append(ed.orgs, o)
		return s.audit(ctx, tx, a, id, "org.update", "org", id, before, o)
	})
	return out, err
}

func setStr(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// DeleteOrg deletes an empty leaf org (ORG_DELETE). Refused for a root, the
// actor's own org, "Clients"/"Partners", and orgs with sub-orgs, devices or
// users (§13.12).
func (s *Service) DeleteOrg(ctx context.Context, a Actor, id OrgID) error {
	if err := s.decide(a, OrgDelete, OrgResource(id), "organization"); err != nil {
		return err
	}
	if id == a.OrgID {
		return invalid("you cannot delete your own organization")
	}
	t := s.tree.Load()
	if t.Depth(id) == 1 {
		return invalid("the root organization cannot be deleted")
	}
	return s.atomicTree(ctx, "delete org", func(tx Tx, ed *treeEdit) error {
		o, err := tx.GetOrg(ctx, id)
		if err != nil {
			return err
		}
		if o.Special != SpecialNone {
			return invalid("the %q organization cannot be deleted", o.Name)
		}
		u, err := tx.OrgUsage(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case u.Children > 0:
			return invalid("organization has sub-organizations")
		case u.Devices > 0:
			return invalid("organization has devices")
		case u.Users > 0:
			return invalid("organization has users")
		}
		if err := tx.DeleteOrg(ctx, id); err != nil {
			return err
		}
		ed.deleted = append(ed.deleted, id)
		return s.audit(ctx, tx, a, o.ParentID, "org.delete", "org", id, o, nil)
	})
}

// TransferOrg moves an org with its whole subtree under a new parent in the
// same tree (ORG_TRANSFER, root-org Admin). Depth stays ≤ MaxDepth and no
// org may move under itself. Transferring back reverses it.
func (s *Service) TransferOrg(ctx context.Context, a Actor, id, newParent OrgID) (Org, error) {
	if err := s.decide(a, OrgTransfer, OrgResource(id), "organization"); err != nil {
		return Org{}, err
	}
	if err := s.scopeCheck(a, newParent, "destination organization"); err != nil {
		return Org{}, err
	}
	t := s.tree.Load()
	switch {
	case t.Depth(id) == 1:
		return Org{}, invalid("the root organization cannot be transferred")
	case t.Within(id, newParent):
		return Org{}, invalid("an organization cannot be moved under itself or its sub-organizations")
	case t.Parent(id) == newParent:
		return Org{}, invalid("the organization is already there")
	case t.Depth(newParent)+1+t.Height(id) > s.cfg.MaxDepth:
		return Org{}, Errorf(LimitReached, "maximum organization depth is %d levels", s.cfg.MaxDepth)
	case !t.CanCreateSub(newParent):
		// The flag says whether an org may have sub-orgs at all, however
		// they would arrive (§11.5).
		return Org{}, forbidden("the destination organization cannot have sub-organizations")
	}
	var out Org
	err := s.atomicTree(ctx, "transfer org", func(tx Tx, ed *treeEdit) error {
		before, err := tx.GetOrg(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.MoveOrg(ctx, id, newParent); err != nil {
			return err
		}
		if out, err = tx.GetOrg(ctx, id); err != nil {
			return err
		}
		out.UpdatedAt = s.now().UTC()
		if err := tx.UpdateOrg(ctx, out); err != nil {
			return err
		}
		ed.orgs = append(ed.orgs, out)
		return s.audit(ctx, tx, a, id, "org.transfer", "org", id, before, out)
	})
	return out, err
}

// OrgCount is what the org tree shows of one org: the devices and users it
// holds directly, each -1 when the actor may not see them there.
type OrgCount struct {
	Devices, Users int
}

// OrgCounts counts the devices and users of org and, with includeSub and
// the reach to switch into sub-organizations, every org below it, in one
// store query. Devices are counted only where the actor holds
// ORG_DEVICES_VIEW, users where it holds ORG_USERS_VIEW; elsewhere the
// count is -1 (not shown).
func (s *Service) OrgCounts(ctx context.Context, a Actor, org OrgID, includeSub bool) (map[OrgID]OrgCount, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.scopeCheck(a, org, "organization"); err != nil {
		return nil, err
	}
	t := s.tree.Load()
	m, err := s.store.OrgCounts(ctx, t.ScopeOf(a, org, includeSub))
	if err != nil {
		return nil, internal("count org contents", err)
	}
	out := make(map[OrgID]OrgCount, len(m))
	for id, u := range m {
		c := OrgCount{Devices: -1, Users: -1}
		if Decide(t, a, OrgDevicesView, OrgResource(id)) == nil {
			c.Devices = u.Devices
		}
		if Decide(t, a, OrgUsersView, OrgResource(id)) == nil {
			c.Users = u.Users
		}
		out[id] = c
	}
	return out, nil
}
