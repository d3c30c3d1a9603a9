package installer

import (
	"net"
	"net/http"
)

type networkData struct {
	Status
	Endpoints []Endpoint // with the host devices should dial
	CanIssue  bool
}

// networkPage is GET /network: the addresses devices use, the TLS
// certificate's names, the CA to download, "issue again".
func (in *Installer) networkPage(w http.ResponseWriter, r *http.Request) {
	st := in.o.Site.Status(r.Context())
	d := networkData{Status: st, CanIssue: in.o.ReissueTLS != nil && st.TLSCA != ""}
	host := deviceHost(r, st)
	for _, e := range st.Endpoints {
		h, port, _ := net.SplitHostPort(e.Addr)
		if e.Wildcard || h == "" || isLoopbackHost(h) {
			h = host
		}
		d.Endpoints = append(d.Endpoints, Endpoint{Transport: e.Transport, Addr: net.JoinHostPort(h, port)})
	}
	v := view{Title: "Network & TLS", Nav: "network", Scripts: []string{"installer.js"}, Data: d}
	if r.URL.Query().Get("done") == "reissued" {
		v.Notice = "A new certificate was issued by the same CA: devices that pin the CA keep working."
	}
	in.render(w, r, http.StatusOK, "network", v)
}

func (in *Installer) reissueTLS(w http.ResponseWriter, r *http.Request) {
	if in.o.ReissueTLS == nil {
		http.NotFound(w, r)
		return
	}
	if err := in.o.ReissueTLS(); err != nil {
		in.errorPage(w, r, http.StatusConflict, "Not issued", err.Error())
		return
	}
	in.log.Info("TLS certificate issued again from the installer page")
	http.Redirect(w, r, "/network?done=reissued", http.StatusSeeOther)
}
