package gateway

import (
	"net"

	"outpost/gateway/internal/certs"
)

// ReachableHosts returns the addresses at which a listener bound to addr
// (as Addrs gives it) answers devices, the one to tell them first: its
// host when it is bound to one address; every address of the box's
// interfaces (IPv4 first, loopback and IPv6 link-local left out; IPv6 only
// when bound to "::") when bound to all of them, or 127.0.0.1 on a box
// with none. The generated TLS certificate names them all.
func ReachableHosts(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsUnspecified() {
		return []string{host}
	}
	ips, _ := certs.InterfaceAddrs()
	var out []string
	for _, a := range ips {
		if a.To4() != nil || ip.To4() == nil {
			out = append(out, a.String())
		}
	}
	if len(out) == 0 {
		out = []string{"127.0.0.1"}
	}
	return out
}
