package tenancy

import (
	"context"
	"strconv"
	"strings"
	"time"

	"outpost/shared/ulid"
)

var timeZero time.Time

// CreateStaticTokens creates n static tokens for a template in org
// (MANAGE_STATIC_TOKENS). Each comes with its device, unclaimed in org.
func (s *Service) CreateStaticTokens(ctx context.Context, a Actor, org OrgID, tmpl TemplateID, n int) ([]StaticToken, error) {
	if n < 1 || n > 1000 {
		return nil, invalid("count must be 1 to 1000")
	}
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, ManageStaticTokens, OrgResource(org), "organization"); err != nil {
		return nil, err
	}
	out := make([]StaticToken, 0, n)
	err := s.atomic(ctx, "create static tokens", func(tx Tx) error {
		tm, err := s.treeTemplate(ctx, tx, org, tmpl)
		if err != nil {
			return err
		}
		if err := templateUsable(ctx, tx, org, tmpl); err != nil {
			return err
		}
		now := s.now().UTC()
		for i := 0; i < n; i++ {
			qr, err := s.newSecret("sqr_", 32)
			if err != nil {
				return err
			}
			tok, err := s.newDeviceToken()
			if err != nil {
				return err
			}
			st := StaticToken{QR: qr, OrgID: org, TemplateID: tmpl, Status: Unclaimed, CreatedAt: now}
			if err := tx.CreateStaticToken(ctx, &st); err != nil {
				return err
			}
			uid, err := ulid.New(now, s.rand)
			if err != nil {
				return err
			}
			d := Device{UID: uid, OrgID: org, TemplateID: tmpl, Name: tm.Def.Name, Token: tok, TokenHash: HashToken(tok), StaticToken: st.ID, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateDevice(ctx, &d); err != nil {
				return err
			}
			st.DeviceID = d.ID
			if err := tx.UpdateStaticToken(ctx, st); err != nil {
				return err
			}
			out = append(out, st)
		}
		return s.audit(ctx, tx, a, org, "static_token.create", "template", tmpl, nil, map[string]int{"count": n})
	})
	return out, err
}

// StaticTokens lists the static tokens created in org with a status
// ("" any) (MANAGE_STATIC_TOKENS).
func (s *Service) StaticTokens(ctx context.Context, a Actor, org OrgID, status StaticTokenStatus, page Page) (List[StaticToken], error) {
	if status != "" && status != Claimed && status != Unclaimed {
		return List[StaticToken]{}, invalid("status must be CLAIMED or UNCLAIMED")
	}
	if org == 0 {
		org = a.OrgID
	}
	page, err := page.Normalize()
	if err != nil {
		return List[StaticToken]{}, err
	}
	if err := s.decide(a, ManageStaticTokens, OrgResource(org), "organization"); err != nil {
		return List[StaticToken]{}, err
	}
	l, err := s.store.ListStaticTokens(ctx, StaticTokenFilter{OrgID: org, Status: status, Page: page})
	if err != nil {
		return l, internal("list static tokens", err)
	}
	return l, nil
}

// StaticTokenDevice returns the device a static token provisions, for the
// AuthToken to flash (MANAGE_STATIC_TOKENS in the creating org).
func (s *Service) StaticTokenDevice(ctx context.Context, a Actor, id StaticTokenID) (Device, error) {
	st, err := s.store.GetStaticToken(ctx, id)
	if errIs(err, NotFound) {
		return Device{}, notFound("static token")
	}
	if err != nil {
		return Device{}, internal("get static token", err)
	}
	if err := s.decide(a, ManageStaticTokens, Resource{OrgID: st.OrgID}, "static token"); err != nil {
		return Device{}, err
	}
	d, err := s.store.GetDevice(ctx, st.DeviceID)
	if err != nil {
		return Device{}, internal("get device", err)
	}
	return d, nil
}

// QRPayload is what the QR code of a static token encodes (§8:
// "{token}+{orgId}", the creating org).
func QRPayload(st StaticToken) string { return st.QR + "+" + strconv.FormatInt(int64(st.OrgID), 10) }

