package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/serialbridge"
	"outpost/gateway/internal/cloudid"
	"outpost/shared/datastream"
	"outpost/shared/logconfig"
)

// ConfigVersion is the only config file version this build reads.
const ConfigVersion = 1

// Config is the gateway configuration. Every field is optional; Defaults
// documents the value used when it is absent (configs/gateway.yaml lists
// them all with comments).
type Config struct {
	Version   int             `yaml:"version"`
	DataDir   string          `yaml:"data_dir"`
	Log       LogConfig       `yaml:"log"`
	Blynk     BlynkConfig     `yaml:"blynk"`
	MQTT      MQTTConfig      `yaml:"mqtt"`
	HTTP      HTTPConfig      `yaml:"http"`
	Installer InstallerConfig `yaml:"installer"`
	Store     StoreConfig     `yaml:"store"`
	Cloud     CloudConfig     `yaml:"cloud"`
	OTA       OTAConfig       `yaml:"ota"`
	// Templates and Devices seed the gateway while it runs standalone (no
	// cloud). Devices are matched by name: one that already exists is left
	// as it is.
	Templates []datastream.Template `yaml:"templates"`
	Devices   []DeviceConfig        `yaml:"devices"`
	// Serial lists MCUs on serial ports (by path or USB VID:PID) running the
	// Blynk library's stream transport; each logs in with its own token, so
	// declare its device under devices.
	Serial []serialbridge.PortConfig `yaml:"serial"`
	// GPIO maps the box's own pins to virtual pins of a device per group.
	GPIO []gpiobridge.Config `yaml:"gpio"`

	// File is where LoadConfig read this configuration ("" for none).
	File string `yaml:"-"`
}

// LogConfig selects log level and format.
type LogConfig = logconfig.Config

// BlynkConfig configures the Blynk binary protocol listeners.
type BlynkConfig struct {
	Listen              string        `yaml:"listen"`     // plain TCP; "" disables
	TLSListen           string        `yaml:"tls_listen"` // TLS; "" disables
	TLSCert             string        `yaml:"tls_cert"`   // PEM files, only read; empty → a leaf of the local CA in data_dir/tls
	TLSKey              string        `yaml:"tls_key"`
	TLSHosts            []string      `yaml:"tls_hosts"` // extra DNS names/IPs for the generated certificate
	HeartbeatMultiplier float64       `yaml:"heartbeat_multiplier"`
	DefaultHeartbeat    time.Duration `yaml:"default_heartbeat"`
	FloodRate           float64       `yaml:"flood_rate"`
	FloodBurst          int           `yaml:"flood_burst"`
	MaxBody             int           `yaml:"max_body"`
	LoginTimeout        time.Duration `yaml:"login_timeout"`
	ServeHTTP           *bool         `yaml:"serve_http"` // also serve the device HTTP API on Listen by sniffing
}

// MQTTConfig configures the embedded MQTT broker.
type MQTTConfig struct {
	Listen     string `yaml:"listen"`
	TLSListen  string `yaml:"tls_listen"`
	WSListen   string `yaml:"ws_listen"` // websocket, path /mqtt
	MaxMessage int    `yaml:"max_message"`
}

// HTTPConfig configures the device HTTP API listener. The timeouts apply
// to the installer API's server too: a client that trickles a request or
// holds an idle connection open cannot pin a descriptor for ever.
type HTTPConfig struct {
	Listen      string        `yaml:"listen"`
	ReadTimeout time.Duration `yaml:"read_timeout"` // whole request, headers and body
	IdleTimeout time.Duration `yaml:"idle_timeout"` // keep-alive wait for the next request
}

// InstallerConfig configures the installer page and API. Listening beyond
// loopback, the port serves other hosts only once an installer password
// (set from the box, or with the token) or a token exists.
type InstallerConfig struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"` // bearer token for scripts; required by the API when set
}

// StoreConfig tunes the SQLite store.
type StoreConfig struct {
	CommitInterval time.Duration `yaml:"commit_interval"`
	MaxBatch       int           `yaml:"max_batch"`
	Synchronous    string        `yaml:"synchronous"` // normal or full
	// HistoryMaxRecords bounds the raw history kept once the cloud has it
	// (0: keep everything); see sqlite.Options.HistoryMax.
	HistoryMaxRecords int64 `yaml:"history_max_records"`
}

