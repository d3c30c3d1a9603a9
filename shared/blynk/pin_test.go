package blynk

import "testing"

// TestParsePin: the pin rule shared/datastream.ParsePin documents too (one
// to five digits, leading zeros allowed, 0..255), so that a pin means the
// same in a HARDWARE body and in the HTTP API.
func TestParsePin(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"255", 255, true}, {"007", 7, true},
		{"0255", 255, true}, {"00255", 255, true}, {"000255", 0, false},
		{"256", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"", 0, false},
		{"1000", 0, false}, {" 1", 0, false}, {"1a", 0, false}, {"V1", 0, false},
	} {
		got, ok := ParsePin([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("ParsePin(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
