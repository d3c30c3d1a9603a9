package serialbridge

import (
	"testing"

	"outpost/firmware-bridge/bridge"
)

func TestBindings(t *testing.T) {
	ports := []PortInfo{
		{Path: "/dev/ttyACM0", VID: "2341", PID: "0043"},
		{Path: "/dev/ttyUSB0", VID: "1a86", PID: "7523"},
		{Path: "/dev/ttyS0"},
	}
	sts := []bridge.Status{
		{Kind: Kind, Name: "open by path", Port: "/dev/ttyACM0", State: bridge.StateConnected},
		{Kind: Kind, Name: "waiting for usb", Port: "usb:1a86:7523", State: bridge.StateRetrying},
		{Kind: "gpio", Name: "pins", Port: "/dev/ttyS0"},
	}
	got := Bindings(ports, sts)
	want := []string{"open by path", "waiting for usb", ""}
	for i, b := range got {
		name := ""
		if b.Bridge != nil {
			name = b.Bridge.Name
		}
		if name != want[i] {
			t.Errorf("%s bound to %q, want %q", b.Path, name, want[i])
		}
	}
}
