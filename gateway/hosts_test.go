package gateway

import (
	"net"
	"slices"
	"testing"

	"outpost/gateway/internal/certs"
)

func TestReachableHosts(t *testing.T) {
	box, err := certs.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var all, v4 []string
	for _, ip := range box {
		all = append(all, ip.String())
		if ip.To4() != nil {
			v4 = append(v4, ip.String())
		}
	}
	orLoopback := func(l []string) []string {
		if len(l) == 0 {
			return []string{"127.0.0.1"}
		}
		return l
	}
	tests := []struct {
		addr string
		want []string
	}{
		{"127.0.0.1:8080", []string{"127.0.0.1"}},
		{"[::1]:8080", []string{"::1"}},
		{"192.0.2.7:8080", []string{"192.0.2.7"}},
		{"gw.local:8080", []string{"gw.local"}},
		{"0.0.0.0:8080", orLoopback(v4)},
		{"[::]:8080", orLoopback(all)},
		{"", nil},
	}
	for _, tt := range tests {
		got := ReachableHosts(tt.addr)
		if !slices.Equal(got, tt.want) {
			t.Errorf("ReachableHosts(%q) = %v, want %v", tt.addr, got, tt.want)
		}
		for _, h := range got {
			if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() && tt.addr == "[::]:8080" && len(all) > 0 {
				t.Errorf("loopback %s offered while the box has %v", h, all)
			}
		}
	}
}
