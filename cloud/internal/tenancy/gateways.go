package tenancy

import (
	"context"
	"strings"
)

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
