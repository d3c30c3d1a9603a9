package tenancy

import (
	"context"
	"strings"

	"outpost/shared/ulid"
)

// DeviceQuery lists devices. OrgID (default: the actor's org) with
// IncludeSub selects the orgs; the actor's permissions then narrow the
// result to what it may see (only its own devices with Own-devices View).
type DeviceQuery struct {
	OrgID      OrgID
	IncludeSub bool
	OwnerID    UserID // only this owner's devices
	TemplateID TemplateID
	Query      string
	Page       Page
}

// NewDevice describes a device to create. OrgID defaults to the owner's
// org, or the actor's when there is no owner.
type NewDevice struct {
	TemplateID TemplateID
	OrgID      OrgID
	Name       string
	OwnerID    UserID
}

// DeviceTransfer names the new owner (wins when both are set) or org.
type DeviceTransfer struct {
	UserID UserID
	OrgID  OrgID
}

func validDeviceName(n string) error {
	return validName("device name", n, 1, 60)
}

// loadDevice fetches a device and checks p on it; missing and out of scope
// give the same NotFound.
func (s *Service) loadDevice(ctx context.Context, tx Tx, a Actor, id DeviceID, p Permission) (Device, error) {
	d, err := tx.GetDevice(ctx, id)
	if errIs(err, NotFound) {
		return Device{}, notFound("device")
	}
	if err != nil {
		return Device{}, err
	}
	if err := s.decide(a, p, Resource{OrgID: d.OrgID, OwnerID: d.OwnerID}, "device"); err != nil {
		return Device{}, err
	}
	return d, nil
}

// Device returns a device the actor may see (ORG_DEVICES_VIEW, or
// OWN_DEVICES_VIEW for its own).
func (s *Service) Device(ctx context.Context, a Actor, id DeviceID) (Device, error) {
	return s.CheckDevice(ctx, a, id, OrgDevicesView)
}

// CheckDevice returns the device if the actor may do p to it: pass the
// organization-wide key (ORG_DEVICES_CONTROL for a datastream write,
// ORG_DEVICES_DELETE_DATA, …); owners are checked against the own key.
func (s *Service) CheckDevice(ctx context.Context, a Actor, id DeviceID, p Permission) (Device, error) {
	d, err := s.loadDevice(ctx, s.store, a, id, p)
	if err != nil {
		return Device{}, internal("get device", err)
	}
	return d, nil
}

// Devices lists the devices the actor may see, keyset-paginated by id.
func (s *Service) Devices(ctx context.Context, a Actor, q DeviceQuery) (List[Device], error) {
	page, err := q.Page.Normalize()
	if err != nil {
		return List[Device]{}, err
	}
	if err := validQuery(q.Query); err != nil {
		return List[Device]{}, err
	}
	t := s.tree.Load()
	org := q.OrgID
	if org == 0 {
		org = a.OrgID
	}
	if !t.InScope(a, org) {
		return List[Device]{}, notFound("organization")
	}
	_, owner, ok := t.DeviceScope(a)
	if !ok {
		return List[Device]{}, nil
	}
	if q.OwnerID != 0 {
		if owner != 0 && q.OwnerID != owner {
			return List[Device]{}, nil
		}
		owner = q.OwnerID
	}
	f := DeviceFilter{Scope: t.ScopeOf(a, org, q.IncludeSub), OwnerID: owner,
		TemplateID: q.TemplateID, Query: q.Query, Page: page}
	l, err := s.store.ListDevices(ctx, f)
	if err != nil {
		return l, internal("list devices", err)
	}
	return l, nil
}

// DeviceByToken authenticates a device by its AuthToken. Devices whose
// static token was deleted are gone, so their token fails here.
func (s *Service) DeviceByToken(ctx context.Context, token string) (Device, error) {
	if len(token) != TokenLen {
		return Device{}, Errorf(Unauthenticated, "invalid auth token")
	}
	d, err := s.store.GetDeviceByTokenHash(ctx, HashToken(token))
	if errIs(err, NotFound) {
		return Device{}, Errorf(Unauthenticated, "invalid auth token")
	}
	if err != nil {
		return Device{}, internal("get device", err)
	}
	return d, nil
}

