package sitetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"outpost/cloud"
	"outpost/gateway"
	"outpost/internal/poll"
	"outpost/shared/blnkinf"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

const otaTemplate = "TMPLOTASITE1"

// api calls the cloud's Platform API with a bearer token.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) do(method, path, ctype string, body []byte, out any) int {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// TestShipmentReachesEverySiteDeviceOnce: 100 simulated devices on one
// site (half Blynk TCP, half MQTT) run firmware 1.0.0; a shipment of 2.0.0
// is created in the cloud. The gateway fetches the image once, the cloud
// is stopped mid-shipment, and the site still brings every device to
// 2.0.0. Back up, the cloud shows every device's success, one device that
// rolls back as "rollback", and it served the image exactly once. An image
// whose tag names another template is refused at upload.
func TestShipmentReachesEverySiteDeviceOnce(t *testing.T) {
	const devices = 100
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)

	ccfg := testCloudConfig(t)
	c, err := cloud.New(ccfg, log)
	if err != nil {
		t.Fatal(err)
	}
	cctx, stopCloud := context.WithCancel(ctx)
	cloudDone := make(chan error, 1)
	go func() { cloudDone <- c.Run(cctx) }()

	gcfg := testGatewayConfig(t, c.URL(), "OTA site", []datastream.Template{{ID: otaTemplate, Name: "Updatable",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}}}})
	tokens := make([]string, devices)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("ota-site-device-token-%010d", i)
		gcfg.Devices = append(gcfg.Devices, gateway.DeviceConfig{Name: fmt.Sprintf("Unit %03d", i), Template: otaTemplate, Token: tokens[i]})
	}
	g, _, err := gateway.New(ctx, gcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	gwDone := make(chan error, 1)
	go func() { gwDone <- g.Run(ctx) }()
	var c2 *cloud.Server
	t.Cleanup(func() {
		cancel()
		if err := <-gwDone; err != nil {
			t.Error(err)
		}
		if c2 != nil {
			c2.Close()
		}
	})

	var code string
	poll.Within(t, "claim code", 20*time.Second, func() bool { st, _ := g.Claim(); code = st.ClaimCode; return code != "" })
	claim(t, ctx, c, code, "OTA client")
	a := api{t: t, base: c.URL()}
	var login struct{ Token string }
	a.do("POST", "/api/v1/auth/login", "application/json", []byte(`{"email":"admin@site.test","password":"site-admin-password"}`), &login)
	a.token = login.Token
	poll.Within(t, "the site's devices adopted by the cloud", 30*time.Second, func() bool {
		var l struct{ TotalElements int }
		a.do("GET", "/api/v1/organization/devices?includeSubOrgDevices=true&size=1", "", nil, &l)
		return l.TotalElements == devices
	})

	img := func(typ, version, build string) []byte {
		b := bytes.Repeat([]byte{0xE9, 0x03, 0x02, 0x20}, 64<<10) // 256 KiB
		copy(b[100000:], blnkinf.Encode(blnkinf.Tag{Version: version, Type: typ, Build: build}))
		return b
	}
	if st := a.do("POST", "/api/v1/organization/firmware/upload?templateId="+otaTemplate, "application/octet-stream",
		img("TMPLSOMEOTHER", "2.0.0", "Dec  3 2026 03:00:00"), nil); st != http.StatusBadRequest {
		t.Fatalf("image of another template: %d, want 400", st)
	}
	image := img(otaTemplate, "2.0.0", "Dec  3 2026 03:00:00")
	var fw struct{ ID int64 }
	a.do("POST", "/api/v1/organization/firmware/upload?templateId="+otaTemplate+"&name=unit.bin", "application/octet-stream", image, &fw)

	old := devicesim.Firmware{Version: "1.0.0", Type: otaTemplate, Build: "Nov  1 2026 10:00:00"}
	units := make([]*devicesim.Updatable, devices)
	for i := range units {
		o := devicesim.UpdatableOptions{Transport: "tcp", Addr: g.Addrs().Blynk, Token: tokens[i], Firmware: old}
		if i%2 == 1 {
			o.Transport, o.Addr = "mqtt", g.Addrs().MQTT
		}
		u, err := devicesim.StartUpdatable(ctx, o)
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		defer u.Close()
		units[i] = u
	}
	var sh struct{ ID int64 }
	a.do("POST", "/api/v1/organization/shipment/create", "application/json",
		[]byte(fmt.Sprintf(`{"name":"units 2.0","firmwareId":%d,"attempts":3}`, fw.ID)), &sh)

	// The cloud goes away as soon as the site holds the image.
	poll.Within(t, "the image fetched by the gateway", 30*time.Second, func() bool { return c.FirmwareBytesServed() >= int64(len(image)) })
	served := c.FirmwareBytesServed()
	addr := c.Addr()
	stopCloud()
	if err := <-cloudDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("firmware bytes over the cloud link for %d devices: %d (one image: %d)", devices, served, len(image))
	if served != int64(len(image)) {
		t.Errorf("the cloud served %d bytes, want one image (%d)", served, len(image))
	}
	updated := func() int {
		n := 0
		for _, u := range units {
			if u.Firmware().Version == "2.0.0" {
				n++
			}
		}
		return n
	}
	poll.Within(t, "every device on 2.0.0 with the cloud down", 60*time.Second, func() bool { return updated() == devices })
	for i, u := range units {
		if u.Updates() != 1 || u.Err() != nil {
			t.Errorf("device %d: %d updates, err %v", i, u.Updates(), u.Err())
		}
	}
	// One device goes back to its old firmware.
	if err := units[0].Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// The cloud comes back on the same address; the statuses arrive
	// through the gateway's outbox.
	ccfg.Listen = addr
	c2, err = cloud.New(ccfg, log)
	if err != nil {
		t.Fatal(err)
	}
	go c2.Run(ctx)
	var rows []struct {
		DeviceName string
		Status     string
	}
	poll.Within(t, "every status in the cloud", 60*time.Second, func() bool {
		rows = nil
		a.do("GET", fmt.Sprintf("/api/v1/organization/shipment/devices?shipmentId=%d", sh.ID), "", nil, &rows)
		n := 0
		for _, r := range rows {
			want := "success"
			if r.DeviceName == "Unit 000" {
				want = "rollback"
			}
			if r.Status == want {
				n++
			}
		}
		return n == devices
	})
	if got := c2.FirmwareBytesServed(); got != 0 {
		t.Errorf("the restarted cloud served %d image bytes, want 0", got)
	}
	var report strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&report, "%s=%s ", r.DeviceName, r.Status)
	}
	if !strings.Contains(report.String(), "Unit 000=rollback") {
		t.Errorf("statuses: %s", report.String())
	}
}
