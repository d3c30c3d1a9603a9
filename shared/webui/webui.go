// Package webui holds the web assets shared by the cloud console and the
// gateway's installer page — the stylesheet, the chart script and the
// live-update client — and the handler that serves them.
//
// Assets are embedded, gzipped once at start and served under
// <prefix>/<hash>/<name>, where hash is the SHA-256 of every file of the
// set: a change to any file gives every URL a new name, so responses are
// cached for a year (immutable) and ES modules keep importing each other
// by relative path ("./chart.js"). Standard library only.
package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
)

//go:embed static
var static embed.FS

// Static is the shared asset files (style.css, chart.js, live.js and
// device.js, the device dashboard: live values, control writes, charts).
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

type asset struct {
	ctype    string
	body, gz []byte
}

// Assets is a set of files served with content-hashed URLs.
type Assets struct {
	prefix string
	hash   string
	files  map[string]*asset
}

// New reads every file of the given file systems (later ones may not
// repeat a name) and serves them under prefix (e.g. "/static").
func New(prefix string, fsyss ...fs.FS) (*Assets, error) {
	a := &Assets{prefix: strings.TrimRight(prefix, "/"), files: map[string]*asset{}}
	h := sha256.New()
	for _, fsys := range fsyss {
		names, err := fs.Glob(fsys, "*")
		if err != nil {
			return nil, fmt.Errorf("webui: %w", err)
		}
		slices.Sort(names)
		for _, name := range names {
			if _, dup := a.files[name]; dup {
				return nil, fmt.Errorf("webui: asset %q given twice", name)
			}
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("webui: %w", err)
			}
			ctype := mime.TypeByExtension(path.Ext(name))
			if path.Ext(name) == ".js" {
				ctype = "text/javascript; charset=utf-8"
			}
			var gz bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			a.files[name] = &asset{ctype: ctype, body: body, gz: gz.Bytes()}
			fmt.Fprintf(h, "%s\x00%d\x00", name, len(body))
			h.Write(body)
		}
	}
	a.hash = hex.EncodeToString(h.Sum(nil))[:16]
	return a, nil
}

// URL is the cacheable URL of a file; "" if there is no such file.
func (a *Assets) URL(name string) string {
	if _, ok := a.files[name]; !ok {
		return ""
	}
	return a.prefix + "/" + a.hash + "/" + name
}

// GzipSize is the gzipped size in bytes of the named files (what a page
// that loads them transfers).
func (a *Assets) GzipSize(names ...string) int {
	n := 0
	for _, name := range names {
		if f, ok := a.files[name]; ok {
			n += len(f.gz)
		}
	}
	return n
}

// ServeHTTP serves GET and HEAD of <prefix>/<hash>/<name>. A stale hash
// (a page rendered before a restart with new assets) still gets the
// current file, but without the long cache lifetime.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, a.prefix+"/")
	hash, name, ok2 := strings.Cut(rest, "/")
	f := a.files[name]
	if !ok || !ok2 || f == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Vary", "Accept-Encoding")
	if hash == a.hash {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
		hd.Set("ETag", `"`+a.hash+`"`)
		if r.Header.Get("If-None-Match") == `"`+a.hash+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body := f.body
	if acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
