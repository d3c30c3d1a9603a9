package webui

import (
	"compress/gzip"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestAssets(t *testing.T) {
	own := fstest.MapFS{"page.js": {Data: []byte(`import { draw } from "./chart.js";`)}}
	a, err := New("/static", Static(), own)
	if err != nil {
		t.Fatal(err)
	}
	css, js := a.URL("style.css"), a.URL("page.js")
	if !strings.HasPrefix(css, "/static/") || css[:strings.LastIndexByte(css, '/')] != js[:strings.LastIndexByte(js, '/')] {
		t.Fatalf("URLs %q and %q: one hashed directory holds the set (relative module imports)", css, js)
	}
	if a.URL("nope.css") != "" {
		t.Error("a missing file has a URL")
	}
	b, _ := New("/static", Static(), fstest.MapFS{"page.js": {Data: []byte(`changed`)}})
	if b.URL("style.css") == css {
		t.Error("a changed file left the URLs as they were")
	}
	if _, err := New("/static", Static(), fstest.MapFS{"style.css": {Data: []byte("x")}}); err == nil {
		t.Error("a name given twice was accepted")
	}
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		cache, encoding    string
	}{
		{"current", "GET", js, nil, 200, "public, max-age=31536000, immutable", ""},
		{"gzip", "GET", js, map[string]string{"Accept-Encoding": "br, gzip"}, 200, "public, max-age=31536000, immutable", "gzip"},
		{"gzip refused", "GET", js, map[string]string{"Accept-Encoding": "gzip;q=0"}, 200, "public, max-age=31536000, immutable", ""},
		{"revalidate", "GET", js, map[string]string{"If-None-Match": `"` + a.hash + `"`}, 304, "public, max-age=31536000, immutable", ""},
		{"stale hash", "GET", "/static/0123456789abcdef/page.js", nil, 200, "no-cache", ""},
		{"head", "HEAD", css, nil, 200, "public, max-age=31536000, immutable", ""},
		{"missing", "GET", "/static/" + a.hash + "/nope.js", nil, 404, "", ""},
		{"no hash", "GET", "/static/page.js", nil, 404, "", ""},
		{"post", "POST", js, nil, 405, "", ""},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if w.Code != tc.status || w.Header().Get("Cache-Control") != tc.cache || w.Header().Get("Content-Encoding") != tc.encoding {
			t.Errorf("%s: %d cache %q encoding %q", tc.name, w.Code, w.Header().Get("Cache-Control"), w.Header().Get("Content-Encoding"))
			continue
		}
		if tc.status != 200 || tc.method == "HEAD" {
			continue
		}
		var body io.Reader = w.Body
		if tc.encoding == "gzip" {
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		got, _ := io.ReadAll(body)
		if string(got) != `import { draw } from "./chart.js";` {
			t.Errorf("%s: body %q", tc.name, got)
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
			t.Errorf("%s: content type %q", tc.name, ct)
		}
	}
	if n := a.GzipSize("style.css", "chart.js", "live.js"); n == 0 || n > 20<<10 {
		t.Errorf("shared assets gzip to %d bytes", n)
	}
}
