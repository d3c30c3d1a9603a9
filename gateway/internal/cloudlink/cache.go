package cloudlink

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

// TenancyCacheStore keeps, durably, the parts of the tenancy the hub does
// not hold — orgs, owners and static tokens of the gateway's subtree — one
// JSON document per kind (docs/architecture.md principle 2: the gateway keeps a cache
// of the tenancy it needs).
type TenancyCacheStore interface {
	TenancyCache(ctx context.Context, kind string) ([]byte, error)
	SetTenancyCache(ctx context.Context, version int64, docs map[string][]byte) error
}

// Cache kinds (TenancyCacheStore).
const (
	CacheOrgs         = "orgs"
	CacheOwners       = "owners"
	CacheStaticTokens = "static_tokens"
	CacheAutomations  = "automations"
)

// cached is the in-memory copy of the cached kinds, keyed as the deltas
// name them.
type cached struct {
	orgs   map[int64]syncproto.Org
	owners map[int64]syncproto.Owner
	tokens map[string]syncproto.StaticToken
	autos  map[string]rules.Automation
}

func newCached() cached {
	return cached{orgs: map[int64]syncproto.Org{}, owners: map[int64]syncproto.Owner{},
		tokens: map[string]syncproto.StaticToken{}, autos: map[string]rules.Automation{}}
}

// Tenancy returns the orgs, owners and static tokens the cloud sent (sorted
// by key) at the version last applied; templates and devices are in the hub.
func (l *Link) Tenancy() syncproto.Tenancy {
	l.cacheMu.Lock()
	defer l.cacheMu.Unlock()
	t := syncproto.Tenancy{Version: l.tenancy.Load()}
	t.Orgs = sortedValues(l.cache.orgs, func(o syncproto.Org) int64 { return o.ID })
	t.Owners = sortedValues(l.cache.owners, func(o syncproto.Owner) int64 { return o.ID })
	t.StaticTokens = sortedValues(l.cache.tokens, func(s syncproto.StaticToken) string { return s.ID })
	t.Automations = sortedValues(l.cache.autos, func(a rules.Automation) string { return a.ID })
	return t
}

func sortedValues[K cmp.Ordered, V any](m map[K]V, key func(V) K) []V {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b V) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// loadCache reads the cached kinds from the store (once, at Run).
func (l *Link) loadCache(ctx context.Context) error {
	cs := l.opts.Store
	var orgs []syncproto.Org
	var owners []syncproto.Owner
	var tokens []syncproto.StaticToken
	var autos []rules.Automation
	for kind, dst := range map[string]any{CacheOrgs: &orgs, CacheOwners: &owners, CacheStaticTokens: &tokens, CacheAutomations: &autos} {
		b, err := cs.TenancyCache(ctx, kind)
		if err != nil {
			return fmt.Errorf("cloudlink: load tenancy cache: %w", err)
		}
		if b == nil {
			continue
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return fmt.Errorf("cloudlink: tenancy cache %s: %w", kind, err)
		}
	}
	l.cacheMu.Lock()
	defer l.cacheMu.Unlock()
	l.cache = newCached()
	for _, a := range autos {
		if err := a.Validate(); err != nil {
			l.log.Warn("cached automation no longer valid, skipped", "id", a.ID, "err", err)
			continue
		}
		l.cache.autos[a.ID] = a
	}
	for _, o := range orgs {
		l.cache.orgs[o.ID] = o
	}
	for _, o := range owners {
		l.cache.owners[o.ID] = o
	}
	for _, s := range tokens {
		l.cache.tokens[s.ID] = s
	}
	return nil
}

// cacheSnapshot replaces the cached kinds with the snapshot's.
func (l *Link) cacheSnapshot(ctx context.Context, t *syncproto.Tenancy) error {
	l.cacheMu.Lock()
	c := newCached()
	for _, a := range t.Automations {
		c.autos[a.ID] = a
	}
	for _, o := range t.Orgs {
		c.orgs[o.ID] = o
	}
	for _, o := range t.Owners {
		c.owners[o.ID] = o
	}
	for _, s := range t.StaticTokens {
		c.tokens[s.ID] = s
	}
	l.cache = c
	l.cacheMu.Unlock()
	if err := l.saveCache(ctx, t.Version, true, true, true, true); err != nil {
		return err
	}
	l.automationsChanged()
	return nil
}

// cacheDelta applies a delta's upserts, then its deletions, and saves the
// kinds it touched.
func (l *Link) cacheDelta(ctx context.Context, d *syncproto.Delta) error {
	l.cacheMu.Lock()
	c := &l.cache
	for _, o := range d.Orgs {
		c.orgs[o.ID] = o
	}
	for _, o := range d.Owners {
		c.owners[o.ID] = o
	}
	for _, s := range d.StaticTokens {
		c.tokens[s.ID] = s
	}
	for _, id := range d.DeletedOrgs {
		delete(c.orgs, id)
	}
	for _, id := range d.DeletedOwners {
		delete(c.owners, id)
	}
	for _, id := range d.DeletedStaticTokens {
		delete(c.tokens, id)
	}
	for _, a := range d.Automations {
		c.autos[a.ID] = a
	}
	for _, id := range d.DeletedAutomations {
		delete(c.autos, id)
	}
	l.cacheMu.Unlock()
	autos := len(d.Automations)+len(d.DeletedAutomations) > 0
	if err := l.saveCache(ctx, d.Version,
		len(d.Orgs)+len(d.DeletedOrgs) > 0,
		len(d.Owners)+len(d.DeletedOwners) > 0,
		len(d.StaticTokens)+len(d.DeletedStaticTokens) > 0, autos); err != nil {
		return err
	}
	if autos {
		l.automationsChanged()
	}
	return nil
}

// Automations returns the automations the cloud placed at this gateway,
// as last applied (sorted by id).
func (l *Link) Automations() []rules.Automation { return l.Tenancy().Automations }

// automationsChanged hands the current automations to OnAutomations.
func (l *Link) automationsChanged() {
	if l.opts.OnAutomations != nil {
		l.opts.OnAutomations(l.Automations())
	}
}

func (l *Link) saveCache(ctx context.Context, version int64, orgs, owners, tokens, autos bool) error {
	cs := l.opts.Store
	t := l.Tenancy()
	docs := map[string][]byte{}
	add := func(kind string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("cloudlink: encode tenancy cache %s: %w", kind, err)
		}
		docs[kind] = b
		return nil
	}
	for _, k := range []struct {
		on   bool
		kind string
		v    any
	}{{orgs, CacheOrgs, t.Orgs}, {owners, CacheOwners, t.Owners}, {tokens, CacheStaticTokens, t.StaticTokens}, {autos, CacheAutomations, t.Automations}} {
		if k.on {
			if err := add(k.kind, k.v); err != nil {
				return err
			}
		}
	}
	if len(docs) == 0 {
		return nil
	}
	if err := cs.SetTenancyCache(ctx, version, docs); err != nil {
		return fmt.Errorf("cloudlink: save tenancy cache: %w", err)
	}
	return nil
}
