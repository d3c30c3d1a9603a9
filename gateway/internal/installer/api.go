package installer

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
)

// api serves /installer/api/…: devices (list, add — the new token is shown
// once), templates, stats and the gateway's own routes. Authentication is
// the Installer's (token, session or loopback), applied around it.
type api struct {
	hub   Hub
	log   *slog.Logger
	stats func() any
}

func newAPI(hub Hub, log *slog.Logger, stats func() any, routes map[string]http.Handler) http.Handler {
	in := &api{hub: hub, log: log, stats: stats}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /installer/api/devices", in.listDevices)
	mux.HandleFunc("POST /installer/api/devices", in.addDevice)
	mux.HandleFunc("GET /installer/api/templates", in.templates)
	mux.HandleFunc("GET /installer/api/stats", in.statsHandler)
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	return requireJSON(mux)
}

// requireJSON refuses writes whose body is not declared JSON (415). Besides
// clear errors, it keeps cross-site forms out: a browser sends a form or
// text/plain without asking, application/json only after a preflight the
// installer API never grants.
func requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json.")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// DeviceInfo is one device in the installer's list.
type DeviceInfo struct {
	ID       int64  `json:"id"`
	UID      string `json:"uid"`
	Name     string `json:"name"`
	Template string `json:"template"`
	Online   bool   `json:"online"`
}

// NewDevice is the answer to adding a device; Token is shown only here.
type NewDevice struct {
	ID       int64  `json:"id"`
	UID      string `json:"uid"`
	Name     string `json:"name"`
	Template string `json:"template"`
	Token    string `json:"token"`
}

func (in *api) listDevices(w http.ResponseWriter, r *http.Request) {
	out := []DeviceInfo{}
	for _, d := range in.hub.Devices() {
		out = append(out, DeviceInfo{ID: d.ID, UID: d.UID, Name: d.Name, Template: d.TemplateID, Online: in.hub.Online(d.ID)})
	}
	in.writeJSON(w, http.StatusOK, out)
}

func (in *api) addDevice(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Template string `json:"template"`
		Name     string `json:"name"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Body must be a JSON object {\"template\", \"name\"}.")
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Template == "" || req.Name == "" {
		writeError(w, http.StatusBadRequest, "Template and name are required.")
		return
	}
	dev, token, err := in.hub.AddDevice(r.Context(), req.Template, req.Name)
	switch {
	case errors.Is(err, hub.ErrNoTemplate):
		writeError(w, http.StatusBadRequest, "Template doesn't exist.")
		return
	case err != nil:
		in.log.Error("add device", "err", err)
		writeError(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	in.log.Info("device added", "device", dev.ID, "uid", dev.UID, "template", dev.TemplateID)
	in.writeJSON(w, http.StatusCreated, NewDevice{ID: dev.ID, UID: dev.UID, Name: dev.Name, Template: dev.TemplateID, Token: token})
}

func (in *api) templates(w http.ResponseWriter, r *http.Request) {
	ts := in.hub.Templates()
	if ts == nil {
		ts = []datastream.Template{}
	}
	in.writeJSON(w, http.StatusOK, ts)
}

func (in *api) statsHandler(w http.ResponseWriter, r *http.Request) {
	var v any = struct{}{}
	if in.stats != nil {
		v = in.stats()
	}
	in.writeJSON(w, http.StatusOK, v)
}

func (in *api) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		in.log.Error("encode answer", "error", err)
		writeError(w, http.StatusInternalServerError, "Internal error.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"message": msg}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
