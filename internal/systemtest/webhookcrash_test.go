package systemtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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

// TestWebhooksSurviveCloudKill9: a datastream webhook of a client org
// calls a receiver on 127.0.0.1 (allow-listed in the cloud's config); a
// device writes numbered values through its gateway while the cloud is
// SIGKILLed twice mid-stream (batches still arriving) and restarted on its data. In the end every
// value was delivered, each under exactly one delivery id (a repeat of
// the same id is allowed: delivery is at least once): a batch's
// deliveries are stored in its apply's transaction, so none is lost
// between the commit and the enqueue, and a replayed batch adds none.
func TestWebhooksSurviveCloudKill9(t *testing.T) {
	cloudBin, gwBin := products(t)
	root := t.TempDir()
	cdir := filepath.Join(root, "cloud")
	if err := os.Mkdir(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	caddr := freeAddr(t)
	allow := `webhooks: {allow: ["127.0.0.0/8"]}`
	cloud := startCloud(t, cloudBin, cdir, caddr, allow)
	f := newFixture(t, cloud, 1)

	rcv := &hookReceiver{ids: map[string]map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.api.must(201, "PUT", fmt.Sprintf("/api/v1/organization/webhook?orgId=%d", f.orgs[0]), f.users[0], map[string]any{
		"name": "counter", "enabled": true, "method": "POST", "url": "http://" + ln.Addr().String() + "/in",
		"trigger": map[string]any{"kind": "datastream", "pin": 1}, "body": "{datastream_value}",
		"perMinute": 600, "disableAfter": 1000}, nil)

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
