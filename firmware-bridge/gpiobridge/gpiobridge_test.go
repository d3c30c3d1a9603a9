package gpiobridge

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"

	"outpost/firmware-bridge/bridge"
	"outpost/shared/blynk"
	"outpost/shared/devicesim/fakeserver"
)

const tok = "gpio-token-0123456789abcdefghijk"

func dur(d time.Duration) *time.Duration { return &d }

type pinVal struct {
	Pin   int
	Value string
}

func writes(gw *fakeserver.Server) []pinVal {
	var out []pinVal
	for _, w := range gw.Writes() {
		out = append(out, pinVal{w.Pin, w.Value})
	}
	return out
}

// start runs a bridge inside the synctest bubble and stops it at the end.
func start(t *testing.T, gw *fakeserver.Server, cfg Config, pins ...*gpiotest.Pin) *Bridge {
	t.Helper()
	m := map[string]gpio.PinIO{}
	for _, p := range pins {
		m[p.N] = p
	}
	cfg.Token = tok
	b, err := New(Options{Config: cfg, Pins: m, Connector: bridge.InProcess(gw, Kind)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
	synctest.Wait()
	return b
}

func inputPin(name string) *gpiotest.Pin {
	return &gpiotest.Pin{N: name, EdgesChan: make(chan gpio.Level, 16)}
}

// step is one thing that happens to an input: an edge to a level after a
// delay since the previous step.
type step struct {
	after time.Duration
	level gpio.Level
}

func TestInputEdges(t *testing.T) {
	bounce := []step{{0, gpio.Low}, {2 * time.Millisecond, gpio.High}, {2 * time.Millisecond, gpio.Low}}
	tests := []struct {
		name  string
		pin   PinConfig
		steps []step
		// want are the writes after the initial level report, observed
		// after the steps and 1s of quiet.
		want []pinVal
	}{
		{"bounce on press settles to one write", PinConfig{Pull: "up"}, bounce, []pinVal{{1, "0"}}},
		{"press and release", PinConfig{Pull: "up"}, []step{{0, gpio.Low}, {100 * time.Millisecond, gpio.High}}, []pinVal{{1, "0"}, {1, "1"}}},
		{"bounce back to the old level writes nothing", PinConfig{Pull: "up"}, []step{{0, gpio.Low}, {3 * time.Millisecond, gpio.High}}, nil},
		{"invert: active-low button", PinConfig{Pull: "up", Invert: true}, bounce, []pinVal{{1, "1"}}},
		{"no debounce reports each edge", PinConfig{Pull: "down", Debounce: dur(0)}, []step{{0, gpio.High}, {time.Millisecond, gpio.Low}}, []pinVal{{1, "1"}, {1, "0"}}},
		{"falling edges count presses", PinConfig{Pull: "up", Edge: "falling"},
			[]step{{0, gpio.Low}, {50 * time.Millisecond, gpio.High}, {50 * time.Millisecond, gpio.Low}},
			[]pinVal{{1, "0"}, {1, "0"}}},
		{"rising edge that bounces back low is not reported", PinConfig{Pull: "down", Edge: "rising"},
			[]step{{0, gpio.High}, {time.Millisecond, gpio.Low}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gw := fakeserver.New(tok)
				p := inputPin("GPIO17")
				pc := tc.pin
				pc.Pin, pc.VPin = "GPIO17", 1
				start(t, gw, Config{Pins: []PinConfig{pc}}, p)
				initial := writes(gw)
				if len(initial) != 1 || initial[0].Pin != 1 {
					t.Fatalf("initial writes %v, want the current level of V1", initial)
				}
				for _, s := range tc.steps {
					time.Sleep(s.after)
					p.EdgesChan <- s.level
					synctest.Wait()
				}
				time.Sleep(time.Second)
				synctest.Wait()
				if diff := cmp.Diff(tc.want, writes(gw)[1:], cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("writes (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestDebounceTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw := fakeserver.New(tok)
		p := inputPin("GPIO5")
		start(t, gw, Config{Pins: []PinConfig{{Pin: "GPIO5", VPin: 2, Pull: "up", Debounce: dur(50 * time.Millisecond)}}}, p)
		t0 := time.Now()
		p.EdgesChan <- gpio.Low
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		if n := len(gw.Writes()); n != 1 {
			t.Fatalf("%d writes before the debounce time, want only the initial one", n)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		w := gw.Writes()
		if len(w) != 2 || w[1].Value != "0" {
			t.Fatalf("writes %v, want the settled level after 50ms", w)
		}
		if d := w[1].At.Sub(t0); d < 50*time.Millisecond || d > 51*time.Millisecond {
			t.Errorf("reported after %v, want 50ms", d)
		}
	})
}

func TestSampling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw := fakeserver.New(tok)
		p := &gpiotest.Pin{N: "GPIO6"} // no edge channel: edge none
		start(t, gw, Config{Pins: []PinConfig{{Pin: "GPIO6", VPin: 3, Pull: "down", Edge: "none", Sample: time.Second}}}, p)
		time.Sleep(2500 * time.Millisecond)
		p.Out(gpio.High) // the level changes without an edge event
		time.Sleep(time.Second)
		synctest.Wait()
		want := []pinVal{{3, "0"}, {3, "0"}, {3, "0"}, {3, "1"}}
		if diff := cmp.Diff(want, writes(gw)); diff != "" {
			t.Errorf("writes (-want +got):\n%s", diff)
		}
	})
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		name  string
		pin   PinConfig
		value string
		level gpio.Level
		duty  gpio.Duty
	}{
		{"digital on", PinConfig{Mode: ModeOutput}, "1", gpio.High, 0},
		{"digital off", PinConfig{Mode: ModeOutput}, "0", gpio.Low, 0},
		{"digital inverted relay", PinConfig{Mode: ModeOutput, Invert: true}, "1", gpio.Low, 0},
		{"pwm percent", PinConfig{Mode: ModePWM}, "25", gpio.Low, gpio.DutyMax / 4},
		{"pwm 0..255", PinConfig{Mode: ModePWM, Max: 255}, "255", gpio.Low, gpio.DutyMax},
		{"pwm clamped", PinConfig{Mode: ModePWM}, "150", gpio.Low, gpio.DutyMax},
		{"pwm negative clamped", PinConfig{Mode: ModePWM}, "-3", gpio.Low, 0},
		{"pwm inverted", PinConfig{Mode: ModePWM, Invert: true}, "75", gpio.Low, gpio.DutyMax / 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gw := fakeserver.New(tok)
				p := &gpiotest.Pin{N: "GPIO18"}
				pc := tc.pin
				pc.Pin, pc.VPin = "GPIO18", 7
				start(t, gw, Config{Pins: []PinConfig{pc}}, p)
				if _, err := gw.VirtualWrite(tok, 7, tc.value); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				p.Lock()
				defer p.Unlock()
				if pc.Mode == ModeOutput && p.L != tc.level {
					t.Errorf("level %v, want %v", p.L, tc.level)
				}
				if pc.Mode == ModePWM {
					if p.D != tc.duty {
						t.Errorf("duty %v, want %v", p.D, tc.duty)
					}
					if p.F != 1000*physic.Hertz {
						t.Errorf("frequency %v, want 1kHz", p.F)
					}
				}
			})
		})
	}
}

func TestOutputsRestoredAtLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw := fakeserver.New(tok)
		gw.SetValue(tok, 8, "1")
		gw.SetValue(tok, 9, "50")
		relay, led := &gpiotest.Pin{N: "GPIO23"}, &gpiotest.Pin{N: "GPIO12"}
		b := start(t, gw, Config{Pins: []PinConfig{
			{Pin: "GPIO23", VPin: 8, Mode: ModeOutput},
			{Pin: "GPIO12", VPin: 9, Mode: ModePWM},
		}}, relay, led)
		if relay.Read() != gpio.High {
			t.Error("relay not restored from the gateway's value")
		}
		led.Lock()
		if led.D != gpio.DutyHalf {
			t.Errorf("led duty %v, want 50%%", led.D)
		}
		led.Unlock()
		if st := b.Status(); st.State != bridge.StateConnected || st.TokenHash != bridge.HashToken([]byte(tok)) {
			t.Errorf("status %+v", st)
		}
	})
}

func TestBadWritesAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw := fakeserver.New(tok)
		in, out := inputPin("GPIO17"), &gpiotest.Pin{N: "GPIO18"}
		b := start(t, gw, Config{Pins: []PinConfig{{Pin: "GPIO17", VPin: 1}, {Pin: "GPIO18", VPin: 2, Mode: ModeOutput}}}, in, out)
		gw.VirtualWrite(tok, 1, "1")   // an input
		gw.VirtualWrite(tok, 2, "abc") // not a number
		gw.VirtualWrite(tok, 40, "1")  // no such pin
		synctest.Wait()
		if s := b.Stats(); s.Rejected != 3 || s.Applied != 0 {
			t.Errorf("stats %+v, want 3 rejected", s)
		}
		refusals := 0
		for _, r := range gw.Received() {
			f := r.Msg
			if f.Cmd == blynk.CmdResponse && f.Status == blynk.StatusIllegalCommand {
				refusals++
			}
		}
		if refusals != 3 {
			t.Errorf("%d ILLEGAL_COMMAND answers, want 3", refusals)
		}
	})
}

func TestReconnectsAfterGatewayEndsSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw := fakeserver.New(tok)
		p := inputPin("GPIO17")
		b := start(t, gw, Config{Pins: []PinConfig{{Pin: "GPIO17", VPin: 1, Pull: "up"}}}, p)
		gw.Kick(tok)
		synctest.Wait()
		p.EdgesChan <- gpio.Low // while offline
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !gw.Connected(tok) || gw.Logins(tok) != 2 {
			t.Fatalf("online=%v logins=%d, want back online", gw.Connected(tok), gw.Logins(tok))
		}
		w := writes(gw)
		if last := w[len(w)-1]; last != (pinVal{1, "0"}) {
			t.Errorf("last write %v, want the level that changed while offline", last)
		}
		if b.Status().State != bridge.StateConnected {
			t.Errorf("state %s", b.Status().State)
		}
	})
}

func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw := fakeserver.New(tok)
		start(t, gw, Config{Heartbeat: 10 * time.Second, Pins: []PinConfig{{Pin: "GPIO18", VPin: 2, Mode: ModeOutput}}}, &gpiotest.Pin{N: "GPIO18"})
		time.Sleep(35 * time.Second)
		synctest.Wait()
		pings := 0
		for _, r := range gw.Received() {
			f := r.Msg
			if f.Cmd == blynk.CmdPing {
				pings++
			}
		}
		if pings != 3 {
			t.Errorf("%d pings in 35s with a 10s heartbeat, want 3", pings)
		}
	})
}

func TestInvalidTokenRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gw := fakeserver.New("other")
		b := start(t, gw, Config{Pins: []PinConfig{{Pin: "GPIO18", VPin: 2, Mode: ModeOutput}}}, &gpiotest.Pin{N: "GPIO18"})
		st := b.Status()
		if st.State != bridge.StateRetrying || st.LastError == "" {
			t.Errorf("status %+v, want retrying with the refusal", st)
		}
	})
}
