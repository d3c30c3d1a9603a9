package installer

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"outpost/internal/qrpng"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func (in *Installer) funcs() template.FuncMap {
	return in.assets.Funcs(in.o.Now, template.FuncMap{
		"bytes": humanBytes,
		"qr":    qrDataURL,
	})
}

// qrDataURL is a PNG QR code of s as a data: URL (the CSP allows data:
// images; nothing leaves the page, so a token in it is not logged).
func qrDataURL(s string) (template.URL, error) {
	png, err := qrpng.Encode(s, 256)
	if err != nil {
		return "", fmt.Errorf("installer: qr: %w", err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}

// humanBytes renders a size for people (1.5 GB).
func humanBytes(n any) string {
	var v float64
	switch x := n.(type) {
	case int64:
		v = float64(x)
	case uint64:
		v = float64(x)
	case int:
		v = float64(x)
	}
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(v, 'f', 0, 64) + " B"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}

// duration renders an uptime for people ("3 d 4 h", "12 min").
func duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h " + strconv.Itoa(int(d.Minutes())%60) + " min"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " d " + strconv.Itoa(int(d.Hours())%24) + " h"
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // "status", "devices": the current section; "" signed out
	Notice  string
	Error   string
	Banner  bool     // the cloud is unreachable: devices keep working
	Scripts []string // our ES modules the page loads
	Data    any
}

// render executes a page into a buffer first, so a template error gives a
// clean 500 instead of half a page.
func (in *Installer) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := in.pages[page]
	if !ok {
		in.log.ErrorContext(r.Context(), "no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		in.log.ErrorContext(r.Context(), "render failed", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (in *Installer) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	v := view{Title: title, Data: msg}
	if in.sessionOK(r) || in.tokenOK(r) {
		v.Nav = "none"
	}
	in.render(w, r, status, "error", v)
}

func (in *Installer) serverError(w http.ResponseWriter, r *http.Request, err error) {
	in.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	in.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "The error has been logged.")
}
