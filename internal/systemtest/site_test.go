package systemtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/internal/faultproxy"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/devicesim"
)

// site is one gateway directory, config and running process.
type site struct {
	dir, cfg string
	gw       *gatewayProc
	id       string // cloud gateway id
}

func newSite(t testing.TB, gwBin, root, cloudURL, name string) *site {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &site{dir: dir, cfg: gatewayConfig(t, dir, cloudURL, name)}
	s.gw = startGateway(t, gwBin, s.cfg)
	return s
}

// waitLogin waits until the gateway accepts the token (its tenancy came
// down from the cloud) and returns the logged-in device.
func waitLogin(t testing.TB, s *site, token string, opts devicesim.Options) *devicesim.Device {
	t.Helper()
	var d *devicesim.Device
	poll.Within(t, "the device's login on "+filepath.Base(s.dir), 30*time.Second, func() bool {
		var ok bool
		d, ok = dial(t, s.gw.blynk, token, opts)
		return ok
	})
	t.Cleanup(func() { d.Close() })
	return d
}

// TestSite: the real outpost-cloud and two real outpost-gateway processes,
// claimed through the Platform API into two client orgs, with simulated
// Blynk devices created in the cloud. Each device's writes reach the cloud
// under its org; a client org's user never sees the other site's devices;
// a control write from the Platform API reaches the device over TCP; a
// device transferred in the cloud moves from one gateway to the other.
func TestSite(t *testing.T) {
	cloudBin, gwBin := products(t)
	root := t.TempDir()
	cdir := filepath.Join(root, "cloud")
	if err := os.Mkdir(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	cloud := startCloud(t, cloudBin, cdir, "127.0.0.1:0")
	f := newFixture(t, cloud, 2)
	var sites [2]*site
	for i, name := range []string{"site-a", "site-b"} {
		sites[i] = newSite(t, gwBin, root, cloud.url, name)
		if c := sites[i].gw.claim(t); c.Claimed {
			t.Fatalf("%s claimed before anyone claimed it: %+v", name, c)
		}
		sites[i].id = f.claimInto(t, sites[i].gw, i)
	}

	// Devices log in at their own site only.
	const n = 50
	devs := map[int64]*devicesim.Device{}
	for i, s := range sites {
		for _, d := range f.devices[i] {
			devs[d.ID] = waitLogin(t, s, d.Token, devicesim.Options{})
			if other, ok := dial(t, sites[1-i].gw.blynk, d.Token, devicesim.Options{}); ok {
				other.Close()
				t.Errorf("%s's device %q logged in at %s", f.orgNames(i), d.Name, filepath.Base(sites[1-i].dir))
			}
		}
	}
	for _, d := range devs {
		for v := range n {
			if _, err := d.VirtualWrite(1, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := make([]string, n)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	for i := range sites {
		for _, d := range f.devices[i] {
			var got []string
			poll.Within(t, d.Name+"'s values in the cloud", 30*time.Second, func() bool {
				got = f.api.history(f.users[i], d.ID, 1)
				return len(got) >= n
			})
			if !slices.Equal(got, want) {
				t.Errorf("cloud history of %s: %v, want 0..%d once each in order", d.Name, got, n-1)
			}
			var live struct {
				Connected        bool
				DataStreamValues []struct{ Pin, Value string }
			}
			f.api.must(200, "GET", fmt.Sprintf("/api/v1/organization/device?deviceId=%d", d.ID), f.users[i], nil, &live)
			if !live.Connected || len(live.DataStreamValues) != 1 || live.DataStreamValues[0].Value != strconv.Itoa(n-1) {
				t.Errorf("live view of %s: %+v", d.Name, live)
			}
			// The other client org's user sees nothing of it.
			for _, p := range []string{"/device", "/device/datastreams", "/device/online", "/device/timeline"} {
				if code, _ := f.api.do("GET", fmt.Sprintf("/api/v1/organization%s?deviceId=%d", p, d.ID), f.users[1-i], nil); code != 404 {
					t.Errorf("%s of %s for the other org's user: %d, want 404", p, d.Name, code)
				}
			}
		}
		var list struct{ Content []struct{ ID int64 } }
		f.api.must(200, "GET", "/api/v1/organization/devices", f.users[i], nil, &list)
		for _, d := range list.Content {
			if slices.ContainsFunc(f.devices[1-i], func(o siteDevice) bool { return o.ID == d.ID }) {
				t.Errorf("%s's user lists the other site's device %d", f.orgNames(i), d.ID)
			}
		}
		// (devicesOnline arrives with the gateway's 30 s status report;
		// too slow to wait for here.)
		var gw struct {
			Connected bool
			LastSeen  int64
		}
		f.api.must(200, "GET", "/api/v1/organization/gateway?gatewayId="+sites[i].id, f.users[i], nil, &gw)
		if !gw.Connected || gw.LastSeen == 0 {
			t.Errorf("site status of %s: %+v", filepath.Base(sites[i].dir), gw)
		}
		if code, _ := f.api.do("GET", "/api/v1/organization/gateway?gatewayId="+sites[i].id, f.users[1-i], nil); code != 404 {
			t.Errorf("the other org's user reads site %s: %d, want 404", sites[i].id, code)
		}
	}

	// A control write by the client org's user reaches the device.
	target := f.devices[0][0]
	for v := range 3 {
		f.api.must(204, "POST", "/api/v1/organization/device/datastream", f.users[0],
			map[string]any{"deviceId": target.ID, "dataStreamId": "v2", "value": 100 + v}, nil)
		if _, err := expectWrite(devs[target.ID], 2, strconv.Itoa(100+v)); err != nil {
			t.Fatalf("control write %d: %v", v, err)
		}
	}
	if code, _ := f.api.do("POST", "/api/v1/organization/device/datastream", f.users[1],
		map[string]any{"deviceId": target.ID, "dataStreamId": "v2", "value": 1}); code != 404 {
		t.Errorf("the other org's user wrote to the device: %d, want 404", code)
	}

	// Ownership: the device moves to client B in the cloud; site A drops
	// it, site B serves it.
	start := time.Now()
	f.api.must(204, "POST", "/api/v1/organization/device/transfer", f.admin, map[string]any{"deviceId": target.ID, "newOrgId": f.orgs[1]}, nil)
	poll.Within(t, "the transfer to reach site-b", 10*time.Second, func() bool {
		d, ok := dial(t, sites[1].gw.blynk, target.Token, devicesim.Options{})
		if ok {
			d.Close()
		}
		return ok
	})
	t.Logf("transfer effective at the new site after %v", time.Since(start).Round(time.Millisecond))
	poll.Within(t, "site-a to drop the transferred device", 10*time.Second, func() bool {
		d, ok := dial(t, sites[0].gw.blynk, target.Token, devicesim.Options{})
		if ok {
			d.Close()
		}
		return !ok
	})
	for _, d := range f.devices[0][1:] {
		if c, ok := dial(t, sites[0].gw.blynk, d.Token, devicesim.Options{}); !ok {
			t.Errorf("site-a refuses %s after another device's transfer", d.Name)
		} else {
			c.Close()
		}
	}
	for i := range sites {
		sites[i].gw.stop(t)
	}
	cloud.stop(t)
}

func (f *fixture) orgNames(i int) string { return [2]string{"Client A", "Client B"}[i] }

// expectWrite waits for the server's vw on pin with value.
func expectWrite(d *devicesim.Device, pin int, value string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := d.Expect(ctx, func(in devicesim.Incoming) bool {
		return in.Msg.Cmd == blynk.CmdHardware && in.Op == blynk.OpVirtualWrite && in.Pin == pin && len(in.Values) == 1 && in.Values[0] == value
	})
	return in.At, err
}

var deadPath = flag.Bool("sync.deadpath", false, "leave black-holed connections for the gateway's idle timeout (60 s) to detect instead of resetting them after the outage")

// writer is a simulated device counting upwards on V1 through whatever
// address its site currently listens on, reconnecting when the gateway
// goes away.
func writer(ctx context.Context, t testing.TB, addr func() string, token string, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	v := 0
	var d *devicesim.Device
	defer func() {
		if d != nil {
			d.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if d == nil {
			var ok bool
			if d, ok = dial(t, addr(), token, devicesim.Options{}); !ok {
				d = nil
				continue
			}
		}
		if _, err := d.VirtualWrite(1, v); err != nil {
			d.Close()
			d = nil
			continue
		}
		v++
	}
}

// TestSiteSurvivesPartitionsAndCrashes: the real cloud and two real
// gateways whose websockets go through loopback proxies, devices writing
// all along. Site A's websocket is closed under it, site B's path silently
// drops traffic; gateway A is SIGKILLed and restarted; the cloud is
// SIGKILLed and restarted. After the devices stop and the gateways drain,
// for every device the cloud's history equals the gateway's committed
// history: nothing lost, nothing doubled, order kept.
func TestSiteSurvivesPartitionsAndCrashes(t *testing.T) {
	cloudBin, gwBin := products(t)
	root := t.TempDir()
	cdir := filepath.Join(root, "cloud")
	if err := os.Mkdir(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	caddr := freeAddr(t)
	cloud := startCloud(t, cloudBin, cdir, caddr)
	f := newFixture(t, cloud, 2)
	var sites [2]*site
	var proxies [2]*faultproxy.Proxy
	var addrs [2]atomic.Value // current blynk address of each site
	for i, name := range []string{"site-a", "site-b"} {
		proxies[i] = faultproxy.Start(t, caddr)
		sites[i] = newSite(t, gwBin, root, "http://"+proxies[i].Addr(), name)
		addrs[i].Store(sites[i].gw.blynk)
		sites[i].id = f.claimInto(t, sites[i].gw, i)
		waitLogin(t, sites[i], f.devices[i][0].Token, devicesim.Options{}).Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range sites {
		for _, d := range f.devices[i] {
			wg.Go(func() { writer(ctx, t, func() string { return addrs[i].Load().(string) }, d.Token, 2*time.Millisecond) })
		}
	}
	defer func() { cancel(); wg.Wait() }()
	grows := func(i int) func() bool {
		before := sites[i].gw.stats(t).ItemsAcked
		return func() bool { return sites[i].gw.stats(t).ItemsAcked > before+200 }
	}
	for i := range sites {
		poll.Within(t, "data from "+filepath.Base(sites[i].dir), 30*time.Second, grows(i))
	}
	for round := range *rounds {
		a, b := round%2, (round+1)%2
		// Partition: A's websocket closed (three times), B's path silent.
		proxies[b].Blackhole(true)
		for range 3 {
			proxies[a].Cut()
			poll.Within(t, "site A back after a cut", 30*time.Second, grows(a))
		}
		<-time.After(time.Second) // B's outage itself
		proxies[b].Blackhole(false)
		if !*deadPath {
			proxies[b].Cut() // the dead path finally resets
		}
		poll.Within(t, "site B back after the silent drop", 90*time.Second, grows(b))

		// SIGKILL gateway A while it drains; restart it on its data.
		sites[a].gw.kill()
		sites[a].gw = startGateway(t, gwBin, sites[a].cfg)
		addrs[a].Store(sites[a].gw.blynk)
		poll.Within(t, "site A back after its SIGKILL", 30*time.Second, grows(a))

		// SIGKILL the cloud mid-apply; restart it on its data.
		cloud.kill()
		<-time.After(300 * time.Millisecond) // the outage itself
		cloud = startCloud(t, cloudBin, cdir, caddr)
		for i := range sites {
			poll.Within(t, "data after the cloud restart", 60*time.Second, grows(i))
		}
		t.Logf("round %d done", round+1)
	}

	// Stop the devices, let each gateway drain, stop it, compare.
	cancel()
	wg.Wait()
	for i, s := range sites {
		// A clean stop commits what the devices sent last; the restarted
		// gateway then has nothing new to write and drains to zero.
		s.gw.stop(t)
		s.gw = startGateway(t, gwBin, s.cfg)
		poll.Within(t, filepath.Base(s.dir)+" to drain", 60*time.Second, func() bool {
			st := s.gw.stats(t)
			return st.Connected && st.Backlog == 0
		})
		s.gw.stop(t)
		var tokens []string
		for _, d := range f.devices[i] {
			tokens = append(tokens, d.Token)
		}
		committed := committedHistory(t, s.dir, 1, tokens)
		for _, d := range f.devices[i] {
			local := committed[d.Token]
			got := f.api.history(f.users[i], d.ID, 1)
			if !slices.Equal(got, local) {
				t.Errorf("%s: cloud holds %d values, the gateway committed %d; first difference at %d",
					d.Name, len(got), len(local), firstDiff(got, local))
			}
			if !increasing(local) {
				t.Errorf("%s: the gateway's own history is not increasing", d.Name)
			}
			t.Logf("%s: %d values, equal in the cloud and on the gateway", d.Name, len(local))
		}
	}
	cloud.stop(t)
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func increasing(vals []string) bool {
	prev := -1
	for _, v := range vals {
		n, err := strconv.Atoi(v)
		if err != nil || n <= prev {
			return false
		}
		prev = n
	}
	return true
}
