package systemtest

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"outpost/internal/poll"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

var (
	ackRounds  = flag.Int("ackcrash.rounds", 3, "kill -9 rounds in TestAckedWritesSurviveKill9 (scripts/sync/ackcrash.sh raises it)")
	ackGateway = flag.String("ackcrash.gateway", "", "outpost-gateway binary to test instead of this tree's (e.g. an older build, to see it fail)")
)

const (
	ackHTTPWriters = 8  // keep-alive HTTP clients, one request at a time
	ackMQTTWriters = 16 // MQTT clients (paho), QoS 1
	ackMQTTWindow  = 4  // QoS 1 publishes in flight per MQTT client
)

// ackToken is the token of writer i's device.
func ackToken(i int) string { return fmt.Sprintf("ackcrash%024d", i) }

// ackGatewayConfig is a standalone gateway with one device per writer.
func ackGatewayConfig(t testing.TB, dir string) string {
	var devs strings.Builder
	for i := range ackHTTPWriters + ackMQTTWriters {
		fmt.Fprintf(&devs, "  - {name: writer-%d, template: TMPLcrash001, token: %q}\n", i, ackToken(i))
	}
	return writeFile(t, filepath.Join(dir, "gateway.yaml"), fmt.Sprintf(`version: 1
data_dir: %s
log: {level: warn}
blynk: {listen: "127.0.0.1:0", tls_listen: ""}
mqtt: {listen: "127.0.0.1:0", tls_listen: "", ws_listen: ""}
http: {listen: "127.0.0.1:0"}
installer: {listen: "127.0.0.1:0"}
templates:
  - id: TMPLcrash001
    name: Crash
    datastreams:
      - {pin: 0, name: Seq, type: integer}
devices:
%s`, dir, devs.String()))
}

// ackGatewayProc is a gateway with the addresses of its HTTP and MQTT ports.
type ackGatewayProc struct {
	*product
	http, mqtt string
}

func startAckGateway(t testing.TB, bin, cfg string) *ackGatewayProc {
	t.Helper()
	p, l := run(t, bin, "outpost-gateway listening", "-config", cfg)
	g := &ackGatewayProc{product: p}
	for _, f := range strings.Fields(l) {
		if v, ok := strings.CutPrefix(f, "http="); ok {
			g.http = v
		}
		if v, ok := strings.CutPrefix(f, "mqtt="); ok {
			g.mqtt = v
		}
	}
	if g.http == "" || g.mqtt == "" {
		t.Fatalf("gateway said %q", l)
	}
	return g
}

// ackLog is what one writer was told was stored: the numbers of its
// writes that got a 200 or a PUBACK.
type ackLog struct {
	mu    sync.Mutex
	acked []int
	next  int // the number of the writer's next write (numbers never repeat)
}

func (a *ackLog) add(n int) {
	a.mu.Lock()
	a.acked = append(a.acked, n)
	a.mu.Unlock()
}

func (a *ackLog) take() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	return a.next
}

