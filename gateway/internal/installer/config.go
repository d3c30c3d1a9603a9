package installer

import (
	"net/http"
	"strings"
)

// Config is the gateway's configuration as the configuration page shows it.
type Config interface {
	// File is where the configuration was read from ("" for none).
	File() string
	// Effective is the configuration in force as YAML, secrets masked.
	Effective() (string, error)
	// Validate checks an edited file as the gateway reads it at start.
	Validate(yaml []byte) error
}

type configData struct {
	File      string
	Effective string
	Edited    string
	Checked   bool
	Problems  []string
}

func (in *Installer) configPage(w http.ResponseWriter, r *http.Request) {
	in.renderConfig(w, r, http.StatusOK, configData{})
}

func (in *Installer) renderConfig(w http.ResponseWriter, r *http.Request, status int, d configData) {
	if in.o.Config == nil {
		in.errorPage(w, r, http.StatusNotFound, "No configuration", "This gateway shows no configuration.")
		return
	}
	d.File = in.o.Config.File()
	eff, err := in.o.Config.Effective()
	if err != nil {
		in.serverError(w, r, err)
		return
	}
	d.Effective = eff
	if d.Edited == "" {
		d.Edited = eff
	}
	in.render(w, r, status, "config", view{Title: "Configuration", Nav: "config", Data: d})
}

// validateConfig is POST /config/validate: the edited file is checked as
// at start (unknown keys, values, every problem at once); nothing is
// written or applied.
func (in *Installer) validateConfig(w http.ResponseWriter, r *http.Request) {
	if in.o.Config == nil {
		http.NotFound(w, r)
		return
	}
	text := r.PostFormValue("yaml")
	d := configData{Edited: text, Checked: true}
	if err := in.o.Config.Validate([]byte(text)); err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				d.Problems = append(d.Problems, l)
			}
		}
	}
	status := http.StatusOK
	if len(d.Problems) > 0 {
		status = http.StatusUnprocessableEntity
	}
	in.renderConfig(w, r, status, d)
}
