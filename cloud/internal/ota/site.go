package ota

import (
	"context"
	"encoding/hex"
	"slices"
	"strconv"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/syncproto"
)

// SiteShipments is what one gateway runs: every live or paused shipment of
// its tree that targets at least one device of its view, with the targets
// named by UID. A user-controlled shipment lists the devices approved so
// far. Cancelled shipments are left out, which stops them at the site.
func (s *Service) SiteShipments(ctx context.Context, v tenancy.GatewayView) (syncproto.Shipments, error) {
	out := syncproto.Shipments{Items: []syncproto.Shipment{}}
	if v.Gateway.OrgID == 0 || len(v.Devices) == 0 {
		return out, nil
	}
	root := s.ten.Tree().Root(v.Gateway.OrgID)
	shs, err := s.store.ListShipments(ctx, root, Live, Paused)
	if err != nil {
		return out, err
	}
	for _, sh := range slices.Backward(shs) { // oldest first: a stable order
		var uids []string
		byID := map[tenancy.DeviceID]string{}
		for _, d := range v.Devices {
			if d.TemplateID == sh.TemplateID && (len(sh.Devices) == 0 || slices.Contains(sh.Devices, d.ID)) {
				uids = append(uids, d.UID)
				byID[d.ID] = d.UID
			}
		}
		if len(uids) == 0 {
			continue
		}
		f, err := s.store.GetFirmware(ctx, sh.FirmwareID)
		if err != nil {
			return out, err
		}
		item := syncproto.Shipment{ID: strconv.FormatInt(int64(sh.ID), 10), Name: sh.Name, TemplateID: string(sh.TemplateID),
			Window: string(sh.Window), Rule: string(sh.Rule), Attempts: sh.Attempts, UserControlled: sh.UserControlled,
			Paused: sh.State == Paused, Firmware: syncproto.Firmware{SHA256: hex.EncodeToString(f.SHA256[:]),
				MD5: hex.EncodeToString(f.MD5[:]), Size: f.Size, Version: f.Version, Type: f.Type, Build: f.Build}}
		if len(sh.Devices) > 0 {
			item.Devices = uids
		}
		if sh.UserControlled {
			rows, err := s.store.DeviceStatuses(ctx, sh.ID)
			if err != nil {
				return out, err
			}
			for _, r := range rows {
				if uid, ok := byID[r.DeviceID]; ok && r.Approved {
					item.Approved = append(item.Approved, uid)
				}
			}
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

// AnyActive reports whether any shipment is live or paused: when none is,
// every gateway's list is empty and its view need not be read.
func (s *Service) AnyActive(ctx context.Context) (bool, error) { return s.store.AnyActiveShipment(ctx) }

// GatewayMayFetch reports whether the gateway of view may download the
// image with this SHA-256: a shipment it is sent names it.
func (s *Service) GatewayMayFetch(ctx context.Context, v tenancy.GatewayView, sum [32]byte) (bool, error) {
	l, err := s.SiteShipments(ctx, v)
	if err != nil {
		return false, err
	}
	want := hex.EncodeToString(sum[:])
	for _, sh := range l.Items {
		if sh.Firmware.SHA256 == want {
			return true, nil
		}
	}
	return false, nil
}
