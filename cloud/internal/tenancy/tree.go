package tenancy

import "slices"

// Actor is who performs an operation: a user acting with the role they hold
// in their home org, or an OAuth client acting for the org it was created
// in. Either reaches its org and every org below it, never above or aside.
type Actor struct {
	UserID   UserID // 0 for a client
	ClientID string // "" for a user
	OrgID    OrgID  // home org (user) or the client's org
	RoleID   RoleID // the user's role; unused for clients
	// SessionID is the session a person authenticated with (0 for
	// clients and in-process callers): changing the password keeps it.
	SessionID SessionID
}

// IsClient reports whether the actor is an OAuth client.
func (a Actor) IsClient() bool { return a.ClientID != "" }

// Resource is what Decide needs to know about the object acted upon.
type Resource struct {
	OrgID   OrgID
	OwnerID UserID // 0 if the object has no owner
	// Org marks an action on the organization itself (create or list in
	// it, edit its settings) rather than on an object inside it. A caller
	// who sees the org but lacks the key is told which key it lacks
	// (Forbidden); an object the caller cannot view stays NotFound.
	Org bool
}

// OrgResource is the Resource for an action on org itself.
func OrgResource(org OrgID) Resource { return Resource{OrgID: org, Org: true} }

type treeNode struct {
	parent       OrgID
	root         OrgID
	depth        int
	height       int // levels below this org (0 for a leaf)
	canCreateSub bool
	special      SpecialOrg
}

// Tree is an immutable in-memory snapshot of every org's place in its tree
// and every role's permissions per org; it is what makes Decide cheap. The
// Service rebuilds it after each change; the store stays the truth.
type Tree struct {
	orgs  map[OrgID]*treeNode
	perms map[OrgID][]PermSet // indexed by RoleID
}

// NewTree builds a snapshot. Orgs whose parent is missing are kept as
// their own roots, so a damaged store narrows access instead of widening it.
func NewTree(orgs []Org, perms []RolePerms) *Tree {
	t := &Tree{orgs: make(map[OrgID]*treeNode, len(orgs)), perms: make(map[OrgID][]PermSet, len(orgs))}
	for _, o := range orgs {
		t.orgs[o.ID] = &treeNode{parent: o.ParentID, canCreateSub: o.CanCreateSub, special: o.Special}
	}
	// Depth and root come from the parent links (not trusted from the rows),
	// with a step bound so that a cycle cannot loop forever.
	for id, n := range t.orgs {
		depth, cur := 1, id
		for steps := 0; steps < len(t.orgs); steps++ {
			p := t.orgs[cur].parent
			if p == 0 || t.orgs[p] == nil {
				break
			}
			cur = p
			depth++
		}
		n.depth, n.root = depth, cur
	}
	for id := range t.orgs {
		h, cur := 0, id
		for steps := 0; cur != 0 && steps <= len(t.orgs); steps++ {
			c := t.orgs[cur]
			if c == nil {
				break
			}
			c.height = max(c.height, h)
			cur = c.parent
			h++
		}
	}
	for _, rp := range perms {
		ps := t.perms[rp.OrgID]
		for int(rp.RoleID) >= len(ps) {
			ps = append(ps, PermSet{})
		}
		ps[rp.RoleID] = rp.Perms
		t.perms[rp.OrgID] = ps
	}
	return t
}

// apply returns a new snapshot with the edits made.
func (t *Tree) apply(ed *treeEdit) *Tree {
	skip := make(map[OrgID]bool, len(ed.orgs)+len(ed.deleted))
	for _, id := range ed.deleted {
		skip[id] = true
	}
	for _, o := range ed.orgs {
		skip[o.ID] = true
	}
	orgs := make([]Org, 0, len(t.orgs)+len(ed.orgs))
	for id, n := range t.orgs {
		if !skip[id] {
			orgs = append(orgs, Org{ID: id, ParentID: n.parent, CanCreateSub: n.canCreateSub, Special: n.special})
		}
	}
	orgs = append(orgs, ed.orgs...)
	perms := make([]RolePerms, 0, len(t.perms)*3+len(ed.perms))
	for org, ps := range t.perms {
		if slices.Contains(ed.deleted, org) {
			continue
		}
		for r, p := range ps {
			perms = append(perms, RolePerms{OrgID: org, RoleID: RoleID(r), Perms: p})
		}
	}
	perms = append(perms, ed.perms...) // later entries win in NewTree
	return NewTree(orgs, perms)
}

