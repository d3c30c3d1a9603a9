package qrpng

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		payload string
		size    int
		ok      bool
	}{
		{"sqr_abc+42", 256, true},
		{"", 256, false},
		{strings.Repeat("x", MaxPayload+1), 256, false},
		{"sqr_abc+42", 10, false},
	}
	for _, tc := range tests {
		b, err := Encode(tc.payload, tc.size)
		if (err == nil) != tc.ok {
			t.Errorf("Encode(%d bytes, %d): err %v, want ok=%v", len(tc.payload), tc.size, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if w := img.Bounds().Dx(); w != tc.size {
			t.Errorf("width %d, want %d", w, tc.size)
		}
	}
	a, _ := Encode("sqr_a+1", 128)
	b, _ := Encode("sqr_b+1", 128)
	if bytes.Equal(a, b) {
		t.Error("two payloads drew the same image")
	}
}
