// Package clientaddr tells the address of the client behind an HTTP
// request: the connection's peer, or, when that peer is a trusted proxy,
// the address the proxies recorded in X-Forwarded-For. A header from an
// untrusted peer is ignored, so nobody can pick the address that rate
// limits and logs see.
package clientaddr

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value (and nil) trusts no
// proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver trusting the given proxies, each an address
// ("10.0.0.5", "::1") or a CIDR block ("10.0.0.0/8").
func New(trustedProxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, s := range trustedProxies {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("clientaddr: trusted proxy %q: want an IP address or a CIDR block", s)
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client address of req as text (no port). Behind
// trusted proxies it is the right-most X-Forwarded-For entry that is not
// itself a trusted proxy: entries left of it were written by the client
// and prove nothing.
func (r *Resolver) Addr(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	client := peer.Unmap()
	if !r.isTrusted(client) {
		return client.String()
	}
	var hops []string
	for _, v := range req.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing left of it
		}
		client = a.Unmap()
		if !r.isTrusted(client) {
			break
		}
	}
	return client.String()
}

// PeerListed reports whether req's direct peer (not what X-Forwarded-For
// says) is one of the Resolver's addresses: for endpoints only some
// machines may reach, such as /metrics.
func (r *Resolver) PeerListed(req *http.Request) bool {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	return err == nil && r.isTrusted(peer)
}
