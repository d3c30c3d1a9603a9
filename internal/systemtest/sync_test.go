package systemtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var rounds = flag.Int("sync.rounds", 1, "cut/kill rounds in TestSyncAcrossPartitionsAndCrashes (scripts/sync/system.sh raises it)")

// helpers builds the two test binaries the processes run, once per test
// process.
func helpers(t *testing.T) (gateway, cloud string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a cloud and gateways as processes")
	}
	built.once.Do(func() {
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		built.gateway = filepath.Join(binDir, "gateway.test")
		built.cloud = filepath.Join(binDir, "cloud.test")
		for pkg, out := range map[string]string{"outpost/gateway/internal/cloudlink": built.gateway, "outpost/cloud/internal/gatewaysync": built.cloud} {
			cmd := exec.Command(goBin, "test", "-c", "-o", out, pkg)
			if b, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go test -c %s: %w\n%s", pkg, err, b)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.gateway, built.cloud
}

var (
	binDir string // removed by TestMain
	built  struct {
		once           sync.Once
		gateway, cloud string
		err            error
	}
)

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	if binDir, err = os.MkdirTemp("", "outpost-systemtest-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// proc is a running helper process; its stdout lines arrive on lines.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func start(t *testing.T, bin, test, env string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdin: stdin, lines: make(chan string, 64)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill is SIGKILL: no chance to flush or say goodbye.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// cloudItems reads the cloud's telemetry file: gateway → device UID →
// values in the order applied. A torn last line is ignored.
func cloudItems(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]map[string][]string{}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		var l struct {
			G string `json:"g"`
			I []struct {
				D string `json:"d"`
				V string `json:"v"`
			} `json:"i"`
		}
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &l) != nil {
			continue
		}
		if out[l.G] == nil {
			out[l.G] = map[string][]string{}
		}
		for _, it := range l.I {
			out[l.G][it.D] = append(out[l.G][it.D], it.V)
		}
	}
	return out
}

func count(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSyncAcrossPartitionsAndCrashes: one cloud, two gateways with three
// counting devices each. The first gateway's websocket is closed under it,
// the second's path silently drops traffic; the first gateway is SIGKILLed
// mid-drain and restarted; the cloud is SIGKILLed and restarted. After
// healing and draining, the cloud holds for every device of every gateway
// each durable value exactly once, in order, under that gateway only.
func TestSyncAcrossPartitionsAndCrashes(t *testing.T) {
	gwBin, cloudBin := helpers(t)
	dir := t.TempDir()
	telFile := filepath.Join(dir, "telemetry.jsonl")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cloudAddr := ln.Addr().String()
	ln.Close() // the cloud process binds it, again after each restart

	startCloud := func() *proc {
		p := start(t, cloudBin, "TestCloudProcess", "OUTPOST_GATEWAYSYNC_CLOUD="+cloudAddr+","+telFile)
		select {
		case l := <-p.lines:
			if !strings.HasPrefix(l, "listening") {
				t.Fatalf("cloud said %q", l)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("cloud did not start")
		}
		return p
	}
	gws := []string{"site-a", "site-b"}
	proxies := map[string]*proxy{}
	dirs := map[string]string{}
	for _, gw := range gws {
		proxies[gw] = newProxy(t, cloudAddr)
		dirs[gw] = filepath.Join(dir, gw)
		if err := os.Mkdir(dirs[gw], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	startGateway := func(gw, mode string) *proc {
		env := fmt.Sprintf("OUTPOST_CLOUDLINK_CRASH_CHILD=%s,%s,ws://%s/sync,%s", mode, dirs[gw], proxies[gw].addr(), gw)
		return start(t, gwBin, "TestCrashGatewayMidDrain", env)
	}
	grows := func(gw string) func() bool {
		before := count(cloudItems(t, telFile)[gw])
		return func() bool { return count(cloudItems(t, telFile)[gw]) > before+300 }
	}

	cloud := startCloud()
	running := map[string]*proc{}
	for _, gw := range gws {
		running[gw] = startGateway(gw, "write")
	}
	for _, gw := range gws {
		waitFor(t, gw+" data in the cloud", 30*time.Second, grows(gw))
	}
	for round := range *rounds {
		// Cut A by closing its connections, black-hole B for longer than
		// its idle timeout.
		a, b := gws[round%2], gws[(round+1)%2]
		proxies[a].closeAll()
		proxies[b].blackhole(true)
		<-time.After(1500 * time.Millisecond) // the outage itself
		proxies[b].blackhole(false)
		for _, gw := range gws {
			waitFor(t, gw+" data after the partition", 30*time.Second, grows(gw))
		}

		// SIGKILL gateway A mid-drain; restart it on its database.
		running[a].kill()
		running[a] = startGateway(a, "write")
		waitFor(t, a+" data after its restart", 30*time.Second, grows(a))

		// SIGKILL the cloud mid-apply; restart it on its telemetry file.
		cloud.kill()
		<-time.After(300 * time.Millisecond) // the outage itself
		cloud = startCloud()
		for _, gw := range gws {
			waitFor(t, gw+" data after the cloud restart", 30*time.Second, grows(gw))
		}
		t.Logf("round %d done: %d values in the cloud", round+1, count(cloudItems(t, telFile)[gws[0]])+count(cloudItems(t, telFile)[gws[1]]))
	}

	// Stop the devices (kill), then let each gateway drain and report its
	// devices' latest durable values.
	latest := map[string]map[string]int{}
	for _, gw := range gws {
		running[gw].kill()
		p := startGateway(gw, "drain")
		latest[gw] = map[string]int{}
		for l := range p.lines {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "latest" {
				n, _ := strconv.Atoi(f[2])
				latest[gw][f[1]] = n
			}
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("%s drain: %v", gw, err)
		}
		if len(latest[gw]) != 3 {
			t.Fatalf("%s reported %d devices, want 3", gw, len(latest[gw]))
		}
	}
	cloud.stdin.Close()
	_ = cloud.cmd.Wait()

	got := cloudItems(t, telFile)
	for _, gw := range gws {
		if len(got[gw]) != len(latest[gw]) {
			t.Errorf("cloud holds %d devices under %s, the gateway has %d", len(got[gw]), gw, len(latest[gw]))
		}
		for uid, last := range latest[gw] {
			vals := got[gw][uid]
			if len(vals) != last+1 {
				t.Errorf("%s/%s: cloud holds %d values, the device durably wrote %d", gw, uid, len(vals), last+1)
			}
			for i, v := range vals {
				if v != strconv.Itoa(i) {
					t.Errorf("%s/%s: value %d is %s (lost, doubled or out of order)", gw, uid, i, v)
					break
				}
			}
		}
	}
	t.Logf("%s: %d values, %s: %d values", gws[0], count(got[gws[0]]), gws[1], count(got[gws[1]]))
}

// proxy forwards TCP to a target. closeAll cuts every connection; in
// blackhole mode it keeps them open but silently discards what flows.
type proxy struct {
	ln   net.Listener
	hole atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); p.pipe(u, c) }()
			go func() { defer wg.Done(); p.pipe(c, u) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
		wg.Wait()
	})
	return p
}

func (p *proxy) addr() string      { return p.ln.Addr().String() }
func (p *proxy) blackhole(on bool) { p.hole.Store(on) }

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	dead := false // once black-holed, a connection stays dead, like a half-open TCP path
	for {
		n, err := src.Read(buf)
		if n > 0 {
			dead = dead || p.hole.Load()
			if !dead {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
