package ulid

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewKnownValues(t *testing.T) {
	tests := []struct {
		name string
		ms   int64
		rnd  []byte
		want string
	}{
		{"zero", 0, make([]byte, 10), "00000000000000000000000000"},
		{"max", maxMS, bytes.Repeat([]byte{0xff}, 10), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
		{"one ms", 1, make([]byte, 10), "00000000010000000000000000"},
		{"last random bit", 0, append(make([]byte, 9), 1), "00000000000000000000000001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(time.UnixMilli(tt.ms), bytes.NewReader(tt.rnd))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("New = %s, want %s", got, tt.want)
			}
			at, err := Time(got)
			if err != nil || at.UnixMilli() != tt.ms {
				t.Fatalf("Time(%s) = %v, %v; want %d ms", got, at, err, tt.ms)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		r    *bytes.Reader
	}{
		{"before the epoch", time.UnixMilli(-1), bytes.NewReader(make([]byte, 10))},
		{"past 48 bits", time.UnixMilli(maxMS + 1), bytes.NewReader(make([]byte, 10))},
		{"short random", time.UnixMilli(1), bytes.NewReader(make([]byte, 9))},
	}
	for _, tt := range tests {
		if got, err := New(tt.at, tt.r); err == nil {
			t.Errorf("%s: New = %s, want an error", tt.name, got)
		}
	}
}

func TestSortsByTime(t *testing.T) {
	prev := ""
	for _, ms := range []int64{0, 1, 31, 32, 1_000, 1_700_000_000_000, maxMS} {
		id, err := New(time.UnixMilli(ms), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if id <= prev {
			t.Fatalf("%s (ms %d) sorts before %s", id, ms, prev)
		}
		prev = id
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false}, // 129 bits
		{"01arz3ndektsv4rrffq69g5fav", false}, // lower case: one spelling only
		{"01ARZ3NDEKTSV4RRFFQ69G5FAU", false}, // U is not in the alphabet
		{"01ARZ3NDEKTSV4RRFFQ69G5FAI", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAL", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAO", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAVV", false},
		{"", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FA-", false},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if (err == nil) != tt.want || Valid(tt.in) != tt.want {
			t.Errorf("Parse(%q) = %v, want valid %v", tt.in, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalid", tt.in, err)
		}
	}
}

func TestDigitMatchesAlphabet(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := strings.IndexByte(alphabet, byte(c))
		if got := digit(byte(c)); got != want {
			t.Errorf("digit(%q) = %d, want %d", byte(c), got, want)
		}
	}
}

// FuzzParse: any text either is refused or round-trips exactly through
// its bytes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "", "0000000000000000000000000u"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Parse(s)
		if err != nil {
			if Valid(s) {
				t.Fatalf("Valid(%q) but Parse: %v", s, err)
			}
			return
		}
		if got := encode(b); got != s {
			t.Fatalf("Parse(%q) re-encodes as %q", s, got)
		}
	})
}
