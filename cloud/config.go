package cloud

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"outpost/cloud/internal/clientaddr"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/logconfig"
)

// ConfigVersion is the only config file version this build reads.
const ConfigVersion = 1

// Config is the cloud configuration. Every field is optional; Defaults
// gives the value used when it is absent (configs/cloud.yaml lists them all
// with comments).
type Config struct {
	Version int    `yaml:"version"`
	DataDir string `yaml:"data_dir"` // holds cloud.db and the mailbox unless set elsewhere
	Listen  string `yaml:"listen"`   // Platform API address
	// PublicURL is the base of links in mails, never taken from a request.
	// Required with SMTP; with the mailbox, empty means the cloud's own
	// listen address.
	PublicURL string `yaml:"public_url"`
	// TLSCert and TLSKey (PEM files) make the cloud serve HTTPS itself.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TrustedProxies are the proxies (addresses or CIDR blocks) whose
	// X-Forwarded-For names the client; from any other peer it is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
	Database       string   `yaml:"database"` // SQLite file; empty: data_dir/cloud.db
	// MetricsFrom are the peers (addresses or CIDR blocks) /metrics answers;
	// others get 404. Empty: loopback only.
	MetricsFrom []string       `yaml:"metrics_from"`
	Store       StoreConfig    `yaml:"store"`
	Log         LogConfig      `yaml:"log"`
	Admin       AdminConfig    `yaml:"admin"`
	Auth        AuthConfig     `yaml:"auth"`
	API         APIConfig      `yaml:"api"`
	Tenancy     TenancyConfig  `yaml:"tenancy"`
	Mail        MailConfig     `yaml:"mail"`
	Gateways    GatewaysConfig `yaml:"gateways"`
	Firmware    FirmwareConfig `yaml:"firmware"`
	Webhooks    WebhooksConfig `yaml:"webhooks"`
	Events      EventsConfig   `yaml:"events"`

	// Now is the clock, for tests that need time to pass (invitation
	// expiry, idle users, token lifetimes). Nil means time.Now.
	Now func() time.Time `yaml:"-"`
}

// StoreConfig selects the store: the embedded SQLite file (the default,
// one instance) or PostgreSQL, which any number of instances share.
type StoreConfig struct {
	Driver string `yaml:"driver"` // sqlite or postgres
	// DSN is PostgreSQL's connection string or URL (driver postgres),
	// e.g. "host=/run/postgresql dbname=outpost" or
	// "postgres://outpost:secret@db.example.com/outpost?sslmode=verify-full".
	DSN string `yaml:"dsn"`
	// MaxConns and MinConns size the PostgreSQL connection pool of this
	// instance (max_connections of the server bounds the sum over
	// instances).
	MaxConns int `yaml:"max_conns"`
	MinConns int `yaml:"min_conns"`
	// HistoryRetention drops raw datastream history older than this (0
	// keeps everything): on PostgreSQL a whole month at a time, on SQLite
	// row by row within the hour. An organization may set a shorter
	// bound for its devices and those below it (its historyRetentionDays).
	// Chart rollups stay.
	HistoryRetention time.Duration `yaml:"history_retention"`
}

// LogConfig selects the log level and format (used by the main).
type LogConfig = logconfig.Config

// AdminConfig is the first start: the root organization and its first
// Admin. An empty password is generated and reported once (Bootstrap).
type AdminConfig struct {
	OrgName  string `yaml:"org_name"`
	Email    string `yaml:"email"`
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	// PasswordFile receives a generated password (created 0600) when
	// stdout is not a terminal, so it never lands in a log.
	PasswordFile string `yaml:"password_file"`
	// SpecialOrgs creates the "Clients" and "Partners" group orgs.
	SpecialOrgs bool `yaml:"special_orgs"`
}

// AuthConfig tunes credentials.
type AuthConfig struct {
	BcryptCost      int           `yaml:"bcrypt_cost"` // 4..31
	MinPassword     int           `yaml:"min_password"`
	SessionTTL      time.Duration `yaml:"session_ttl"`
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	ResetTTL        time.Duration `yaml:"reset_ttl"`
	// Failed logins: after LoginAccountFailures failures of one account
	// (LoginAddressFailures from one client address) each further attempt
	// waits LoginDelay, doubling up to LoginMaxDelay (429 with
	// Retry-After); failures are forgotten LoginForgetAfter after the last.
	LoginAccountFailures int           `yaml:"login_account_failures"`
	LoginAddressFailures int           `yaml:"login_address_failures"`
	LoginDelay           time.Duration `yaml:"login_delay"`
	LoginMaxDelay        time.Duration `yaml:"login_max_delay"`
	LoginForgetAfter     time.Duration `yaml:"login_forget_after"`
}

