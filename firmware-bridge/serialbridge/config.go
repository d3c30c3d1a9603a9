package serialbridge

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"outpost/firmware-bridge/bridge"
)

// DefaultBaud is the baud rate used when PortConfig.Baud is 0.
const DefaultBaud = 115200

// PortConfig is one serial port in the gateway or outpost-bridge YAML.
type PortConfig struct {
	// Name labels the bridge in logs and in the installer (default: the
	// path, else the VID:PID).
	Name string `yaml:"name" json:"name"`
	// Path is the device, e.g. /dev/ttyACM0 or /dev/serial/by-id/…. When
	// both Path and VIDPID are set, Path wins.
	Path string `yaml:"path" json:"path,omitempty"`
	// VIDPID selects the first USB serial port with this vendor:product id
	// (hex, e.g. "2341:0043" for an Arduino Uno), looked up on every open so
	// the board may come back under another /dev name after a replug.
	VIDPID string `yaml:"vid_pid" json:"vidPid,omitempty"`
	// Baud is the line speed (default 115200). Use the same value as the
	// sketch's Serial.begin.
	Baud int `yaml:"baud" json:"baud,omitempty"`
}

var vidpidRE = regexp.MustCompile(`^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$`)

// ErrConfig marks an invalid PortConfig.
var ErrConfig = errors.New("serialbridge: invalid port config")

// Normalize validates c and fills the defaults.
func (c PortConfig) Normalize() (PortConfig, error) {
	if c.Path == "" && c.VIDPID == "" {
		return c, fmt.Errorf("%w: path or vid_pid is required", ErrConfig)
	}
	if c.VIDPID != "" {
		if !vidpidRE.MatchString(c.VIDPID) {
			return c, fmt.Errorf("%w: vid_pid %q: want four hex digits, a colon, four hex digits", ErrConfig, c.VIDPID)
		}
		c.VIDPID = strings.ToLower(c.VIDPID)
	}
	if c.Baud == 0 {
		c.Baud = DefaultBaud
	}
	if c.Baud < 0 {
		return c, fmt.Errorf("%w: baud %d", ErrConfig, c.Baud)
	}
	if c.Name == "" {
		c.Name = c.Describe()
	}
	return c, nil
}

// Describe is the port as configured: the path, else "usb:VID:PID".
func (c PortConfig) Describe() string {
	if c.Path != "" {
		return c.Path
	}
	return "usb:" + c.VIDPID
}

// PortInfo is a serial port detected on the machine (for the installer).
type PortInfo struct {
	Path    string `json:"path"`
	VID     string `json:"vid,omitempty"` // lower-case hex, empty for non-USB ports
	PID     string `json:"pid,omitempty"`
	Serial  string `json:"serial,omitempty"`
	Product string `json:"product,omitempty"`
}

// VIDPID is "vid:pid", or "" for a non-USB port.
func (p PortInfo) VIDPID() string {
	if p.VID == "" {
		return ""
	}
	return strings.ToLower(p.VID + ":" + p.PID)
}

// PortBinding is a detected port and the bridge using it, if any.
type PortBinding struct {
	PortInfo
	// Bridge is the status of the bridge that has this port open (or is
	// configured for it); nil when the port is free.
	Bridge *bridge.Status `json:"bridge,omitempty"`
}

// Bindings joins detected ports with the serial bridges' statuses: a port is
// bound to the bridge that has it open, or whose configured VID:PID it
// matches. Statuses of other kinds are ignored.
func Bindings(ports []PortInfo, statuses []bridge.Status) []PortBinding {
	out := make([]PortBinding, 0, len(ports))
	for _, p := range ports {
		b := PortBinding{PortInfo: p}
		for i := range statuses {
			st := &statuses[i]
			if st.Kind != Kind {
				continue
			}
			if st.Port == p.Path || (p.VIDPID() != "" && st.Port == "usb:"+p.VIDPID()) {
				s := *st
				b.Bridge = &s
				break
			}
		}
		out = append(out, b)
	}
	return out
}
