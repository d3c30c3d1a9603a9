// Package serialport adapts go.bug.st/serial to the serial bridge: it opens
// ports by path or by USB VID:PID and lists the ports the machine has. It
// is the only package that imports go.bug.st/serial; mains use it (docs/architecture.md
// rule 5: hardware is opened by mains, through the Opener they pass on).
package serialport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"

	"outpost/firmware-bridge/serialbridge"
)

// ErrNotFound: no port matches the configured VID:PID (the board is
// unplugged).
var ErrNotFound = errors.New("serialport: no port with that VID:PID")

// List returns the serial ports present, USB ones with their VID:PID,
// sorted by path.
func List() ([]serialbridge.PortInfo, error) {
	ds, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("serialport: list: %w", err)
	}
	out := make([]serialbridge.PortInfo, 0, len(ds))
	for _, d := range ds {
		p := serialbridge.PortInfo{Path: d.Name, Serial: d.SerialNumber, Product: d.Product}
		if d.IsUSB {
			p.VID, p.PID = strings.ToLower(d.VID), strings.ToLower(d.PID)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b serialbridge.PortInfo) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Opener returns the serialbridge.Opener for a normalized PortConfig: 8N1
// raw at cfg.Baud, the path if set, else the first port whose VID:PID
// matches, looked up again on every open.
func Opener(cfg serialbridge.PortConfig) serialbridge.Opener {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		path := cfg.Path
		if path == "" {
			ports, err := List()
			if err != nil {
				return nil, err
			}
			for _, p := range ports {
				if p.VIDPID() == cfg.VIDPID {
					path = p.Path
					break
				}
			}
			if path == "" {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, cfg.VIDPID)
			}
		}
		port, err := serial.Open(path, &serial.Mode{BaudRate: cfg.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		if err != nil {
			return nil, fmt.Errorf("serialport: open %s: %w", path, err)
		}
		return &named{Port: port, name: path}, nil
	}
}

// named reports the path it was opened with (serialbridge shows it).
type named struct {
	serial.Port
	name string
}

func (n *named) Name() string { return n.name }
