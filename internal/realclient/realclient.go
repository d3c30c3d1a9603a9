// Package realclient gives tests the real device client libraries that
// Outpost must work with: a device on libmosquitto (built from C with
// Debian's libmosquitto-dev, run the way Blynk's C sample runs it) and
// device scripts on the npm packages MQTT.js and blynk-library (installed
// by nodepkg).
// A test that needs a missing tool (cc, mosquitto.h, node, npm) is skipped
// with a message saying what to install; .ci/run installs them.
//
// It holds test support only; no product package imports it.
package realclient

import (
	"bufio"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/internal/nodepkg"
)

//go:embed csrc/mosquitto_device.c
var mosquittoDeviceC []byte

//go:embed js/mqtt_device.js
var mqttDeviceJS []byte

//go:embed js/blynk_device.js
var blynkDeviceJS []byte

// Versions of the npm packages the tests run (PROTOCOL.md §0 names the
// Blynk library's).
const (
	MQTTjsVersion  = "5.16.0"
	BlynkJSVersion = "0.5.4"
)

// MQTTjsDevice returns the command line of a device on MQTT.js
// (js/mqtt_device.js); append URL TOKEN 4|5.
func MQTTjsDevice(t testing.TB) []string {
	t.Helper()
	node, modules := nodepkg.Require(t, "mqtt@"+MQTTjsVersion)
	return []string{node, writeTemp(t, "mqtt_device.js", mqttDeviceJS), modules}
}

// BlynkJSDevice returns the command line of a device on the npm
// blynk-library over Blynk TCP (js/blynk_device.js); append HOST PORT TOKEN.
func BlynkJSDevice(t testing.TB) []string {
	t.Helper()
	node, modules := nodepkg.Require(t, "blynk-library@"+BlynkJSVersion)
	return []string{node, writeTemp(t, "blynk_device.js", blynkDeviceJS), modules}
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// MosquittoDevice builds the libmosquitto device harness
// (csrc/mosquitto_device.c) into a temporary directory and returns its path.
// Run it as: PATH HOST PORT TOKEN 4|5.
func MosquittoDevice(t testing.TB) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (Debian: apt-get install gcc): skipping the libmosquitto test")
	}
	if _, err := os.Stat("/usr/include/mosquitto.h"); err != nil {
		t.Skip("mosquitto.h absent (Debian: apt-get install libmosquitto-dev): skipping the libmosquitto test")
	}
	src := writeTemp(t, "mosquitto_device.c", mosquittoDeviceC)
	bin := filepath.Join(filepath.Dir(src), "mosquitto_device")
	if out, err := exec.Command(cc, "-Wall", "-o", bin, src, "-lmosquitto").CombinedOutput(); err != nil {
		t.Fatalf("build mosquitto_device: %v\n%s", err, out)
	}
	return bin
}

// Tool returns the path of a client program (e.g. mosquitto_sub), or skips
// the test naming the Debian package that provides it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian: apt-get install %s): skipping the real client test", name, debianPackage)
	}
	return p
}

// Proc is a client process whose stdout lines the test reads.
type Proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// Start runs argv until the test ends (then it is killed). Its stderr
// goes to the test's stderr.
func Start(t testing.TB, argv ...string) *Proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		_ = cmd.Wait()
	})
	return p
}

// Lines returns what the process printed so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Mark is the number of lines printed so far, for Await's from.
func (p *Proc) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Await waits until a line printed after the first from lines starts with
// prefix and returns it. It fails the test if the process ends first or
// nothing comes within d, showing everything the process printed.
func (p *Proc) Await(t testing.TB, from int, prefix string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		p.mu.Lock()
		for _, l := range p.lines[min(from, len(p.lines)):] {
			if strings.HasPrefix(l, prefix) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			// Lines printed just before the end are in p.lines now.
			if p.has(from, prefix) {
				continue
			}
			t.Fatalf("%s ended without printing %q; it printed:\n%s", filepath.Base(p.cmd.Path), prefix, strings.Join(p.Lines(), "\n"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q; it printed:\n%s", filepath.Base(p.cmd.Path), prefix, strings.Join(p.Lines(), "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *Proc) has(from int, prefix string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines[min(from, len(p.lines)):] {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
