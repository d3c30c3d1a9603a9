package remotebridge

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/serialbridge"
	"outpost/shared/capool"
	"outpost/shared/logconfig"
)

// configVersion is the only config file version this build reads.
const configVersion = 1

// config is outpost-bridge's YAML file (cmd/outpost-bridge/bridge.example.yaml documents every
// key and its default).
type config struct {
	Version int                       `yaml:"version"`
	Gateway gatewayConfig             `yaml:"gateway"`
	Log     logconfig.Config          `yaml:"log"`
	Serial  []serialbridge.PortConfig `yaml:"serial"`
	GPIO    []gpiobridge.Config       `yaml:"gpio"`
}

type gatewayConfig struct {
	Addr               string `yaml:"addr"`                 // default 127.0.0.1:8080 (9443 is the gateway's TLS default)
	TLS                bool   `yaml:"tls"`                  // default false
	CAFile             string `yaml:"ca_file"`              // PEM; default: the system roots
	ServerName         string `yaml:"server_name"`          // default: the host part of addr
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"` // default false
}

// loadConfig reads and validates a config file strictly: unknown keys are
// errors. Defaults are filled in.
func loadConfig(r io.Reader) (config, error) {
	c := config{Version: configVersion, Gateway: gatewayConfig{Addr: "127.0.0.1:8080"}, Log: logconfig.Config{Level: "info", Format: "text"}}
	data, err := io.ReadAll(r)
	if err != nil {
		return c, err
	}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
	}
	var errs []error
	if c.Version != configVersion {
		errs = append(errs, fmt.Errorf("version: %d is not supported (want %d)", c.Version, configVersion))
	}
	if c.Gateway.Addr == "" {
		errs = append(errs, errors.New("gateway.addr must not be empty"))
	}
	errs = append(errs, c.Log.Validate()...)
	names := map[string]bool{}
	for i := range c.Serial {
		p, err := c.Serial[i].Normalize()
		if err != nil {
			errs = append(errs, fmt.Errorf("serial[%d]: %w", i, err))
			continue
		}
		c.Serial[i] = p
		if names[p.Name] {
			errs = append(errs, fmt.Errorf("serial[%d]: name %q used twice", i, p.Name))
		}
		names[p.Name] = true
	}
	for i := range c.GPIO {
		g, err := c.GPIO[i].Normalize()
		if err != nil {
			errs = append(errs, fmt.Errorf("gpio[%d]: %w", i, err))
			continue
		}
		c.GPIO[i] = g
	}
	if len(c.Serial) == 0 && len(c.GPIO) == 0 {
		errs = append(errs, errors.New("nothing to bridge: add serial ports or gpio devices"))
	}
	return c, errors.Join(errs...)
}

// tlsConfig builds the client TLS config, or nil for plain TCP.
func (g gatewayConfig) tlsConfig() (*tls.Config, error) {
	if !g.TLS {
		return nil, nil
	}
	tc := &tls.Config{ServerName: g.ServerName, InsecureSkipVerify: g.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if g.CAFile != "" {
		pool, err := capool.Load(g.CAFile)
		if err != nil {
			return nil, fmt.Errorf("gateway.ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
