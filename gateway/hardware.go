package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"outpost/firmware-bridge/bridge"
	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/serialbridge"
	"outpost/gateway/internal/installer"
	"outpost/shared/secret"
)

// SerialBindingsFile keeps the serial ports bound from the installer page
// (data_dir), so they survive a restart; the config's serial: list is
// separate and read-only.
const SerialBindingsFile = "serial-bindings.json"

// pageSerial are the serial bridges bound from the installer page.
type pageSerial struct {
	mu      sync.Mutex
	bridges map[string]*serialbridge.Bridge // by path
	configs []serialbridge.PortConfig       // as saved
}

// restoreSerialBindings starts the bridges bound from the page before.
func (g *Gateway) restoreSerialBindings() error {
	b, err := os.ReadFile(filepath.Join(g.cfg.DataDir, SerialBindingsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	var cfgs []serialbridge.PortConfig
	if err := json.Unmarshal(b, &cfgs); err != nil {
		return fmt.Errorf("gateway: %s: %w", SerialBindingsFile, err)
	}
	if g.hw.OpenSerial == nil {
		g.log.Warn("serial ports bound from the installer page are not served: this gateway was started without serial access",
			"component", "installer", "ports", len(cfgs))
		return nil
	}
	for _, pc := range cfgs {
		if err := g.bindSerial(pc, false); err != nil {
			return err
		}
	}
	return nil
}

// bindSerial starts a serial bridge on pc (and saves the list when save).
func (g *Gateway) bindSerial(pc serialbridge.PortConfig, save bool) error {
	if g.hw.OpenSerial == nil {
		return errors.New("this gateway cannot open serial ports")
	}
	pc, err := pc.Normalize()
	if err != nil {
		return err
	}
	if pc.Name == "" {
		pc.Name = pc.Path
	}
	ps := &g.pageSerial
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.bridges == nil {
		ps.bridges = map[string]*serialbridge.Bridge{}
	}
	if _, dup := ps.bridges[pc.Path]; dup || slices.ContainsFunc(g.cfg.Serial, func(c serialbridge.PortConfig) bool { return c.Path == pc.Path }) {
		return fmt.Errorf("%s is already bound", pc.Path)
	}
	next := append(slices.Clone(ps.configs), pc)
	if save {
		if err := g.saveSerialBindings(next); err != nil {
			return err
		}
	}
	b := serialbridge.New(serialbridge.Options{
		Name: pc.Name, Port: pc.Describe(), Open: g.hw.OpenSerial(pc),
		Connector: bridge.InProcess(g.blynk, serialbridge.Kind), Logger: g.log, MaxBody: g.cfg.Blynk.MaxBody,
	})
	ps.bridges[pc.Path], ps.configs = b, next
	g.bridges.Add(b)
	return nil
}

func (g *Gateway) saveSerialBindings(cfgs []serialbridge.PortConfig) error {
	b, err := json.MarshalIndent(cfgs, "", "  ")
	if err != nil {
		return err
	}
	if err := secret.WriteFile(filepath.Join(g.cfg.DataDir, SerialBindingsFile), append(b, '\n')); err != nil {
		return fmt.Errorf("save the serial bindings: %w", err)
	}
	return nil
}

// installerHardware is the hardware page's view of the gateway.
type installerHardware struct{ g *Gateway }

func (h installerHardware) BindSerial(_ context.Context, path string, baud int) error {
	return h.g.bindSerial(serialbridge.PortConfig{Path: path, Baud: baud}, true)
}

func (h installerHardware) UnbindSerial(_ context.Context, path string) error {
	g := h.g
	ps := &g.pageSerial
	ps.mu.Lock()
	b, ok := ps.bridges[path]
	if !ok {
		ps.mu.Unlock()
		return fmt.Errorf("%s was not bound from this page", path)
	}
	next := slices.DeleteFunc(slices.Clone(ps.configs), func(c serialbridge.PortConfig) bool { return c.Path == path })
	if err := g.saveSerialBindings(next); err != nil {
		ps.mu.Unlock()
		return err
	}
	delete(ps.bridges, path)
	ps.configs = next
	ps.mu.Unlock()
	g.bridges.Remove(b) // returns once the port is closed
	return nil
}

func (h installerHardware) Hardware() installer.HardwareInfo {
	g := h.g
	statuses := g.bridges.Status()
	out := installer.HardwareInfo{CanBind: g.hw.OpenSerial != nil}
	var ports []serialbridge.PortInfo
	if g.hw.ListSerial != nil {
		var err error
		if ports, err = g.hw.ListSerial(); err != nil {
			out.SerialErr = err.Error()
		}
	}
	g.pageSerial.mu.Lock()
	fromPage := map[string]int{}
	for _, c := range g.pageSerial.configs {
		fromPage[c.Path] = c.Baud
	}
	g.pageSerial.mu.Unlock()
	// Bound ports that the listing lacks (a pty, a port gone) still show.
	for _, st := range statuses {
		if st.Kind == serialbridge.Kind && !slices.ContainsFunc(ports, func(p serialbridge.PortInfo) bool { return p.Path == st.Port }) &&
			len(st.Port) > 0 && st.Port[0] == '/' {
			ports = append(ports, serialbridge.PortInfo{Path: st.Port})
		}
	}
	for _, b := range serialbridge.Bindings(ports, statuses) {
		p := installer.SerialPort{Path: b.Path, USB: b.VIDPID(), Description: b.Product}
		if baud, ok := fromPage[b.Path]; ok {
			p.FromPage, p.Baud = true, baud
		}
		if b.Bridge != nil {
			p.Bound, p.State, p.Error = true, string(b.Bridge.State), b.Bridge.LastError
			p.DeviceID, p.DeviceName = b.Bridge.DeviceID, b.Bridge.DeviceName
		}
		out.Serial = append(out.Serial, p)
	}
	if g.hw.ListGPIO != nil {
		for _, b := range gpiobridge.Bindings(g.hw.ListGPIO(), statuses) {
			p := installer.GPIOPin{Name: b.Name, Number: b.Number, Function: b.Function}
			if b.Bridge != nil {
				p.Bridge, p.State = b.Bridge.Name, string(b.Bridge.State)
				p.DeviceID, p.DeviceName = b.Bridge.DeviceID, b.Bridge.DeviceName
			}
			out.GPIO = append(out.GPIO, p)
		}
	}
	return out
}
