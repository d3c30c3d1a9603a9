package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the gateway's committed history after it stopped

	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

// products builds the outpost-cloud and outpost-gateway binaries once per
// test process.
func products(t testing.TB) (cloudBin, gatewayBin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs outpost-cloud and outpost-gateway as processes")
	}
	prod.once.Do(func() {
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		prod.cloud = filepath.Join(binDir, "outpost-cloud")
		prod.gateway = filepath.Join(binDir, "outpost-gateway")
		cmd := exec.Command(goBin, "build", "-o", binDir, "outpost/cloud/cmd/outpost-cloud", "outpost/gateway/cmd/outpost-gateway")
		if b, err := cmd.CombinedOutput(); err != nil {
			prod.err = fmt.Errorf("go build: %w\n%s", err, b)
		}
	})
	if prod.err != nil {
		t.Fatal(prod.err)
	}
	return prod.cloud, prod.gateway
}

var prod struct {
	once           sync.Once
	cloud, gateway string
	err            error
}

// freeAddr reserves a loopback port for a process that must come back on
// the same address after a restart.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// product is a running outpost-cloud or outpost-gateway.
type product struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

// run starts bin and waits for a stdout line with prefix, returning it.
func run(t testing.TB, bin, prefix string, args ...string) (*product, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logSink(t)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &product{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody listens any more; keep the pipe flowing
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited before saying %q", filepath.Base(bin), prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return p, l
			}
		case <-timeout:
			t.Fatalf("%s did not say %q", filepath.Base(bin), prefix)
		}
	}
}

// logSink keeps the products' logs out of the test output unless asked
// for with OUTPOST_SYSTEMTEST_LOGS=1.
func logSink(t testing.TB) io.Writer {
	if os.Getenv("OUTPOST_SYSTEMTEST_LOGS") != "" {
		return os.Stderr
	}
	return io.Discard
}

// kill is SIGKILL: no chance to flush or say goodbye.
func (p *product) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop is SIGTERM and a clean exit.
func (p *product) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("process did not stop on SIGTERM")
	}
}

// cloudProc is outpost-cloud on a fixed loopback address and data dir.
type cloudProc struct {
	*product
	url    string       // http://127.0.0.1:port
	client *http.Client // for its Platform API; nil: plain HTTP
}

const adminEmail, adminPassword = "admin@root.test", "root-password-1"

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startCloud starts outpost-cloud on dir and addr; extra are more lines
// of its configuration.
func startCloud(t testing.TB, bin, dir, addr string, extra ...string) *cloudProc {
	t.Helper()
	cfg := writeFile(t, filepath.Join(dir, "cloud.yaml"), fmt.Sprintf(`version: 1
data_dir: %s
listen: %s
log: {level: warn}
admin: {email: %s, password: %s}
auth: {bcrypt_cost: 4}
api: {rate_limit: -1}
gateways: {register_per_minute: -1}
%s
`, dir, addr, adminEmail, adminPassword, strings.Join(extra, "\n")))
	p, l := run(t, bin, "Platform API on ", "-config", cfg)
	u, _, _ := strings.Cut(strings.TrimPrefix(l, "Platform API on "), "/api/v1")
	return &cloudProc{product: p, url: u}
}

// gatewayProc is outpost-gateway; its device and installer ports change
// at every start.
type gatewayProc struct {
	*product
	blynk, installer string
}

func gatewayConfig(t testing.TB, dir, cloudURL, name string, extra ...string) string {
	t.Helper()
	return writeFile(t, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf(`version: 1
data_dir: %s
log: {level: warn}
blynk: {listen: "127.0.0.1:0", tls_listen: "", flood_rate: 1000000, flood_burst: 1000000}
mqtt: {listen: "", tls_listen: "", ws_listen: ""}
http: {listen: ""}
installer: {listen: "127.0.0.1:0"}
cloud: {url: "%s", name: %q}
%s`, dir, cloudURL, name, strings.Join(extra, "\n")))
}

func startGateway(t testing.TB, bin, cfg string) *gatewayProc {
	t.Helper()
	p, l := run(t, bin, "outpost-gateway listening", "-config", cfg)
	g := &gatewayProc{product: p}
	for _, f := range strings.Fields(l) {
		if v, ok := strings.CutPrefix(f, "blynk="); ok {
			g.blynk = v
		}
		if v, ok := strings.CutPrefix(f, "installer="); ok {
			g.installer = v
		}
	}
	if g.blynk == "" || g.installer == "" {
		t.Fatalf("gateway said %q", l)
	}
	return g
}

// claim is the installer API's claim status.
type claim struct {
	GatewayID, ClaimCode string
	Claimed, Connected   bool
}

func (g *gatewayProc) claim(t testing.TB) claim {
	t.Helper()
	var c claim
	getJSON(t, "http://"+g.installer+"/installer/api/claim", &c)
	return c
}

// cloudStats is the cloud part of the installer API's stats.
type cloudStats struct {
	Connected  bool
	ItemsAcked int64
	Backlog    int64
}

func (g *gatewayProc) stats(t testing.TB) cloudStats {
	t.Helper()
	var s struct{ Cloud cloudStats }
	getJSON(t, "http://"+g.installer+"/installer/api/stats", &s)
	return s.Cloud
}

func getJSON(t testing.TB, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, b)
	}
}

