package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"outpost/internal/realclient"
)

// freeAddr reserves a loopback port for a gateway that must come back on
// the same address after a restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDevicesResumeAfterRestart runs the real gateway as a process with
// devices on real client libraries — libmosquitto (MQTT 3.1.1 and 5, the
// loop_forever reconnect of Blynk's C sample, and mosquitto_sub -c),
// MQTT.js and the npm blynk-library over Blynk TCP — then restarts it on
// the same ports,
// gracefully (SIGTERM) and with kill -9. After each restart every device
// is back and receives a write sent through the device HTTP API.
func TestDevicesResumeAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the gateway process with real clients: skipped with -short")
	}
	mosquitto := realclient.MosquittoDevice(t)
	mosquittoSub := realclient.Tool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf := realclient.Tool(t, "stdbuf", "coreutils")
	mqttjs := realclient.MQTTjsDevice(t)
	blynkjs := realclient.BlynkJSDevice(t)

	dir := t.TempDir()
	mqttAddr, blynkAddr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	type client struct {
		name, token string
		argv        []string
		ready       string // printed once the device can receive
		msg         string // prefix of the line a write to Level prints
	}
	mqttHost, mqttPort, _ := net.SplitHostPort(mqttAddr)
	blynkHost, blynkPort, _ := net.SplitHostPort(blynkAddr)
	clients := []client{
		{name: "libmosquitto 3.1.1", token: token(1), ready: "SUBSCRIBED", msg: "MSG downlink/ds/Level "},
		{name: "libmosquitto 5", token: token(2), ready: "SUBSCRIBED", msg: "MSG downlink/ds/Level "},
		{name: "MQTT.js", token: token(3), ready: "SUBSCRIBED", msg: "MSG downlink/ds/Level "},
		{name: "blynk-library", token: token(4), ready: "CONNECTED", msg: "MSG V1 "},
		{name: "mosquitto_sub -c", token: token(5), ready: "Client restart-sub received SUBACK", msg: "downlink/ds/Level "},
	}
	clients[0].argv = []string{mosquitto, mqttHost, mqttPort, clients[0].token, "4"}
	clients[1].argv = []string{mosquitto, mqttHost, mqttPort, clients[1].token, "5"}
	clients[2].argv = append(mqttjs, "mqtt://"+mqttAddr, clients[2].token, "4")
	clients[3].argv = append(blynkjs, blynkHost, blynkPort, clients[3].token)
	// A persistent-session subscriber (-c) printing its protocol exchange
	// (-d, line-buffered by stdbuf so the test sees it at once): it must
	// reconnect and subscribe again by itself.
	clients[4].argv = []string{stdbuf, "-oL", mosquittoSub, "-h", mqttHost, "-p", mqttPort, "-u", "device", "-P", clients[4].token,
		"-V", "mqttv311", "-c", "-i", "restart-sub", "-q", "1", "-t", "downlink/#", "-v", "-d"}

	cfg := fmt.Sprintf(`version: 1
data_dir: %s
log: {level: warn}
blynk: {listen: %q, tls_listen: "", serve_http: false}
mqtt: {listen: %q, tls_listen: "", ws_listen: ""}
http: {listen: %q}
installer: {listen: ""}
templates: [{id: TMPLR, name: R, datastreams: [{pin: 1, name: Level, type: integer}]}]
devices:
`, filepath.Join(dir, "data"), blynkAddr, mqttAddr, httpAddr)
	for i, c := range clients {
		cfg += fmt.Sprintf("  - {name: d%d, template: TMPLR, token: %q}\n", i+1, c.token)
	}
	cfgPath := filepath.Join(dir, "g.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	gw := startGateway(t, cfgPath)
	procs := make([]*realclient.Proc, len(clients))
	marks := make([]int, len(clients))
	for i, c := range clients {
		procs[i] = realclient.Start(t, c.argv...)
	}
	for phase, restart := range []string{"start", "graceful restart", "kill -9 restart"} {
		switch restart {
		case "graceful restart":
			gw.stop(t)
			gw = startGateway(t, cfgPath)
		case "kill -9 restart":
			gw.kill(t)
			gw = startGateway(t, cfgPath)
		}
		for i, c := range clients {
			procs[i].Await(t, marks[i], c.ready, 30*time.Second)
		}
		for i, c := range clients {
			value := strconv.Itoa(100*phase + i)
			update(t, httpAddr, c.token, value)
			procs[i].Await(t, marks[i], c.msg+value, 15*time.Second)
			marks[i] = procs[i].Mark()
		}
	}
	for i, c := range clients {
		for _, l := range procs[i].Lines() {
			if len(l) >= 4 && l[:4] == "EXIT" {
				t.Errorf("%s gave up: %s", c.name, l)
			}
		}
	}
}

// token is a device token for the restart test.
func token(i int) string { return fmt.Sprintf("restart%025d", i) }

// update writes V1 of the device through the device HTTP API, which
// delivers it to the device's connection.
func update(t *testing.T, httpAddr, token, value string) {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/external/api/update?token=" + url.QueryEscape(token) + "&V1=" + value)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("update: %s %s", resp.Status, body)
	}
}
