package datastream

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func f64(v float64) *float64 { return &v }

var (
	dsInt     = Datastream{Pin: 1, Name: "Int", Type: Integer}
	dsIntMM   = Datastream{Pin: 2, Name: "IntMM", Type: Integer, Min: f64(-10), Max: f64(100)}
	dsIntFrac = Datastream{Pin: 3, Name: "IntFrac", Type: Integer, Min: f64(0.5), Max: f64(9.5)}
	dsDbl     = Datastream{Pin: 4, Name: "Dbl", Type: Double}
	dsDblMM   = Datastream{Pin: 5, Name: "DblMM", Type: Double, Min: f64(-1.5), Max: f64(2.5)}
	dsStr     = Datastream{Pin: 6, Name: "Str", Type: String}
	dsEnum    = Datastream{Pin: 7, Name: "Enum", Type: Enum, Enum: []EnumItem{{0, "off"}, {1, "low"}, {5, "high"}}, EnumFallback: 0}
	dsEnumMM  = Datastream{Pin: 8, Name: "EnumMM", Type: Enum, Min: f64(0), Max: f64(3), Enum: []EnumItem{{0, "a"}, {3, "d"}}, EnumFallback: 3}
	dsLoc     = Datastream{Pin: 9, Name: "Loc", Type: Location}
	dsBool    = Datastream{Pin: 10, Name: "Bool", Type: Boolean}
	dsUnknown = Datastream{Pin: 11, Name: "Unknown", Type: "color"}
)

type normCase struct {
	name  string
	ds    *Datastream
	items []string
	want  string
	err   error
}

