package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"outpost/gateway/internal/sqlite"
	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

// TestMain lets the test binary act as the real outpost-gateway command when
// re-executed with OUTPOST_GATEWAY_MAIN set, so the crash test runs the real
// main in a child process it can SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("OUTPOST_GATEWAY_MAIN"); args != "" {
		os.Exit(run(strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("version: 1\n"), 0o600)
	os.WriteFile(bad, []byte("version: 1\nblynk: {listen: 1, nope: 2}\n"), 0o600)
	var out, errOut strings.Builder
	if code := run([]string{"-check-config", "-config", good}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "config ok") {
		t.Errorf("good config: exit %d, out %q, err %q", code, out.String(), errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"-check-config", "-config", bad}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "nope") {
		t.Errorf("bad config: exit %d, err %q; want 2 and the unknown key named", code, errOut.String())
	}
	// The shipped config must pass.
	errOut.Reset()
	if code := run([]string{"-check-config", "-config", "../../../configs/gateway.yaml"}, &out, &errOut); code != 0 {
		t.Errorf("configs/gateway.yaml: exit %d: %s", code, errOut.String())
	}
}

// TestHelpListsCommands: -h shows the subcommands too (a flag set alone
// would list only -config and -check-config) and is not an error.
func TestHelpListsCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, &out, &errOut); code != 0 {
		t.Errorf("-h exit code %d, want 0", code)
	}
	for _, want := range []string{"device add", "device list", "claim-code", "-check-config"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("-h output lacks %q:\n%s", want, errOut.String())
		}
	}
}

// -h is a request, not a mistake: exit 0 everywhere; an unknown flag is 2.
func TestFlagExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-h"}, 0},
		{[]string{"device", "add", "-h"}, 0},
		{[]string{"device", "list", "-h"}, 0},
		{[]string{"claim-code", "-h"}, 0},
		{[]string{"-nope"}, 2},
		{[]string{"device", "add", "-nope"}, 2},
		{[]string{"claim-code", "-nope"}, 2},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != tc.want {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.want, errOut.String())
		}
	}
}

func TestDeviceAddWithoutRunningGateway(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "g.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`version: 1
data_dir: %s
installer: {listen: ""}
templates: [{id: TMPL1, name: T, datastreams: [{pin: 0, name: A, type: integer}]}]
`, filepath.Join(dir, "data"))), 0o600)
	var out, errOut strings.Builder
	code := run([]string{"device", "add", "-config", cfgPath, "-template", "TMPL1", "-name", "Kitchen"}, &out, &errOut)
	if code != 0 || !regexp.MustCompile(`token: [A-Za-z0-9_-]{32}\n`).MatchString(out.String()) {
		t.Fatalf("device add: exit %d out %q err %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run([]string{"device", "list", "-config", cfgPath}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Kitchen") {
		t.Fatalf("device list: exit %d out %q err %q", code, out.String(), errOut.String())
	}
	if code := run([]string{"device", "add", "-config", cfgPath, "-name", "X"}, &out, &errOut); code != 2 {
		t.Errorf("device add without -template: exit %d, want 2", code)
	}
}

// startChild runs the real main in a child process and returns the Blynk
// and installer addresses it logged.
func startChild(t *testing.T, cfgPath string) (cmd *exec.Cmd, blynkAddr, installer string) {
	t.Helper()
	c := startGateway(t, cfgPath)
	return c.cmd, c.addrs["blynk"], c.addrs["installer"]
}

// gatewayChild is the real main running in a child process.
type gatewayChild struct {
	cmd   *exec.Cmd
	addrs map[string]string // from the "outpost-gateway listening" line: blynk, mqtt, http, installer, …
}

// startGateway runs the real main in a child process until the test ends
// and waits for it to log the addresses it listens on.
func startGateway(t *testing.T, cfgPath string) *gatewayChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OUTPOST_GATEWAY_MAIN=-config\n"+cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan map[string]string, 1)
	go func() {
		defer close(found)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), "outpost-gateway listening") {
				continue
			}
			addrs := map[string]string{}
			for _, f := range strings.Fields(sc.Text()) {
				if k, v, ok := strings.Cut(f, "="); ok && v != "" {
					addrs[k] = v
				}
			}
			found <- addrs
			break
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case addrs, ok := <-found:
		if !ok {
			t.Fatal("gateway exited before logging its addresses")
		}
		return &gatewayChild{cmd: cmd, addrs: addrs}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not log its addresses within 30s")
	}
	return nil
}

// stop is a graceful shutdown (SIGTERM), as systemd's stop; the process
// must exit with status 0.
func (c *gatewayChild) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gateway exited after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not stop within 30s of SIGTERM")
	}
}

// kill is kill -9: no chance to say goodbye.
func (c *gatewayChild) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

func committed(t *testing.T, installer string) uint64 {
	t.Helper()
	resp, err := http.Get("http://" + installer + "/installer/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Store struct {
			Committed uint64 `json:"committed"`
		} `json:"store"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Store.Committed
}

