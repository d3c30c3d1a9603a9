package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzDecode: Decode never panics; what it accepts re-encodes to a
// document it accepts again unchanged, and the engine loads and runs it.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded document refused: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(a, again) {
			t.Fatalf("round trip changed it:\n%+v\n%+v", a, again)
		}
		e := NewEngine()
		now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		e.Replace([]Automation{a}, now)
		v := vals{}
		for _, d := range a.Devices() {
			v[pinKey{d, 0}] = "1"
		}
		e.Observe(Input{Kind: InputWrite, Device: a.Trigger.Device, Pin: a.Trigger.Pin, Value: "1", At: now}, v)
		e.Tick(now.Add(48*time.Hour), v)
	})
}
