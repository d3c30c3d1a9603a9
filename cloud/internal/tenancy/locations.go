package tenancy

import (
	"context"
	"strings"
)

// NewLocation describes a location; Owned makes it the actor's own.
type NewLocation struct {
	OrgID    OrgID
	Owned    bool
	Name     string
	Address  Address
	Lat, Lon float64
}

// LocationQuery lists locations of OrgID (default: the actor's).
type LocationQuery struct {
	OrgID      OrgID
	IncludeSub bool
	Page       Page
}

func locRes(l Location) Resource { return Resource{OrgID: l.OrgID, OwnerID: l.OwnerID} }

// CreateLocation creates an org location (LOCATIONS_ORG_CREATE) or an
// owned one (LOCATIONS_OWN_CREATE).
func (s *Service) CreateLocation(ctx context.Context, a Actor, in NewLocation) (Location, error) {
	if in.OrgID == 0 {
		in.OrgID = a.OrgID
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := validName("location name", in.Name, 1, 48); err != nil {
		return Location{}, err
	}
	l := Location{OrgID: in.OrgID, Name: in.Name, Address: in.Address, Lat: in.Lat, Lon: in.Lon, CreatedAt: s.now().UTC()}
	if in.Owned {
		if a.UserID == 0 {
			return Location{}, invalid("a client cannot own a location")
		}
		l.OwnerID = a.UserID
	}
	r := locRes(l)
	r.Org = true
	if err := s.decide(a, LocationsOrgCreate, r, "organization"); err != nil {
		return Location{}, err
	}
	err := s.atomic(ctx, "create location", func(tx Tx) error {
		if err := tx.CreateLocation(ctx, &l); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, l.OrgID, "location.create", "location", l.ID, nil, l)
	})
	return l, err
}

func (s *Service) loadLocation(ctx context.Context, tx Tx, a Actor, id LocationID, p Permission) (Location, error) {
	l, err := tx.GetLocation(ctx, id)
	if errIs(err, NotFound) {
		return Location{}, notFound("location")
	}
	if err != nil {
		return Location{}, err
	}
	return l, s.decide(a, p, locRes(l), "location")
}

// Location returns a location the actor may see.
func (s *Service) Location(ctx context.Context, a Actor, id LocationID) (Location, error) {
	l, err := s.loadLocation(ctx, s.store, a, id, LocationsOrgView)
	if err != nil {
		return Location{}, internal("get location", err)
	}
	return l, nil
}

// Locations lists locations the actor may see: all of the org's with
// LOCATIONS_ORG_VIEW, else only its own with LOCATIONS_OWN_VIEW.
func (s *Service) Locations(ctx context.Context, a Actor, q LocationQuery) (List[Location], error) {
	page, err := q.Page.Normalize()
	if err != nil {
		return List[Location]{}, err
	}
	org := q.OrgID
	if org == 0 {
		org = a.OrgID
	}
	t := s.tree.Load()
	if !t.InScope(a, org) {
		return List[Location]{}, notFound("organization")
	}
	perms := t.ActorPerms(a)
	f := LocationFilter{Scope: t.ScopeOf(a, org, q.IncludeSub), Page: page}
	switch {
	case perms.Has(LocationsOrgView):
	case perms.Has(LocationsOwnView) && a.UserID != 0:
		f.OwnerID = a.UserID
	default:
		return List[Location]{}, nil
	}
	l, err := s.store.ListLocations(ctx, f)
	if err != nil {
		return l, internal("list locations", err)
	}
	return l, nil
}

// LocationUpdate changes the fields that are set.
type LocationUpdate struct {
	Name     *string
	Address  *Address
	Lat, Lon *float64
}

// UpdateLocation edits a location (LOCATIONS_ORG_EDIT / OWN_EDIT).
func (s *Service) UpdateLocation(ctx context.Context, a Actor, id LocationID, up LocationUpdate) (Location, error) {
	var l Location
	err := s.atomic(ctx, "update location", func(tx Tx) error {
		before, err := s.loadLocation(ctx, tx, a, id, LocationsOrgEdit)
		if err != nil {
			return err
		}
		l = before
		if up.Name != nil {
			n := strings.TrimSpace(*up.Name)
			if err := validName("location name", n, 1, 48); err != nil {
				return err
			}
			l.Name = n
		}
		if up.Address != nil {
			l.Address = *up.Address
		}
		if up.Lat != nil {
			l.Lat = *up.Lat
		}
		if up.Lon != nil {
			l.Lon = *up.Lon
		}
		if err := tx.UpdateLocation(ctx, l); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, l.OrgID, "location.update", "location", id, before, l)
	})
	return l, err
}

// AssignLocationUsers sets the users assigned to a location
// (LOCATIONS_*_ASSIGN_USERS); each must be in scope of the location's org.
func (s *Service) AssignLocationUsers(ctx context.Context, a Actor, id LocationID, users []UserID) (Location, error) {
	var l Location
	err := s.atomic(ctx, "assign location users", func(tx Tx) error {
		before, err := s.loadLocation(ctx, tx, a, id, LocationsOrgAssignUsers)
		if err != nil {
			return err
		}
		for _, u := range users {
			if _, err := s.getUser(ctx, tx, a, u, OrgUsersView); err != nil {
				return err
			}
		}
		l = before
		l.Users = append([]UserID(nil), users...)
		if err := tx.UpdateLocation(ctx, l); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, l.OrgID, "location.users", "location", id, before, l)
	})
	return l, err
}

// DeleteLocation deletes a location (LOCATIONS_ORG_DELETE / OWN_DELETE).
func (s *Service) DeleteLocation(ctx context.Context, a Actor, id LocationID) error {
	return s.atomic(ctx, "delete location", func(tx Tx) error {
		l, err := s.loadLocation(ctx, tx, a, id, LocationsOrgDelete)
		if err != nil {
			return err
		}
		if err := tx.DeleteLocation(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, l.OrgID, "location.delete", "location", id, l, nil)
	})
}