var normCases = []normCase{
	// Integer
	{"int plain", &dsInt, []string{"42"}, "42", nil},
	{"int negative", &dsInt, []string{"-7"}, "-7", nil},
	{"int leading plus", &dsInt, []string{"+7"}, "7", nil},
	{"int leading zeros", &dsInt, []string{"007"}, "7", nil},
	{"int minus zero", &dsInt, []string{"-0"}, "0", nil},
	{"int spaces", &dsInt, []string{" 12\t\r\n"}, "12", nil},
	{"int inner space", &dsInt, []string{"1 2"}, "", ErrWrongType},
	{"int decimal dropped not truncated", &dsInt, []string{"123.45"}, "", ErrWrongType},
	{"int 10.0", &dsInt, []string{"10.0"}, "", ErrWrongType},
	{"int exponent", &dsInt, []string{"1e3"}, "", ErrWrongType},
	{"int hex", &dsInt, []string{"0x10"}, "", ErrWrongType},
	{"int text", &dsInt, []string{"abc"}, "", ErrWrongType},
	{"int empty item", &dsInt, []string{""}, "", ErrWrongType},
	{"int only sign", &dsInt, []string{"-"}, "", ErrWrongType},
	{"int double sign", &dsInt, []string{"--1"}, "", ErrWrongType},
	{"int above int32 clamps", &dsInt, []string{"2147483648"}, "2147483647", nil},
	{"int below int32 clamps", &dsInt, []string{"-2147483649"}, "-2147483648", nil},
	{"int huge clamps", &dsInt, []string{"99999999999999999999999999"}, "2147483647", nil},
	{"int huge negative clamps", &dsInt, []string{"-99999999999999999999999999"}, "-2147483648", nil},
	{"int no items", &dsInt, []string{}, "", ErrArity},
	{"int two items", &dsInt, []string{"1", "2"}, "", ErrArity},
	{"int clamp max", &dsIntMM, []string{"101"}, "100", nil},
	{"int clamp min", &dsIntMM, []string{"-11"}, "-10", nil},
	{"int at max", &dsIntMM, []string{"100"}, "100", nil},
	{"int fractional bounds round inwards lo", &dsIntFrac, []string{"0"}, "1", nil},
	{"int fractional bounds round inwards hi", &dsIntFrac, []string{"10"}, "9", nil},
	// Double
	{"dbl plain", &dsDbl, []string{"2.5"}, "2.5", nil},
	{"dbl trailing zeros", &dsDbl, []string{"2.5000000"}, "2.5", nil},
	{"dbl integer", &dsDbl, []string{"100"}, "100", nil},
	{"dbl exponent", &dsDbl, []string{"1e3"}, "1000", nil},
	{"dbl exponent negative", &dsDbl, []string{"25E-1"}, "2.5", nil},
	{"dbl leading dot", &dsDbl, []string{".5"}, "0.5", nil},
	{"dbl trailing dot", &dsDbl, []string{"5."}, "5", nil},
	{"dbl leading plus", &dsDbl, []string{"+1.25"}, "1.25", nil},
	{"dbl minus zero", &dsDbl, []string{"-0.0"}, "0", nil},
	{"dbl spaces", &dsDbl, []string{"  3.75 "}, "3.75", nil},
	{"dbl small", &dsDbl, []string{"1e-7"}, "0.0000001", nil},
	{"dbl underflow to zero", &dsDbl, []string{"1e-400"}, "0", nil},
	{"dbl NaN", &dsDbl, []string{"NaN"}, "", ErrWrongType},
	{"dbl Inf", &dsDbl, []string{"Inf"}, "", ErrWrongType},
	{"dbl -Infinity", &dsDbl, []string{"-Infinity"}, "", ErrWrongType},
	{"dbl overflow unbounded", &dsDbl, []string{"1e400"}, "", ErrWrongType},
	{"dbl hex float", &dsDbl, []string{"0x1p3"}, "", ErrWrongType},
	{"dbl underscore", &dsDbl, []string{"1_000"}, "", ErrWrongType},
	{"dbl comma", &dsDbl, []string{"2,5"}, "", ErrWrongType},
	{"dbl lone dot", &dsDbl, []string{"."}, "", ErrWrongType},
	{"dbl bare exponent", &dsDbl, []string{"1e"}, "", ErrWrongType},
	{"dbl empty", &dsDbl, []string{""}, "", ErrWrongType},
	{"dbl two items", &dsDbl, []string{"1", "2"}, "", ErrArity},
	{"dbl clamp max", &dsDblMM, []string{"3"}, "2.5", nil},
	{"dbl clamp min", &dsDblMM, []string{"-2"}, "-1.5", nil},
	{"dbl overflow clamps to bound", &dsDblMM, []string{"1e400"}, "2.5", nil},
	{"dbl negative overflow clamps", &dsDblMM, []string{"-1e400"}, "-1.5", nil},
	// String
	{"str plain", &dsStr, []string{"hello"}, "hello", nil},
	{"str empty", &dsStr, []string{""}, "", nil},
	{"str spaces kept", &dsStr, []string{" a b "}, " a b ", nil},
	{"str non-utf8 kept", &dsStr, []string{"\xff\xfe"}, "\xff\xfe", nil},
	{"str utf8", &dsStr, []string{"Grüße ✓"}, "Grüße ✓", nil},
	{"str several items", &dsStr, []string{"a", "", "c"}, "a\x00\x00c", nil},
	{"str max length", &dsStr, []string{strings.Repeat("x", MaxString)}, strings.Repeat("x", MaxString), nil},
	{"str too long", &dsStr, []string{strings.Repeat("x", MaxString+1)}, "", ErrTooLong},
	{"str items too long joined", &dsStr, []string{strings.Repeat("x", 512), strings.Repeat("y", 512)}, "", ErrTooLong},
	{"str no items", &dsStr, []string{}, "", ErrArity},
	// Enum
	{"enum listed", &dsEnum, []string{"5"}, "5", nil},
	{"enum unknown falls back", &dsEnum, []string{"3"}, "0", nil},
	{"enum huge falls back", &dsEnum, []string{"99999999999"}, "0", nil},
	{"enum plus", &dsEnum, []string{"+1"}, "1", nil},
	{"enum decimal dropped", &dsEnum, []string{"1.5"}, "", ErrWrongType},
	{"enum label is not a value", &dsEnum, []string{"low"}, "", ErrWrongType},
	{"enum two items", &dsEnum, []string{"1", "1"}, "", ErrArity},
	{"enum clamped then listed", &dsEnumMM, []string{"9"}, "3", nil},
	{"enum clamped then fallback", &dsEnumMM, []string{"-5"}, "0", nil},
	{"enum in range unlisted", &dsEnumMM, []string{"2"}, "3", nil},
	// Location
	{"loc plain", &dsLoc, []string{"24.7536", "59.4370"}, "24.7536\x0059.437", nil},
	{"loc spaces", &dsLoc, []string{" -122.4 ", "37.8"}, "-122.4\x0037.8", nil},
	{"loc bounds", &dsLoc, []string{"-180", "90"}, "-180\x0090", nil},
	{"loc lon out of range", &dsLoc, []string{"180.5", "0"}, "", ErrWrongType},
	{"loc lat out of range", &dsLoc, []string{"0", "-90.1"}, "", ErrWrongType},
	{"loc NaN", &dsLoc, []string{"NaN", "0"}, "", ErrWrongType},
	{"loc one item", &dsLoc, []string{"24.7,59.4"}, "", ErrArity},
	{"loc three items", &dsLoc, []string{"1", "2", "3"}, "", ErrArity},
	{"loc empty item", &dsLoc, []string{"1", ""}, "", ErrWrongType},
	// Boolean
	{"bool 0", &dsBool, []string{"0"}, "0", nil},
	{"bool 1", &dsBool, []string{"1"}, "1", nil},
	{"bool true", &dsBool, []string{"true"}, "1", nil},
	{"bool FALSE", &dsBool, []string{"FALSE"}, "0", nil},
	{"bool spaces", &dsBool, []string{" 1 "}, "1", nil},
	{"bool 2", &dsBool, []string{"2"}, "", ErrWrongType},
	{"bool 01", &dsBool, []string{"01"}, "", ErrWrongType},
	{"bool yes", &dsBool, []string{"yes"}, "", ErrWrongType},
	{"bool empty", &dsBool, []string{""}, "", ErrWrongType},
	{"bool two items", &dsBool, []string{"0", "1"}, "", ErrArity},
	// Unknown type
	{"unknown type", &dsUnknown, []string{"1"}, "", ErrWrongType},
}