// Has reports whether the org exists.
func (t *Tree) Has(id OrgID) bool { _, ok := t.orgs[id]; return ok }

// Depth of an org (root = 1); 0 if unknown.
func (t *Tree) Depth(id OrgID) int {
	if n := t.orgs[id]; n != nil {
		return n.depth
	}
	return 0
}

// Height is how many levels lie below the org (0 for a leaf).
func (t *Tree) Height(id OrgID) int {
	if n := t.orgs[id]; n != nil {
		return n.height
	}
	return 0
}

// Parent of an org; 0 for a root or an unknown org.
func (t *Tree) Parent(id OrgID) OrgID {
	if n := t.orgs[id]; n != nil {
		return n.parent
	}
	return 0
}

// Root of the org's tree; 0 if unknown.
func (t *Tree) Root(id OrgID) OrgID {
	if n := t.orgs[id]; n != nil {
		return n.root
	}
	return 0
}

// CanCreateSub reports the org's "can create sub-organizations" flag.
func (t *Tree) CanCreateSub(id OrgID) bool {
	n := t.orgs[id]
	return n != nil && n.canCreateSub
}

// Len is the number of orgs.
func (t *Tree) Len() int { return len(t.orgs) }

// Within reports whether desc is anc or lies below it. It walks up at most
// the depth of desc, so it costs a handful of map lookups.
func (t *Tree) Within(anc, desc OrgID) bool {
	a, d := t.orgs[anc], t.orgs[desc]
	if a == nil || d == nil {
		return false
	}
	for d.depth > a.depth {
		desc = d.parent
		p := t.orgs[desc]
		if p == nil || p.depth >= d.depth { // a cycle in damaged data
			return false
		}
		d = p
	}
	return desc == anc
}

// Perms is the permission set of role in org (empty if unset).
func (t *Tree) Perms(org OrgID, role RoleID) PermSet {
	ps := t.perms[org]
	if role < 0 || int(role) >= len(ps) {
		return PermSet{}
	}
	return ps[role]
}

// ActorPerms is what the actor may do anywhere in its scope: a user's role
// as configured in the home org (§11.2), every key for a client except the
// ones reserved to people.
func (t *Tree) ActorPerms(a Actor) PermSet {
	if a.IsClient() {
		return clientPerms
	}
	return t.Perms(a.OrgID, a.RoleID)
}

// clientPerms: an OAuth client acts for its org with every permission but
// those reserved to the root org's Admins (org transfer) and role editing.
var clientPerms = allPerms.Without(OrgTransfer).Without(RolesCreate).Without(RolesEdit).Without(RolesDelete)

// ReachesSub reports whether the actor may act below its home org.
func (t *Tree) ReachesSub(a Actor) bool {
	return a.IsClient() || t.ActorPerms(a).Has(OrgSwitchSub)
}

// InScope reports whether org lies in the actor's reach: the home org, and
// the orgs below it when the actor may switch into them.
func (t *Tree) InScope(a Actor, org OrgID) bool {
	if org == a.OrgID {
		return t.Has(org)
	}
	return t.ReachesSub(a) && t.Within(a.OrgID, org)
}

// ScopeOf is the store scope for listing org, with the orgs below it when
// include is set and the actor may reach them. A leaf's subtree is the
// leaf alone, which stores answer with a cheaper plan.
func (t *Tree) ScopeOf(a Actor, org OrgID, include bool) Scope {
	return Scope{OrgID: org, Subtree: include && t.ReachesSub(a) && t.Height(org) > 0}
}

