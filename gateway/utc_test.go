package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"outpost/internal/poll"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"outpost/gateway"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

// TestTimeAnswersAgreeAcrossTransports: a device on the Blynk binary
// protocol (INTERNAL utc) and one on MQTT (get/utc/all/json), each with the
// same Time Zone metadata set over its own transport, are told the same
// zone name, POSIX rule, offset in force and DST part, and the same
// instant. The zones include a southern summer (Sydney, Santiago: the
// offset in force is not the standard one) and a name that is no zone
// (both fall back to UTC).
func TestTimeAnswersAgreeAcrossTransports(t *testing.T) {
	const tokTCP, tokMQTT = "tttttttttttttttttttttttttttttttt", "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
	cfg := testConfig(t.TempDir())
	cfg.Templates = []datastream.Template{{ID: "TMPLCLOCK", Name: "Clock",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}},
		MetaFields:  []datastream.MetaField{{ID: 1, Name: "Time Zone", Default: "UTC"}}}}
	cfg.Devices = []gateway.DeviceConfig{{Name: "tcp", Template: "TMPLCLOCK", Token: tokTCP}, {Name: "mqtt", Template: "TMPLCLOCK", Token: tokMQTT}}
	g, _ := start(t, cfg)
	a := g.Addrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	dev, err := devicesim.Dial(ctx, a.Blynk, devicesim.Options{Token: tokTCP})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	// ask sends INTERNAL items and returns the INTERNAL reply's items.
	ask := func(items ...string) []string {
		t.Helper()
		id, err := dev.Internal(items...)
		if err != nil {
			t.Fatal(err)
		}
		in, err := dev.Expect(ctx, func(in devicesim.Incoming) bool {
			return in.Msg.ID == id && (in.Msg.Cmd == blynk.CmdInternal || in.Msg.Cmd == blynk.CmdResponse)
		})
		if err != nil {
			t.Fatalf("%q: %v", items, err)
		}
		return strings.Split(string(in.Msg.Body), "\x00")
	}

	var mu sync.Mutex
	var utcMsgs []string
	opts := paho.NewClientOptions().AddBroker("tcp://" + a.MQTT).SetUsername("device").SetPassword(tokMQTT).
		SetClientID("clock").SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			if m.Topic() == "downlink/utc/all/json" {
				mu.Lock()
				utcMsgs = append(utcMsgs, string(m.Payload()))
				mu.Unlock()
			}
		})
	mq := paho.NewClient(opts)
	if tok := mq.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer mq.Disconnect(0)
	if tok := mq.Subscribe("downlink/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := func(topic, payload string) {
		t.Helper()
		if tok := mq.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}

	type answer struct {
		TZName    string `json:"tz_name"`
		TZRule    string `json:"tz_rule"`
		TZOffset  int    `json:"tz_offset"`
		DSTOffset int    `json:"dst_offset"`
		Time      int64  `json:"time"`
		ISO8601   string `json:"iso8601"`
	}
	for _, tt := range []struct{ meta, zone string }{
		{"Europe/Berlin", "Europe/Berlin"},
		{"Australia/Sydney", "Australia/Sydney"},
		{"America/Santiago", "America/Santiago"},
		{"Europe/Dublin", "Europe/Dublin"},
		{"Asia/Kolkata", "Asia/Kolkata"},
		{"Not/A_Zone", "UTC"},
	} {
		// The session handles a connection's messages in order: the
		// questions below see this metadata.
		if _, err := dev.Internal("meta", "set", "Time Zone", tt.meta); err != nil {
			t.Fatal(err)
		}
		var tcp answer
		tcp.TZName = ask("utc", "tz_name")[2]
		tcp.TZRule = ask("utc", "tz_rule")[2]
		tz := ask("utc", "tz")
		tcp.TZOffset, _ = strconv.Atoi(tz[2])
		tcp.DSTOffset, _ = strconv.Atoi(tz[3])
		tcp.Time, _ = strconv.ParseInt(ask("utc", "time")[2], 10, 64)
		tcp.ISO8601 = ask("utc", "iso")[2]

		pub("meta/Time Zone", tt.meta)
		pub("get/utc/all/json", "")
		var mqtt answer
		poll.NoError(t, "the MQTT answer for "+tt.meta, func() error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range utcMsgs {
				var got answer
				if err := json.NewDecoder(bytes.NewReader([]byte(m))).Decode(&got); err == nil && got.TZName == tt.zone {
					mqtt = got
					return nil
				}
			}
			return errString("no downlink/utc/all/json for " + tt.zone + " yet")
		})
		mu.Lock()
		utcMsgs = nil
		mu.Unlock()

		if tcp.TZName != tt.zone || mqtt.TZName != tt.zone {
			t.Errorf("%s: tz_name TCP %q MQTT %q, want %q", tt.meta, tcp.TZName, mqtt.TZName, tt.zone)
		}
		if tcp.TZRule != mqtt.TZRule || tcp.TZOffset != mqtt.TZOffset || tcp.DSTOffset != mqtt.DSTOffset {
			t.Errorf("%s: TCP rule %q offset %d dst %d; MQTT rule %q offset %d dst %d",
				tt.meta, tcp.TZRule, tcp.TZOffset, tcp.DSTOffset, mqtt.TZRule, mqtt.TZOffset, mqtt.DSTOffset)
		}
		if d := time.Duration(tcp.Time-mqtt.Time) * time.Millisecond; d.Abs() > 10*time.Second {
			t.Errorf("%s: times %d and %d apart by %v", tt.meta, tcp.Time, mqtt.Time, d)
		}
		ti, err1 := time.Parse(time.RFC3339, tcp.ISO8601)
		tm, err2 := time.Parse(time.RFC3339, mqtt.ISO8601)
		_, offTCP := ti.Zone()
		_, offMQTT := tm.Zone()
		if err1 != nil || err2 != nil || offTCP != offMQTT || offTCP != tcp.TZOffset*60 {
			t.Errorf("%s: iso TCP %q MQTT %q (offset in force %d min)", tt.meta, tcp.ISO8601, mqtt.ISO8601, tcp.TZOffset)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