func TestNormalize(t *testing.T) {
	for _, tc := range normCases {
		t.Run(tc.name, func(t *testing.T) {
			items := make([][]byte, len(tc.items))
			for i, s := range tc.items {
				items[i] = []byte(s)
			}
			got, err := tc.ds.Normalize(items)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tc.items, err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tc.items, got, tc.want)
			}
			if err != nil {
				return
			}
			// NormalizeStrings agrees, and the canonical form is a fixed point.
			if s, err := tc.ds.NormalizeStrings(tc.items...); s != got || err != nil {
				t.Errorf("NormalizeStrings = %q, %v; want %q", s, err, got)
			}
			if again, err := tc.ds.Normalize(SplitValue(got)); again != got || err != nil {
				t.Errorf("canonical %q re-normalizes to %q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizeJSON(t *testing.T) {
	tests := []struct {
		name string
		ds   *Datastream
		raw  string
		want string
		err  error
	}{
		{"int number", &dsInt, `42`, "42", nil},
		{"int spaces", &dsInt, " -3 \n", "-3", nil},
		{"int fraction", &dsInt, `1.5`, "", ErrWrongType},
		{"int 1.0", &dsInt, `1.0`, "", ErrWrongType},
		{"int string", &dsInt, `"42"`, "", ErrWrongType},
		{"int clamp", &dsIntMM, `1000`, "100", nil},
		{"int huge", &dsInt, `123456789012345678901234567890`, "2147483647", nil},
		{"dbl number", &dsDbl, `2.50`, "2.5", nil},
		{"dbl exponent", &dsDbl, `-1.5e2`, "-150", nil},
		{"dbl string", &dsDbl, `"2.5"`, "", ErrWrongType},
		{"dbl bool", &dsDbl, `true`, "", ErrWrongType},
		{"dbl null", &dsDbl, `null`, "", ErrWrongType},
		{"dbl clamp", &dsDblMM, `9`, "2.5", nil},
		{"str", &dsStr, `"hi \"there\""`, `hi "there"`, nil},
		{"str unicode escape", &dsStr, `"caf\u00e9"`, "café", nil},
		{"str NUL items", &dsStr, `"a\u0000b"`, "a\x00b", nil},
		{"str number", &dsStr, `42`, "", ErrWrongType},
		{"str too long", &dsStr, `"` + strings.Repeat("x", MaxString+1) + `"`, "", ErrTooLong},
		{"enum number", &dsEnum, `1`, "1", nil},
		{"enum unknown", &dsEnum, `4`, "0", nil},
		{"enum label", &dsEnum, `"low"`, "", ErrWrongType},
		{"bool true", &dsBool, `true`, "1", nil},
		{"bool false", &dsBool, `false`, "0", nil},
		{"bool number", &dsBool, `1`, "", ErrWrongType},
		{"bool string", &dsBool, `"true"`, "", ErrWrongType},
		{"loc", &dsLoc, `[24.75, 59.437]`, "24.75\x0059.437", nil},
		{"loc one", &dsLoc, `[24.75]`, "", ErrArity},
		{"loc strings", &dsLoc, `["24.75", "59.4"]`, "", ErrWrongType},
		{"loc object", &dsLoc, `{"lon":1,"lat":2}`, "", ErrWrongType},
		{"loc out of range", &dsLoc, `[200, 0]`, "", ErrWrongType},
		{"malformed", &dsInt, `{`, "", ErrWrongType},
		{"empty", &dsInt, ``, "", ErrWrongType},
		{"trailing data", &dsInt, `1 2`, "", ErrWrongType},
		{"unknown type", &dsUnknown, `1`, "", ErrWrongType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ds.NormalizeJSON([]byte(tc.raw))
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("NormalizeJSON(%s) error = %v, want %v", tc.raw, err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("NormalizeJSON(%s) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		ds        *Datastream
		canonical string
		want      string
	}{
		{&dsInt, "42", `42`},
		{&dsInt, "-7", `-7`},
		{&dsDbl, "2.5", `2.5`},
		{&dsDbl, "0.0000001", `0.0000001`},
		{&dsEnum, "5", `5`},
		{&dsBool, "1", `true`},
		{&dsBool, "0", `false`},
		{&dsLoc, "24.75\x0059.437", `[24.75, 59.437]`},
		{&dsStr, "string pin", `"string pin"`},
		{&dsStr, "a\x00b", `"a\u0000b"`},
		{&dsStr, "q\"\\\n<", `"q\"\\\n\u003c"`},
		{&dsStr, "\xff", `"\ufffd"`},
		{&dsStr, "ok ✓", `"ok ✓"`},
		// Values that no longer fit the type (the template changed) stay valid JSON.
		{&dsInt, "hello", `"hello"`},
		{&dsDbl, "+1", `"+1"`},
		{&dsDbl, "01", `"01"`},
		{&dsBool, "true", `"true"`},
		{&dsLoc, "1", `"1"`},
		{&dsUnknown, "1", `"1"`},
	}
	for _, tc := range tests {
		got := string(tc.ds.AppendJSON([]byte("x:"), tc.canonical))
		if got != "x:"+tc.want {
			t.Errorf("%s AppendJSON(%q) = %s, want x:%s", tc.ds.Type, tc.canonical, got, tc.want)
		}
		if !json.Valid([]byte(tc.want)) {
			t.Errorf("AppendJSON(%q) = %s is not valid JSON", tc.canonical, tc.want)
		}
	}
}

// TestJSONRoundTrip: what getAll prints is what batch_ds accepts.
func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range normCases {
		if tc.err != nil || !utf8.ValidString(tc.want) {
			continue
		}
		js := tc.ds.AppendJSON(nil, tc.want)
		got, err := tc.ds.NormalizeJSON(js)
		if err != nil || got != tc.want {
			t.Errorf("%s: NormalizeJSON(AppendJSON(%q) = %s) = %q, %v", tc.name, tc.want, js, got, err)
		}
	}
}

func TestDefaultValue(t *testing.T) {
	tests := []struct {
		ds   Datastream
		want string
		ok   bool
	}{
		{Datastream{Type: Integer}, "", false},
		{Datastream{Type: Integer, Default: "5"}, "5", true},
		{Datastream{Type: Double, Default: "2.50"}, "2.5", true},
		{Datastream{Type: Boolean, Default: "true"}, "1", true},
		{Datastream{Type: Location, Default: "1.5\x002.5"}, "1.5\x002.5", true},
		{Datastream{Type: Integer, Default: "x"}, "", false},
	}
	for _, tc := range tests {
		got, ok := tc.ds.DefaultValue()
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s default %q: DefaultValue() = %q, %v; want %q, %v", tc.ds.Type, tc.ds.Default, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParsePin(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"255", 255, true}, {"007", 7, true},
		{"256", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"", 0, false},
		{"1000", 0, false}, {"0255", 255, true}, {"00255", 255, true}, {"000255", 0, false},
		{" 1", 0, false}, {"1a", 0, false}, {"V1", 0, false},
	}
	for _, tc := range tests {
		got, err := ParsePin([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePin(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadPin) {
			t.Errorf("ParsePin(%q) error %v is not ErrBadPin", tc.in, err)
		}
	}
}

func TestParsePinName(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"v1", 1, true}, {"V1", 1, true}, {"V255", 255, true}, {"v0", 0, true},
		{"V256", 0, false}, {"1", 0, false}, {"V", 0, false}, {"d1", 0, false},
		{"V-1", 0, false}, {"V1000", 0, false}, {"", 0, false}, {"vv1", 0, false},
		{"V007", 7, true}, {"V00255", 255, true}, {"V000255", 0, false},
	}
	for _, tc := range tests {
		got, err := ParsePinName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePinName(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadPin) {
			t.Errorf("ParsePinName(%q) error %v is not ErrBadPin", tc.in, err)
		}
	}
}

var fuzzDatastreams = []*Datastream{&dsInt, &dsIntMM, &dsIntFrac, &dsDbl, &dsDblMM, &dsStr, &dsEnum, &dsEnumMM, &dsLoc, &dsBool, &dsUnknown}

// FuzzNormalize: never panics; a canonical value re-normalizes to itself and
// its JSON form is valid JSON that NormalizeJSON maps back to it.
func FuzzNormalize(f *testing.F) {
	for _, tc := range normCases {
		f.Add(uint8(tc.ds.Pin), []byte(strings.Join(tc.items, "\x00")))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ds := fuzzDatastreams[int(which)%len(fuzzDatastreams)]
		got, err := ds.Normalize(bytes.Split(body, []byte{0}))
		if err != nil {
			return
		}
		again, err := ds.Normalize(SplitValue(got))
		if err != nil || again != got {
			t.Fatalf("%s: canonical %q re-normalizes to %q, %v", ds.Type, got, again, err)
		}
		js := ds.AppendJSON(nil, got)
		if !json.Valid(js) {
			t.Fatalf("%s: AppendJSON(%q) = %s is not valid JSON", ds.Type, got, js)
		}
		if utf8.ValidString(got) {
			if back, err := ds.NormalizeJSON(js); err != nil || back != got {
				t.Fatalf("%s: NormalizeJSON(%s) = %q, %v; want %q", ds.Type, js, back, err, got)
			}
		}
	})
}

// FuzzNormalizeJSON: never panics; what it accepts is canonical.
func FuzzNormalizeJSON(f *testing.F) {
	for _, s := range []string{`42`, `-1.5e2`, `"a\u0000b"`, `true`, `[24.75, 59.4]`, `null`, `{`, `1 2`, `123456789012345678901234567890`} {
		for _, ds := range fuzzDatastreams {
			f.Add(uint8(ds.Pin), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		ds := fuzzDatastreams[int(which)%len(fuzzDatastreams)]
		got, err := ds.NormalizeJSON(raw)
		if err != nil {
			return
		}
		if again, err := ds.Normalize(SplitValue(got)); err != nil || again != got {
			t.Fatalf("%s: NormalizeJSON(%s) = %q, which re-normalizes to %q, %v", ds.Type, raw, got, again, err)
		}
	})
}

// FuzzParsePin: never panics; accepted pins are in range and print back.
func FuzzParsePin(f *testing.F) {
	for _, s := range []string{"0", "255", "256", "-1", "007", "", "V1", "1000"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePin(b)
		if err != nil {
			if !errors.Is(err, ErrBadPin) {
				t.Fatalf("ParsePin(%q) error %v is not ErrBadPin", b, err)
			}
			return
		}
		if p < 0 || p > MaxPin {
			t.Fatalf("ParsePin(%q) = %d out of range", b, p)
		}
		if q, err := ParsePinName("V" + string(b)); q != p || err != nil {
			t.Fatalf("ParsePinName(V%s) = %d, %v; want %d", b, q, err, p)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct {
		ds   *Datastream
		item string
	}{{&dsIntMM, "42"}, {&dsDbl, "23.5000"}, {&dsStr, "hello"}, {&dsLoc, "24.75\x0059.4"}} {
		items := bytes.Split([]byte(bc.item), []byte{0})
		b.Run(string(bc.ds.Type), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.ds.Normalize(items); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzCanonicalDecimal: where the fast path takes a number as it came, it
// is exactly what formatting the parsed number gives.
func FuzzCanonicalDecimal(f *testing.F) {
	for _, s := range []string{"21.5", "0", "-0", "-0.0", "0.05", "100", "007", "1.50", "-3.25", "123456789012345", "1234567890123456",
		"0.000000000000001", "999999999999999.9", "1e5", ".5", "5.", "-", "", "9007199254740993", "0.1", "-12.000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !canonicalDecimal([]byte(s)) {
			return
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%q taken as canonical but does not parse: %v", s, err)
		}
		if got := formatFloat(v); got != s {
			t.Fatalf("%q taken as canonical; formatting its value gives %q", s, got)
		}
	})
}

func TestCanonicalDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"21.5", true}, {"0", true}, {"-3.25", true}, {"100", true}, {"0.05", true}, {"123456789012345", true},
		{"-0", false}, {"-0.0", false}, {"007", false}, {"1.50", false}, {"1234567890123456", false},
		{"1e5", false}, {".5", false}, {"5.", false}, {"-", false}, {"", false}, {" 1", false}, {"+1", false},
	} {
		if got := canonicalDecimal([]byte(tc.in)); got != tc.want {
			t.Errorf("canonicalDecimal(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