// isVisibilityKey marks the keys that decide whether a resource can be
// seen at all; lacking one answers NotFound rather than Forbidden.
var isVisibilityKey = func() [numPermissions]bool {
	var v [numPermissions]bool
	for k, view := range impliedView {
		if view != Permission(k) {
			v[view] = true
		}
	}
	return v
}()

// orgToOwn and ownToOrg are ownCounterpart as arrays (identity where there
// is no counterpart), so Decide does no map lookups.
var orgToOwn, ownToOrg = func() (o2w, w2o [numPermissions]Permission) {
	for i := range o2w {
		o2w[i], w2o[i] = Permission(i), Permission(i)
	}
	for org, own := range ownCounterpart {
		o2w[org], w2o[own] = own, org
	}
	return o2w, w2o
}()

// Decide's answers are shared values so that a check never allocates.
var (
	errNoObject = notFound("object")
	// errMissing[p] names the key the caller lacks (§11.7 hides objects,
	// not the caller's own permissions).
	errMissing = func() (e [numPermissions]*Error) {
		for p := range e {
			e[p] = forbidden("you don't have permission to do that: missing %s", Permission(p))
		}
		return e
	}()
)

// MissingPermission is the Forbidden error naming p.
func MissingPermission(p Permission) error {
	if p < numPermissions {
		return errMissing[p]
	}
	return forbidden("unknown permission")
}

func allows(perms PermSet, p Permission, a Actor, r Resource) bool {
	if perms.Has(p) {
		return true
	}
	if own := orgToOwn[p]; own != p {
		return r.OwnerID != 0 && r.OwnerID == a.UserID && perms.Has(own)
	}
	return false
}

// Decide reports whether the actor may perform p on r: nil, or a coded
// error. Out of scope and not visible both give NotFound with the same
// message as a missing object; visible but not permitted gives Forbidden
// naming the missing key. An org in scope is always visible: for an action
// on the org itself (r.Org) lacking the key is Forbidden.
//
// Pass the organization-wide key for owned resources (ORG_DEVICES_CONTROL,
// not OWN_DEVICES_CONTROL): the owner's own key is considered automatically.
func Decide(t *Tree, a Actor, p Permission, r Resource) error {
	if p >= numPermissions {
		return forbidden("unknown permission")
	}
	if !t.InScope(a, r.OrgID) {
		return errNoObject
	}
	// An own key asked about someone else's object means the org key.
	if org := ownToOrg[p]; org != p && (r.OwnerID == 0 || r.OwnerID != a.UserID) {
		p = org
	}
	perms := t.ActorPerms(a)
	if view := impliedView[p]; !r.Org && isVisibilityKey[view] && !allows(perms, view, a, r) {
		return errNoObject
	}
	if !allows(perms, p, a, r) {
		return errMissing[p]
	}
	switch p {
	case OrgTransfer:
		if t.Depth(a.OrgID) != 1 || (!a.IsClient() && a.RoleID != RoleAdmin) {
			return forbidden("only an Admin of the root organization can transfer organizations")
		}
	case ProductEdit:
		if t.Depth(r.OrgID) != 1 {
			return forbidden("templates can be created and edited only in the root organization")
		}
	case OrgCreateSub:
		if !t.CanCreateSub(r.OrgID) {
			return forbidden("this organization cannot create sub-organizations")
		}
	}
	return nil
}

// DeviceScope tells which devices the actor may list: those in scope, and
// only its own when it has Own-devices View but not Org-devices View. ok is
// false when it may see none.
func (t *Tree) DeviceScope(a Actor) (s Scope, owner UserID, ok bool) {
	perms := t.ActorPerms(a)
	s = Scope{OrgID: a.OrgID, Subtree: t.ReachesSub(a)}
	switch {
	case perms.Has(OrgDevicesView):
		return s, 0, true
	case perms.Has(OwnDevicesView) && a.UserID != 0:
		return s, a.UserID, true
	}
	return Scope{}, 0, false
}
