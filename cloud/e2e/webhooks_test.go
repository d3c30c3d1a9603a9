package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"outpost/cloud"
)

// Webhooks through the Platform API: created, listed with secrets
// redacted, replaced keeping a redacted secret, refused when invalid,
// their delivery log read, deleted.
func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	hook := map[string]any{"name": "crm", "enabled": true, "method": "POST", "url": "https://crm.example.com/in",
		"trigger": map[string]any{"kind": "datastream"}, "secret": "s3cret",
		"auth": map[string]any{"kind": "bearer", "token": "tok"}}
	var got struct {
		ID     int64
		Secret string
		Auth   struct{ Token string }
	}
	f.must(201, "PUT", o+"/webhook", a, hook).decode(t, &got)
	if got.ID == 0 || got.Secret != "********" || got.Auth.Token != "********" {
		t.Fatalf("created %+v, want an id and redacted secrets", got)
	}
	var list []struct {
		ID     int64
		Secret string
	}
	f.must(200, "GET", o+"/webhooks", a, nil).decode(t, &list)
	if len(list) != 1 || list[0].ID != got.ID || list[0].Secret != "********" {
		t.Fatalf("list %+v", list)
	}
	hook["id"], hook["secret"], hook["name"] = got.ID, "********", "crm renamed"
	f.must(200, "PUT", o+"/webhook", a, hook)
	bad := map[string]any{"name": "x", "enabled": true, "method": "POST", "url": "ftp://example.com/",
		"trigger": map[string]any{"kind": "datastream"}}
	if r := f.req("PUT", o+"/webhook", a, bad); r.status != 400 || !strings.Contains(r.errMsg(t), "url") {
		t.Fatalf("ftp url: %s", r)
	}
	var ds []any
	f.must(200, "GET", q(o+"/webhook/deliveries", "id", got.ID), a, nil).decode(t, &ds)
	if len(ds) != 0 {
		t.Fatalf("deliveries %+v", ds)
	}
	// A test send to loopback, which this cloud does not allow-list: the
	// guard's refusal is the result.
	var lo struct{ ID int64 }
	f.must(201, "PUT", o+"/webhook", a, refusedWebhook()).decode(t, &lo)
	var res struct {
		Code  int
		Error string
	}
	f.must(200, "POST", q(o+"/webhook/test", "id", lo.ID), a, nil).decode(t, &res)
	if res.Code != 0 || !strings.Contains(res.Error, "refused") {
		t.Fatalf("test send to loopback: %+v, want the guard's refusal", res)
	}
	f.must(204, "DELETE", q(o+"/webhook", "id", got.ID), a, nil)
	f.must(404, "GET", q(o+"/webhook/deliveries", "id", got.ID), a, nil)
}

// Device created and device transferred webhooks: creating a device
// through the API calls the organization's device_created webhook, moving
// it to another organization calls the device_transferred webhook of an
// organization above the one it joined; both with the placeholders filled.
func TestDeviceLifecycleWebhooks(t *testing.T) {
	t.Parallel()
	got := make(chan string, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer recv.Close()
	f := newFixture(t, func(c *cloud.Config) { c.Webhooks.Allow = []string{"127.0.0.1/32"} })
	a := f.tok["A"]
	for _, kind := range []string{"device_created", "device_transferred"} {
		f.must(201, "PUT", o+"/webhook", a, map[string]any{"name": kind, "enabled": true, "method": "POST", "url": recv.URL,
			"body":    `{"kind":"` + kind + `","device":"{device_name}","template":"{device_templateId}"}`,
			"trigger": map[string]any{"kind": kind, "template": f.tmpl}})
	}
	next := func(what string) string {
		t.Helper()
		select {
		case b := <-got:
			return b
		case <-time.After(20 * time.Second):
			t.Fatalf("no webhook call for %s within 20 s", what)
			return ""
		}
	}
	var dev struct{ ID int64 }
	f.must(201, "POST", o+"/device/create", a, map[string]any{"templateId": f.tmpl, "name": "Fresh boiler", "orgId": f.us}).decode(t, &dev)
	if b, want := next("the creation"), `{"kind":"device_created","device":"Fresh boiler","template":"`+f.tmpl+`"}`; b != want {
		t.Fatalf("created: receiver got %s, want %s", b, want)
	}
	f.must(204, "POST", o+"/device/transfer", a, map[string]any{"deviceId": dev.ID, "newOrgId": f.muller})
	if b, want := next("the transfer"), `{"kind":"device_transferred","device":"Fresh boiler","template":"`+f.tmpl+`"}`; b != want {
		t.Fatalf("transferred: receiver got %s, want %s", b, want)
	}
}