// SIGKILL the gateway process during load, restart: the database opens and
// nothing committed is lost.
func TestSIGKILLDuringLoadLosesNothingCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	const devices = 5
	dir := t.TempDir()
	dbDir := filepath.Join(dir, "data")
	var b strings.Builder
	fmt.Fprintf(&b, `version: 1
data_dir: %s
log: {level: warn}
blynk: {listen: "127.0.0.1:0", tls_listen: "", flood_rate: 100000, flood_burst: 100000}
mqtt: {listen: "", tls_listen: "", ws_listen: ""}
http: {listen: ""}
installer: {listen: "127.0.0.1:0"}
templates: [{id: TMPLK, name: K, datastreams: [{pin: 5, name: Counter, type: integer}]}]
devices:
`, dbDir)
	tokens := make([]string, devices)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("%032d", i+1)
		fmt.Fprintf(&b, "  - {name: d%d, template: TMPLK, token: %q}\n", i+1, tokens[i])
	}
	cfgPath := filepath.Join(dir, "g.yaml")
	os.WriteFile(cfgPath, []byte(b.String()), 0o600)

	cmd, blynkAddr, installer := startChild(t, cfgPath)
	if blynkAddr == "" || installer == "" {
		t.Fatalf("addresses not logged: blynk %q installer %q", blynkAddr, installer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Each device writes 1, 2, 3, … on V5 as fast as it can.
	for _, tok := range tokens {
		d, err := devicesim.Dial(ctx, blynkAddr, devicesim.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer d.Close()
			for n := 1; ctx.Err() == nil; n++ {
				if _, err := d.VirtualWrite(5, n); err != nil {
					return
				}
			}
		}()
	}
	var before uint64
	poll.Within(t, "20000 records committed", 50*time.Second, func() bool {
		before = committed(t, installer)
		return before >= 20000
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	cancel()

	// The file opens cleanly…
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dbDir, "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	db.Close()
	// …and holds every write committed before the kill, in order, with no
	// gap: each device's history is exactly 1..k.
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dbDir, "gateway.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	snap, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, dev := range snap.Devices {
		hist, err := st.History(context.Background(), dev.ID, 5, 0, math.MaxInt64, 10_000_000)
		if err != nil {
			t.Fatal(err)
		}
		for i, pv := range hist {
			if n, _ := strconv.Atoi(pv.Value); n != i+1 {
				t.Fatalf("device %s: history[%d] = %s, want %d (a gap or reorder)", dev.Name, i, pv.Value, i+1)
			}
		}
		total += uint64(len(hist))
	}
	// Every committed record is a write except one online and one info
	// record per device.
	if total+2*devices < before {
		t.Errorf("after SIGKILL the database holds %d writes; %d records were reported committed before the kill", total, before)
	}
	t.Logf("committed before kill: %d records; writes found after restart: %d", before, total)
}

func TestClaimCode(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "g.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("version: 1\ndata_dir: %s\ncloud: {url: 'http://127.0.0.1:1'}\n", data)), 0o600)
	var out, errOut strings.Builder
	if code := run([]string{"claim-code", "-config", cfgPath}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "not registered") {
		t.Errorf("before registration: exit %d, err %q", code, errOut.String())
	}
	os.MkdirAll(data, 0o750)
	os.WriteFile(filepath.Join(data, "cloud.json"), []byte(`{"gatewayId":"5","claimCode":"K7Q2-M9XZ","credential":"s","cloudURL":"http://127.0.0.1:1"}`), 0o600)
	out.Reset()
	if code := run([]string{"claim-code", "-config", cfgPath}, &out, &errOut); code != 0 || out.String() != "K7Q2-M9XZ\n" {
		t.Errorf("claim-code: exit %d, out %q, err %q", code, out.String(), errOut.String())
	}
	os.WriteFile(filepath.Join(data, "cloud.json"), []byte(`{"gatewayId":"5","claimCode":"K7Q2-M9XZ","credential":"s","cloudURL":"http://127.0.0.1:1","claimed":true}`), 0o600)
	out.Reset()
	if code := run([]string{"claim-code", "-config", cfgPath}, &out, &errOut); code != 1 || out.String() != "" {
		t.Errorf("claimed: exit %d, out %q; want no code", code, out.String())
	}
}
