package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"outpost/cloud/internal/webhooks"
)

// webhookValues is a filled editor as a browser posts it.
func webhookValues(name, target string) url.Values {
	return url.Values{"name": {name}, "enabled": {"on"}, "kind": {"datastream"}, "pin": {"V3"}, "method": {"POST"},
		"url": {target}, "headers": {"X-Site: {device_id}\n"}, "body": {`{"v":"{datastream_value}","d":"{device_name}"}`},
		"auth": {"bearer"}, "token": {"tok-1"}, "secret": {"s3cret"}, "perMinute": {"30"}}
}

// TestWebhookPages: an Admin creates a webhook from the editor (secrets
// kept, never shown), lists it with its host, disables and enables it,
// test-sends it to a receiver on 127.0.0.1 (placeholders, auth and
// signature as a delivery; the status and latency shown), sees an
// invalid URL refused with the reason, and deletes it. A role without
// ORG_SETTINGS_ACCESS gets 403 for the pages and every forged post.
func TestWebhookPages(t *testing.T) {
	e, _ := withExtras(t, newEnv(t))
	type got struct{ body, auth, sig, ts, site, delivery string }
	reqs := make(chan got, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- got{string(b), r.Header.Get("Authorization"), r.Header.Get(webhooks.SignatureHeader),
			r.Header.Get(webhooks.TimestampHeader), r.Header.Get("X-Site"), r.Header.Get(webhooks.DeliveryHeader)}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()

	op := e.signedIn("op@a.test") // Client A Admin: its org's webhooks
	checkPage(t, "empty list", op.get("/webhooks"), 200, "No webhook in this organization yet", `href="/webhooks/new"`)
	checkPage(t, "editor", op.get("/webhooks/new"), 200, "{datastream_value}", "{timestamp_iso}", `name="secret"`, "device transferred",
		`<option value="`+e.devA.UID+`">`) // Client A's device suggested for the filter
	if strings.Contains(op.get("/webhooks/new").body, e.devB.UID) {
		t.Error("Client B's device is suggested to Client A's Admin")
	}
	res := op.post("/webhooks/new", webhookValues("CRM", recv.URL+"/in?d={device_id}"))
	if res.status != http.StatusSeeOther {
		t.Fatalf("create: %d %.2000s", res.status, res.body)
	}
	path := strings.TrimSuffix(res.header.Get("Location"), "?done=save")
	id, err := strconv.ParseInt(strings.TrimPrefix(path, "/webhooks/"), 10, 64)
	if err != nil {
		t.Fatalf("created at %q", res.header.Get("Location"))
	}
	ctx := context.Background()
	stored, _, err := e.store.GetWebhook(ctx, id)
	if err != nil || stored.OrgID != int64(e.orgA.ID) || stored.Secret != "s3cret" || stored.Auth.Token != "tok-1" ||
		stored.Trigger.Pin == nil || *stored.Trigger.Pin != 3 || stored.Headers["X-Site"] != "{device_id}" || stored.PerMinute != 30 {
		t.Fatalf("stored %+v %v", stored, err)
	}
	page := op.get(path)
	checkPage(t, "webhook page", page, 200, "Nothing delivered yet", `value="********"`, "Test send")
	if strings.Contains(page.body, "s3cret") || strings.Contains(page.body, "tok-1") {
		t.Fatal("a secret is shown on the page")
	}
	// Saving the form as shown keeps the secrets.
	v := webhookValues("CRM renamed", recv.URL+"/in?d={device_id}")
	v.Set("token", webhooks.Redacted)
	v.Set("secret", webhooks.Redacted)
	if res := op.post(path, v); res.status != http.StatusSeeOther {
		t.Fatalf("save: %d %.2000s", res.status, res.body)
	}
	if w, _, _ := e.store.GetWebhook(ctx, id); w.Name != "CRM renamed" || w.Secret != "s3cret" || w.Auth.Token != "tok-1" {
		t.Fatalf("after save: %+v", w)
	}
	list := op.get("/webhooks")
	checkPage(t, "list", list, 200, "CRM renamed", "127.0.0.1:", "datastream", path+"/disable")
	if res := op.post(path+"/disable", url.Values{"back": {"list"}}); res.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", res.status)
	}
	checkPage(t, "disabled", op.get("/webhooks"), 200, "turned off", path+"/enable")
	if w, _, _ := e.store.GetWebhook(ctx, id); w.Enabled || w.Secret != "s3cret" {
		t.Fatalf("after disable: %+v", w)
	}

	// Test send, disabled or not: one request now, like a delivery.
	res = op.post(path+"/test", nil)
	checkPage(t, "test send", res, 200, `id="test-result"`, "HTTP 202 after")
	r := <-reqs
	if r.auth != "Bearer tok-1" || r.site == "" || !strings.HasPrefix(r.delivery, webhooks.TestDeliveryPrefix) ||
		!strings.Contains(r.body, `"d":"Test device"`) || !strings.Contains(r.body, `"v":"42"`) {
		t.Errorf("test request %+v", r)
	}
	ts, _ := strconv.ParseInt(r.ts, 10, 64)
	if r.sig != webhooks.Sign("s3cret", ts, []byte(r.body)) {
		t.Errorf("signature %q does not verify", r.sig)
	}
	if ds, _ := e.store.Deliveries(ctx, id, 10); len(ds) != 0 {
		t.Errorf("the test send is in the delivery log: %+v", ds)
	}
	// A refused destination is shown as the result.
	v = webhookValues("Metadata", "http://169.254.169.254/latest")
	res = op.post("/webhooks/new", v)
	meta := strings.TrimSuffix(res.header.Get("Location"), "?done=save")
	checkPage(t, "refused test send", op.post(meta+"/test", nil), 200, "destination refused")

	res = op.post("/webhooks/new", webhookValues("Bad", "ftp://example.com/"))
	checkPage(t, "invalid url", res, http.StatusBadRequest, "url must be http(s)")
	res = op.post("/webhooks/new", url.Values{"name": {"Bad header"}, "kind": {"online"}, "method": {"POST"},
		"url": {"https://example.com/"}, "headers": {"no colon here"}})
	checkPage(t, "bad header line", res, http.StatusBadRequest, "one header a line")

	// A role without ORG_SETTINGS_ACCESS: nothing offered, forged posts refused.
	viewer := e.signedIn("viewer@a.test")
	for _, p := range []string{"/webhooks", "/webhooks/new", path} {
		if res := viewer.get(p); res.status != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", p, res.status)
		}
	}
	for _, p := range []string{"/webhooks/new", path, path + "/disable", path + "/enable", path + "/test", path + "/delete"} {
		if res := viewer.post(p, webhookValues("Forged", recv.URL)); res.status != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", p, res.status)
		}
	}
	select {
	case r := <-reqs:
		t.Errorf("a forged test send reached the receiver: %+v", r)
	default:
	}
	// The root's webhook is out of reach of Client A's Admin.
	res = e.signedIn("admin@acme.test").post("/webhooks/new", webhookValues("Root hook", recv.URL))
	rootHook := strings.TrimSuffix(res.header.Get("Location"), "?done=save")
	if res := op.get(rootHook); res.status != http.StatusNotFound {
		t.Errorf("Client A Admin GET the root's webhook: %d, want 404", res.status)
	}

	if res := op.post(path+"/delete", nil); res.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.status)
	}
	if _, _, err := e.store.GetWebhook(ctx, id); err == nil {
		t.Fatal("deleted webhook still stored")
	}
	if regexp.MustCompile(`CRM renamed`).MatchString(op.get("/webhooks").body) {
		t.Error("the deleted webhook is listed")
	}
}

