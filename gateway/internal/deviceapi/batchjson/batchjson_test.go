package batchjson

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var tsCases = []struct {
	in   string
	want []Point
	err  error
}{
	{`[[1700000000000, 21.5]]`, []Point{{1700000000000, json.RawMessage(`21.5`)}}, nil},
	{` [ [1, "a"] , [2, [24.1, 56.9]], [3, true] ] `, []Point{{1, json.RawMessage(`"a"`)}, {2, json.RawMessage(`[24.1, 56.9]`)}, {3, json.RawMessage(`true`)}}, nil},
	{`[]`, []Point{}, nil},
	{`[[1.5, 2]]`, nil, ErrSyntax},
	{`[[1]]`, nil, ErrSyntax},
	{`[[1, 2, 3]]`, nil, ErrSyntax},
	{`[[1, null]]`, nil, ErrSyntax},
	{`{"a":1}`, nil, ErrSyntax},
	{`null`, nil, ErrSyntax},
	{`[[1,2]`, nil, ErrSyntax},
	{`[[1,2],[3,4],[5,6],[7,8]]`, nil, ErrTooLarge},
}

func TestParseTimestamped(t *testing.T) {
	for _, tc := range tsCases {
		got, err := ParseTimestamped([]byte(tc.in), 3)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); err == nil && diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
	}
}

var objCases = []struct {
	in   string
	want []Field
	err  error
}{
	{`{"Temperature": 21.5, "Set Temperature": 22, "Name":"x", "Power": false, "Loc": [1, 2]}`,
		[]Field{{"Temperature", json.RawMessage(`21.5`)}, {"Set Temperature", json.RawMessage(`22`)}, {"Name", json.RawMessage(`"x"`)}, {"Power", json.RawMessage(`false`)}, {"Loc", json.RawMessage(`[1, 2]`)}}, nil},
	{`{"a":1,"a":2}`, []Field{{"a", json.RawMessage(`1`)}, {"a", json.RawMessage(`2`)}}, nil},
	{`{}`, nil, nil},
	{`{"a":null}`, nil, ErrSyntax},
	{`{"a":1}{}`, nil, ErrSyntax},
	{`{"a":1`, nil, ErrSyntax},
	{`[1]`, nil, ErrSyntax},
	{``, nil, ErrSyntax},
}

func TestParseObject(t *testing.T) {
	for _, tc := range objCases {
		got, err := ParseObject([]byte(tc.in))
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); err == nil && diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{`"a\u0062"`: "ab", `1024`: "1024", `true`: "true", `[1,2]`: "[1,2]"} {
		if got := Text(json.RawMessage(in)); got != want {
			t.Errorf("Text(%s) = %q, want %q", in, got, want)
		}
	}
}

// The decoders never panic, and what they accept is valid JSON values.
func FuzzParseTimestamped(f *testing.F) {
	for _, tc := range tsCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		points, err := ParseTimestamped(b, 100)
		if err != nil {
			return
		}
		for _, p := range points {
			if !json.Valid(p.Value) || string(p.Value) == "null" {
				t.Fatalf("accepted value %q", p.Value)
			}
		}
	})
}

func FuzzParseObject(f *testing.F) {
	for _, tc := range objCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := ParseObject(b)
		if err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		for _, fl := range fields {
			if !json.Valid(fl.Value) {
				t.Fatalf("accepted value %q", fl.Value)
			}
		}
	})
}