// parseQR accepts the bare QR token or the whole QRPayload; org is 0 for
// a bare token.
func parseQR(s string) (qr string, org OrgID, ok bool) {
	s = strings.TrimSpace(s)
	tok, orgPart, hasOrg := strings.Cut(s, "+")
	if !hasOrg {
		return s, 0, s != ""
	}
	// Digits only, as QRPayload writes them (ParseInt would take a sign).
	if tok == "" || orgPart == "" || strings.TrimLeft(orgPart, "0123456789") != "" {
		return "", 0, false
	}
	n, err := strconv.ParseInt(orgPart, 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return tok, OrgID(n), true
}

// ClaimStaticToken claims a device by its QR (the bare token or the whole
// QR payload): the device moves to the claimer's org with the claimer as
// owner (OWN_DEVICES_CLAIM in the claimer's org, a key every built-in
// role holds by default). A claimed QR cannot be reused.
func (s *Service) ClaimStaticToken(ctx context.Context, a Actor, qr, name string) (Device, error) {
	if a.UserID == 0 {
		return Device{}, invalid("only a person can claim a device")
	}
	if err := s.decide(a, OwnDevicesClaim, OrgResource(a.OrgID), "organization"); err != nil {
		return Device{}, err
	}
	tok, qrOrg, ok := parseQR(qr)
	if !ok {
		return Device{}, notFound("static token")
	}
	var d Device
	err := s.atomic(ctx, "claim static token", func(tx Tx) error {
		st, err := tx.GetStaticTokenByQR(ctx, tok)
		// A payload naming another org than the token's is a forgery:
		// answered like an unknown token.
		if errIs(err, NotFound) || (err == nil && (st.Status != Unclaimed || (qrOrg != 0 && qrOrg != st.OrgID))) {
			return notFound("static token")
		}
		if err != nil {
			return err
		}
		// A token of another tree answers exactly like an unknown one
		// (§11.7): not even its template may leak.
		if t := s.Tree(); t.Root(st.OrgID) != t.Root(a.OrgID) {
			return notFound("static token")
		}
		if err := templateUsable(ctx, tx, a.OrgID, st.TemplateID); err != nil {
			return err
		}
		if d, err = tx.GetDevice(ctx, st.DeviceID); err != nil {
			return err
		}
		before := d
		now := s.now().UTC()
		d.OrgID, d.OwnerID, d.UpdatedAt = a.OrgID, a.UserID, now
		if name = strings.TrimSpace(name); name != "" {
			if err := validDeviceName(name); err != nil {
				return err
			}
			d.Name = name
		}
		st.Status, st.OwnerID, st.ClaimedOrgID, st.ClaimedAt = Claimed, a.UserID, a.OrgID, now
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		if err := tx.UpdateStaticToken(ctx, st); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, a.OrgID, "static_token.claim", "device", d.ID, before, d)
	})
	return d, err
}

// DisclaimStaticToken returns a claimed device to the creating org,
// unowned (MANAGE_STATIC_TOKENS in the creating org only).
func (s *Service) DisclaimStaticToken(ctx context.Context, a Actor, id StaticTokenID) error {
	return s.atomic(ctx, "disclaim static token", func(tx Tx) error {
		st, err := tx.GetStaticToken(ctx, id)
		if errIs(err, NotFound) {
			return notFound("static token")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, ManageStaticTokens, Resource{OrgID: st.OrgID}, "static token"); err != nil {
			return err
		}
		if st.Status != Claimed {
			return invalid("the static token is not claimed")
		}
		d, err := tx.GetDevice(ctx, st.DeviceID)
		if err != nil {
			return err
		}
		before := d
		d.OrgID, d.OwnerID, d.UpdatedAt = st.OrgID, 0, s.now().UTC()
		st.Status, st.OwnerID, st.ClaimedOrgID, st.ClaimedAt = Unclaimed, 0, 0, timeZero
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		if err := tx.UpdateStaticToken(ctx, st); err != nil {
			return err
		}
		// Both orgs' logs show it: the creating org that gets the device
		// back and the org that loses it.
		if before.OrgID != st.OrgID {
			if err := s.audit(ctx, tx, a, before.OrgID, "static_token.disclaim", "device", d.ID, before, d); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, a, st.OrgID, "static_token.disclaim", "device", d.ID, before, d)
	})
}

