package blnkinf

import (
	"bytes"
	"errors"
	"testing"
)

func image(parts ...[]byte) []byte {
	return bytes.Join(append([][]byte{bytes.Repeat([]byte{0xE9, 0x00, 0xff}, 100)}, parts...), []byte{1, 2, 3})
}

func TestFind(t *testing.T) {
	good := Encode(Tag{Version: "1.2.3", Type: "TMPL123", Build: "Mar  5 2024 18:29:27", Blynk: "1.3.2"})
	// The library's own info block: same magic, no fw-type.
	libInfo := []byte("blnkinf\x00ver\x001.3.2\x00h-beat\x0045\x00\x00")
	for _, tc := range []struct {
		name  string
		image []byte
		want  Tag
		err   error
	}{
		{"tag", image(good), Tag{Version: "1.2.3", Type: "TMPL123", Build: "Mar  5 2024 18:29:27", Blynk: "1.3.2"}, nil},
		{"after library info", image(libInfo, good), Tag{Version: "1.2.3", Type: "TMPL123", Build: "Mar  5 2024 18:29:27", Blynk: "1.3.2"}, nil},
		{"old fw key", image([]byte("blnkinf\x00fw\x000.9\x00fw-type\x00TMPLX\x00\x00")), Tag{Version: "0.9", Type: "TMPLX"}, nil},
		{"none", image(), Tag{}, ErrNoTag},
		{"only library info", image(libInfo), Tag{}, ErrNoTag},
		{"unterminated", image([]byte("blnkinf\x00mcu\x001.0\x00fw-type")), Tag{}, ErrMalformed},
		{"binary value", image([]byte("blnkinf\x00mcu\x001.\x01\x00fw-type\x00T\x00\x00")), Tag{}, ErrMalformed},
		{"too long", image([]byte("blnkinf\x00mcu\x00"), bytes.Repeat([]byte("a"), MaxTag), []byte("\x00\x00")), Tag{}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Find(tc.image)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			got.Pairs = nil
			if got.Version != tc.want.Version || got.Type != tc.want.Type || got.Build != tc.want.Build || got.Blynk != tc.want.Blynk {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"1.2", "1.2.0", 0},
		{"0.9.1", "0.10.0", -1},
		{"2.0.0", "1.99.99", 1},
		{"v1.0.1", "1.0.0", 1},
		{"1.0.0", "1.0.x", -1},
		{"1.0.b", "1.0.a", 1},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := CompareVersions(tc.b, tc.a); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// FuzzFind: any bytes give a tag or an error, never a panic; a found tag
// re-encodes to bytes that Find reads back the same.
func FuzzFind(f *testing.F) {
	f.Add(image(Encode(Tag{Version: "1.0", Type: "TMPL1", Build: "b"})))
	f.Add([]byte("blnkinf\x00mcu\x00"))
	f.Add([]byte("blnkinf\x00blnkinf\x00mcu\x001\x00fw-type\x00T\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, err := Find(b)
		if err != nil {
			return
		}
		if tag.Type == "" || tag.Version == "" {
			t.Fatalf("found a tag without type or version: %+v", tag)
		}
		again, err := Find(Encode(tag))
		if err != nil {
			t.Fatalf("re-encoded tag not found: %v", err)
		}
		if again.Version != tag.Version || again.Type != tag.Type || again.Build != tag.Build {
			t.Fatalf("round trip %+v != %+v", again, tag)
		}
	})
}
