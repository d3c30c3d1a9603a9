package systemtest

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/internal/pgtest"
	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

// balancer is a loopback TCP load balancer: each connection goes to the
// first backend, in its order, that accepts it (a dead instance refuses,
// so its gateways land on the next one).
type balancer struct {
	ln       net.Listener
	backends []string
}

func startBalancer(t testing.TB, backends ...string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, backends: backends}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { b.serve(c) })
		}
	})
	return b
}

func (b *balancer) url() string { return "http://" + b.ln.Addr().String() }

func (b *balancer) serve(c net.Conn) {
	defer c.Close()
	for _, addr := range b.backends {
		u, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		defer u.Close()
		done := make(chan struct{}, 2)
		go func() { io.Copy(u, c); done <- struct{}{} }()
		go func() { io.Copy(c, u); done <- struct{}{} }()
		<-done
		return
	}
}

// startCloudOn runs outpost-cloud on the PostgreSQL database dsn.
func startCloudOn(t testing.TB, bin, dir, addr, dsn string) *cloudProc {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, filepath.Join(dir, "cloud.yaml"), fmt.Sprintf(`version: 1
data_dir: %s
listen: %s
log: {level: warn}
admin: {email: %s, password: %s}
auth: {bcrypt_cost: 4}
api: {rate_limit: -1, auth_cache_ttl: 0s}
gateways: {register_per_minute: -1}
store: {driver: postgres, dsn: %q}
`, dir, addr, adminEmail, adminPassword, dsn))
	p, l := run(t, bin, "Platform API on ", "-config", cfg)
	u, _, _ := strings.Cut(strings.TrimPrefix(l, "Platform API on "), "/api/v1")
	return &cloudProc{product: p, url: u}
}

// TestTwoCloudsOnePostgres: two outpost-cloud processes on one PostgreSQL
// database behind loopback balancers, two real gateways (site-a reaches
// instance A first, site-b instance B), simulated Blynk devices.
//   - a control write through B reaches a device of the gateway on A;
//   - a device created through B reaches the gateway on A (it logs in);
//   - kill -9 of A while devices write: site-a reconnects through its
//     balancer to B, and each device's cloud history is exactly what it
//     wrote, once each, in order.
func TestTwoCloudsOnePostgres(t *testing.T) {
	cloudBin, gwBin := products(t)
	dsn := pgtest.Database(t)
	root := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startCloudOn(t, cloudBin, filepath.Join(root, "cloud-a"), addrA, dsn) // bootstraps the root Admin
	b := startCloudOn(t, cloudBin, filepath.Join(root, "cloud-b"), addrB, dsn)
	lbA, lbB := startBalancer(t, addrA, addrB), startBalancer(t, addrB, addrA)

	f := newFixture(t, &cloudProc{url: lbA.url()}, 2)
	apiB := newPlatform(t, b.url)
	sites := [2]*site{newSite(t, gwBin, root, lbA.url(), "site-a"), newSite(t, gwBin, root, lbB.url(), "site-b")}
	for i, s := range sites {
		s.id = f.claimInto(t, s.gw, i)
	}
	devs := map[int64]*devicesim.Device{}
	for i, s := range sites {
		for _, d := range f.devices[i] {
			devs[d.ID] = waitLogin(t, s, d.Token, devicesim.Options{})
		}
	}

	// A control write accepted by B reaches site-a's device (on A).
	target := f.devices[0][0]
	apiB.must(204, "POST", "/api/v1/organization/device/datastream", f.users[0],
		map[string]any{"deviceId": target.ID, "dataStreamId": "v2", "value": 42}, nil)
	if _, err := expectWrite(devs[target.ID], 2, "42"); err != nil {
		t.Fatalf("control write through B: %v", err)
	}
	// A device created through B: site-a (on A) serves it.
	var added siteDevice
	apiB.must(201, "POST", "/api/v1/organization/device/create", f.admin,
		map[string]any{"templateId": f.template, "orgId": f.orgs[0], "name": "Client A added on B"}, &added)
	waitLogin(t, sites[0], added.Token, devicesim.Options{})

	// Devices write; A dies in the middle.
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, len(devs))
	for _, d := range devs {
		wg.Go(func() {
			for v := range n {
				if _, err := d.VirtualWrite(1, v); err != nil {
					errs <- err
					return
				}
				if v == n/2 {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	a.kill()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	for i := range sites {
		for _, d := range f.devices[i] {
			var got []string
			poll.Within(t, d.Name+"'s history through B", 60*time.Second, func() bool {
				got = apiB.history(f.users[i], d.ID, 1)
				return len(got) >= n
			})
			if !slices.Equal(got, want) {
				t.Errorf("cloud history of %s after A's kill -9: %d values %v…, want 0..%d once each in order", d.Name, len(got), got[:min(len(got), 5)], n-1)
			}
		}
	}
	// site-a is B's now: a control write through B reaches its device.
	apiB.must(204, "POST", "/api/v1/organization/device/datastream", f.users[0],
		map[string]any{"deviceId": target.ID, "dataStreamId": "v2", "value": 43}, nil)
	if _, err := expectWrite(devs[target.ID], 2, "43"); err != nil {
		t.Fatalf("control write after A's death: %v", err)
	}
	for _, s := range sites {
		s.gw.stop(t)
	}
	b.stop(t)
}
