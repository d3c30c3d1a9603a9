package gpiobridge

import (
	"context"
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"outpost/firmware-bridge/bridge"
	"outpost/internal/poll"
	"outpost/shared/devicesim/fakeserver"
)

// BenchmarkEdgeToGateway is one input edge on a fake pin (debounce 0) until
// the gateway session has parsed the resulting vw (ns/op = latency). With
// a debounce the latency is the debounce time plus this.
func BenchmarkEdgeToGateway(b *testing.B) {
	got := make(chan fakeserver.Write, 1)
	gw := fakeserver.New(tok)
	p := inputPin("GPIO17")
	bb, err := New(Options{
		Config:    Config{Token: tok, Pins: []PinConfig{{Pin: "GPIO17", VPin: 1, Pull: "down", Debounce: dur(0)}}},
		Pins:      map[string]gpio.PinIO{"GPIO17": p},
		Connector: bridge.InProcess(gw, Kind),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- bb.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// The initial level arrives once the session is up.
	poll.Until(b, "the bridge's login", func() bool { return len(gw.Writes()) > 0 })
	gw.OnWrite = func(w fakeserver.Write) { got <- w }
	level := gpio.Low
	var lat []time.Duration
	for b.Loop() {
		level = !level
		t0 := time.Now()
		p.EdgesChan <- level
		<-got
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
