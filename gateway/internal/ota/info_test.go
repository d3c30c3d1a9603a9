package ota

import (
	"strings"
	"testing"
)

func TestDeviceInfo(t *testing.T) {
	for _, tc := range []struct {
		pairs []string
		want  info
		known bool
	}{
		{[]string{"ver", "1.3.2", "fw", "0.9.0", "fw-type", "TMPL1", "build", "b", "tmpl", "TMPL1"}, info{"0.9.0", "TMPL1", "b"}, true}, // binary protocol: ver is the library
		{[]string{"mcu", "2.0.0", "fw", "0.9.0", "fw-type", "TMPL1"}, info{"2.0.0", "TMPL1", ""}, true},
		{[]string{"tmpl", "TMPL1", "ver", "1.0.0", "build", "b", "type", "TMPL2"}, info{"1.0.0", "TMPL2", "b"}, true}, // MQTT info/mcu
		{[]string{"h-beat", "45"}, info{}, false},
		{[]string{"ver"}, info{}, false}, // odd length: the last key has no value
	} {
		got, known := deviceInfo(tc.pairs)
		if got != tc.want || known != tc.known {
			t.Errorf("deviceInfo(%q) = %+v, %v; want %+v, %v", tc.pairs, got, known, tc.want, tc.known)
		}
	}
}

// FuzzDeviceInfo: whatever a device reports (NUL-joined pairs, as the hub
// keeps them), reading it never panics and a version comes from a pair.
func FuzzDeviceInfo(f *testing.F) {
	f.Add("mcu\x001.0\x00fw-type\x00T\x00build\x00b")
	f.Add("ver\x00\x00fw\x00")
	f.Fuzz(func(t *testing.T, v string) {
		pairs := strings.Split(v, "\x00")
		in, _ := deviceInfo(pairs)
		if in.version != "" && !strings.Contains(v, in.version) {
			t.Fatalf("version %q not in %q", in.version, v)
		}
	})
}
