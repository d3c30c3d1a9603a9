package tenancy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// Change is what one committed change touched, as far as the gateways'
// views go (GatewayView): the cloud wakes only the gateways whose view it
// may have altered (ViewsTouched) instead of every connected one. A view
// holds the orgs of the gateway's subtree, their devices with owners and
// templates, static tokens, and automations; roles, permissions,
// sessions, OAuth clients, tags and locations are not in any view.
type Change struct {
	// All: the change could not be attributed; every view may differ.
	All bool
	// Tree: orgs or permissions changed; instances sharing the store
	// reload their org tree.
	Tree bool
	// Orgs: something in these orgs changed (a device, a static token,
	// an automation, the org itself); the views that cover one of them
	// (gateways claimed into it or an org above) may differ.
	Orgs []OrgID
	// Subtrees: every view at or below these orgs may differ (an org
	// moved).
	Subtrees []OrgID
	// At: the views of the gateways claimed into exactly these orgs, not
	// above (a template enabled or disabled there: a view lists the
	// templates enabled in its gateway's own org, and enabling is per
	// org, not inherited).
	At []OrgID
	// Templates: these templates were created or redefined: the views
	// that hold one (ViewsTouched reads Tx.TemplateOrgs): the gateways
	// claimed into an org where it is enabled, or into an org with a
	// device of it at or below.
	Templates []TemplateID
	// UsedTemplates: the views with a device of these templates, not
	// those where one is only enabled (a shipment of its firmware: the
	// devices get it).
	UsedTemplates []TemplateID
	// Gateways: these gateways' own views (claimed, released).
	Gateways []GatewayID
	// Owners: these users' names or emails changed: the views with
	// devices they own.
	Owners []UserID
}

// Empty reports whether the change touches no view.
func (c Change) Empty() bool {
	return !c.All && !c.Tree && len(c.Orgs) == 0 && len(c.Subtrees) == 0 && len(c.At) == 0 && len(c.Templates) == 0 &&
		len(c.UsedTemplates) == 0 && len(c.Gateways) == 0 && len(c.Owners) == 0
}

// Add folds o into c.
func (c *Change) Add(o Change) {
	c.All = c.All || o.All
	c.Tree = c.Tree || o.Tree
	c.Orgs = appendNew(c.Orgs, o.Orgs...)
	c.Subtrees = appendNew(c.Subtrees, o.Subtrees...)
	c.At = appendNew(c.At, o.At...)
	c.Templates = appendNew(c.Templates, o.Templates...)
	c.UsedTemplates = appendNew(c.UsedTemplates, o.UsedTemplates...)
	c.Gateways = appendNew(c.Gateways, o.Gateways...)
	c.Owners = appendNew(c.Owners, o.Owners...)
}

func appendNew[T comparable](s []T, xs ...T) []T {
	for _, x := range xs {
		if !slices.Contains(s, x) {
			s = append(s, x)
		}
	}
	return s
}

// note records what one audited action touched. org is the audit entry's
// org; before and after are the values given to audit. An action this
// does not know touches every view (the safe side).
func (c *Change) note(t *Tree, org OrgID, action, objType string, objID any, before, after any) {
	orgsOf := func(vs ...any) {
		for _, v := range vs {
			switch x := v.(type) {
			case Device:
				c.Orgs = appendNew(c.Orgs, x.OrgID)
			case StaticToken:
				c.Orgs = appendNew(c.Orgs, x.OrgID)
				if x.ClaimedOrgID != 0 {
					c.Orgs = appendNew(c.Orgs, x.ClaimedOrgID)
				}
			case Org:
				if x.ParentID != 0 {
					c.Orgs = appendNew(c.Orgs, x.ParentID)
				}
			}
		}
	}
	switch objType {
	case "device":
		switch action {
		case "device.location", "device.tags": // not in a view
			return
		}
		c.Orgs = appendNew(c.Orgs, org)
		orgsOf(before, after) // a transfer: both the old org and the new
	case "static_token":
		c.Orgs = appendNew(c.Orgs, org)
		orgsOf(before, after)
	case "gateway":
		id, err := strconv.ParseInt(fmt.Sprint(objID), 10, 64)
		if err != nil {
			c.All = true
			return
		}
		c.Gateways = appendNew(c.Gateways, GatewayID(id))
	case "org":
		c.Tree = true
		c.Orgs = appendNew(c.Orgs, org) // created, renamed: the org; deleted: its parent
		if action == "org.transfer" {
			orgsOf(before, after) // the old parent and the new
			c.Subtrees = appendNew(c.Subtrees, org)
		}
	case "template":
		switch action {
		case "static_token.create":
			c.Orgs = appendNew(c.Orgs, org)
		case "template.enable": // enabled or disabled in org, not below
			c.At = appendNew(c.At, org)
		case "template.create", "template.update":
			c.Templates = appendNew(c.Templates, TemplateID(fmt.Sprint(objID)))
		case "template.delete":
			// Where it was held was noted before its rows went
			// (noteTemplateOrgs).
		default:
			c.Subtrees = appendNew(c.Subtrees, t.Root(org), org)
		}
	case "user":
		switch action {
		case "user.update", "user.invite.accept":
			c.Owners = appendNew(c.Owners, userID(objID))
		case "user.transfer": // each org's entry; devices moved have their own
			c.Owners = appendNew(c.Owners, userID(objID))
			c.Orgs = appendNew(c.Orgs, org)
		}
		// user.delete: its devices' orgs were noted before they lost
		// their owner (noteOwnedDevices).
		// Others (created, invited, role, password, logout): no view
		// holds them.
	case "role":
		c.Tree = true
	case "oauth_client", "tag", "location":
	default:
		c.All = true
	}
}