// DeleteStaticToken deletes a static token and its device
// (MANAGE_STATIC_TOKENS in the creating org): after a claim the device is
// gone for good; before, its flashed AuthToken simply stops working (§8).
func (s *Service) DeleteStaticToken(ctx context.Context, a Actor, id StaticTokenID) error {
	return s.atomic(ctx, "delete static token", func(tx Tx) error {
		st, err := tx.GetStaticToken(ctx, id)
		if errIs(err, NotFound) {
			return notFound("static token")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, ManageStaticTokens, Resource{OrgID: st.OrgID}, "static token"); err != nil {
			return err
		}
		if err := tx.DeleteDevice(ctx, st.DeviceID); err != nil && !errIs(err, NotFound) {
			return err
		}
		if err := tx.DeleteStaticToken(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, st.OrgID, "static_token.delete", "static_token", id, st, nil)
	})
}

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

// Tags lists the tags of org (TAGS_MANAGE: tags are shown to
// administrators only, §6).
func (s *Service) Tags(ctx context.Context, a Actor, org OrgID) ([]Tag, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, TagsManage, OrgResource(org), "organization"); err != nil {
		return nil, err
	}
	ts, err := s.store.ListTags(ctx, org)
	if err != nil {
		return nil, internal("list tags", err)
	}
	return ts, nil
}

// CreateTag creates a tag in org (TAGS_MANAGE); at most MaxTagsPerOrg.
func (s *Service) CreateTag(ctx context.Context, a Actor, org OrgID, name string) (Tag, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, TagsManage, OrgResource(org), "organization"); err != nil {
		return Tag{}, err
	}
	name = strings.TrimSpace(name)
	if err := validName("tag name", name, 1, 64); err != nil {
		return Tag{}, err
	}
	t := Tag{OrgID: org, Name: name, OwnerID: a.UserID}
	err := s.atomic(ctx, "create tag", func(tx Tx) error {
		ts, err := tx.ListTags(ctx, org)
		if err != nil {
			return err
		}
		if len(ts) >= MaxTagsPerOrg {
			return Errorf(LimitReached, "at most %d tags per organization", MaxTagsPerOrg)
		}
		if err := tx.CreateTag(ctx, &t); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "tag %q is already in use", name)
			}
			return err
		}
		return s.audit(ctx, tx, a, org, "tag.create", "tag", t.ID, nil, t)
	})
	return t, err
}

// RenameTag renames a tag (TAGS_MANAGE in its org); the devices keep it.
func (s *Service) RenameTag(ctx context.Context, a Actor, id TagID, name string) (Tag, error) {
	name = strings.TrimSpace(name)
	if err := validName("tag name", name, 1, 64); err != nil {
		return Tag{}, err
	}
	var t Tag
	err := s.atomic(ctx, "rename tag", func(tx Tx) error {
		before, err := tx.GetTag(ctx, id)
		if errIs(err, NotFound) {
			return notFound("tag")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, TagsManage, Resource{OrgID: before.OrgID}, "tag"); err != nil {
			return err
		}
		if err := tx.RenameTag(ctx, id, name); err != nil {
			if errIs(err, Conflict) {
				return Errorf(Conflict, "tag %q is already in use", name)
			}
			return err
		}
		t = before
		t.Name = name
		return s.audit(ctx, tx, a, t.OrgID, "tag.rename", "tag", id, before, t)
	})
	return t, err
}

// DeleteTag deletes a tag and removes it from every device (TAGS_MANAGE).
func (s *Service) DeleteTag(ctx context.Context, a Actor, id TagID) error {
	return s.atomic(ctx, "delete tag", func(tx Tx) error {
		t, err := tx.GetTag(ctx, id)
		if errIs(err, NotFound) {
			return notFound("tag")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, TagsManage, Resource{OrgID: t.OrgID}, "tag"); err != nil {
			return err
		}
		if err := tx.DeleteTag(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, t.OrgID, "tag.delete", "tag", id, t, nil)
	})
}

// SetDeviceTags replaces a device's tags (TAGS_MANAGE and device edit);
// at most MaxTagsPerDevice, each from the device's org or an ancestor in
// scope.
func (s *Service) SetDeviceTags(ctx context.Context, a Actor, id DeviceID, tags []TagID) error {
	if len(tags) > MaxTagsPerDevice {
		return Errorf(LimitReached, "at most %d tags per device", MaxTagsPerDevice)
	}
	return s.atomic(ctx, "tag device", func(tx Tx) error {
		d, err := s.loadDevice(ctx, tx, a, id, OrgDevicesEdit)
		if err != nil {
			return err
		}
		if err := s.decide(a, TagsManage, Resource{OrgID: d.OrgID}, "device"); err != nil {
			return err
		}
		t := s.tree.Load()
		for _, tid := range tags {
			tg, err := tx.GetTag(ctx, tid)
			if errIs(err, NotFound) || (err == nil && (!t.Within(tg.OrgID, d.OrgID) || !t.InScope(a, tg.OrgID))) {
				return notFound("tag")
			}
			if err != nil {
				return err
			}
		}
		if err := tx.SetDeviceTags(ctx, id, tags); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.tags", "device", id, nil, tags)
	})
}