// APIConfig tunes the Platform API.
type APIConfig struct {
	RateLimit    int   `yaml:"rate_limit"`     // requests per minute per organization; -1 disables
	MaxBodyBytes int64 `yaml:"max_body_bytes"` // largest request body
	// AuthCacheTTL is how long a resolved bearer token is remembered; 0
	// disables. Changes made through this API apply at once regardless,
	// and so do revocations on other instances sharing a PostgreSQL store
	// (the cluster empties every instance's cache).
	AuthCacheTTL time.Duration `yaml:"auth_cache_ttl"`
}

// GatewaysConfig tunes the gateway endpoints (/api/v1/gateway/…).
type GatewaysConfig struct {
	// RegisterPerMinute bounds registrations per client address; -1
	// disables: registering needs no credential.
	RegisterPerMinute int `yaml:"register_per_minute"`
	// CommandTimeout is how long a datastream write waits for the gateway
	// to apply it.
	CommandTimeout time.Duration `yaml:"command_timeout"`
	// ClaimCodeTTL is how long a claim code stays valid; an unclaimed
	// gateway then asks for a new one (default 24h).
	ClaimCodeTTL time.Duration `yaml:"claim_code_ttl"`
}

// WebhooksConfig is the outbound side of webhooks.
type WebhooksConfig struct {
	// Allow lists the address prefixes (CIDR) webhooks may call besides
	// public addresses: loopback, link-local and private ranges are
	// refused otherwise.
	Allow []string `yaml:"allow"`
}

// TenancyConfig holds the tenancy limits.
type TenancyConfig struct {
	MaxDepth      int           `yaml:"max_depth"`
	InvitesPerDay int           `yaml:"invites_per_day"`
	InviteTTL     time.Duration `yaml:"invite_ttl"`
	InactiveAfter time.Duration `yaml:"inactive_after"`
}

// MailConfig selects where mail goes: the SMTP server when smtp.addr is
// set, otherwise .eml files in the mailbox directory.
type MailConfig struct {
	From    string     `yaml:"from"`
	Mailbox string     `yaml:"mailbox"` // empty: data_dir/mailbox
	SMTP    SMTPConfig `yaml:"smtp"`
	// NotifyPerHour caps the notifications (automations, events) one
	// person receives per hour (Blynk: 20).
	NotifyPerHour int `yaml:"notify_per_hour"`
}