// noteOwnedDevices records, in a transaction of atomic, the orgs of the
// devices u owns: the views that lose u as their owner.
func (s *Service) noteOwnedDevices(ctx context.Context, tx Tx, u User) error {
	atx, ok := tx.(*auditingTx)
	if !ok {
		return nil
	}
	scope := Scope{OrgID: s.tree.Load().Root(u.OrgID), Subtree: true}
	if scope.OrgID == 0 {
		atx.change.All = true
		return nil
	}
	for page := (Page{Size: MaxPageSize}); ; {
		l, err := tx.ListDevices(ctx, DeviceFilter{Scope: scope, OwnerID: u.ID, Page: page})
		if err != nil {
			return err
		}
		for _, d := range l.Items {
			atx.change.Orgs = appendNew(atx.change.Orgs, d.OrgID)
		}
		if l.Next == 0 || len(l.Items) == 0 {
			return nil
		}
		page.After = l.Next
	}
}

// noteTemplateOrgs records, in a transaction of atomic, the views that
// hold template id, before a deletion takes its rows away.
func (s *Service) noteTemplateOrgs(ctx context.Context, tx Tx, id TemplateID) error {
	atx, ok := tx.(*auditingTx)
	if !ok {
		return nil
	}
	h, err := tx.TemplateOrgs(ctx, id)
	if err != nil {
		return err
	}
	atx.change.At = appendNew(atx.change.At, h.Enabled...)
	atx.change.At = appendNew(atx.change.At, h.Used...)
	return nil
}

func userID(v any) UserID {
	id, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return UserID(id)
}

// ViewsTouched returns the claimed gateways whose view c may have altered;
// all is true when c cannot be attributed (wake every gateway). The cost
// is that of the orgs touched: one indexed lookup per org on the way up
// to the root, per org named in At, per subtree named, and per template
// two indexed reads of its orgs then one lookup per org holding it;
// never a walk of every gateway or of a template's whole tree.
func (s *Service) ViewsTouched(ctx context.Context, c Change) (ids []GatewayID, all bool, err error) {
	if c.All {
		return nil, true, nil
	}
	t := s.tree.Load()
	covered := map[OrgID]bool{}
	cover := func(o OrgID) {
		for ; o != 0 && !covered[o]; o = t.Parent(o) {
			covered[o] = true
		}
	}
	for _, o := range c.Orgs {
		cover(o)
	}
	at := map[OrgID]bool{}
	for _, o := range c.At {
		at[o] = true
	}
	for _, id := range slices.Concat(c.Templates, c.UsedTemplates) {
		h, err := s.store.TemplateOrgs(ctx, id)
		if err != nil {
			return nil, false, internal("views touched", err)
		}
		// Used is closed upwards already (an org holds what its
		// subtree does): no walk to the root.
		orgs := h.Used
		if slices.Contains(c.Templates, id) {
			orgs = slices.Concat(h.Enabled, h.Used)
		}
		for _, o := range orgs {
			at[o] = true
		}
	}
	for _, u := range c.Owners {
		usr, err := s.store.GetUser(ctx, u)
		if errIs(err, NotFound) {
			continue
		}
		if err != nil {
			return nil, false, internal("views touched", err)
		}
		scope := Scope{OrgID: t.Root(usr.OrgID), Subtree: true}
		if scope.OrgID == 0 {
			continue
		}
		for page := (Page{Size: MaxPageSize}); ; {
			l, err := s.store.ListDevices(ctx, DeviceFilter{Scope: scope, OwnerID: u, Page: page})
			if err != nil {
				return nil, false, internal("views touched", err)
			}
			for _, d := range l.Items {
				cover(d.OrgID)
			}
			if l.Next == 0 || len(l.Items) == 0 {
				break
			}
			page.After = l.Next
		}
	}
	seen := map[GatewayID]bool{}
	add := func(id GatewayID) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	list := func(sc Scope) error {
		for page := (Page{Size: MaxPageSize}); ; {
			l, err := s.store.ListGateways(ctx, GatewayFilter{Scope: sc, Page: page, SkipTotal: true})
			if err != nil {
				return internal("views touched", err)
			}
			for _, g := range l.Items {
				add(g.ID)
			}
			if l.Next == 0 || len(l.Items) == 0 {
				return nil
			}
			page.After = l.Next
		}
	}
	for o := range covered {
		if err := list(Scope{OrgID: o}); err != nil {
			return nil, false, err
		}
	}
	for o := range at {
		if covered[o] {
			continue // listed above
		}
		if err := list(Scope{OrgID: o}); err != nil {
			return nil, false, err
		}
	}
	for _, o := range c.Subtrees {
		if o == 0 {
			continue
		}
		if err := list(Scope{OrgID: o, Subtree: true}); err != nil {
			return nil, false, err
		}
	}
	for _, g := range c.Gateways {
		add(g)
	}
	return ids, false, nil
}
