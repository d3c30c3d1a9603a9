package broker

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outpost/internal/nodepkg"
	"outpost/internal/realclient"
)

func hostPort(t *testing.T, addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// TestMosquittoClients drives the broker with Debian's mosquitto_pub and
// mosquitto_sub, over MQTT 3.1.1 and 5.
func TestMosquittoClients(t *testing.T) {
	pub := realclient.Tool(t, "mosquitto_pub", "mosquitto-clients")
	sub := realclient.Tool(t, "mosquitto_sub", "mosquitto-clients")
	e := newEnv(t, nil)
	host, port := hostPort(t, e.tcp)
	base := []string{"-h", host, "-p", port, "-u", "device"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, pub, append(base, args...)...).CombinedOutput()
		return string(out), err
	}

	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			// auth
			out, err := run("-V", v, "-P", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "-t", "ds/Temperature", "-m", "1")
			if err == nil || !strings.Contains(strings.ToLower(out), "bad user name or password") {
				t.Errorf("bad token: err %v, output %q", err, out)
			}
			// every write, QoS 1 acknowledged (mosquitto_pub exits 0 only after PUBACK)
			for _, tc := range []struct{ topic, payload, want string }{
				{"ds/Temperature", "-5.25", "-5.25"},
				{"ds/Set Temperature", "99", "30"},
			} {
				if out, err := run("-V", v, "-P", tokenA, "-q", "1", "-t", tc.topic, "-m", tc.payload); err != nil {
					t.Fatalf("publish %s: %v %s", tc.topic, err, out)
				}
			}
			// a refused write is still acknowledged; MQTT 5 gets the reason
			// code in the PUBACK (0x90 topic name invalid = RC:144)
			out, err = run("-V", v, "-P", tokenA, "-q", "1", "-d", "-t", "ds/No Such Stream", "-m", "1")
			if err != nil {
				t.Fatalf("publish to an unknown datastream: %v %s", err, out)
			}
			wantRC := "RC:0"
			if v == "mqttv5" {
				wantRC = "RC:144"
			}
			if !strings.Contains(out, "received PUBACK") || !strings.Contains(out, wantRC) {
				t.Errorf("PUBACK for an unknown datastream: want %s in %q", wantRC, out)
			}
			if got := value(e.hub, e.devA.ID, 0); got != "-5.25" {
				t.Errorf("Temperature = %q", got)
			}
			if got := value(e.hub, e.devA.ID, 1); got != "30" {
				t.Errorf("Set Temperature = %q (want clamped 30)", got)
			}
			// ACL: a forbidden subscription is refused
			subOut, err := exec.CommandContext(ctx, sub, append(base, "-V", v, "-P", tokenA, "-t", "#", "-C", "1", "-W", "3")...).CombinedOutput()
			if out = string(subOut); !strings.Contains(strings.ToLower(out), "denied") {
				t.Errorf("subscribe # → err %v, %q", err, out)
			}
			// 1024-byte limit: the broker closes the connection, nothing stored
			big := strings.Repeat("x", 1100)
			if out, err := run("-V", v, "-P", tokenA, "-q", "1", "-t", "ds/Status", "-m", big); err == nil {
				t.Errorf("oversized publish succeeded: %s", out)
			}
			if _, ok := e.hub.Value(e.devA.ID, 3); ok {
				t.Errorf("oversized publish stored")
			}
		})
	}

	// downlink: mosquitto_sub receives an HTTP-style control write
	cmd := exec.CommandContext(ctx, sub, append(base, "-P", tokenA, "-q", "1", "-t", "downlink/#", "-v", "-C", "1", "-W", "10")...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "mosquitto_sub subscribed", func() bool {
		c := e.broker.current(e.devA.ID)
		return c != nil && c.cl.State.Subscriptions.Len() >= 1 // downlink/#
	})
	if _, err := e.hub.ControlWrite(e.devA.ID, 4, [][]byte{[]byte("true")}, 0, "http"); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	if strings.TrimSpace(line) != "downlink/ds/Power 1" {
		t.Errorf("mosquitto_sub got %q", line)
	}
}

// TestMQTTjsWebsocket: the npm package mqtt (MQTT.js) connects through the
// websocket listener and exchanges a write both ways.
func TestMQTTjsWebsocket(t *testing.T) {
	if testing.Short() {
		t.Skip("installs an npm package")
	}
	node, dir := nodepkg.Require(t, "mqtt@"+realclient.MQTTjsVersion)
	e := newEnv(t, nil)
	script := `
const mqtt = require(process.argv[2] + '/mqtt');
const c = mqtt.connect(process.argv[3], {username: 'device', password: process.argv[4], protocolVersion: 4, reconnectPeriod: 0});
c.on('error', e => { console.log('error ' + e.message); process.exit(1); });
c.on('connect', () => {
  c.subscribe('downlink/#', {qos: 1}, (err) => {
    if (err) { console.log('error ' + err); process.exit(1); }
    c.publish('ds/Temperature', '23.5', {qos: 1}, (err) => {
      if (err) { console.log('error ' + err); process.exit(1); }
      console.log('ready');
    });
  });
});
c.on('message', (topic, payload) => { console.log(topic + '=' + payload.toString()); c.end(); });
`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := filepath.Join(t.TempDir(), "device.js")
	if err := os.WriteFile(js, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, js, dir, e.ws, tokenA)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	r := bufio.NewReader(stdout)
	if line, _ := r.ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("MQTT.js: %q", line)
	}
	if got := value(e.hub, e.devA.ID, 0); got != "23.5" {
		t.Errorf("MQTT.js write stored %q", got)
	}
	if !e.hub.Online(e.devA.ID) {
		t.Errorf("websocket device not online")
	}
	if _, err := e.hub.ControlWrite(e.devA.ID, 1, [][]byte{[]byte("17")}, 0, "http"); err != nil {
		t.Fatal(err)
	}
	if line, _ := r.ReadString('\n'); strings.TrimSpace(line) != "downlink/ds/Set Temperature=17" {
		t.Errorf("MQTT.js received %q", line)
	}
	eventually(t, "offline after MQTT.js ends", func() bool { return !e.hub.Online(e.devA.ID) })
}
