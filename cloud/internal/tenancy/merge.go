package tenancy

import (
	"context"
	"strconv"
	"strings"
	"time"

	"outpost/shared/datastream"
	"outpost/shared/ulid"
)

// GatewayDevice is a device an installer created on a gateway (possibly
// offline), as the gateway announces it: the gateway drew its UID and its
// token, of which the cloud only ever gets the hash.
type GatewayDevice struct {
	UID         string
	Name        string
	TemplateID  TemplateID
	TokenHash   [32]byte
	CreatedAtMS int64
}

// MergeRefusal is a device the cloud did not adopt, and why.
type MergeRefusal struct {
	UID    string
	Reason string
}

// MergeResult tells what MergeGatewayDevices changed.
type MergeResult struct {
	Created   []string     // UIDs of devices created
	Templates []TemplateID // templates created
	Refused   []MergeRefusal
}

// MergeGatewayDevices adopts devices created on a claimed gateway (the
// merge-up of TENANCY.md §11.8; the cloud stays the authority):
//
//   - a UID the cloud has is left as the cloud has it (a replay, or the
//     cloud changed it since), and a UID the cloud deleted stays deleted —
//     either way nothing is created twice;
//   - an unknown UID is created in the gateway's org with the gateway's
//     UID, name, template and token hash;
//   - a template the cloud does not know is created, from the definition
//     the gateway sent, in the root of the gateway's tree and enabled from
//     the root down to the gateway's org. A template the cloud knows is
//     never changed: its definition and where it is enabled are the
//     cloud's, and a device whose template is not enabled in the gateway's
//     org (or belongs to another tree) is refused.
//
// Every change is audited with the gateway as the actor ("gateway:<id>").
// It is for the sync endpoint, which authenticated the gateway itself: no
// actor is checked. Refusals are reported, not errors; an error means the
// store failed (what was committed before it stays).
func (s *Service) MergeGatewayDevices(ctx context.Context, id GatewayID, tmpls []datastream.Template, devs []GatewayDevice) (MergeResult, error) {
	var res MergeResult
	g, err := s.store.GetGateway(ctx, id)
	if errIs(err, NotFound) {
		return res, notFound("gateway")
	}
	if err != nil {
		return res, internal("merge gateway devices", err)
	}
	if g.OrgID == 0 {
		return res, Errorf(Forbidden, "gateway is not claimed yet")
	}
	var changed Change // templates: the views holding them; devices: the gateway's org
	defer func() {
		if !changed.Empty() {
			s.changed(changed)
		}
	}()
	a := Actor{ClientID: "gateway:" + strconv.FormatInt(int64(id), 10), OrgID: g.OrgID}
	tree := s.tree.Load()
	root := tree.Root(g.OrgID)
	var path []OrgID // root … gateway org
	for o := g.OrgID; o != 0; o = tree.Parent(o) {
		path = append([]OrgID{o}, path...)
	}

	used := make(map[string]bool, len(devs))
	for _, d := range devs {
		used[string(d.TemplateID)] = true
	}
	for _, def := range tmpls {
		if !used[def.ID] {
			continue
		}
		used[def.ID] = false // a template sent twice is created once
		var created bool
		err := s.store.Atomic(ctx, func(tx Tx) error {
			created = false
			if _, err := tx.GetTemplate(ctx, TemplateID(def.ID)); err == nil || !errIs(err, NotFound) {
				return err // known (left as the cloud has it), or a failure
			}
			now := s.now().UTC()
			t := Template{ID: TemplateID(def.ID), RootID: root, Def: def, CreatedAt: now, UpdatedAt: now}
			if err := checkTemplate(&t.Def, t.Description); err != nil {
				return err
			}
			if err := tx.CreateTemplate(ctx, t); err != nil {
				return err
			}
			for _, o := range path {
				if err := tx.SetTemplateEnabled(ctx, o, t.ID, true); err != nil {
					return err
				}
			}
			created = true
			return s.audit(ctx, tx, a, root, "template.create", "template", t.ID, nil, t)
		})
		switch {
		case err == nil:
			if created {
				changed.Add(Change{Templates: []TemplateID{TemplateID(def.ID)}})
				res.Templates = append(res.Templates, TemplateID(def.ID))
			}
		case CodeOf(err) == Internal || CodeOf(err) == "":
			return res, internal("merge gateway template", err)
		default: // the devices using it are refused below with the reason
		}
	}

	for _, d := range devs {
		reason, created, err := s.mergeDevice(ctx, a, g.OrgID, root, d)
		if err != nil {
			return res, err
		}
		if created {
			changed.Add(Change{Orgs: []OrgID{g.OrgID}})
			res.Created = append(res.Created, d.UID)
		}
		if reason != "" {
			res.Refused = append(res.Refused, MergeRefusal{UID: d.UID, Reason: reason})
		}
	}
	return res, nil
}

// mergeDevice adopts one device: created reports a new device; a non-empty
// reason a refusal; err a store failure.
func (s *Service) mergeDevice(ctx context.Context, a Actor, org, root OrgID, gd GatewayDevice) (reason string, created bool, err error) {
	name := strings.TrimSpace(gd.Name)
	if e := validDeviceName(name); e != nil {
		return e.Error(), false, nil
	}
	if !ulid.Valid(gd.UID) {
		return "not a ULID", false, nil
	}
	var entries []AuditEntry
	err = s.store.Atomic(ctx, func(raw Tx) error {
		tx := &auditingTx{Tx: raw}
		defer func() { entries = tx.entries }()
		created, reason = false, ""
		if _, err := tx.GetDeviceByUID(ctx, gd.UID); err == nil || !errIs(err, NotFound) {
			return err // already adopted: the cloud's version stands
		}
		if gone, err := tx.DeviceUIDDeleted(ctx, gd.UID); err != nil || gone {
			if gone {
				reason = "deleted in the cloud"
			}
			return err
		}
		tm, err := tx.GetTemplate(ctx, gd.TemplateID)
		if errIs(err, NotFound) || (err == nil && tm.RootID != root) {
			reason = "template " + string(gd.TemplateID) + " is unknown in the gateway's tree"
			return nil
		}
		if err != nil {
			return err
		}
		if e := templateUsable(ctx, tx, org, gd.TemplateID); e != nil {
			if CodeOf(e) == Invalid {
				reason = e.Error()
				return nil
			}
			return e
		}
		now := s.now().UTC()
		createdAt := now
		if gd.CreatedAtMS > 0 {
			createdAt = time.UnixMilli(gd.CreatedAtMS).UTC()
		}
		dev := Device{UID: gd.UID, OrgID: org, TemplateID: gd.TemplateID, Name: name, TokenHash: gd.TokenHash,
			CreatedAt: createdAt, UpdatedAt: now}
		if err := tx.CreateDevice(ctx, &dev); err != nil {
			if errIs(err, Conflict) {
				reason = "its token is already used by another device"
				return nil
			}
			return err
		}
		created = true
		return s.audit(ctx, tx, a, org, "device.create", "device", dev.ID, nil, dev)
	})
	if err != nil {
		return "", false, internal("merge gateway device", err)
	}
	s.tellAudited(ctx, entries)
	return reason, created, nil
}
