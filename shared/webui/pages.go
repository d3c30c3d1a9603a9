package webui

import (
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParsePages parses each page (dir/*.html) of fsys together with
// dir/layout.html and the shared files named (partials), so that a page
// is rendered by executing "layout". The layout and the shared files are
// not pages.
func ParsePages(fsys fs.FS, dir string, funcs template.FuncMap, shared ...string) (map[string]*template.Template, error) {
	files, err := fs.Glob(fsys, dir+"/*.html")
	if err != nil {
		return nil, err
	}
	common := []string{dir + "/layout.html"}
	for _, s := range shared {
		common = append(common, dir+"/"+s)
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		if slices.Contains(common, f) {
			continue
		}
		name := strings.TrimSuffix(path.Base(f), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, append(slices.Clone(common), f)...)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// Funcs returns the template functions both web UIs use — asset (an
// asset's content-hashed URL), ago ("3 min ago" before now), when (a UTC
// time, "never" for zero), iso (RFC 3339, "" for zero) and list — with
// extra added (or replacing them).
func (a *Assets) Funcs(now func() time.Time, extra template.FuncMap) template.FuncMap {
	f := template.FuncMap{
		"asset": func(name string) (string, error) {
			if u := a.URL(name); u != "" {
				return u, nil
			}
			return "", fmt.Errorf("no asset %q", name)
		},
		"ago": func(t time.Time) string { return Ago(now(), t) },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"iso": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
		"list": func(s ...string) []string { return s },
	}
	maps.Copy(f, extra)
	return f
}

// Ago renders the time from t to now for people ("3 min ago"; "never"
// for zero; a time ahead of now is "just now").
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days ago"
}
