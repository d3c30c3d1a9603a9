package cloud

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// An event whose notification goes through the webhook channel calls the
// organization's "notification" webhooks with the event's fields, under
// the template's limit period (unlike the "event" trigger, which is called
// for every occurrence); no recipient is needed.
func TestEventNotificationThroughWebhookChannel(t *testing.T) {
	got := make(chan string, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer recv.Close()
	f := newEventFixture(t, overheatTemplate(&datastream.EventNotify{Enabled: true, Webhook: true, LimitS: 3600}),
		func(c *Config) { c.Webhooks.Allow = []string{"127.0.0.0/8"} })
	e, ctx := f.e, context.Background()
	for kind, body := range map[string]string{
		"notification": "notified {event_code} {event_name} {event_type} {event_description} {device_name}",
		"event":        "logged {event_code} {event_description}",
	} {
		w := &Webhook{OrgID: int64(f.org.ID), Name: kind, Enabled: true, Method: "POST", URL: recv.URL, Body: body}
		w.Trigger.Kind = kind
		if err := e.s.SaveWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	reg := e.register("Pi")
	e.call(200, "POST", "/api/v1/organization/gateway/claim", e.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": f.org.ID}, nil)
	gw := e.connect(reg, 1)
	gw.must(syncproto.TypeSnapshot)

	now := time.Now().UnixMilli()
	gw.send(&syncproto.Message{Type: syncproto.TypeTelemetry, Seq: 2, Telemetry: &syncproto.Telemetry{Items: []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindEvent, Device: f.dev.UID, Name: "overheat", Value: "92 °C", TS: now},
		{Seq: 2, Kind: syncproto.KindEvent, Device: f.dev.UID, Name: "overheat", Value: "95 °C", TS: now + 5000}, // inside the limit period
	}}})
	gw.must(syncproto.TypeAck)
	want := []string{"logged overheat 92 °C", "logged overheat 95 °C", "notified overheat Overheat critical 92 °C Boiler"}
	bodies := receive(t, got, len(want))
	for i := range want {
		if bodies[i] != want[i] {
			t.Fatalf("deliveries %q, want %q", bodies, want)
		}
	}
	select {
	case b := <-got:
		t.Fatalf("an extra delivery (the limit period was not applied?): %q", b)
	case <-time.After(300 * time.Millisecond):
	}
}
