package systemtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

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
	waitFor(t, "the device's login on "+filepath.Base(s.dir), 30*time.Second, func() bool {
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
			waitFor(t, d.Name+"'s values in the cloud", 30*time.Second, func() bool {
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
	waitFor(t, "the transfer to reach site-b", 10*time.Second, func() bool {
		d, ok := dial(t, sites[1].gw.blynk, target.Token, devicesim.Options{})
		if ok {
			d.Close()
		}
		return ok
	})
	t.Logf("transfer effective at the new site after %v", time.Since(start).Round(time.Millisecond))
	waitFor(t, "site-a to drop the transferred device", 10*time.Second, func() bool {
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
