package gateway

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The documented file must say exactly what the code does: parsing it gives
// the defaults, so a comment can never drift from behaviour unnoticed.
func TestDocumentedConfigIsTheDefault(t *testing.T) {
	path := filepath.Join("..", "configs", "gateway.yaml")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if abs, _ := filepath.Abs(path); cfg.File != abs {
		t.Errorf("Config.File = %q, want %q", cfg.File, abs)
	}
	cfg.File = ""
	want := Defaults()
	if diff := cmp.Diff(want, cfg, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("configs/gateway.yaml differs from Defaults() (-defaults +file):\n%s", diff)
	}
}

func TestEmptyConfigIsValid(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Blynk.Listen != ":8080" || cfg.Version != ConfigVersion {
		t.Errorf("empty config did not get defaults: %+v", cfg)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "version: 1\nblynk:\n  lisen: ':1'\n", "field lisen not found"},
		{"wrong version", "version: 2\n", "version: 2 is not supported"},
		{"bad level", "version: 1\nlog: {level: loud}\n", "log.level"},
		{"cert without key", "version: 1\nblynk: {tls_cert: a.pem}\n", "tls_cert and blynk.tls_key"},
		{"tls host with a space", "version: 1\nblynk: {tls_hosts: [gw.local, 'my gateway']}\n", `blynk.tls_hosts[1]: "my gateway"`},
		{"tls host with a bad label", "version: 1\nblynk: {tls_hosts: [-gw.local]}\n", "blynk.tls_hosts[0]"},
		{"tls hosts with a configured cert", "version: 1\nblynk: {tls_cert: a.pem, tls_key: a.key, tls_hosts: [gw.local]}\n", "blynk.tls_hosts names the generated"},
		{"multiplier", "version: 1\nblynk: {heartbeat_multiplier: 0.5}\n", "heartbeat_multiplier"},
		{"device without template", "version: 1\ndevices: [{name: a}]\n", "template is required"},
		{"duplicate device", "version: 1\ndevices: [{name: a, template: T}, {name: a, template: T}]\n", "duplicate name"},
		{"short token", "version: 1\ndevices: [{name: a, template: T, token: abc}]\n", "token must be 32 characters"},
		{"bad template", "version: 1\ntemplates: [{id: T, name: x, datastreams: [{pin: 300, name: a, type: integer}]}]\n", "templates[0]"},
		{"bad decimals", "version: 1\ntemplates: [{id: T, name: x, datastreams: [{pin: 1, name: a, type: integer, decimals: 2}]}]\n", "decimals apply to double only"},
		{"synchronous", "version: 1\nstore: {synchronous: sometimes}\n", "store.synchronous"},
		{"cloud over plain http", "version: 1\ncloud: {url: 'http://cloud.example.com'}\n", "only to a loopback"},
		{"cloud scheme", "version: 1\ncloud: {url: 'ftp://127.0.0.1'}\n", "cloud.url"},
		{"outbox cap", "version: 1\ncloud: {outbox_max_records: 10}\n", "cloud.outbox_max_records"},
		{"idle timeout", "version: 1\ncloud: {idle_timeout: 500ms}\n", "cloud.idle_timeout"},
		{"status period", "version: 1\ncloud: {status_every: 0s}\n", "cloud.status_every"},
		{"http timeout", "version: 1\nhttp: {idle_timeout: 0s}\n", "http.idle_timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a not-found error", err)
	}
}

func TestTLSHostsAccepted(t *testing.T) {
	for _, h := range []string{"gw.local", "Gateway-1", "192.168.1.20", "2001:db8::20", "*.site.example.com", "xn--bcher-kva.example"} {
		if _, err := ParseConfig(strings.NewReader("version: 1\nblynk: {tls_hosts: ['" + h + "']}\n")); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}

// The installer API adds devices: off loopback only with a token.
func TestInstallerListenNeedsTokenOffLoopback(t *testing.T) {
	for _, yaml := range []string{
		"installer: {listen: '127.0.0.1:8090'}",
		"installer: {listen: '[::1]:8090'}",
		"installer: {listen: 'localhost:8090'}",
		"installer: {listen: ':8090', token: s3cret}",
		"installer: {listen: ''}",
	} {
		if _, err := ParseConfig(strings.NewReader("version: 1\n" + yaml + "\n")); err != nil {
			t.Errorf("%s: %v", yaml, err)
		}
	}
}

// A template's display settings (alias, step, decimals) are read from the
// file like the rest of a datastream.
func TestConfigDisplaySettings(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader("version: 1\ntemplates: [{id: T, name: x, datastreams: " +
		"[{pin: 1, name: Set, type: double, min: 5, max: 35, alias: Target, step: 0.5, decimals: 1}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ds := cfg.Templates[0].Datastreams[0]
	if ds.Alias != "Target" || ds.Step == nil || *ds.Step != 0.5 || ds.Decimals == nil || *ds.Decimals != 1 {
		t.Errorf("datastream %+v", ds)
	}
}
