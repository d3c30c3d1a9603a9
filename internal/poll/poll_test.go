package poll

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	boom := errors.New("not yet")
	tests := []struct {
		name      string
		okAfter   int32 // calls before f succeeds; -1: never
		wantErr   error
		wantCalls func(int32) bool
	}{
		{"true at once", 0, nil, func(n int32) bool { return n == 1 }},
		{"true on the fifth call", 4, nil, func(n int32) bool { return n == 5 }},
		{"never", -1, boom, func(n int32) bool { return n > 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			err := wait(50*time.Millisecond, func() error {
				n := calls.Add(1)
				if tt.okAfter >= 0 && n > tt.okAfter {
					return nil
				}
				return boom
			})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("wait = %v, want %v", err, tt.wantErr)
			}
			if !tt.wantCalls(calls.Load()) {
				t.Errorf("f called %d times", calls.Load())
			}
		})
	}
}

// Within and NoError pass when the condition comes true from another
// goroutine.
func TestUntilAnotherGoroutine(t *testing.T) {
	var done atomic.Bool
	go func() { done.Store(true) }()
	Until(t, "the goroutine", done.Load)
	var n atomic.Int32
	NoError(t, "three calls", func() error {
		if n.Add(1) < 3 {
			return errors.New("fewer than three calls")
		}
		return nil
	})
}

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
}

func TestWithinFailsTheTest(t *testing.T) {
	r := &recorder{TB: t}
	Within(r, "nothing", 5*time.Millisecond, func() bool { return false })
	if r.failed == "" {
		t.Fatal("Within did not fail the test when the condition never held")
	}
}
