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
