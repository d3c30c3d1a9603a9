package webui

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now.Add(time.Minute), "just now"},
		{now.Add(-5 * time.Second), "just now"},
		{now.Add(-42 * time.Second), "42 s ago"},
		{now.Add(-3 * time.Minute), "3 min ago"},
		{now.Add(-47 * time.Hour), "47 h ago"},
		{now.Add(-72 * time.Hour), "3 days ago"},
	} {
		if got := Ago(now, tc.t); got != tc.want {
			t.Errorf("Ago(%v) = %q, want %q", now.Sub(tc.t), got, tc.want)
		}
	}
}

// Every page is parsed with the layout and the shared files, which are not
// pages themselves; a page that does not parse names itself.
func TestParsePages(t *testing.T) {
	fsys := fstest.MapFS{
		"t/layout.html":   {Data: []byte(`{{define "layout"}}<main>{{template "content" .}}</main>{{end}}`)},
		"t/partials.html": {Data: []byte(`{{define "who"}}[{{.}}]{{end}}`)},
		"t/hello.html":    {Data: []byte(`{{define "content"}}hello {{template "who" .}} {{when .}}{{end}}`)},
	}
	a, err := New("/static/")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := ParsePages(fsys, "t", a.Funcs(time.Now, nil), "partials.html")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || pages["hello"] == nil {
		t.Fatalf("pages %v, want hello only", pages)
	}
	var b bytes.Buffer
	if err := pages["hello"].ExecuteTemplate(&b, "layout", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "<main>hello [0001-01-01 00:00:00 &#43;0000 UTC] never</main>" {
		t.Errorf("rendered %q", got)
	}
	fsys["t/broken.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{.Missing`)}
	if _, err := ParsePages(fsys, "t", a.Funcs(time.Now, nil), "partials.html"); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("a broken page: %v", err)
	}
}
