package rules

import (
	"fmt"
	"testing"
	"time"

	"outpost/shared/ulid"
)

// engine10k loads 10,000 datastream automations: 1,000 devices, pins 0..9.
func engine10k(b *testing.B) (*Engine, []string) {
	b.Helper()
	devs := make([]string, 1000)
	autos := make([]Automation, 0, 10000)
	t0 := time.Unix(1764000000, 0)
	for i := range devs {
		id, err := ulid.New(t0.Add(time.Duration(i)*time.Millisecond), zeroReader{})
		if err != nil {
			b.Fatal(err)
		}
		devs[i] = id
	}
	for i := range 10000 {
		id, _ := ulid.New(t0.Add(time.Duration(i)*time.Second), zeroReader{})
		a := Automation{ID: id, Name: fmt.Sprint("a", i), Enabled: true,
			Trigger: Trigger{Kind: TriggerDatastream, Device: devs[i%1000], Pin: i / 1000, Op: OpGt, Value: "30"},
			Actions: []Action{{Kind: ActionWrite, Device: devs[(i+1)%1000], Pin: 20, Value: "1"}}}
		if err := a.Validate(); err != nil {
			b.Fatal(err)
		}
		autos = append(autos, a)
	}
	e := NewEngine()
	e.Replace(autos, t0)
	if e.Len() != 10000 {
		b.Fatalf("loaded %d", e.Len())
	}
	return e, devs
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// BenchmarkObserveNoMatch is the cost a write pays when no automation
// watches its pin, with 10,000 automations loaded (target ≤ 1 µs).
func BenchmarkObserveNoMatch(b *testing.B) {
	e, devs := engine10k(b)
	in := Input{Kind: InputWrite, Device: devs[500], Pin: 42, Value: "35", At: time.Unix(1764000000, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if fs := e.Observe(in, nil); fs != nil {
			b.Fatal("fired")
		}
	}
}

// BenchmarkObserveWatchedNoFire is a write to a watched pin that does not
// fire (below the threshold).
func BenchmarkObserveWatchedNoFire(b *testing.B) {
	e, devs := engine10k(b)
	in := Input{Kind: InputWrite, Device: devs[500], Pin: 3, Value: "20", At: time.Unix(1764000000, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if fs := e.Observe(in, nil); fs != nil {
			b.Fatal("fired")
		}
	}
}
