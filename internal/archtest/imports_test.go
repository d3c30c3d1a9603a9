package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "outpost"

type pkg struct {
	ImportPath   string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && first != module
}

func isModule(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func under(path, prefix string) bool {
	r := rel(path)
	return r == prefix || strings.HasPrefix(r, prefix+"/")
}

// domain packages import no network, storage or third-party package (rule 3).
var domain = []string{
	"gateway/internal/hub",
	"cloud/internal/tenancy",
	"shared/datastream",
	"shared/blynk",
	"shared/syncproto",
	"shared/ulid",
	"shared/rules",
}

// banned for domain packages: network and storage.
var ioPackages = []string{"net", "net/http", "net/rpc", "net/smtp", "database/sql", "os/exec", "crypto/tls"}

// thirdParty lists, for each third-party module, the packages allowed to
// import it (rule 4: each library stays in the package that adapts it).
// The drivers stay in their two adapters, serialport and gpiohost, which
// only mains reach (rule 5, below). Load
// tools under scripts/bench compare against bare libraries.
var thirdParty = map[string][]string{
	"github.com/mochi-mqtt/server/v2":     {"gateway/internal/broker", "scripts/bench"},
	"modernc.org/sqlite":                  {"gateway/internal/sqlite", "cloud/internal/sqlite"},
	"github.com/jackc/pgx/v5":             {"cloud/internal/postgres", "internal/pgtest"},
	"github.com/gorilla/websocket":        {"gateway/internal/cloudlink", "cloud/internal/gatewaysync", "gateway/internal/broker"},
	"go.yaml.in/yaml/v3":                  {"gateway", "cloud", "firmware-bridge/remotebridge"},
	"golang.org/x/crypto":                 {"cloud/internal/auth", "cloud/internal/platformapi", "gateway/internal/installer"},
	"go.bug.st/serial":                    {"firmware-bridge/serialport"},
	"periph.io/x/host/v3":                 {"firmware-bridge/gpiohost"},
	"periph.io/x/conn/v3":                 {"firmware-bridge/hardware", "firmware-bridge/gpiobridge", "firmware-bridge/gpiohost"},
	"github.com/eclipse/paho.mqtt.golang": {"shared/devicesim", "scripts/bench"},
	"github.com/creack/pty":               {"scripts/bench", "internal/ptyboard"},
	"golang.org/x/sys":                    {"scripts/bench", "internal/ptyboard"},
	"golang.org/x/time":                   {"cloud/internal/ratelimit"},
	"golang.org/x/term":                   {"cloud/cmd/outpost-cloud", "gateway/cmd/outpost-gateway"},
	"github.com/skip2/go-qrcode":          {"internal/qrpng"},
	// The console's screenshot script drives chromium; the browser tests
	// (internal/consoletest) import it from tests only.
	"github.com/chromedp/chromedp": {"scripts/screenshots"},
	// The gateway's /metrics.
	"github.com/prometheus/client_golang": {"gateway/internal/metrics", "cloud/internal/metrics"},
	"github.com/chromedp/cdproto":         {"scripts/screenshots"},
}

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	// Test support: packages that import "testing" (poll, nodepkg,
	// tenancytest, …). Rule 7 keeps them out of what ships.
	testSupport := map[string]bool{}
	for _, p := range pkgs {
		if slices.Contains(p.Imports, "testing") {
			testSupport[p.ImportPath] = true
		}
	}
	for _, p := range pkgs {
		r := rel(p.ImportPath)

		// Rule 1: shared/* imports only the standard library and other
		// shared packages (devicesim may import an MQTT client).
		if under(p.ImportPath, "shared") {
			for _, imp := range p.Imports {
				if isStd(imp) || (isModule(imp) && under(imp, "shared")) {
					continue
				}
				if r == "shared/devicesim" && strings.HasPrefix(imp, "github.com/eclipse/paho.mqtt.golang") {
					continue
				}
				t.Errorf("rule 1: %s imports %s (shared/* may import only the standard library)", r, imp)
			}
		}

		// Rule 2: gateway and cloud never import each other, not even
		// through tests; only internal/systemtest may see both.
		all := append(append(append([]string{}, p.Deps...), p.TestImports...), p.XTestImports...)
		for _, imp := range all {
			switch {
			case under(p.ImportPath, "gateway") && isModule(imp) && under(imp, "cloud"),
				under(p.ImportPath, "cloud") && isModule(imp) && under(imp, "gateway"),
				under(p.ImportPath, "firmware-bridge") && isModule(imp) && under(imp, "cloud"):
				t.Errorf("rule 2: %s depends on %s", r, imp)
			}
		}

		// Rule 3: domain packages import no network, storage or
		// third-party package; only other domain packages of the module.
		for _, d := range domain {
			if r != d {
				continue
			}
			for _, imp := range p.Imports {
				if !isStd(imp) && !isModule(imp) {
					t.Errorf("rule 3: domain package %s imports third-party %s", r, imp)
				}
				for _, banned := range ioPackages {
					if imp == banned {
						t.Errorf("rule 3: domain package %s imports %s", r, imp)
					}
				}
				if isModule(imp) {
					ok := false
					for _, d2 := range domain {
						ok = ok || rel(imp) == d2
					}
					if !ok {
						t.Errorf("rule 3: domain package %s imports non-domain %s", r, imp)
					}
				}
			}
		}

		// Rule 5: hardware is opened by mains only: the driver adapters
		// are imported by mains (and the one package that gathers them).
		for _, imp := range p.Imports {
			if isModule(imp) && hardwareDrivers[rel(imp)] && !strings.Contains("/"+r+"/", "/cmd/") && r != "firmware-bridge/hostdrivers" {
				t.Errorf("rule 5: %s imports the driver adapter %s; take a hardware.Host from the main", r, rel(imp))
			}
		}

		for _, v := range storeAndSupportViolations(p, testSupport) {
			t.Error(v)
		}

		// Rule 4: each third-party library stays in the package that adapts it.
		for _, imp := range p.Imports {
			if isStd(imp) || isModule(imp) {
				continue
			}
			allowed, known := allowedFor(imp)
			if !known {
				t.Errorf("rule 4: %s imports %s, which no rule allows (add it to thirdParty with the one package that adapts it)", r, imp)
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || r == a || strings.HasPrefix(r, a+"/")
			}
			if !ok {
				t.Errorf("rule 4: %s imports %s; only %v may", r, imp, allowed)
			}
		}
	}
}

