// Package blnkinf reads and writes the Blynk firmware tag: the bytes
// "blnkinf\0" followed by NUL-separated key/value pairs and an empty key,
// which a firmware image embeds so that a server can tell, before shipping
// it, which template (fw-type), version (mcu) and build it holds. Devices
// report the same three values at run time, and a shipment compares them.
//
// The decoder reads untrusted bytes (an uploaded image): it is bounded,
// never allocates more than the tag, and refuses what no Blynk toolchain
// writes (non-printable text, an unterminated tag).
package blnkinf

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Magic starts every tag.
const Magic = "blnkinf\x00"

// MaxTag bounds one tag's length (magic included): real tags are about 100
// bytes; a longer run of pairs is not a tag.
const MaxTag = 1024

// Tag is what a firmware image says about itself.
type Tag struct {
	// Version is the firmware version ("mcu"; older tags say "fw" or "ver").
	Version string
	// Type is the firmware type ("fw-type"), the template id by default.
	Type string
	// Build is the build date and time ("build", __DATE__ " " __TIME__).
	Build string
	// Blynk is the library version ("blynk"), informational.
	Blynk string
	// Pairs holds every pair in order, the four above included.
	Pairs [][2]string
}

// Errors of Find.
var (
	ErrNoTag     = errors.New("blnkinf: no firmware tag in the image")
	ErrMalformed = errors.New("blnkinf: malformed firmware tag")
)

// Find returns the first tag of image that names a firmware type and a
// version. An image can hold several tags (the library's own info block
// starts with the same magic but names no fw-type); those are skipped. A
// malformed candidate is skipped too, unless no good one follows, in which
// case its error is returned.
func Find(image []byte) (Tag, error) {
	var firstErr error
	for off := 0; ; {
		i := bytes.Index(image[off:], []byte(Magic))
		if i < 0 {
			break
		}
		start := off + i + len(Magic)
		t, err := Parse(image[start:])
		if err == nil && t.Type != "" && t.Version != "" {
			return t, nil
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		off = start
	}
	if firstErr != nil {
		return Tag{}, firstErr
	}
	return Tag{}, ErrNoTag
}

// Parse decodes the pairs that follow the magic, up to the empty key that
// ends them. Bytes after the end are ignored.
func Parse(b []byte) (Tag, error) {
	if len(b) > MaxTag-len(Magic) {
		b = b[:MaxTag-len(Magic)]
	}
	var t Tag
	for {
		key, rest, ok := cutNUL(b)
		if !ok {
			return Tag{}, fmt.Errorf("%w: not terminated within %d bytes", ErrMalformed, MaxTag)
		}
		if key == "" {
			return t, nil
		}
		val, rest2, ok := cutNUL(rest)
		if !ok {
			return Tag{}, fmt.Errorf("%w: key %q has no value", ErrMalformed, key)
		}
		if !printable(key) || !printable(val) {
			return Tag{}, fmt.Errorf("%w: non-printable text", ErrMalformed)
		}
		t.Pairs = append(t.Pairs, [2]string{key, val})
		switch key {
		case "mcu":
			t.Version = val
		case "fw", "ver":
			if t.Version == "" {
				t.Version = val
			}
		case "fw-type":
			t.Type = val
		case "build":
			t.Build = val
		case "blynk":
			t.Blynk = val
		}
		b = rest2
	}
}

func cutNUL(b []byte) (string, []byte, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", nil, false
	}
	return string(b[:i]), b[i+1:], true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Encode returns the tag bytes for version, type and build (the form
// BLYNK_PARAM_KV builds), for tools and tests that make images.
func Encode(t Tag) []byte {
	var b bytes.Buffer
	b.WriteString(Magic)
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(k)
			b.WriteByte(0)
			b.WriteString(v)
			b.WriteByte(0)
		}
	}
	kv("mcu", t.Version)
	kv("fw-type", t.Type)
	kv("build", t.Build)
	kv("blynk", t.Blynk)
	b.WriteByte(0)
	return b.Bytes()
}

// CompareVersions compares dotted versions numerically, part by part
// ("0.10.0" > "0.9.1"; a missing part is 0; "1.2" == "1.2.0"). A part that
// is not a number compares as text after every number. The result is -1,
// 0 or +1.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		x, y := "0", "0"
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				if nx < ny {
					return -1
				}
				return 1
			}
		case ex == nil:
			return -1
		case ey == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}
