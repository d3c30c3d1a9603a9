package clientaddr

import (
	"net/http"
	"testing"
)

func TestAddr(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		res    *Resolver
		remote string
		xff    []string
		want   string
	}{
		{"no proxy configured ignores the header", nil, "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"an untrusted peer's header is ignored", r, "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"a trusted peer's header names the client", r, "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"entries the client wrote are skipped", r, "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"a chain of trusted proxies is walked", r, "[::1]:4000", []string{"198.51.100.1, 10.9.9.9", "10.8.8.8"}, "198.51.100.1"},
		{"a trusted peer without the header is the client", r, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"a garbled hop stops the walk", r, "10.1.2.3:4000", []string{"198.51.100.1, junk"}, "10.1.2.3"},
		{"IPv4-mapped addresses are unmapped", r, "[::ffff:10.1.2.3]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a remote address without port", nil, "203.0.113.7", nil, "203.0.113.7"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		req.RemoteAddr = c.remote
		for _, v := range c.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if got := c.res.Addr(req); got != c.want {
			t.Errorf("%s: Addr = %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := New([]string{"not-an-ip"}); err == nil {
		t.Error("New accepted a bad proxy")
	}
}