// storeAndSupportViolations checks rules 6 and 7 for one package.
//
// Rule 6: a store is chosen by the wiring. Transports, the cloud link, the
// APIs and the domain reach persistence only through interfaces they
// declare, so that a store lacking a capability does not compile; only
// the wiring packages (gateway, cloud), mains and benchmark servers import
// a store package. Tests may.
//
// Rule 7: test support (a package importing testing) is imported by tests
// and other test support only, never by code that ships.
func storeAndSupportViolations(p pkg, testSupport map[string]bool) []string {
	r := rel(p.ImportPath)
	var out []string
	for _, imp := range p.Imports {
		if isModule(imp) && storePackages[rel(imp)] && !mayChooseStore(r) {
			out = append(out, fmt.Sprintf("rule 6: %s imports the store %s; take it through an interface the package declares", r, rel(imp)))
		}
		if testSupport[imp] && !testSupport[p.ImportPath] {
			out = append(out, fmt.Sprintf("rule 7: %s imports the test-support package %s", r, rel(imp)))
		}
	}
	return out
}

// hardwareDrivers are the adapters that open real hardware (rule 5).
var hardwareDrivers = map[string]bool{
	"firmware-bridge/serialport":  true,
	"firmware-bridge/gpiohost":    true,
	"firmware-bridge/hostdrivers": true,
}

// storePackages are the persistence adapters (rule 6).
var storePackages = map[string]bool{
	"gateway/internal/sqlite": true,
	"cloud/internal/sqlite":   true,
	"cloud/internal/postgres": true,
}

// mayChooseStore reports whether package r wires a store (rule 6).
func mayChooseStore(r string) bool {
	switch {
	case r == "gateway" || r == "cloud":
		return true
	case strings.Contains("/"+r+"/", "/cmd/"), strings.HasSuffix(r, "/benchserver"),
		strings.HasPrefix(r, "scripts/"), r == "internal/systemtest":
		return true
	}
	return false
}

func allowedFor(imp string) ([]string, bool) {
	for mod, allowed := range thirdParty {
		if imp == mod || strings.HasPrefix(imp, mod+"/") {
			return allowed, true
		}
	}
	return nil, false
}

// TestRulesCatchViolations guards the checker itself: the helpers must
// classify paths the way the rules above assume.
func TestRulesCatchViolations(t *testing.T) {
	cases := []struct {
		path     string
		std, mod bool
	}{
		{"net/http", true, false},
		{"outpost/gateway/internal/hub", false, true},
		{"outpost", false, true},
		{"github.com/mochi-mqtt/server/v2", false, false},
		{"golang.org/x/crypto/bcrypt", false, false},
	}
	for _, c := range cases {
		if got := isStd(c.path); got != c.std {
			t.Errorf("isStd(%q) = %v, want %v", c.path, got, c.std)
		}
		if got := isModule(c.path); got != c.mod {
			t.Errorf("isModule(%q) = %v, want %v", c.path, got, c.mod)
		}
	}
	if _, ok := allowedFor("modernc.org/sqlite/lib"); !ok {
		t.Error("sub-packages of an allowed module must match it")
	}
	for r, want := range map[string]bool{
		"gateway": true, "cloud": true, "gateway/cmd/outpost-gateway": true,
		"gateway/internal/broker/benchserver": true, "scripts/site": true,
		"gateway/internal/cloudlink": false, "cloud/internal/platformapi": false,
		"gateway/internal/hub": false, "cloud/internal/gatewaysync": false,
	} {
		if got := mayChooseStore(r); got != want {
			t.Errorf("mayChooseStore(%q) = %v, want %v", r, got, want)
		}
	}
	support := map[string]bool{"outpost/internal/poll": true, "outpost/cloud/internal/tenancy/tenancytest": true}
	for _, c := range []struct {
		p    pkg
		want int
	}{
		{pkg{ImportPath: "outpost/gateway/internal/cloudlink", Imports: []string{"outpost/gateway/internal/sqlite"}}, 1},
		{pkg{ImportPath: "outpost/cloud/internal/platformapi", Imports: []string{"outpost/cloud/internal/sqlite", "outpost/internal/poll"}}, 2},
		{pkg{ImportPath: "outpost/gateway", Imports: []string{"outpost/gateway/internal/sqlite"}}, 0},
		{pkg{ImportPath: "outpost/cloud/internal/tenancy/tenancytest", Imports: []string{"outpost/internal/poll"}}, 0},
		{pkg{ImportPath: "outpost/cloud/internal/tenancy/tenancytest", Imports: []string{"outpost/cloud/internal/sqlite"}}, 1},
	} {
		if got := storeAndSupportViolations(c.p, support); len(got) != c.want {
			t.Errorf("%s importing %v: %d violations %q, want %d", c.p.ImportPath, c.p.Imports, len(got), got, c.want)
		}
	}
	if under("outpost/gatewayx", "gateway") {
		t.Error("under must match whole path elements")
	}
}
