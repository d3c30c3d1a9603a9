package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrRefused is returned for a destination the guard does not allow.
var ErrRefused = errors.New("webhooks: destination refused")

// Guard decides where webhooks may connect: public unicast addresses, and
// the prefixes in Allow (a test's 127.0.0.1, a customer's LAN).
type Guard struct {
	Allow    []netip.Prefix
	Resolver *net.Resolver // nil: net.DefaultResolver
}

// Allowed reports whether ip may be dialled.
func (g *Guard) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	switch {
	case !ip.IsValid(), ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(),
		ip.IsInterfaceLocalMulticast(), ip.IsMulticast(), ip.IsUnspecified():
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublic are ranges the stdlib predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 could reach anything
}

// DialContext resolves addr, refuses it unless every address is allowed,
// and dials the checked address itself (a second lookup could answer
// otherwise).
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if ips, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%w: %s has no address", ErrRefused, host)
	}
	for _, ip := range ips {
		if !g.Allowed(ip) {
			return nil, fmt.Errorf("%w: %s is %s", ErrRefused, host, ip)
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort(ips[0].Unmap().String(), port))
}