// SMTPConfig is an SMTP relay (STARTTLS when offered, PLAIN auth when a
// username is set).
type SMTPConfig struct {
	Addr     string `yaml:"addr"` // host:port; empty: use the mailbox
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// FirmwareConfig is where uploaded firmware images are kept (issue 18).
type FirmwareConfig struct {
	Dir           string `yaml:"dir"`             // empty: data_dir/firmware
	MaxImageBytes int64  `yaml:"max_image_bytes"` // largest upload; 413 beyond
}

// Defaults returns the configuration used for absent keys.
func Defaults() Config {
	t := tenancy.DefaultConfig() // the tenancy's own defaults, written once
	return Config{
		Version:        ConfigVersion,
		DataDir:        "outpost-cloud-data",
		Listen:         "127.0.0.1:8000",
		TrustedProxies: []string{},
		MetricsFrom:    []string{},
		Store:          StoreConfig{Driver: "sqlite", MaxConns: 20, MinConns: 2},
		Log:            LogConfig{Level: "info", Format: "text"},
		Admin:          AdminConfig{OrgName: "My Organization", Email: "admin@outpost.local", Name: "Admin"},
		Auth: AuthConfig{BcryptCost: 12, MinPassword: t.MinPassword, SessionTTL: t.SessionTTL, AccessTokenTTL: t.AccessTokenTTL,
			RefreshTokenTTL: t.RefreshTokenTTL, ResetTTL: t.ResetTTL, LoginAccountFailures: 5, LoginAddressFailures: 20,
			LoginDelay: time.Second, LoginMaxDelay: 15 * time.Minute, LoginForgetAfter: time.Hour},
		API:      APIConfig{RateLimit: 10000, MaxBodyBytes: 2 << 20, AuthCacheTTL: time.Second},
		Tenancy:  TenancyConfig{MaxDepth: t.MaxDepth, InvitesPerDay: t.InvitesPerDay, InviteTTL: t.InviteTTL, InactiveAfter: t.InactiveAfter},
		Mail:     MailConfig{From: "Outpost <noreply@outpost.local>", NotifyPerHour: 20},
		Gateways: GatewaysConfig{RegisterPerMinute: 10, CommandTimeout: 5 * time.Second, ClaimCodeTTL: t.ClaimCodeTTL},
		Firmware: FirmwareConfig{MaxImageBytes: 16 << 20},
		Webhooks: WebhooksConfig{Allow: []string{}},
		Events:   EventsConfig{PerDevicePerDay: 100, MinGap: time.Second},
	}
}

// EventsConfig limits the events that notify (Blynk's limits): a device's
// events beyond PerDevicePerDay in a UTC day, and an event less than MinGap
// after the same device's last one of the same code, are not counted and
// notify nobody (they are still stored and shown).
type EventsConfig struct {
	PerDevicePerDay int           `yaml:"per_device_per_day"` // 0: no limit
	MinGap          time.Duration `yaml:"min_gap"`            // 0: none
}

// LoadConfig reads a YAML file over the defaults; an empty path gives the
// defaults.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return ParseConfig(strings.NewReader(""))
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig reads YAML over the defaults; unknown keys are errors.
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

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Version != ConfigVersion {
		bad("version: %d is not supported (want %d)", c.Version, ConfigVersion)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen: %q: %v", c.Listen, err)
	}
	if c.DataDir == "" && (c.Database == "" || (c.Mail.Mailbox == "" && c.Mail.SMTP.Addr == "")) {
		bad("data_dir: required unless database and the mail destination are set")
	}
	if c.DataDir == "" && c.Firmware.Dir == "" {
		bad("firmware.dir: required without data_dir")
	}
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.DSN != "" {
			bad("store.dsn: set for driver sqlite (the SQLite file is database)")
		}
	case "postgres":
		if c.Store.DSN == "" {
			bad("store.dsn: required for driver postgres")
		}
		if c.Database != "" {
			bad("database: a SQLite file, not used with store.driver postgres")
		}
	default:
		bad("store.driver: %q (want sqlite or postgres)", c.Store.Driver)
	}
	if c.Store.HistoryRetention < 0 || (c.Store.HistoryRetention > 0 && c.Store.HistoryRetention < 31*24*time.Hour) {
		bad("store.history_retention: %v (want 0 to keep everything, or at least 744h: history is dropped a month at a time)", c.Store.HistoryRetention)
	}
	if c.Store.MaxConns < 1 || c.Store.MinConns < 0 || c.Store.MinConns > c.Store.MaxConns {
		bad("store.max_conns, store.min_conns: %d, %d (want max at least 1, min 0..max)", c.Store.MaxConns, c.Store.MinConns)
	}
	if c.Firmware.MaxImageBytes <= 0 {
		bad("firmware.max_image_bytes: %d (want a positive size)", c.Firmware.MaxImageBytes)
	}
	for _, err := range c.Log.Validate() {
		bad("%w", err)
	}
	if _, err := mail.ParseAddress(c.Admin.Email); err != nil {
		bad("admin.email: %q: %v", c.Admin.Email, err)
	}
	if n := len(c.Admin.OrgName); n < 3 || n > 100 {
		bad("admin.org_name: must be 3 to 100 characters")
	}
	if c.Auth.BcryptCost < 4 || c.Auth.BcryptCost > 31 {
		bad("auth.bcrypt_cost: %d (want 4..31)", c.Auth.BcryptCost)
	}
	if c.Admin.Password != "" && len(c.Admin.Password) < c.Auth.MinPassword {
		bad("admin.password: shorter than auth.min_password (%d)", c.Auth.MinPassword)
	}
	if c.Auth.MinPassword < 1 {
		bad("auth.min_password: must be at least 1")
	}
	for name, d := range map[string]time.Duration{"auth.session_ttl": c.Auth.SessionTTL,
		"auth.access_token_ttl": c.Auth.AccessTokenTTL, "auth.refresh_token_ttl": c.Auth.RefreshTokenTTL,
		"auth.reset_ttl": c.Auth.ResetTTL, "tenancy.invite_ttl": c.Tenancy.InviteTTL,
		"tenancy.inactive_after": c.Tenancy.InactiveAfter, "auth.login_delay": c.Auth.LoginDelay,
		"auth.login_max_delay": c.Auth.LoginMaxDelay, "auth.login_forget_after": c.Auth.LoginForgetAfter,
		"gateways.claim_code_ttl": c.Gateways.ClaimCodeTTL} {
		if d < time.Second {
			bad("%s: %v (want at least 1s)", name, d)
		}
	}
	if c.Auth.LoginAccountFailures < 0 || c.Auth.LoginAddressFailures < 0 {
		bad("auth.login_account_failures, auth.login_address_failures: must not be negative")
	}
	if c.Auth.LoginMaxDelay < c.Auth.LoginDelay {
		bad("auth.login_max_delay: %v is shorter than auth.login_delay", c.Auth.LoginMaxDelay)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("public_url: %q: want an absolute http(s) URL such as https://cloud.example.com", c.PublicURL)
		}
	}
	if c.Mail.SMTP.Addr != "" && c.PublicURL == "" {
		bad("public_url: required when mail goes out (mail.smtp.addr): links in mail are never built from request headers")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert, tls_key: set both or neither")
	}
	if _, err := clientaddr.New(c.TrustedProxies); err != nil {
		bad("trusted_proxies: %v", err)
	}
	if _, err := clientaddr.New(c.MetricsFrom); err != nil {
		bad("metrics_from: %v", err)
	}
	if c.API.RateLimit == 0 || c.API.RateLimit < -1 {
		bad("api.rate_limit: %d (want a positive quota, or -1 to disable)", c.API.RateLimit)
	}
	if c.API.AuthCacheTTL < 0 || c.API.AuthCacheTTL > time.Minute {
		bad("api.auth_cache_ttl: %v (want 0..1m)", c.API.AuthCacheTTL)
	}
	if c.Gateways.RegisterPerMinute == 0 || c.Gateways.RegisterPerMinute < -1 {
		bad("gateways.register_per_minute: %d (want a positive quota, or -1 to disable)", c.Gateways.RegisterPerMinute)
	}
	// The wait must end before the API's 60 s write timeout cuts the answer.
	if c.Gateways.CommandTimeout <= 0 || c.Gateways.CommandTimeout > 50*time.Second {
		bad("gateways.command_timeout: %v (want more than 0, at most 50s)", c.Gateways.CommandTimeout)
	}
	if c.API.MaxBodyBytes < 1024 {
		bad("api.max_body_bytes: %d (want at least 1024)", c.API.MaxBodyBytes)
	}
	if c.Tenancy.MaxDepth < 1 || c.Tenancy.MaxDepth > 16 {
		bad("tenancy.max_depth: %d (want 1..16)", c.Tenancy.MaxDepth)
	}
	if c.Tenancy.InvitesPerDay < 1 {
		bad("tenancy.invites_per_day: %d (want at least 1)", c.Tenancy.InvitesPerDay)
	}
	for _, p := range c.Webhooks.Allow {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("webhooks.allow: %q: %v", p, err)
		}
	}
	if c.Events.PerDevicePerDay < 0 {
		bad("events.per_device_per_day: %d: want 0 (no limit) or more", c.Events.PerDevicePerDay)
	}
	if c.Events.MinGap < 0 {
		bad("events.min_gap: %v: want 0 or more", c.Events.MinGap)
	}
	if c.Mail.NotifyPerHour < 1 {
		bad("mail.notify_per_hour: %d: want at least 1", c.Mail.NotifyPerHour)
	}
	if _, err := mail.ParseAddress(c.Mail.From); err != nil {
		bad("mail.from: %q: %v", c.Mail.From, err)
	}
	if c.Mail.SMTP.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Mail.SMTP.Addr); err != nil {
			bad("mail.smtp.addr: %q: %v", c.Mail.SMTP.Addr, err)
		}
	}
	return errors.Join(errs...)
}