// DeviceTags lists a device's tags (device view and TAGS_MANAGE).
func (s *Service) DeviceTags(ctx context.Context, a Actor, id DeviceID) ([]Tag, error) {
	d, err := s.loadDevice(ctx, s.store, a, id, OrgDevicesView)
	if err != nil {
		return nil, internal("get device", err)
	}
	if err := s.decide(a, TagsManage, Resource{OrgID: d.OrgID}, "device"); err != nil {
		return nil, err
	}
	ts, err := s.store.DeviceTags(ctx, id)
	if err != nil {
		return nil, internal("device tags", err)
	}
	return ts, nil
}

// RegisterGateway records a new, unclaimed gateway and returns its claim
// code once (printed on the appliance). It needs no actor: gateways are
// registered by provisioning, claimed by people. See RegisterSite for the
// credential.
func (s *Service) RegisterGateway(ctx context.Context, name string) (Gateway, string, error) {
	g, code, _, err := s.RegisterSite(ctx, name)
	return g, code, err
}

// RegisterSite is RegisterGateway that also issues the gateway's bearer
// credential (returned once, kept only as its SHA-256). The gateway uses it
// on the sync websocket; AuthenticateGateway checks it.
func (s *Service) RegisterSite(ctx context.Context, name string) (g Gateway, claimCode, credential string, err error) {
	name = strings.TrimSpace(name)
	if err := validName("gateway name", name, 1, 100); err != nil {
		return Gateway{}, "", "", err
	}
	if claimCode, err = s.newSecret("gw_", 24); err != nil {
		return Gateway{}, "", "", err
	}
	if credential, err = s.newSecret("gwc_", 52); err != nil {
		return Gateway{}, "", "", err
	}
	now := s.now().UTC()
	g = Gateway{Name: name, ClaimCodeHash: HashToken(claimCode), CredentialHash: HashToken(credential), CreatedAt: now,
		ClaimExpiresAt: now.Add(s.cfg.ClaimCodeTTL)}
	if err := s.store.CreateGateway(ctx, &g); err != nil {
		return Gateway{}, "", "", internal("create gateway", err)
	}
	return g, claimCode, credential, nil
}

// AuthenticateGateway resolves a gateway credential. An unknown or revoked
// credential is Unauthenticated; a gateway not claimed yet is Forbidden
// (it may retry until an installer claims it).
func (s *Service) AuthenticateGateway(ctx context.Context, credential string) (Gateway, error) {
	if credential == "" {
		return Gateway{}, Errorf(Unauthenticated, "gateway credential required")
	}
	g, err := s.store.GetGatewayByCredentialHash(ctx, HashToken(credential))
	if errIs(err, NotFound) {
		return Gateway{}, Errorf(Unauthenticated, "unknown or revoked gateway credential")
	}
	if err != nil {
		return Gateway{}, internal("authenticate gateway", err)
	}
	if g.OrgID == 0 {
		return g, Errorf(Forbidden, "gateway is not claimed yet")
	}
	return g, nil
}

// RenewClaimCode gives an unclaimed gateway, identified by its credential,
// a new claim code valid for Config.ClaimCodeTTL; the old code stops
// working. An unknown credential is Unauthenticated, a claimed gateway a
// Conflict (it has nothing to show).
func (s *Service) RenewClaimCode(ctx context.Context, credential string) (Gateway, string, error) {
	code, err := s.newSecret("gw_", 24)
	if err != nil {
		return Gateway{}, "", err
	}
	var g Gateway
	err = s.atomic(ctx, "renew claim code", func(tx Tx) error {
		if credential != "" {
			g, err = tx.GetGatewayByCredentialHash(ctx, HashToken(credential))
		}
		if credential == "" || errIs(err, NotFound) {
			return Errorf(Unauthenticated, "unknown or revoked gateway credential")
		}
		if err != nil {
			return err
		}
		if g.OrgID != 0 {
			return Errorf(Conflict, "the gateway is already claimed")
		}
		g.ClaimCodeHash, g.ClaimExpiresAt = HashToken(code), s.now().UTC().Add(s.cfg.ClaimCodeTTL)
		return tx.UpdateGateway(ctx, g)
	})
	if err != nil {
		return Gateway{}, "", err
	}
	return g, code, nil
}