// platform is a Platform API client.
type platform struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newPlatform(t testing.TB, base string) *platform {
	return &platform{t: t, base: base, c: &http.Client{Timeout: 30 * time.Second}}
}

// do calls the API and returns the status and body.
func (p *platform) do(method, path, tok string, body any) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must calls the API, fails unless the status is want, decodes into out.
func (p *platform) must(want int, method, path, tok string, body, out any) {
	p.t.Helper()
	code, b := p.do(method, path, tok, body)
	if code != want {
		p.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func (p *platform) login(email, password string) string {
	p.t.Helper()
	var s struct{ Token string }
	p.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, &s)
	return s.Token
}

// history reads a device pin's whole history, oldest first.
func (p *platform) history(tok string, device int64, pin int) []string {
	p.t.Helper()
	var out []string
	before := int64(0)
	for {
		q := url.Values{"deviceId": {strconv.FormatInt(device, 10)}, "pin": {"v" + strconv.Itoa(pin)}, "size": {"1000"}}
		if before != 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		var page struct {
			Content []struct{ Value string }
			Next    int64
		}
		p.must(200, "GET", "/api/v1/organization/device/datastream/history?"+q.Encode(), tok, nil, &page)
		for _, c := range page.Content {
			out = append(out, c.Value)
		}
		if page.Next == 0 || len(page.Content) == 0 {
			break
		}
		before = page.Next
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// siteDevice is a device created in the cloud for a site.
type siteDevice struct {
	ID    int64
	Token string
	Name  string
}

// fixture is a cloud with one template, two client orgs each with a user
// (Admin of that org) and devices, and a gateway claimed into each.
type fixture struct {
	api      *platform
	admin    string // root Admin's token
	template string
	orgs     [2]int64
	users    [2]string // tokens of each client org's Admin
	devices  [2][]siteDevice
}

func newFixture(t testing.TB, c *cloudProc, perOrg int) *fixture {
	t.Helper()
	f := &fixture{api: newPlatform(t, c.url)}
	if c.client != nil {
		f.api.c = c.client
	}
	f.admin = f.api.login(adminEmail, adminPassword)
	const o = "/api/v1/organization"
	var tm struct{ ID string }
	f.api.must(201, "POST", o+"/template/create", f.admin, map[string]any{"name": "Counter",
		"datastreams": []map[string]any{{"pin": 1, "name": "count", "type": "integer"}, {"pin": 2, "name": "set", "type": "integer"}}}, &tm)
	f.template = tm.ID
	for i, name := range []string{"Client A", "Client B"} {
		var org struct{ ID int64 }
		f.api.must(201, "POST", o+"/create", f.admin, map[string]any{"name": name}, &org)
		f.orgs[i] = org.ID
		f.api.must(204, "PUT", fmt.Sprintf("%s/template/enabled?orgId=%d&templateId=%s&enabled=true", o, org.ID, tm.ID), f.admin, nil, nil)
		email := fmt.Sprintf("admin@client%d.test", i)
		f.api.must(201, "POST", o+"/users/create-in-org", f.admin, map[string]any{"email": email,
			"password": "client-password-1", "name": name + " admin", "orgId": org.ID, "roleId": 1}, nil)
		f.users[i] = f.api.login(email, "client-password-1")
		for j := range perOrg {
			f.devices[i] = append(f.devices[i], f.createDevice(i, fmt.Sprintf("%s dev %d", name, j)))
		}
	}
	return f
}

func (f *fixture) createDevice(org int, name string) siteDevice {
	var d siteDevice
	f.api.must(201, "POST", "/api/v1/organization/device/create", f.admin,
		map[string]any{"templateId": f.template, "orgId": f.orgs[org], "name": name}, &d)
	return d
}

// claimInto waits for the gateway's claim code and claims it into org i.
func (f *fixture) claimInto(t testing.TB, g *gatewayProc, i int) string {
	t.Helper()
	var c claim
	poll.Within(t, "the gateway's claim code", 30*time.Second, func() bool {
		c = g.claim(t)
		return c.ClaimCode != ""
	})
	f.api.must(200, "POST", "/api/v1/organization/gateway/claim", f.admin, map[string]any{"claimCode": c.ClaimCode, "orgId": f.orgs[i]}, nil)
	return c.GatewayID
}

// dial logs a simulated device in; ok is false when the gateway refuses
// the token.
func dial(t testing.TB, addr, token string, opts devicesim.Options) (*devicesim.Device, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts.Token = token
	d, err := devicesim.Dial(ctx, addr, opts)
	if err != nil {
		return nil, false
	}
	return d, true
}

// committedHistory reads a stopped gateway's history of pin per device
// token, in commit order: what the gateway durably holds.
func committedHistory(t testing.TB, dataDir string, pin int, tokens []string) map[string][]string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dataDir, "*.db"))
	if len(matches) != 1 {
		t.Fatalf("gateway data dir holds databases %v", matches)
	}
	db, err := sql.Open("sqlite", "file:"+matches[0]+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for _, tok := range tokens {
		h := sha256.Sum256([]byte(tok))
		rows, err := db.Query(`SELECT h.value FROM history h JOIN devices d ON d.id = h.device
			WHERE d.token_hash = ? AND h.pin = ? ORDER BY h.seq`, h[:], pin)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out[tok] = append(out[tok], v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}
