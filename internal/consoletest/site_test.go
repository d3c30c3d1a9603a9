package consoletest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"outpost/cloud"
	"outpost/gateway"
	"outpost/internal/poll"
	"outpost/shared/devicesim"
)

const (
	adminEmail = "admin@console.test"
	adminPW    = "admin-password-1"
	viewerPW   = "viewer-password-1"
)

// site is a running cloud and gateway, set up through the Platform API:
// a template, Client A (served by the gateway) with two devices and a
// view-only user, Client B with one device.
type site struct {
	t        *testing.T
	cloud    *cloud.Server
	gw       *gateway.Gateway
	url      string
	mailbox  string // where the cloud's mail lands
	admin    string // Platform API session token
	template string
	orgA     int64
	orgB     int64
	devs     map[string]apiDevice // by name
}

type apiDevice struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
	UID   string `json:"uid"`
}

// waitFor is poll.Within (the one polling helper), under the name this
// package's tests use.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	poll.Within(t, what, d, cond)
}

func startSite(t *testing.T) *site {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	cc := cloud.Defaults()
	cc.Listen, cc.DataDir = "127.0.0.1:0", filepath.Join(dir, "cloud")
	cc.Auth.BcryptCost = 4
	cc.Admin = cloud.AdminConfig{OrgName: "Console Test", Email: adminEmail, Name: "Ada Admin", Password: adminPW}
	c, err := cloud.New(cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	cdone := make(chan error, 1)
	go func() { cdone <- c.Run(ctx) }()
	s := &site{t: t, cloud: c, url: c.URL(), mailbox: filepath.Join(cc.DataDir, "mailbox"), devs: map[string]apiDevice{}}

	var login struct{ Token string }
	s.api("POST", "/api/v1/auth/login", "", map[string]any{"email": adminEmail, "password": adminPW}, 200, &login)
	s.admin = login.Token
	const o = "/api/v1/organization"
	var tm struct{ ID string }
	s.api("POST", o+"/template/create", s.admin, map[string]any{"name": "Thermostat", "datastreams": []map[string]any{
		{"pin": 0, "name": "Temperature", "type": "double", "min": -40, "max": 125, "units": "°C"},
		{"pin": 1, "name": "Target", "type": "double", "min": 5, "max": 35},
		{"pin": 2, "name": "Power", "type": "boolean"},
		{"pin": 3, "name": "Mode", "type": "enum", "enum": []map[string]any{{"value": 0, "label": "Off"}, {"value": 1, "label": "Heat"}}},
	}, "metaFields": []map[string]any{{"id": 1, "name": "Serial Number", "default": "SN-0"}}}, 201, &tm)
	s.template = tm.ID
	for _, org := range []*int64{&s.orgA, &s.orgB} {
		name := "Client A"
		if org == &s.orgB {
			name = "Client B"
		}
		var created struct{ ID int64 }
		s.api("POST", o+"/create", s.admin, map[string]any{"name": name}, 201, &created)
		*org = created.ID
		s.api("PUT", fmt.Sprintf("%s/template/enabled?orgId=%d&templateId=%s&enabled=true", o, created.ID, tm.ID), s.admin, nil, 204, nil)
	}
	for _, d := range []struct {
		name string
		org  int64
	}{{"Boiler One", s.orgA}, {"Heat Pump Two", s.orgA}, {"Other Client Device", s.orgB}} {
		var dev apiDevice
		s.api("POST", o+"/device/create", s.admin, map[string]any{"templateId": tm.ID, "orgId": d.org, "name": d.name}, 201, &dev)
		s.devs[d.name] = dev
	}
	// A view-only user in Client A: the User role there may view devices.
	s.api("PUT", fmt.Sprintf("%s/role/permissions?orgId=%d&roleId=3", o, s.orgA), s.admin,
		map[string]any{"permissions": []string{"ORG_DEVICES_VIEW"}}, 204, nil)
	s.api("POST", o+"/users/create-in-org", s.admin, map[string]any{"email": "viewer@a.test", "password": viewerPW,
		"name": "Vera Viewer", "orgId": s.orgA, "roleId": 3}, 201, nil)

	gc := gateway.Defaults()
	gc.DataDir = filepath.Join(dir, "gateway")
	for _, p := range []*string{&gc.Blynk.Listen, &gc.HTTP.Listen, &gc.Installer.Listen} {
		*p = "127.0.0.1:0"
	}
	gc.Blynk.TLSListen, gc.MQTT.Listen, gc.MQTT.TLSListen, gc.MQTT.WSListen = "", "", "", ""
	gc.Cloud.URL, gc.Cloud.Name = c.URL(), "Plant Room"
	g, _, err := gateway.New(ctx, gc, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.gw = g
	gdone := make(chan error, 1)
	go func() { gdone <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan error{gdone, cdone} {
			if err := <-ch; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	})
	var code string
	waitFor(t, "the gateway's claim code", 30*time.Second, func() bool {
		st, _ := g.Claim()
		code = st.ClaimCode
		return code != ""
	})
	s.api("POST", o+"/gateway/claim", s.admin, map[string]any{"claimCode": code, "orgId": s.orgA}, 200, nil)
	return s
}

// api calls the Platform API and decodes the answer into out.
func (s *site) api(method, path, token string, body any, want int, out any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		s.t.Fatalf("%s %s: %d %s (want %d)", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// device logs a simulated Blynk TCP device in once the gateway knows its
// token (the tenancy came down from the cloud).
func (s *site) device(name string, handler func(devicesim.Incoming)) *devicesim.Device {
	s.t.Helper()
	var d *devicesim.Device
	waitFor(s.t, name+"'s login at the gateway", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		d, err = devicesim.Dial(ctx, s.gw.Addrs().Blynk, devicesim.Options{Token: s.devs[name].Token, Handler: handler})
		return err == nil
	})
	s.t.Cleanup(func() { d.Close() })
	return d
}

// register registers another gateway with the cloud (as a new appliance
// does) and returns its claim code.
func (s *site) register(name string) string {
	var out struct{ ClaimCode string }
	s.api("POST", "/api/v1/gateway/register", "", map[string]any{"name": name, "software": "test"}, 201, &out)
	return out.ClaimCode
}

// chromium finds the browser or skips.
func chromium(t testing.TB) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on this machine: the browser tests need Debian's chromium package")
	return ""
}
