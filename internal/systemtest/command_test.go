package systemtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type commandResult struct {
	Code    string `json:"code"`
	Value   string `json:"value"`
	Message string `json:"message"`
	Micros  int64  `json:"micros"`
}

// TestCommandsReachTheRightGateway: commands issued in the cloud reach the
// device's hub through the real endpoint and link, come back with their
// results, and are stored and synced up like any write; a command addressed
// through the other site's gateway finds no such device there.
func TestCommandsReachTheRightGateway(t *testing.T) {
	gwBin, cloudBin := helpers(t)
	dir := t.TempDir()
	telFile := filepath.Join(dir, "telemetry.jsonl")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cloudAddr := ln.Addr().String()
	ln.Close()
	cloud := start(t, cloudBin, "TestCloudProcess", "OUTPOST_GATEWAYSYNC_CLOUD="+cloudAddr+","+telFile)
	if l := <-cloud.lines; !strings.HasPrefix(l, "listening") {
		t.Fatalf("cloud said %q", l)
	}
	devices := map[string][]string{}
	gws := map[string]*proc{}
	for _, gw := range []string{"site-a", "site-b"} {
		gdir := filepath.Join(dir, gw)
		if err := os.Mkdir(gdir, 0o755); err != nil {
			t.Fatal(err)
		}
		env := fmt.Sprintf("OUTPOST_CLOUDLINK_CRASH_CHILD=idle,%s,ws://%s/sync,%s", gdir, cloudAddr, gw)
		gws[gw] = start(t, gwBin, "TestCrashGatewayMidDrain", env)
		for len(devices[gw]) < 3 {
			l, ok := <-gws[gw].lines
			if !ok {
				t.Fatalf("%s exited", gw)
			}
			if uid, ok := strings.CutPrefix(l, "device "); ok {
				devices[gw] = append(devices[gw], uid)
			}
		}
	}
	command := func(gw, uid, value string) commandResult {
		t.Helper()
		u := fmt.Sprintf("http://%s/command?gateway=%s&device=%s&pin=1&value=%s", cloudAddr, gw, uid, value)
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("command: HTTP %d", resp.StatusCode)
		}
		var r commandResult
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	target := devices["site-a"][0]
	// The gateways connect on their own schedule: the first command waits
	// for site-a (commands are held until the gateway is there).
	if r := command("site-a", target, "0"); r.Code != "ok" {
		t.Fatalf("first command: %+v", r)
	}
	const n = 300
	var lat []time.Duration
	for i := 1; i <= n; i++ {
		r := command("site-a", target, strconv.Itoa(i))
		if r.Code != "ok" || r.Value != strconv.Itoa(i) {
			t.Fatalf("command %d: %+v", i, r)
		}
		lat = append(lat, time.Duration(r.Micros)*time.Microsecond)
	}
	slices.Sort(lat)
	t.Logf("cloud → gateway hub → result, %d commands: p50 %v, p99 %v", n, lat[n/2], lat[n*99/100])

	if r := command("site-b", target, "1"); r.Code != "no_device" {
		t.Errorf("site-a's device through site-b: %+v, want no_device", r)
	}
	if r := command("site-a", devices["site-a"][1], "abc"); r.Code != "invalid" {
		t.Errorf("a string to an integer datastream: %+v, want invalid", r)
	}

	// The commanded values are device state like any other: they come back
	// up as telemetry, in order.
	want := make([]string, n+1)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	waitFor(t, "the commanded values in the cloud", 30*time.Second, func() bool {
		return len(cloudItems(t, telFile)["site-a"][target]) >= n+1
	})
	if got := cloudItems(t, telFile)["site-a"][target]; !slices.Equal(got, want) {
		t.Errorf("cloud holds %d values for the commanded device, want 0..%d in order", len(got), n)
	}
	if got := cloudItems(t, telFile)["site-b"]; len(got) != 0 {
		t.Errorf("site-b synced %v; it received no command", got)
	}
	for _, p := range gws {
		p.stdin.Close()
		_ = p.cmd.Wait()
	}
	cloud.stdin.Close()
	_ = cloud.cmd.Wait()
}
