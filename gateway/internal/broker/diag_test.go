package broker

import (
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"outpost/internal/poll"
)

// connectNoSub logs a paho client in (MQTT version 4 or 5 is not
// configurable in paho 1.x: 3.1.1) without subscribing: downlink/diag must
// arrive anyway.
func connectNoSub(t *testing.T, e *env, token string) *device {
	t.Helper()
	o, d := pahoOpts(e.tcp, "device", token)
	d.c = paho.NewClient(o)
	if tok := d.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { d.c.Disconnect(0) })
	poll.Until(t, "session attached", func() bool { return e.broker.current(e.devA.ID) != nil })
	return d
}

// TestDiag: each kind of refused uplink is answered on downlink/diag with
// "<topic>: <reason>", without a subscription; an accepted one is not.
func TestDiag(t *testing.T) {
	for _, tc := range []struct {
		name, topic, payload string
		qos                  byte
		want                 string // the diag line; "" for none
	}{
		{"accepted", "ds/Temperature", "21.5", 1, ""},
		{"unknown datastream", "ds/Nope", "1", 1, `ds/Nope: unknown datastream "Nope"`},
		{"bad value", "ds/Temperature", "hot", 1, `ds/Temperature: value "hot" does not match datastream "Temperature" (double)`},
		{"bad value QoS 0", "ds/Set Temperature", "1.5.2", 0, `ds/Set Temperature: value "1.5.2" does not match datastream "Set Temperature" (integer)`},
		{"long bad value cut", "ds/Temperature", strings.Repeat("x", 40), 1, `ds/Temperature: value "` + strings.Repeat("x", 32) + `"... does not match datastream "Temperature" (double)`},
		{"wrong arity", "ds/Location", "1", 1, `ds/Location: wrong number of values for datastream "Location" (location)`},
		{"unknown event", "event/meltdown", "", 1, `event/meltdown: unknown event code "meltdown"`},
		{"unknown metadata", "meta/Colour", "red", 1, `meta/Colour: unknown metadata field "Colour"`},
		{"unknown property", "ds/Temperature/prop/sparkle", "1", 1, `ds/Temperature/prop/sparkle: unknown property "sparkle" or no value`},
		{"batch_ds unknown field", "batch_ds", `{"Temperature":20,"Nope":1}`, 1, `batch_ds: unknown datastream "Nope"`},
		{"batch_ds bad type", "batch_ds", `{"Temperature":"hot"}`, 1, `batch_ds: value does not match datastream "Temperature" (double)`},
		{"batch_ds malformed", "batch_ds", `[1,2]`, 1, `batch_ds: malformed payload (not a JSON object)`},
		{"batch out of window", "ds/Temperature/timestamped_batch", `[[1000,20]]`, 1, `ds/Temperature/timestamped_batch: points more than a month away from now were dropped`},
		{"unknown topic", "temperature", "20", 0, `temperature: unknown topic (Blynk MQTT API: ds/<datastream>, batch_ds, event/<code>, meta/<field>, get/..., info/mcu)`},
		// A refused QoS 1 publish closes a 3.1.1 connection (mochi); the
		// line is written before that.
		{"unknown topic QoS 1", "data/temperature", "20", 1, `data/temperature: unknown topic (Blynk MQTT API: ds/<datastream>, batch_ds, event/<code>, meta/<field>, get/..., info/mcu)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			d := connectNoSub(t, e, tokenA)
			tok := d.c.Publish(tc.topic, tc.qos, false, tc.payload)
			tok.WaitTimeout(5 * time.Second)
			if tc.want == "" {
				// An accepted publish is followed by no diag: a refused
				// one after it is the first diag to arrive.
				d.pub(t, "ds/Nope", 1, "1")
				if m := d.waitMsg(t, "downlink/diag"); m.Payload != `ds/Nope: unknown datastream "Nope"` {
					t.Errorf("diag after an accepted publish: %q", m.Payload)
				}
				return
			}
			m := d.waitMsg(t, "downlink/diag")
			if m.Payload != tc.want {
				t.Errorf("diag:\n got %q\nwant %q", m.Payload, tc.want)
			}
			if m.QoS != 0 {
				t.Errorf("diag QoS %d, want 0", m.QoS)
			}
			if n := e.broker.Stats().Diags; n != 1 {
				t.Errorf("Stats.Diags = %d, want 1", n)
			}
		})
	}
}

// TestDiagRateLimit: per device, diagBurst lines at once, then one per
// diagEvery; the rest are counted. Another device has its own budget.
func TestDiagRateLimit(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(o *Options) { o.Now = clock.Now })
	a := connect(t, e.tcp, tokenA)
	b := connect(t, e.tcp, tokenB)
	// diags counts the diag lines a device has received once everything
	// it published has been answered: get/ds is answered on downlink/ds
	// after the diags written before it.
	diags := func(d *device, round int) int {
		t.Helper()
		d.pub(t, "get/ds", 1, "Set Temperature")
		poll.Until(t, "get/ds answer", func() bool {
			n := 0
			for _, m := range d.got() {
				if m.Topic == "downlink/ds/Set Temperature" {
					n++
				}
			}
			return n == round
		})
		n := 0
		for _, m := range d.got() {
			if m.Topic == "downlink/diag" {
				n++
			}
		}
		return n
	}
	for range diagBurst + 3 {
		a.pub(t, "ds/Nope", 1, "1")
	}
	if n := diags(a, 1); n != diagBurst {
		t.Fatalf("%d diags after %d refusals, want %d", n, diagBurst+3, diagBurst)
	}
	if st := e.broker.Stats(); st.DiagsDropped != 3 {
		t.Errorf("DiagsDropped = %d, want 3", st.DiagsDropped)
	}
	b.pub(t, "ds/Nope", 1, "1")
	if n := diags(b, 1); n != 1 {
		t.Errorf("the other device got %d diags, want 1", n)
	}
	clock.advance(diagEvery)
	a.pub(t, "ds/Nope", 1, "1")
	a.pub(t, "ds/Nope", 1, "1")
	if n := diags(a, 2); n != diagBurst+1 {
		t.Errorf("%d diags after %v more, want %d", n, diagEvery, diagBurst+1)
	}
}

// TestLoginLog: logins and refused logins are logged at info, once per
// cause per minute per device, with the reason and remote address and
// never a token.
func TestLoginLog(t *testing.T) {
	var logs logBuffer
	clock := newTestClock()
	e := newEnv(t, func(o *Options) { o.Logger, o.Now = logs.logger(), clock.Now })
	badToken := "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
	login := func(user, pass string) {
		t.Helper()
		o, d := pahoOpts(e.tcp, user, pass)
		d.c = paho.NewClient(o)
		tok := d.c.Connect()
		tok.WaitTimeout(5 * time.Second)
		if tok.Error() == nil {
			d.c.Disconnect(0)
		}
	}
	for _, tc := range []struct {
		user, pass string
		advance    time.Duration
		want       string // a new line has this; "" for no new line
	}{
		{"device", tokenA, 0, `msg="device login" component=broker device=1 transport=tcp remote=127.0.0.1:`},
		{"device", tokenA, time.Second, ""},
		{"device", badToken, 0, `msg="device login refused" component=broker reason="unknown token" transport=tcp remote=127.0.0.1:`},
		{"device", badToken, 0, ""},
		{"device", "short", 0, `msg="device login refused" component=broker reason="malformed token" transport=tcp`},
		{"admin", tokenA, 0, `msg="device login refused" component=broker reason="username is not device" transport=tcp`},
		{"device", tokenA, time.Minute, `msg="device login" component=broker device=1 transport=tcp remote=127.0.0.1:`},
	} {
		before := len(logs.lines("device login"))
		clock.advance(tc.advance)
		login(tc.user, tc.pass)
		if tc.want == "" {
			// The next login's line shows this one was logged or not.
			continue
		}
		var lines []string
		poll.Until(t, "login line", func() bool {
			lines = logs.lines("device login")
			return len(lines) > before
		})
		if len(lines) != before+1 || !strings.Contains(lines[before], tc.want) {
			t.Errorf("after login %s/%.5s…: new lines %q, want one with %q", tc.user, tc.pass, lines[before:], tc.want)
		}
	}
	if n := len(logs.lines("device login")); n != 5 {
		t.Errorf("%d login lines, want 5:\n%s", n, logs.String())
	}
	for _, secret := range []string{tokenA, badToken, "short"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows a token %q:\n%s", secret, logs.String())
		}
	}
}

// TestMochiPacketWarning: mochi's warning about a packet it refused is one
// short line naming the packet, not a dump of it.
func TestMochiPacketWarning(t *testing.T) {
	var logs logBuffer
	e := newEnv(t, func(o *Options) { o.Logger = logs.logger() })
	d := connectNoSub(t, e, tokenA)
	payload := strings.Repeat("secret-payload ", 20)
	d.c.Publish("not/a/topic", 1, false, payload).WaitTimeout(5 * time.Second)
	var lines []string
	poll.Until(t, "warning", func() bool {
		lines = logs.lines("mqtt packet refused")
		return len(lines) > 0
	})
	want := `level=WARN msg="mqtt packet refused" component=broker part=mochi error="not authorized" client=device-1 listener=tcp packet=Publish topic=not/a/topic bytes=300`
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("warning lines %q, want one with %q", lines, want)
	}
	if strings.Contains(logs.String(), "secret-payload") || strings.Contains(logs.String(), "FixedHeader") {
		t.Errorf("the log dumps the packet:\n%s", logs.String())
	}
}
