package deviceapi

import (
	"net/url"
	"strings"
)

// param is one key[=value] of a query string, in the order typed.
type param struct {
	key, value string
	hasValue   bool // "v1" alone (a pin to read) vs "v1=" (an empty value)
}

// parseQuery splits a raw query string the way people type them into curl
// and browsers: '&'-separated, a bare key allowed (`get?token=…&v1`),
// '+' as space, and a malformed %-escape kept as typed rather than
// failing the request (url.ParseQuery would drop the whole query).
func parseQuery(raw string) []param {
	return appendQuery(nil, raw)
}

// appendQuery is parseQuery appending to out, so a request can parse into
// a buffer on its stack.
func appendQuery(out []param, raw string) []param {
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, has := strings.Cut(part, "=")
		out = append(out, param{key: unescape(k), value: unescape(v), hasValue: has})
	}
	return out
}

func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// first returns the value of the first param named key.
func first(ps []param, key string) (string, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// all returns the values of every param named key, in order.
func all(ps []param, key string) []string {
	var out []string
	for _, p := range ps {
		if p.key == key {
			out = append(out, p.value)
		}
	}
	return out
}
