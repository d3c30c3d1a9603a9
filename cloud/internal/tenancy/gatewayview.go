package tenancy

import (
	"context"
)

// GatewayView is what one claimed gateway needs of the tenancy to serve
// its site offline: the orgs of its org's subtree, the devices there (with
// token hashes and UIDs), their owners and templates, and the static tokens
// created in or claimed into the subtree.
//
// Version is the newest audit id when the view was read. Every change is
// audited in its own transaction and audit ids only grow, so the version
// grows with every change and survives restarts; a view read at version V
// holds at least every change up to V.
type GatewayView struct {
	Gateway   Gateway
	Version   int64
	Orgs      []Org
	Devices   []Device
	Owners    []User
	Templates []Template
	// StaticTokens come with the UID and token hash of the device each
	// provisions; the QR itself is a claim secret and is sent hashed.
	StaticTokens []GatewayStaticToken
	// Meta is the metadata people set on the view's devices, by device.
	Meta map[DeviceID][]DeviceMeta
}

// GatewayStaticToken is a static token of a gateway's view with the
// identity of its device.
type GatewayStaticToken struct {
	StaticToken
	DeviceUID string
	TokenHash [32]byte
}

// GatewayView reads the view of a claimed gateway. It is for the sync
// endpoint, which authenticated the gateway itself: no actor is checked.
// A gateway not claimed (or released meanwhile) is Forbidden.
func (s *Service) GatewayView(ctx context.Context, id GatewayID) (GatewayView, error) {
	var v GatewayView
	// Version first: the data read after it is at least as new.
	last, err := s.store.LastAuditID(ctx)
	if err != nil {
		return v, internal("gateway view", err)
	}
	v.Version = int64(last)
	g, err := s.store.GetGateway(ctx, id)
	if errIs(err, NotFound) {
		return v, notFound("gateway")
	}
	if err != nil {
		return v, internal("gateway view", err)
	}
	if g.OrgID == 0 {
		return v, Errorf(Forbidden, "gateway is not claimed yet")
	}
	v.Gateway = g
	ids, err := s.store.Descendants(ctx, g.OrgID)
	if err != nil {
		return v, internal("gateway view", err)
	}
	for _, oid := range ids {
		o, err := s.store.GetOrg(ctx, oid)
		if err != nil {
			return v, internal("gateway view", err)
		}
		v.Orgs = append(v.Orgs, o)
	}
	scope := Scope{OrgID: g.OrgID, Subtree: true}
	for page := (Page{Size: MaxPageSize}); ; {
		l, err := s.store.ListDevices(ctx, DeviceFilter{Scope: scope, Page: page})
		if err != nil {
			return v, internal("gateway view", err)
		}
		v.Devices = append(v.Devices, l.Items...)
		if l.Next == 0 {
			break
		}
		page.After = l.Next
	}
	tmpls := map[TemplateID]bool{}
	for page := (Page{Size: MaxPageSize}); ; {
		l, err := s.store.ListTemplates(ctx, TemplateFilter{RootID: s.tree.Load().Root(g.OrgID), EnabledIn: g.OrgID, Page: page})
		if err != nil {
			return v, internal("gateway view", err)
		}
		for _, t := range l.Items {
			tmpls[t.ID] = true
			v.Templates = append(v.Templates, t)
		}
		if len(l.Items) < page.Size {
			break
		}
		page.Number++
	}
	owners := map[UserID]bool{}
	for _, d := range v.Devices {
		// A device's template may be enabled only in a sub-org.
		if !tmpls[d.TemplateID] {
			t, err := s.store.GetTemplate(ctx, d.TemplateID)
			if err != nil {
				return v, internal("gateway view", err)
			}
			tmpls[t.ID] = true
			v.Templates = append(v.Templates, t)
		}
		if d.OwnerID != 0 && !owners[d.OwnerID] {
			u, err := s.store.GetUser(ctx, d.OwnerID)
			if err != nil {
				return v, internal("gateway view", err)
			}
			owners[u.ID] = true
			v.Owners = append(v.Owners, u)
		}
	}
	if err := s.gatewayStaticTokens(ctx, &v); err != nil {
		return v, internal("gateway view", err)
	}
	if v.Meta, err = s.store.SubtreeDeviceMeta(ctx, g.OrgID); err != nil {
		return v, internal("gateway view", err)
	}
	return v, nil
}

// gatewayStaticTokens adds the static tokens created in the view's orgs
// and those of its devices (claimed into the subtree from elsewhere).
func (s *Service) gatewayStaticTokens(ctx context.Context, v *GatewayView) error {
	devs := make(map[DeviceID]Device, len(v.Devices))
	seen := map[StaticTokenID]bool{}
	add := func(st StaticToken) error {
		if seen[st.ID] {
			return nil
		}
		seen[st.ID] = true
		d, ok := devs[st.DeviceID]
		if !ok {
			var err error
			if d, err = s.store.GetDevice(ctx, st.DeviceID); err != nil {
				if errIs(err, NotFound) {
					return nil // deleted with its token meanwhile
				}
				return err
			}
		}
		v.StaticTokens = append(v.StaticTokens, GatewayStaticToken{StaticToken: st, DeviceUID: d.UID, TokenHash: d.TokenHash})
		return nil
	}
	for _, d := range v.Devices {
		devs[d.ID] = d
	}
	for _, o := range v.Orgs {
		for page := (Page{Size: MaxPageSize}); ; {
			l, err := s.store.ListStaticTokens(ctx, StaticTokenFilter{OrgID: o.ID, Page: page})
			if err != nil {
				return err
			}
			for _, st := range l.Items {
				if err := add(st); err != nil {
					return err
				}
			}
			if l.Next == 0 {
				break
			}
			page.After = l.Next
		}
	}
	for _, d := range v.Devices {
		if d.StaticToken == 0 || seen[d.StaticToken] {
			continue
		}
		st, err := s.store.GetStaticToken(ctx, d.StaticToken)
		if errIs(err, NotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := add(st); err != nil {
			return err
		}
	}
	return nil
}