// CloudConfig connects the gateway to an Outpost cloud. With URL empty
// the gateway runs standalone.
type CloudConfig struct {
	URL                string `yaml:"url"`                  // https://… (http:// only to loopback)
	Name               string `yaml:"name"`                 // site name shown in the cloud; "" → host name
	TLSCAFile          string `yaml:"tls_ca_file"`          // PEM CA bundle for the cloud; "" → system roots
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"` // do not verify the cloud's certificate (testing only)
	// OutboxMaxRecords caps the records waiting for the cloud; 0: no cap.
	OutboxMaxRecords int64 `yaml:"outbox_max_records"`
	// IdleTimeout: no frame from the cloud (data or pong; pings go every
	// third of it) for this long means the path is dead and the link
	// reconnects — a NAT or proxy that silently drops traffic is noticed.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// StatusEvery is the period of the site status report (backlog,
	// devices online) shown in the cloud.
	StatusEvery time.Duration `yaml:"status_every"`
}

// DeviceConfig declares a device. Token may be given (a token already
// flashed into firmware); when empty one is generated at first start and
// logged once.
type DeviceConfig struct {
	Name     string `yaml:"name"`
	Template string `yaml:"template"`
	Token    string `yaml:"token"`
}

// Defaults returns the configuration used for every absent key.
func Defaults() Config {
	yes := true
	return Config{
		Version: ConfigVersion,
		DataDir: "outpost-data",
		Log:     LogConfig{Level: "info", Format: "text"},
		Blynk: BlynkConfig{
			Listen:              ":8080",
			TLSListen:           ":9443",
			HeartbeatMultiplier: 1.5,
			DefaultHeartbeat:    45 * time.Second,
			FloodRate:           100,
			FloodBurst:          200,
			MaxBody:             4096,
			LoginTimeout:        10 * time.Second,
			ServeHTTP:           &yes,
		},
		MQTT:      MQTTConfig{Listen: ":1883", TLSListen: ":8883", WSListen: ":8083", MaxMessage: 1024},
		HTTP:      HTTPConfig{Listen: ":8081", ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute},
		Installer: InstallerConfig{Listen: "127.0.0.1:8090"},
		Store:     StoreConfig{CommitInterval: 10 * time.Millisecond, MaxBatch: 4096, Synchronous: "normal", HistoryMaxRecords: 5_000_000},
		Cloud:     CloudConfig{OutboxMaxRecords: 5_000_000, IdleTimeout: 60 * time.Second, StatusEvery: 30 * time.Second},
		OTA:       OTAConfig{CacheBytes: 64 << 20},
	}
}

// LoadConfig reads a YAML file strictly (unknown keys are errors) over the
// defaults and validates it.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	cfg.File = path
	return cfg, nil
}