// templateUsable checks that a template is enabled in org.
func templateUsable(ctx context.Context, tx Tx, org OrgID, id TemplateID) error {
	on, err := tx.TemplateEnabled(ctx, org, id)
	if err != nil {
		return err
	}
	if !on {
		return invalid("template %s is not enabled in the destination organization", id)
	}
	return nil
}

// CreateDevice creates a device (ORG_DEVICES_CREATE in its org) with a new
// AuthToken, returned in Device.Token.
func (s *Service) CreateDevice(ctx context.Context, a Actor, in NewDevice) (Device, error) {
	in.Name = strings.TrimSpace(in.Name)
	if err := validDeviceName(in.Name); err != nil {
		return Device{}, err
	}
	if in.TemplateID == "" {
		return Device{}, invalid("templateId is required")
	}
	var d Device
	err := s.atomic(ctx, "create device", func(tx Tx) error {
		org := in.OrgID
		if in.OwnerID != 0 {
			owner, err := s.getUser(ctx, tx, a, in.OwnerID, OrgUsersView)
			if err != nil {
				return err
			}
			if org == 0 {
				org = owner.OrgID
			} else if org != owner.OrgID {
				return invalid("the owner must belong to the device's organization")
			}
		}
		if org == 0 {
			org = a.OrgID
		}
		if err := s.decide(a, OrgDevicesCreate, OrgResource(org), "organization"); err != nil {
			return err
		}
		if _, err := s.treeTemplate(ctx, tx, org, in.TemplateID); err != nil {
			return err
		}
		if err := templateUsable(ctx, tx, org, in.TemplateID); err != nil {
			return err
		}
		tok, err := s.newDeviceToken()
		if err != nil {
			return err
		}
		now := s.now().UTC()
		uid, err := ulid.New(now, s.rand)
		if err != nil {
			return err
		}
		d = Device{UID: uid, OrgID: org, OwnerID: in.OwnerID, TemplateID: in.TemplateID, Name: in.Name,
			Token: tok, TokenHash: HashToken(tok), CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateDevice(ctx, &d); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, org, "device.create", "device", d.ID, nil, d)
	})
	return d, err
}

// RenameDevice renames a device (ORG_DEVICES_EDIT).
func (s *Service) RenameDevice(ctx context.Context, a Actor, id DeviceID, name string) (Device, error) {
	name = strings.TrimSpace(name)
	if err := validDeviceName(name); err != nil {
		return Device{}, err
	}
	var d Device
	err := s.atomic(ctx, "rename device", func(tx Tx) error {
		before, err := s.loadDevice(ctx, tx, a, id, OrgDevicesEdit)
		if err != nil {
			return err
		}
		d = before
		d.Name, d.UpdatedAt = name, s.now().UTC()
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.rename", "device", id, before, d)
	})
	return d, err
}

// RegenerateDeviceToken issues a new AuthToken (DEVICE_AUTH_TOKEN_EDIT);
// the old one stops working at once.
func (s *Service) RegenerateDeviceToken(ctx context.Context, a Actor, id DeviceID) (Device, error) {
	var d Device
	err := s.atomic(ctx, "regenerate token", func(tx Tx) error {
		before, err := s.loadDevice(ctx, tx, a, id, DeviceAuthTokenEdit)
		if err != nil {
			return err
		}
		if before.StaticToken != 0 {
			return invalid("the token of a static-token device cannot be changed")
		}
		tok, err := s.newDeviceToken()
		if err != nil {
			return err
		}
		d = before
		d.Token, d.TokenHash, d.UpdatedAt = tok, HashToken(tok), s.now().UTC()
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.token", "device", id, nil, nil)
	})
	return d, err
}

