package cloud

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The documented file must state exactly the defaults, so the comments in
// configs/cloud.yaml never drift from the code.
func TestDocumentedConfigIsTheDefaults(t *testing.T) {
	cfg, err := LoadConfig("../configs/cloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Defaults(), cfg); diff != "" {
		t.Errorf("configs/cloud.yaml differs from Defaults() (-defaults +file):\n%s", diff)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string
		check      func(Config) bool
	}{
		{name: "empty is defaults", yaml: "", check: func(c Config) bool { return c.Listen == "127.0.0.1:8000" }},
		{name: "override", yaml: "version: 1\nlisten: 127.0.0.1:0\nauth:\n  session_ttl: 2h\n",
			check: func(c Config) bool { return c.Listen == "127.0.0.1:0" && c.Auth.SessionTTL == 2*time.Hour }},
		{name: "unknown key", yaml: "version: 1\nlisten_addr: x\n", wantErr: "listen_addr"},
		{name: "nested unknown key", yaml: "api:\n  ratelimit: 5\n", wantErr: "ratelimit"},
		{name: "version", yaml: "version: 2\n", wantErr: "version"},
		{name: "bad listen", yaml: "listen: nowhere\n", wantErr: "listen"},
		{name: "bad duration", yaml: "auth:\n  session_ttl: soon\n", wantErr: "soon"},
		{name: "short duration", yaml: "tenancy:\n  invite_ttl: 1ms\n", wantErr: "invite_ttl"},
		{name: "bcrypt cost", yaml: "auth:\n  bcrypt_cost: 3\n", wantErr: "bcrypt_cost"},
		{name: "rate limit zero", yaml: "api:\n  rate_limit: 0\n", wantErr: "rate_limit"},
		{name: "rate limit disabled", yaml: "api:\n  rate_limit: -1\n", check: func(c Config) bool { return c.API.RateLimit == -1 }},
		{name: "auth cache off", yaml: "api:\n  auth_cache_ttl: 0s\n", check: func(c Config) bool { return c.API.AuthCacheTTL == 0 }},
		{name: "auth cache negative", yaml: "api:\n  auth_cache_ttl: -1s\n", wantErr: "auth_cache_ttl"},
		{name: "auth cache too long", yaml: "api:\n  auth_cache_ttl: 2m\n", wantErr: "auth_cache_ttl"},
		{name: "register quota zero", yaml: "gateways:\n  register_per_minute: 0\n", wantErr: "register_per_minute"},
		{name: "register quota below -1", yaml: "gateways:\n  register_per_minute: -2\n", wantErr: "register_per_minute"},
		{name: "register quota off", yaml: "gateways:\n  register_per_minute: -1\n", check: func(c Config) bool { return c.Gateways.RegisterPerMinute == -1 }},
		{name: "command timeout zero", yaml: "gateways:\n  command_timeout: 0s\n", wantErr: "command_timeout"},
		{name: "command timeout negative", yaml: "gateways:\n  command_timeout: -1s\n", wantErr: "command_timeout"},
		{name: "command timeout past the write timeout", yaml: "gateways:\n  command_timeout: 1m\n", wantErr: "command_timeout"},
		{name: "command timeout short", yaml: "gateways:\n  command_timeout: 1ms\n", check: func(c Config) bool { return c.Gateways.CommandTimeout == time.Millisecond }},
		{name: "admin email", yaml: "admin:\n  email: nobody\n", wantErr: "admin.email"},
		{name: "short admin password", yaml: "admin:\n  password: abc\n", wantErr: "admin.password"},
		{name: "log level", yaml: "log:\n  level: loud\n", wantErr: "log.level"},
		{name: "store driver", yaml: "store:\n  driver: mysql\n", wantErr: "store.driver"},
		{name: "postgres without dsn", yaml: "store:\n  driver: postgres\n", wantErr: "store.dsn: required"},
		{name: "postgres", yaml: "store:\n  driver: postgres\n  dsn: host=/run/postgresql dbname=outpost\n  max_conns: 50\n",
			check: func(c Config) bool {
				return c.Store.Driver == "postgres" && c.Store.MaxConns == 50 && c.Store.MinConns == 2
			}},
		{name: "postgres with a sqlite file", yaml: "database: x.db\nstore:\n  driver: postgres\n  dsn: dbname=x\n", wantErr: "database"},
		{name: "sqlite with a dsn", yaml: "store:\n  dsn: dbname=x\n", wantErr: "store.dsn"},
		{name: "retention shorter than a month", yaml: "store:\n  history_retention: 24h\n", wantErr: "history_retention"},
		{name: "retention", yaml: "store:\n  history_retention: 8760h\n", check: func(c Config) bool { return c.Store.HistoryRetention == 8760*time.Hour }},
		{name: "pool sizes", yaml: "store:\n  max_conns: 2\n  min_conns: 3\n", wantErr: "store.max_conns"},
		{name: "smtp addr", yaml: "mail:\n  smtp:\n    addr: mailhost\n", wantErr: "smtp.addr"},
		{name: "not yaml", yaml: "listen: [\n", wantErr: "yaml"},
		{name: "smtp without public_url", yaml: "mail:\n  smtp:\n    addr: smtp.example.com:587\n", wantErr: "public_url: required"},
		{name: "smtp with public_url", yaml: "public_url: https://cloud.example.com\nmail:\n  smtp:\n    addr: smtp.example.com:587\n",
			check: func(c Config) bool { return c.PublicURL == "https://cloud.example.com" }},
		{name: "relative public_url", yaml: "public_url: cloud.example.com\n", wantErr: "public_url"},
		{name: "tls_cert without tls_key", yaml: "tls_cert: a.pem\n", wantErr: "tls_key"},
		{name: "bad trusted proxy", yaml: "trusted_proxies: [10.0.0.0/33]\n", wantErr: "trusted_proxies"},
		{name: "trusted proxies", yaml: "trusted_proxies: [127.0.0.1, 10.0.0.0/8, \"::1\"]\n",
			check: func(c Config) bool { return len(c.TrustedProxies) == 3 }},
		{name: "login delays", yaml: "auth:\n  login_delay: 1m\n  login_max_delay: 1s\n", wantErr: "login_max_delay"},
		{name: "claim code ttl", yaml: "gateways:\n  claim_code_ttl: 0s\n", wantErr: "claim_code_ttl"},
		{name: "events per day negative", yaml: "events:\n  per_device_per_day: -1\n", wantErr: "events.per_device_per_day"},
		{name: "events min gap negative", yaml: "events:\n  min_gap: -1s\n", wantErr: "events.min_gap"},
		{name: "events limits off", yaml: "events:\n  per_device_per_day: 0\n  min_gap: 0s\n",
			check: func(c Config) bool { return c.Events.PerDevicePerDay == 0 && c.Events.MinGap == 0 }},
		{name: "events defaults", yaml: "", check: func(c Config) bool { return c.Events.PerDevicePerDay == 100 && c.Events.MinGap == time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig(strings.NewReader(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}