// ParseConfig reads YAML from r over the defaults and validates it.
func ParseConfig(r io.Reader) (Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, err
	}
	cfg := Defaults()
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks the configuration and reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.OTA.CacheBytes < 0 {
		bad("ota.cache_bytes: %d (want 0 or more)", c.OTA.CacheBytes)
	}
	if c.Version != ConfigVersion {
		bad("version: %d is not supported (want %d)", c.Version, ConfigVersion)
	}
	if c.DataDir == "" {
		bad("data_dir: must not be empty")
	}
	for _, err := range c.Log.Validate() {
		bad("%w", err)
	}
	if c.HTTP.ReadTimeout < time.Millisecond || c.HTTP.IdleTimeout < time.Millisecond {
		bad("http.read_timeout and http.idle_timeout must be > 0")
	}
	if (c.Blynk.TLSCert == "") != (c.Blynk.TLSKey == "") {
		bad("blynk.tls_cert and blynk.tls_key must be given together")
	}
	if c.Blynk.TLSCert != "" && len(c.Blynk.TLSHosts) > 0 {
		bad("blynk.tls_hosts names the generated certificate; with blynk.tls_cert the configured certificate's names apply")
	}
	for i, h := range c.Blynk.TLSHosts {
		if net.ParseIP(h) == nil && !dnsName(h) {
			bad("blynk.tls_hosts[%d]: %q is neither an IP address nor a DNS name", i, h)
		}
	}
	if c.Blynk.HeartbeatMultiplier < 1 {
		bad("blynk.heartbeat_multiplier: %v must be ≥ 1", c.Blynk.HeartbeatMultiplier)
	}
	if c.Blynk.DefaultHeartbeat < time.Second {
		bad("blynk.default_heartbeat: %v must be ≥ 1s", c.Blynk.DefaultHeartbeat)
	}
	if c.Blynk.FloodRate <= 0 || c.Blynk.FloodBurst <= 0 {
		bad("blynk.flood_rate and blynk.flood_burst must be > 0")
	}
	if c.Blynk.MaxBody < 64 || c.Blynk.MaxBody > 65535 {
		bad("blynk.max_body: %d must be in 64..65535", c.Blynk.MaxBody)
	}
	if c.Blynk.LoginTimeout <= 0 {
		bad("blynk.login_timeout must be > 0")
	}
	if c.MQTT.MaxMessage < 128 {
		bad("mqtt.max_message: %d must be ≥ 128", c.MQTT.MaxMessage)
	}
	if c.Store.CommitInterval <= 0 || c.Store.CommitInterval > time.Second {
		bad("store.commit_interval: %v must be in (0, 1s]", c.Store.CommitInterval)
	}
	if c.Store.HistoryMaxRecords < 0 {
		bad("store.history_max_records: %d must be 0 (keep everything) or more", c.Store.HistoryMaxRecords)
	}
	if c.Store.MaxBatch < 1 {
		bad("store.max_batch must be ≥ 1")
	}
	switch c.Store.Synchronous {
	case "normal", "full":
	default:
		bad("store.synchronous: %q is not one of normal, full", c.Store.Synchronous)
	}
	if c.Cloud.URL != "" {
		if err := cloudid.CheckURL(c.Cloud.URL); err != nil {
			bad("cloud.url: %w", err)
		}
	}
	if c.Cloud.OutboxMaxRecords < 0 || (c.Cloud.OutboxMaxRecords > 0 && c.Cloud.OutboxMaxRecords < 1000) {
		bad("cloud.outbox_max_records: %d must be 0 (no cap) or ≥ 1000", c.Cloud.OutboxMaxRecords)
	}
	if c.Cloud.IdleTimeout < 3*time.Second {
		bad("cloud.idle_timeout: %v must be ≥ 3s", c.Cloud.IdleTimeout)
	}
	if c.Cloud.StatusEvery < time.Second {
		bad("cloud.status_every: %v must be ≥ 1s", c.Cloud.StatusEvery)
	}
	tmpl := map[string]bool{}
	for i := range c.Templates {
		t := &c.Templates[i]
		if err := t.Check(); err != nil {
			bad("templates[%d] (%s): %w", i, t.ID, err)
		}
		if tmpl[t.ID] {
			bad("templates[%d]: duplicate id %q", i, t.ID)
		}
		tmpl[t.ID] = true
	}
	names := map[string]bool{}
	for i, d := range c.Devices {
		if strings.TrimSpace(d.Name) == "" {
			bad("devices[%d]: name is required", i)
		}
		if names[d.Name] {
			bad("devices[%d]: duplicate name %q", i, d.Name)
		}
		names[d.Name] = true
		if d.Template == "" {
			bad("devices[%d] (%s): template is required", i, d.Name)
		}
		if d.Token != "" && len(d.Token) != 32 {
			bad("devices[%d] (%s): token must be 32 characters (Blynk tokens are), got %d", i, d.Name, len(d.Token))
		}
	}
	for i := range c.Serial {
		n, err := c.Serial[i].Normalize()
		if err != nil {
			bad("serial[%d]: %w", i, err)
		}
		c.Serial[i] = n
	}
	for i := range c.GPIO {
		n, err := c.GPIO[i].Normalize()
		if err != nil {
			bad("gpio[%d]: %w", i, err)
		}
		c.GPIO[i] = n
	}
	return errors.Join(errs...)
}

// dnsName reports whether s is a host name a certificate can hold: dot-
// separated labels of letters, digits and inner hyphens, at most 253
// characters, the first label possibly "*".
func dnsName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i, label := range strings.Split(s, ".") {
		if i == 0 && label == "*" && strings.Contains(s, ".") {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// isLoopback reports whether addr (host:port) listens on loopback only; an
// empty host or a name other than localhost may be reachable from outside.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