// TestAckedWritesSurviveKill9: devices write numbered values over HTTP
// (keep-alive) and MQTT QoS 1 as fast as they are answered; the gateway is
// SIGKILLed mid-load and restarted on its data, -ackcrash.rounds times.
// Every write that got its HTTP 200 or its PUBACK must be in the SQLite
// file: a success answer means the write is durable (README "Durability
// of writes"), and the restarted gateway serves the newest of them (or a
// later one) as the pin's value. Writes that got no answer may or may not
// be there.
func TestAckedWritesSurviveKill9(t *testing.T) {
	_, bin := products(t)
	if *ackGateway != "" {
		bin = *ackGateway
	}
	dir := t.TempDir()
	cfg := ackGatewayConfig(t, dir)
	logs := make([]*ackLog, ackHTTPWriters+ackMQTTWriters)
	for i := range logs {
		logs[i] = &ackLog{}
	}
	g := startAckGateway(t, bin, cfg)
	totalAcked, lost := 0, 0
	for round := 1; round <= *ackRounds; round++ {
		var acked atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range ackHTTPWriters {
			wg.Go(func() { httpWriter(g.http, ackToken(i), logs[i], &acked, stop) })
		}
		for i := ackHTTPWriters; i < len(logs); i++ {
			wg.Go(func() { mqttWriter(g.mqtt, ackToken(i), logs[i], &acked, stop) })
		}
		// Under load for a while (a random time, so that the kill falls
		// anywhere in the commit cycle), then SIGKILL.
		poll.Within(t, "writes being acknowledged", 60*time.Second, func() bool { return acked.Load() >= 500 })
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		g.kill()
		close(stop)
		wg.Wait()

		g = startAckGateway(t, bin, cfg) // comes back on its data
		tokens := make([]string, len(logs))
		for i := range logs {
			tokens[i] = ackToken(i)
		}
		stored := committedHistory(t, dir, 0, tokens)
		roundLost := 0
		for i, l := range logs {
			have := map[string]bool{}
			for _, v := range stored[tokens[i]] {
				have[v] = true
			}
			l.mu.Lock()
			var missing []int
			newest := 0
			for _, n := range l.acked {
				if !have[strconv.Itoa(n)] {
					missing = append(missing, n)
				}
				newest = max(newest, n)
			}
			totalAcked += len(l.acked)
			l.acked = l.acked[:0]
			l.mu.Unlock()
			if len(missing) > 0 {
				roundLost += len(missing)
				kind := "HTTP"
				if i >= ackHTTPWriters {
					kind = "MQTT QoS 1"
				}
				t.Errorf("round %d: writer %d (%s): %d acknowledged writes lost by kill -9: %v", round, i, kind, len(missing), missing[:min(len(missing), 10)])
			}
			// The restarted gateway serves the newest of them, or a
			// later write that was stored unanswered, as the pin's value:
			// the latest-values table lags the outbox by up to a second,
			// and a start takes what it lacks from the outbox.
			if newest > 0 {
				if v, ok := latestSeq(t, g.http, tokens[i]); !ok || v.n < newest {
					t.Errorf("round %d: writer %d: the restarted gateway serves %s as its value, not the acknowledged %d or later", round, i, v, newest)
				}
			}
		}
		lost += roundLost
		t.Logf("round %d: %d writes acknowledged this round, %d of them lost", round, acked.Load(), roundLost)
	}
	t.Logf("%d rounds: %d acknowledged writes, %d lost", *ackRounds, totalAcked, lost)
}

// latestSeq is the value a gateway serves for pin V0 of token's device,
// and whether it serves a number.
func latestSeq(t *testing.T, addr, token string) (seqValue, bool) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/external/api/get?token=%s&v0", addr, token))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(b))
	if resp.StatusCode != http.StatusOK || err != nil {
		return seqValue{answer: fmt.Sprintf("%d %q", resp.StatusCode, b)}, false
	}
	return seqValue{n: n}, true
}

// seqValue is a served value, or the answer that did not hold one.
type seqValue struct {
	n      int
	answer string
}

func (v seqValue) String() string {
	if v.answer != "" {
		return "no value (" + v.answer + ")"
	}
	return strconv.Itoa(v.n)
}

// httpWriter sends numbered updates one at a time on a keep-alive
// connection until stop or an error (the kill).
func httpWriter(addr, token string, log *ackLog, acked *atomic.Int64, stop <-chan struct{}) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	for {
		select {
		case <-stop:
			return
		default:
		}
		n := log.take()
		resp, err := c.Get(fmt.Sprintf("http://%s/external/api/update?token=%s&v0=%d", addr, token, n))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			log.add(n)
			acked.Add(1)
		}
	}
}

// mqttWriter publishes numbered values at QoS 1, ackMQTTWindow in flight,
// until stop or the connection is lost (the kill). A write counts as
// acknowledged only when its token completes without error (a PUBACK).
func mqttWriter(addr, token string, log *ackLog, acked *atomic.Int64, stop <-chan struct{}) {
	lost := make(chan struct{})
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetUsername("device").SetPassword(token).SetClientID(token).
		SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true).
		SetConnectTimeout(5 * time.Second).SetProtocolVersion(4).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) })
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return
	}
	defer c.Disconnect(0)
	type pending struct {
		n   int
		tok paho.Token
	}
	var window []pending
	settle := func(p pending) bool {
		select {
		case <-p.tok.Done():
		case <-lost:
			return false
		}
		if p.tok.Error() != nil {
			return false
		}
		log.add(p.n)
		acked.Add(1)
		return true
	}
	for {
		select {
		case <-stop:
			return
		case <-lost:
			return
		default:
		}
		if len(window) == ackMQTTWindow {
			if !settle(window[0]) {
				return
			}
			window = slices.Delete(window, 0, 1)
		}
		n := log.take()
		window = append(window, pending{n, c.Publish("ds/Seq", 1, false, strconv.Itoa(n))})
	}
}
