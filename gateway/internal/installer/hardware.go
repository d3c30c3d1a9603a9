package installer

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Hardware is the box's serial ports and pins and the bridges bound to
// them (the gateway's wiring).
type Hardware interface {
	Hardware() HardwareInfo
	// BindSerial starts a bridge on the port now and keeps it across
	// restarts; the MCU on it logs in with its own token.
	BindSerial(ctx context.Context, path string, baud int) error
	// UnbindSerial stops a bridge bound from this page and forgets it.
	UnbindSerial(ctx context.Context, path string) error
}

// HardwareInfo is what the hardware page lists.
type HardwareInfo struct {
	Serial    []SerialPort
	SerialErr string // listing the ports failed
	GPIO      []GPIOPin
	CanBind   bool // the gateway can open serial ports
}

// SerialPort is a detected (or bound) serial port.
type SerialPort struct {
	Path        string
	USB         string // VID:PID, "" for a non-USB port
	Description string
	Bound       bool
	FromPage    bool   // bound from this page: may be unbound here
	State       string // the bridge's state
	Error       string // the bridge's last error, as the system said it
	DeviceID    int64
	DeviceName  string
	Baud        int
}

// GPIOPin is a host pin and the GPIO bridge (a device) that drives it.
type GPIOPin struct {
	Name       string
	Number     int
	Function   string
	Bridge     string
	State      string
	DeviceID   int64
	DeviceName string
}

// Plain turns a port's error into what an installer can act on.
func (p SerialPort) Plain() string { return plainSerial(p.Error) }

func plainSerial(msg string) string {
	l := strings.ToLower(msg)
	switch {
	case msg == "":
		return ""
	case strings.Contains(l, "permission denied"):
		return "Permission denied: the gateway's user must be in the dialout group (sudo usermod -aG dialout <user>, then restart the gateway)."
	case strings.Contains(l, "busy"):
		return "The port is busy: another program has it open."
	case strings.Contains(l, "no such file") || strings.Contains(l, "not present") || strings.Contains(l, "no such device"):
		return "The port is not there (unplugged?); the gateway retries."
	}
	return msg
}

func (in *Installer) hardwarePage(w http.ResponseWriter, r *http.Request) {
	if in.o.Hardware == nil {
		in.errorPage(w, r, http.StatusNotFound, "No hardware", "This gateway runs without serial ports or pins.")
		return
	}
	v := view{Title: "Hardware", Nav: "hardware", Scripts: []string{"installer.js"}, Data: in.o.Hardware.Hardware()}
	switch r.URL.Query().Get("done") {
	case "bound":
		v.Notice = "The port is bound: the MCU on it comes online when it logs in with its token."
	case "unbound":
		v.Notice = "The port is free again."
	}
	in.render(w, r, http.StatusOK, "hardware", v)
}

func (in *Installer) bindSerial(w http.ResponseWriter, r *http.Request) {
	if in.o.Hardware == nil {
		http.NotFound(w, r)
		return
	}
	path := strings.TrimSpace(r.PostFormValue("path"))
	baud, err := strconv.Atoi(r.PostFormValue("baud"))
	var msg string
	switch {
	case path == "" || !strings.HasPrefix(path, "/dev/"):
		msg = "Choose a port (a path under /dev/)."
	case err != nil || baud < 300 || baud > 4_000_000:
		msg = "The baud rate must be a number between 300 and 4000000 (the sketch's Serial.begin)."
	default:
		if err := in.o.Hardware.BindSerial(r.Context(), path, baud); err != nil {
			msg = "Not bound: " + plainSerial(plain(err))
		}
	}
	if msg != "" {
		in.render(w, r, http.StatusBadRequest, "hardware", view{Title: "Hardware", Nav: "hardware", Scripts: []string{"installer.js"},
			Error: msg, Data: in.o.Hardware.Hardware()})
		return
	}
	in.log.Info("serial port bound from the installer page", "port", path, "baud", baud)
	http.Redirect(w, r, "/hardware?done=bound", http.StatusSeeOther)
}

func (in *Installer) unbindSerial(w http.ResponseWriter, r *http.Request) {
	if in.o.Hardware == nil {
		http.NotFound(w, r)
		return
	}
	path := r.PostFormValue("path")
	if err := in.o.Hardware.UnbindSerial(r.Context(), path); err != nil {
		in.render(w, r, http.StatusBadRequest, "hardware", view{Title: "Hardware", Nav: "hardware", Scripts: []string{"installer.js"},
			Error: "Not unbound: " + plain(err), Data: in.o.Hardware.Hardware()})
		return
	}
	in.log.Info("serial port unbound from the installer page", "port", path)
	http.Redirect(w, r, "/hardware?done=unbound", http.StatusSeeOther)
}

// hardwareLive is GET /hardware/live: the bridges' states, sent when they
// change (read every two seconds while the page is open).
func (in *Installer) hardwareLive(w http.ResponseWriter, r *http.Request) {
	if in.o.Hardware == nil {
		http.NotFound(w, r)
		return
	}
	in.stream(w, r, 2*time.Second, func() (string, any) {
		type row struct {
			Key    string `json:"key"`
			State  string `json:"state"`
			Device string `json:"device"`
			Error  string `json:"error"`
		}
		h := in.o.Hardware.Hardware()
		var out []row
		for _, p := range h.Serial {
			out = append(out, row{"serial:" + p.Path, p.State, p.DeviceName, p.Plain()})
		}
		for _, p := range h.GPIO {
			out = append(out, row{"gpio:" + p.Name, p.State, p.DeviceName, ""})
		}
		return "hardware", out
	})
}