// ClaimGateway claims a gateway into org with its claim code
// (GATEWAYS_CLAIM there). A used or unknown code is NotFound; an expired
// one is Invalid (the gateway shows its new code).
func (s *Service) ClaimGateway(ctx context.Context, a Actor, code string, org OrgID) (Gateway, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, GatewaysClaim, OrgResource(org), "organization"); err != nil {
		return Gateway{}, err
	}
	var g Gateway
	err := s.atomic(ctx, "claim gateway", func(tx Tx) error {
		var err error
		g, err = tx.GetGatewayByClaimHash(ctx, HashToken(strings.TrimSpace(code)))
		if errIs(err, NotFound) || (err == nil && g.OrgID != 0) {
			return notFound("gateway")
		}
		if err != nil {
			return err
		}
		if !s.now().Before(g.ClaimExpiresAt) {
			return invalid("the claim code has expired; the gateway shows a new one")
		}
		before := g
		g.OrgID, g.ClaimedAt = org, s.now().UTC()
		if err := tx.UpdateGateway(ctx, g); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, org, "gateway.claim", "gateway", g.ID, before, g)
	})
	return g, err
}

// Gateway returns a gateway in scope (GATEWAYS_VIEW).
func (s *Service) Gateway(ctx context.Context, a Actor, id GatewayID) (Gateway, error) {
	g, err := s.store.GetGateway(ctx, id)
	if errIs(err, NotFound) || (err == nil && g.OrgID == 0) {
		return Gateway{}, notFound("gateway")
	}
	if err != nil {
		return Gateway{}, internal("get gateway", err)
	}
	return g, s.decide(a, GatewaysView, Resource{OrgID: g.OrgID}, "gateway")
}

// Gateways lists gateways in scope (GATEWAYS_VIEW).
func (s *Service) Gateways(ctx context.Context, a Actor, org OrgID, includeSub bool, page Page) (List[Gateway], error) {
	if org == 0 {
		org = a.OrgID
	}
	page, err := page.Normalize()
	if err != nil {
		return List[Gateway]{}, err
	}
	if err := s.decide(a, GatewaysView, OrgResource(org), "organization"); err != nil {
		if errIs(err, Forbidden) && org == a.OrgID {
			return List[Gateway]{}, nil
		}
		return List[Gateway]{}, err
	}
	l, err := s.store.ListGateways(ctx, GatewayFilter{Scope: s.tree.Load().ScopeOf(a, org, includeSub), Page: page})
	if err != nil {
		return l, internal("list gateways", err)
	}
	return l, nil
}

// ReleaseGateway unclaims a gateway (GATEWAYS_MANAGE); it needs a new
// claim code, returned once.
func (s *Service) ReleaseGateway(ctx context.Context, a Actor, id GatewayID) (string, error) {
	code, err := s.newSecret("gw_", 24)
	if err != nil {
		return "", err
	}
	err = s.atomic(ctx, "release gateway", func(tx Tx) error {
		g, err := tx.GetGateway(ctx, id)
		if errIs(err, NotFound) || (err == nil && g.OrgID == 0) {
			return notFound("gateway")
		}
		if err != nil {
			return err
		}
		if err := s.decide(a, GatewaysManage, Resource{OrgID: g.OrgID}, "gateway"); err != nil {
			return err
		}
		before := g
		// The credential goes too: the released site must register again.
		g.OrgID, g.ClaimedAt, g.ClaimCodeHash, g.CredentialHash = 0, timeZero, HashToken(code), [32]byte{}
		g.ClaimExpiresAt = s.now().UTC().Add(s.cfg.ClaimCodeTTL)
		if err := tx.UpdateGateway(ctx, g); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, before.OrgID, "gateway.release", "gateway", id, before, g)
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// AuditQuery lists audit entries of OrgID (default: the actor's), or
// only those about one object (ObjectType "device", ObjectID its id).
type AuditQuery struct {
	OrgID      OrgID
	IncludeSub bool
	ObjectType string
	ObjectID   string
	Page       Page
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
		ObjectType: q.ObjectType, ObjectID: q.ObjectID, Page: page})
	if err != nil {
		return l, internal("list audit", err)
	}
	return l, nil
}
