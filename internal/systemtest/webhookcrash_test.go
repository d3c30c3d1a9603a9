package systemtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

// hookReceiver is a webhook receiver on 127.0.0.1: it records the delivery
// ids each body (a datastream value) came with.
type hookReceiver struct {
	mu   sync.Mutex
	ids  map[string]map[string]bool // value → delivery ids
	reqs int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	v := string(b)
	if h.ids[v] == nil {
		h.ids[v] = map[string]bool{}
	}
	h.ids[v][r.Header.Get("X-Outpost-Delivery")] = true
	h.reqs++
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// received returns how many values have a delivery so far.
func (h *hookReceiver) received() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}

// hookSite is a cloud process (its data in cdir, on caddr) allowed to
// call loopback webhooks, a fixture with perOrg devices, and a receiver
// counting delivery ids behind one enabled webhook of the first org.
type hookSite struct {
	cloudBin, gwBin, root, cdir, caddr, allow string
	cloud                                     *cloudProc
	f                                         *fixture
	rcv                                       *hookReceiver
}

func newHookSite(t *testing.T, perOrg int, trigger map[string]any, body string) *hookSite {
	t.Helper()
	hs := &hookSite{root: t.TempDir(), caddr: freeAddr(t), allow: `webhooks: {allow: ["127.0.0.0/8"]}`}
	hs.cloudBin, hs.gwBin = products(t)
	hs.cdir = filepath.Join(hs.root, "cloud")
	if err := os.Mkdir(hs.cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	hs.cloud = startCloud(t, hs.cloudBin, hs.cdir, hs.caddr, hs.allow)
	hs.f = newFixture(t, hs.cloud, perOrg)
	hs.rcv = &hookReceiver{ids: map[string]map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hs.rcv, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	hs.f.api.must(201, "PUT", fmt.Sprintf("/api/v1/organization/webhook?orgId=%d", hs.f.orgs[0]), hs.f.users[0], map[string]any{
		"name": "test hook", "enabled": true, "method": "POST", "url": "http://" + ln.Addr().String() + "/in",
		"trigger": trigger, "body": body, "perMinute": 600, "disableAfter": 1000}, nil)
	return hs
}

// TestWebhooksSurviveCloudKill9: a datastream webhook of a client org
// calls a receiver on 127.0.0.1 (allow-listed in the cloud's config); a
// device writes numbered values through its gateway while the cloud is
// SIGKILLed twice mid-stream (batches still arriving) and restarted on its data. In the end every
// value was delivered, each under exactly one delivery id (a repeat of
// the same id is allowed: delivery is at least once): a batch's
// deliveries are stored in its apply's transaction, so none is lost
// between the commit and the enqueue, and a replayed batch adds none.
func TestWebhooksSurviveCloudKill9(t *testing.T) {
	hs := newHookSite(t, 1, map[string]any{"kind": "datastream", "pin": 1}, "{datastream_value}")
	cloudBin, gwBin, root, cdir, caddr, allow, f, rcv := hs.cloudBin, hs.gwBin, hs.root, hs.cdir, hs.caddr, hs.allow, hs.f, hs.rcv
	cloud := hs.cloud

	s := newSite(t, gwBin, root, cloud.url, "site-a")
	f.claimInto(t, s.gw, 0)
	dev := f.devices[0][0]
	d := waitLogin(t, s, dev.Token, devicesim.Options{})

	// The values go as fast as the device can send them, so batches keep
	// arriving while the cloud dies: a delivery queued after its batch's
	// commit would be lost in the gap.
	const n, kills = 600, 2
	for v := range n {
		if _, err := d.VirtualWrite(1, v); err != nil {
			t.Fatal(err)
		}
		if v > 0 && v%(n/(kills+1)) == 0 {
			// SIGKILL the cloud mid-stream (batches applied, deliveries
			// queued or in flight); restart it on its data.
			poll.Within(t, "the gateway to send the values so far", 30*time.Second, func() bool {
				return s.gw.stats(t).ItemsAcked >= int64(v)/2
			})
			cloud.kill()
			cloud = startCloud(t, cloudBin, cdir, caddr, allow)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("values delivered: %d of %d", rcv.received(), n)
		}
	})
	poll.Within(t, "every value delivered", 60*time.Second, func() bool { return rcv.received() >= n })

	// Let late repeats arrive, then check: each value once, one id each.
	want := map[string]bool{}
	for v := range n {
		want[strconv.Itoa(v)] = true
	}
	time.Sleep(500 * time.Millisecond)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for v, ids := range rcv.ids {
		if !want[v] {
			t.Errorf("delivered a value nobody wrote: %q", v)
		}
		if len(ids) != 1 {
			t.Errorf("value %s delivered under %d delivery ids %v, want 1", v, len(ids), ids)
		}
	}
	if len(rcv.ids) != n {
		t.Errorf("%d values delivered, want %d", len(rcv.ids), n)
	}
	t.Logf("%d values, %d requests", len(rcv.ids), rcv.reqs)
	s.gw.stop(t)
	cloud.stop(t)
}

// TestDeviceCreatedWebhooksSurviveCloudKill9: a device_created webhook of
// a client org calls a receiver on 127.0.0.1 while devices are created
// through the Platform API one after another and the cloud is SIGKILLed
// twice (creations still arriving) and restarted on its data. In the end
// every device the org holds was delivered under exactly one delivery id
// (a repeat of that id is allowed), and no delivery names a device that
// does not exist: each creation's deliveries are read from the audit log
// after a cursor moved with them in one transaction, so none is lost
// between the creation's commit and its delivery, and none is doubled by
// the run after a restart.
func TestDeviceCreatedWebhooksSurviveCloudKill9(t *testing.T) {
	hs := newHookSite(t, 0, map[string]any{"kind": "device_created"}, "{device_name}")
	cloudBin, cdir, caddr, allow, f, rcv := hs.cloudBin, hs.cdir, hs.caddr, hs.allow, hs.f, hs.rcv
	cloud := hs.cloud

	// Each attempt has its own name: one cut by the kill may or may not
	// have committed, and is judged by the device list below.
	const n, kills = 90, 2
	stop := make(chan struct{})
	created := make(chan int, 1)
	url := cloud.url // every restart listens on caddr again; cloud itself is replaced
	go func() {
		c := &http.Client{Timeout: 5 * time.Second}
		body := func(name string) io.Reader {
			return strings.NewReader(fmt.Sprintf(`{"templateId": %q, "orgId": %d, "name": %q}`, f.template, f.orgs[0], name))
		}
		ok := 0
		for attempt := 0; ok < n; attempt++ {
			select {
			case <-stop:
				created <- ok
				return
			default:
			}
			req, _ := http.NewRequest("POST", url+"/api/v1/organization/device/create", body(fmt.Sprintf("dev %03d", attempt)))
			req.Header.Set("Authorization", "Bearer "+f.admin)
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // the cloud is down: again, under a new name
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				ok++
			}
		}
		created <- ok
	}()
	for k := 1; k <= kills; k++ {
		poll.Within(t, "devices created before a kill", 60*time.Second, func() bool { return rcv.received() >= k*n/(kills+1) })
		cloud.kill()
		cloud = startCloud(t, cloudBin, cdir, caddr, allow)
	}
	select {
	case <-created:
	case <-time.After(120 * time.Second):
		close(stop)
		t.Fatalf("creations did not finish: %d", <-created)
	}

	var devs struct{ Content []struct{ Name string } }
	f.api.must(200, "GET", fmt.Sprintf("/api/v1/organization/devices?orgId=%d&size=1000", f.orgs[0]), f.admin, nil, &devs)
	if len(devs.Content) < n {
		t.Fatalf("%d devices in the org, want at least %d", len(devs.Content), n)
	}
	poll.Within(t, "every device delivered", 60*time.Second, func() bool { return rcv.received() >= len(devs.Content) })
	time.Sleep(500 * time.Millisecond) // late repeats
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	exists := map[string]bool{}
	for _, d := range devs.Content {
		exists[d.Name] = true
		if ids := rcv.ids[d.Name]; len(ids) != 1 {
			t.Errorf("device %q delivered under %d delivery ids %v, want 1", d.Name, len(ids), ids)
		}
	}
	for name := range rcv.ids {
		if !exists[name] {
			t.Errorf("delivered a device that does not exist: %q", name)
		}
	}
	t.Logf("%d devices, %d requests", len(devs.Content), rcv.reqs)
	cloud.stop(t)
}