// TestWebhookDeliveryLog: the log shows each delivery's state, response
// code, latency, attempts and error, and a webhook disabled by failures
// says so in the list.
func TestWebhookDeliveryLog(t *testing.T) {
	e, _ := withExtras(t, newEnv(t))
	ctx := context.Background()
	w := &webhooks.Webhook{OrgID: int64(e.orgA.ID), Name: "Flaky", Enabled: true, Method: "POST", URL: "https://hooks.example.com/in", DisableAfter: 1}
	w.Trigger.Kind = webhooks.OnOnline
	if err := e.store.SaveWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	ev := webhooks.Event{Kind: webhooks.OnOnline, Device: e.devA.UID, DeviceName: "Boiler"}
	okID := need(e.store.EnqueueDelivery(ctx, w.ID, ev, e.c.now()))
	badID := need(e.store.EnqueueDelivery(ctx, w.ID, ev, e.c.now()))
	need(e.store.FinishAttempt(ctx, webhooks.Delivery{ID: okID, WebhookID: w.ID}, webhooks.Attempt{State: webhooks.OK, Code: 204, LatencyMS: 17, Tried: true}))
	need(e.store.FinishAttempt(ctx, webhooks.Delivery{ID: badID, WebhookID: w.ID}, webhooks.Attempt{State: webhooks.Failed, Code: 503,
		LatencyMS: 40, Error: "Service Unavailable", Tried: true, Failed: true, DisableAt: 1}))
	op := e.signedIn("op@a.test")
	page := op.get("/webhooks/" + strconv.FormatInt(w.ID, 10))
	checkPage(t, "log", page, 200, `id="deliveries"`, "204", "17 ms", "503", "40 ms", "Service Unavailable", "Boiler",
		"disabled after 1 consecutive failed deliveries")
	checkPage(t, "list", op.get("/webhooks"), 200, "disabled after 1 consecutive failed deliveries", "hooks.example.com")
}
