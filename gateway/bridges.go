package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"outpost/firmware-bridge/bridge"
	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/hardware"
	"outpost/firmware-bridge/serialbridge"
)

// Hardware is what the main opened for the bridges (docs/architecture.md rule 5:
// hardware is opened in mains only). Any field may be nil.
type Hardware = hardware.Host

// Option adjusts New.
type Option func(*Gateway)

// WithHardware gives the gateway the serial ports and pins its bridges use.
func WithHardware(hw Hardware) Option { return func(g *Gateway) { g.hw = hw } }

// gpioTemplateID names the template made for a GPIO device.
func gpioTemplateID(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return "TMPLGPIO" + b.String()
}

// setupBridges registers GPIO devices and builds the bridge manager. Serial
// MCUs log in with their own token, so their devices are declared like any
// other (devices:).
func (g *Gateway) setupBridges(ctx context.Context) error {
	g.bridges = bridge.NewManager(bridge.ManagerOptions{
		Logger: g.log,
		Device: func(h [32]byte) (int64, string, bool) {
			for _, d := range g.hub.Devices() {
				if d.TokenHash == h {
					return d.ID, d.Name, true
				}
			}
			return 0, "", false
		},
	})
	if len(g.cfg.Serial) > 0 && g.hw.OpenSerial == nil {
		return fmt.Errorf("gateway: serial ports are configured but no serial opener was given")
	}
	for _, pc := range g.cfg.Serial {
		g.bridges.Add(serialbridge.New(serialbridge.Options{
			Name:      pc.Name,
			Port:      pc.Describe(),
			Open:      g.hw.OpenSerial(pc),
			Connector: bridge.InProcess(g.blynk, serialbridge.Kind),
			Logger:    g.log, // the bridge adds component, bridge and port itself
			MaxBody:   g.cfg.Blynk.MaxBody,
		}))
	}
	if err := g.restoreSerialBindings(); err != nil {
		return err
	}
	if len(g.cfg.GPIO) == 0 {
		return nil
	}
	if g.hw.NoGPIO != nil {
		return fmt.Errorf("gateway: gpio is configured but the host's pins cannot be opened: %w", g.hw.NoGPIO)
	}
	if g.hw.OpenGPIO == nil {
		return fmt.Errorf("gateway: gpio is configured but no pin opener was given")
	}
	pins, err := g.hw.OpenGPIO(g.cfg.GPIO...)
	if err != nil {
		return fmt.Errorf("gateway: open pins: %w", err)
	}
	for _, c := range g.cfg.GPIO {
		id := gpioTemplateID(c.Name)
		if err := g.hub.SaveTemplate(ctx, c.Template(id, c.Name)); err != nil {
			return fmt.Errorf("gateway: gpio %q template: %w", c.Name, err)
		}
		if _, err := g.hub.AddDeviceWithToken(ctx, id, c.Name, c.Token); err != nil {
			return fmt.Errorf("gateway: gpio %q device: %w", c.Name, err)
		}
		b, err := gpiobridge.New(gpiobridge.Options{
			Config:    c,
			Pins:      pins,
			Connector: bridge.InProcess(g.blynk, gpiobridge.Kind),
			Logger:    g.log, // the bridge adds component and bridge itself
		})
		if err != nil {
			return fmt.Errorf("gateway: gpio %q: %w", c.Name, err)
		}
		g.bridges.Add(b)
	}
	return nil
}

// hardwareHandler serves GET /installer/api/hardware: detected serial ports
// and pins, and the bridge (and so the device) each is bound to. It is
// mounted behind the installer token check (deviceapi.InstallerOptions.Routes).
func (g *Gateway) hardwareHandler(w http.ResponseWriter, r *http.Request) {
	statuses := g.bridges.Status()
	out := struct {
		Serial    []serialbridge.PortBinding `json:"serial"`
		SerialErr string                     `json:"serialError,omitempty"`
		GPIO      []gpiobridge.PinBinding    `json:"gpio"`
		Bridges   []bridge.Status            `json:"bridges"`
	}{Serial: []serialbridge.PortBinding{}, GPIO: []gpiobridge.PinBinding{}, Bridges: statuses}
	if g.hw.ListSerial != nil {
		ports, err := g.hw.ListSerial()
		if err != nil {
			out.SerialErr = err.Error()
		}
		out.Serial = serialbridge.Bindings(ports, statuses)
	}
	if g.hw.ListGPIO != nil {
		out.GPIO = gpiobridge.Bindings(g.hw.ListGPIO(), statuses)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