// DeleteDevice deletes a device (ORG_DEVICES_DELETE). A static-token
// device's token becomes claimable again (§8).
func (s *Service) DeleteDevice(ctx context.Context, a Actor, id DeviceID) error {
	return s.atomic(ctx, "delete device", func(tx Tx) error {
		d, err := s.loadDevice(ctx, tx, a, id, OrgDevicesDelete)
		if err != nil {
			return err
		}
		if d.StaticToken != 0 {
			// The device returns unclaimed to the creating org: the flashed
			// token keeps working and the QR can be claimed again.
			st, err := tx.GetStaticToken(ctx, d.StaticToken)
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
			return s.audit(ctx, tx, a, before.OrgID, "device.delete", "device", id, before, d)
		}
		if err := tx.DeleteDevice(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.delete", "device", id, d, nil)
	})
}

// TransferDevice gives a device a new owner, moving it into the owner's
// org, or moves it to an org (DEVICES_TRANSFER). Preconditions (§4, §13.8):
// the new owner is in scope (else NotFound) and has logged in at least
// once, is not the current owner, and the template is enabled in the
// destination (else Invalid). Moving to an org keeps the owner only if the
// owner belongs to that org.
func (s *Service) TransferDevice(ctx context.Context, a Actor, id DeviceID, to DeviceTransfer) (Device, error) {
	if to.UserID == 0 && to.OrgID == 0 {
		return Device{}, invalid("newUserId or newOrgId is required")
	}
	var before, d Device
	err := s.atomic(ctx, "transfer device", func(tx Tx) error {
		var err error
		if before, err = s.loadDevice(ctx, tx, a, id, DevicesTransfer); err != nil {
			return err
		}
		d = before
		if to.UserID != 0 {
			u, err := s.getUser(ctx, tx, a, to.UserID, OrgUsersView)
			if errIs(err, Forbidden) {
				return notFound("user")
			}
			if err != nil {
				return err
			}
			if !s.tree.Load().InScope(a, u.OrgID) {
				return notFound("user")
			}
			if u.ID == before.OwnerID {
				return invalid("the device already belongs to this user")
			}
			if u.Status != StatusActive {
				return invalid("the new owner must have activated their account")
			}
			d.OwnerID, d.OrgID = u.ID, u.OrgID
		} else {
			if err := s.scopeCheck(a, to.OrgID, "organization"); err != nil {
				return err
			}
			if to.OrgID == before.OrgID {
				return invalid("the device is already in this organization")
			}
			d.OrgID = to.OrgID
			if d.OwnerID != 0 {
				if owner, err := tx.GetUser(ctx, d.OwnerID); err != nil || owner.OrgID != d.OrgID {
					d.OwnerID = 0
				}
			}
		}
		if d.OrgID != before.OrgID {
			if err := templateUsable(ctx, tx, d.OrgID, d.TemplateID); err != nil {
				return err
			}
		}
		d.UpdatedAt = s.now().UTC()
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.transfer", "device", id, before, d)
	})
	if err != nil {
		return Device{}, err
	}
	if before.OwnerID != d.OwnerID {
		s.notifyUser(ctx, Notification{UserID: before.OwnerID, Kind: "device.transferred.out", DeviceID: id, Message: "device " + d.Name + " was transferred away from you"})
		s.notifyUser(ctx, Notification{UserID: d.OwnerID, Kind: "device.transferred.in", DeviceID: id, Message: "device " + d.Name + " was transferred to you"})
	}
	return d, nil
}

// RemoveDeviceOwner clears a device's owner; it stays in its org
// (DEVICES_TRANSFER).
func (s *Service) RemoveDeviceOwner(ctx context.Context, a Actor, id DeviceID) (Device, error) {
	var d Device
	err := s.atomic(ctx, "remove owner", func(tx Tx) error {
		before, err := s.loadDevice(ctx, tx, a, id, DevicesTransfer)
		if err != nil {
			return err
		}
		d = before
		d.OwnerID, d.UpdatedAt = 0, s.now().UTC()
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.owner.remove", "device", id, before, d)
	})
	return d, err
}
