package deviceapi

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var queryCases = []struct {
	raw  string
	want []param
}{
	{"token=abc&v1", []param{{"token", "abc", true}, {"v1", "", false}}},
	{"token=abc&v1=", []param{{"token", "abc", true}, {"v1", "", true}}},
	{"token=abc&V1=100&v2=hello%20world", []param{{"token", "abc", true}, {"V1", "100", true}, {"v2", "hello world", true}}},
	{"value=a+b&value=c%2Bd", []param{{"value", "a b", true}, {"value", "c+d", true}}},
	{"v1=100%&&x", []param{{"v1", "100%", true}, {"x", "", false}}}, // malformed escape kept as typed
	{"a=b=c", []param{{"a", "b=c", true}}},
	{"", nil},
	{"&&", nil},
}

func TestParseQuery(t *testing.T) {
	for _, tc := range queryCases {
		got := parseQuery(tc.raw)
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(param{})); diff != "" {
			t.Errorf("parseQuery(%q) (-want +got):\n%s", tc.raw, diff)
		}
	}
}

// FuzzParseQuery: never panics; agrees with url.ParseQuery whenever that
// accepts the query; keys never contain '&'.
func FuzzParseQuery(f *testing.F) {
	for _, tc := range queryCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ps := parseQuery(raw)
		std, err := url.ParseQuery(raw)
		if err != nil || strings.Contains(raw, ";") {
			return
		}
		for _, p := range ps {
			if !containsStr(std[p.key], p.value) {
				t.Fatalf("%q: %q=%q not in url.ParseQuery's %v", raw, p.key, p.value, std)
			}
		}
	})
}
