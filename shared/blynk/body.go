package blynk

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Op is the two-letter operation that starts a HARDWARE (and BRIDGE) body
// (PROTOCOL.md §1.11).
type Op uint8

// Hardware operations.
const (
	OpUnknown      Op = iota
	OpVirtualWrite    // vw
	OpVirtualRead     // vr (never sent by Outpost, §7.5)
	OpDigitalWrite    // dw
	OpDigitalRead     // dr
	OpAnalogWrite     // aw
	OpAnalogRead      // ar
	OpPinMode         // pm
)

// String returns the wire spelling ("vw"), or "??" for OpUnknown.
func (o Op) String() string {
	switch o {
	case OpVirtualWrite:
		return "vw"
	case OpVirtualRead:
		return "vr"
	case OpDigitalWrite:
		return "dw"
	case OpDigitalRead:
		return "dr"
	case OpAnalogWrite:
		return "aw"
	case OpAnalogRead:
		return "ar"
	case OpPinMode:
		return "pm"
	}
	return "??"
}

// IsWrite reports whether o carries values (vw, dw, aw).
func (o Op) IsWrite() bool {
	return o == OpVirtualWrite || o == OpDigitalWrite || o == OpAnalogWrite
}

// IsRead reports whether o is a read request (vr, dr, ar).
func (o Op) IsRead() bool {
	return o == OpVirtualRead || o == OpDigitalRead || o == OpAnalogRead
}

// ParseOp maps a body's first item to its Op.
func ParseOp(b []byte) Op {
	if len(b) != 2 {
		return OpUnknown
	}
	switch string(b) { // no allocation: the compiler compares in place
	case "vw":
		return OpVirtualWrite
	case "vr":
		return OpVirtualRead
	case "dw":
		return OpDigitalWrite
	case "dr":
		return OpDigitalRead
	case "aw":
		return OpAnalogWrite
	case "ar":
		return OpAnalogRead
	case "pm":
		return OpPinMode
	}
	return OpUnknown
}

// MaxPin is the highest pin number Outpost accepts (PROTOCOL.md §1.11, §7.1).
const MaxPin = 255

// Hardware is a parsed HARDWARE body "op\0pin[\0value…]".
type Hardware struct {
	Op  Op
	Pin int
	// Values are the items after the pin, split exactly on NUL (a trailing
	// NUL means a trailing empty value). They alias the body.
	Values [][]byte
}

// ParseHardware parses a HARDWARE body. values is reused to hold
// Hardware.Values, so a caller that keeps it between calls does not
// allocate. Errors match errors.Is(err, StatusIllegalCommand) — the answer
// the legacy server gives (§7.1) — and the Hardware returned with an error
// holds what could be parsed (for logging).
//
// Rules: op is one of vw vr dw dr aw ar pm; pin is decimal 0..MaxPin; the
// writes (vw dw aw) and pm need at least one value; for reads any items
// after the pin are returned in Values, unchecked.
func ParseHardware(values [][]byte, body []byte) (Hardware, error) {
	h := Hardware{Op: OpUnknown, Pin: -1, Values: values[:0]}
	i := bytes.IndexByte(body, 0)
	if i < 0 {
		h.Op = ParseOp(body)
		return h, illegal("hardware body has no pin")
	}
	h.Op = ParseOp(body[:i])
	if h.Op == OpUnknown {
		return h, illegal("unknown hardware op")
	}
	rest := body[i+1:]
	pinEnd := bytes.IndexByte(rest, 0)
	pinText := rest
	if pinEnd >= 0 {
		pinText = rest[:pinEnd]
	}
	pin, ok := parsePin(pinText)
	if !ok {
		return h, illegal("bad pin")
	}
	h.Pin = pin
	if pinEnd < 0 {
		if h.Op.IsWrite() || h.Op == OpPinMode {
			return h, illegal("missing value")
		}
		return h, nil
	}
	h.Values = splitExact(h.Values, rest[pinEnd+1:])
	return h, nil
}

// splitExact appends the NUL-separated items of b to dst: n NULs give n+1
// items, so an empty b is one empty item.
func splitExact(dst [][]byte, b []byte) [][]byte {
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return append(dst, b)
		}
		dst = append(dst, b[:i])
		b = b[i+1:]
	}
}

// parsePin parses a decimal pin 0..MaxPin. Leading zeros are accepted (the
// library parses pins with atoi); signs and spaces are not.
func parsePin(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= MaxPin
}

// ParsePin parses a pin number as it appears in bodies (decimal 0..MaxPin).
func ParsePin(b []byte) (int, bool) { return parsePin(b) }

func illegal(reason string) error {
	return fmt.Errorf("blynk: %s: %w", reason, StatusIllegalCommand)
}

// AppendHardware appends the body "op\0pin\0v1\0v2…" to dst.
func AppendHardware(dst []byte, op Op, pin int, values ...[]byte) []byte {
	dst = append(dst, op.String()...)
	dst = append(dst, 0)
	dst = strconv.AppendInt(dst, int64(pin), 10)
	for _, v := range values {
		dst = append(dst, 0)
		dst = append(dst, v...)
	}
	return dst
}

// AppendVirtualWrite appends the body "vw\0pin\0v1\0v2…" to dst.
func AppendVirtualWrite(dst []byte, pin int, values ...string) []byte {
	dst = append(dst, "vw\x00"...)
	dst = strconv.AppendInt(dst, int64(pin), 10)
	for _, v := range values {
		dst = append(dst, 0)
		dst = append(dst, v...)
	}
	return dst
}

// ParseSync parses a HARDWARE_SYNC body. An empty body is syncAll
// (all = true); "vr\0p1\0p2…" asks for those virtual pins, appended to pins.
// Errors match errors.Is(err, StatusIllegalCommand).
func ParseSync(pins []int, body []byte) (all bool, out []int, err error) {
	out = pins[:0]
	if len(body) == 0 {
		return true, out, nil
	}
	if body[len(body)-1] == 0 {
		body = body[:len(body)-1] // tolerate a trailing NUL
	}
	i := bytes.IndexByte(body, 0)
	if i < 0 || ParseOp(body[:i]) != OpVirtualRead {
		return false, out, illegal("sync body is not vr with pins")
	}
	rest := body[i+1:]
	for {
		j := bytes.IndexByte(rest, 0)
		item := rest
		if j >= 0 {
			item = rest[:j]
		}
		p, ok := parsePin(item)
		if !ok {
			return false, out, illegal("bad pin in sync body")
		}
		out = append(out, p)
		if j < 0 {
			return false, out, nil
		}
		rest = rest[j+1:]
	}
}

// AppendSyncVirtual appends a HARDWARE_SYNC body for syncVirtual(pins…).
// With no pins it appends nothing: the empty body is syncAll.
func AppendSyncVirtual(dst []byte, pins ...int) []byte {
	if len(pins) == 0 {
		return dst
	}
	dst = append(dst, "vr"...)
	for _, p := range pins {
		dst = append(dst, 0)
		dst = strconv.AppendInt(dst, int64(p), 10)
	}
	return dst
}

// Sub-commands of INTERNAL (PROTOCOL.md §1.11). Anything else starting an
// INTERNAL body is the device info message.
const (
	InternalUTC             = "utc"
	InternalRTC             = "rtc"
	InternalMeta            = "meta"
	InternalOTA             = "ota"
	InternalVFS             = "vfs"
	InternalDebug           = "dbg"
	InternalAppConnected    = "acon"
	InternalAppDisconnected = "adis"
)

// InternalName returns the first item of an INTERNAL body (the sub-command,
// or the first info key). It aliases body.
func InternalName(body []byte) []byte {
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return body[:i]
	}
	return body
}

// IsInfo reports whether an INTERNAL body is the info message: key/value
// pairs whose first key is not a sub-command name. Key sets differ between
// library ports (§1.7), so no particular key is required.
func IsInfo(body []byte) bool {
	name := InternalName(body)
	if len(name) == 0 || len(name) == len(body) {
		return false // no key, or a key with no value
	}
	switch string(name) {
	case InternalUTC, InternalRTC, InternalMeta, InternalOTA, InternalVFS,
		InternalDebug, InternalAppConnected, InternalAppDisconnected:
		return false
	}
	return true
}

// InfoPairs splits an info body into k1, v1, k2, v2, … . A trailing NUL
// (Linux library) is tolerated; a final key without a value is dropped.
func InfoPairs(body []byte) []string {
	f := Fields(nil, body)
	out := make([]string, 0, len(f)&^1)
	for i := 0; i+1 < len(f); i += 2 {
		out = append(out, string(f[i]), string(f[i+1]))
	}
	return out
}

// InfoValue returns the value of key in pairs as returned by InfoPairs.
func InfoValue(pairs []string, key string) (string, bool) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == key {
			return pairs[i+1], true
		}
	}
	return "", false
}

// Property is a parsed PROPERTY body "pin\0name\0v1[\0v2…]".
type Property struct {
	Pin    int
	Name   []byte
	Values [][]byte // exact split, aliasing the body
}

// ParseProperty parses a PROPERTY body; values is reused for
// Property.Values. Errors match errors.Is(err, StatusIllegalCommandBody),
// the legacy answer (§7.1).
func ParseProperty(values [][]byte, body []byte) (Property, error) {
	p := Property{Pin: -1, Values: values[:0]}
	i := bytes.IndexByte(body, 0)
	if i < 0 {
		return p, badProperty("no property name")
	}
	pin, ok := parsePin(body[:i])
	if !ok {
		return p, badProperty("bad pin")
	}
	p.Pin = pin
	rest := body[i+1:]
	j := bytes.IndexByte(rest, 0)
	if j <= 0 {
		return p, badProperty("missing property name or value")
	}
	p.Name = rest[:j]
	p.Values = splitExact(p.Values, rest[j+1:])
	return p, nil
}

func badProperty(reason string) error {
	return fmt.Errorf("blynk: property: %s: %w", reason, StatusIllegalCommandBody)
}

// Group is a parsed GROUP body: "b" (begin, server time), "t\0<unix ms>"
// (begin with a timestamp) or "e" (end).
type Group struct {
	Begin bool
	TS    int64 // unix ms for "t", else 0
}

// ErrBadGroup is returned for a GROUP body that is none of b, t, e.
var ErrBadGroup = errors.New("blynk: bad group body")

// ParseGroup parses a GROUP body. Errors match ErrBadGroup and
// StatusIllegalCommand.
func ParseGroup(body []byte) (Group, error) {
	if len(body) > 0 && body[len(body)-1] == 0 {
		body = body[:len(body)-1]
	}
	switch {
	case len(body) == 1 && body[0] == 'b':
		return Group{Begin: true}, nil
	case len(body) == 1 && body[0] == 'e':
		return Group{}, nil
	case len(body) > 2 && body[0] == 't' && body[1] == 0:
		ts, err := strconv.ParseInt(string(body[2:]), 10, 64)
		if err != nil || ts < 0 {
			return Group{}, fmt.Errorf("%w %q: %w", ErrBadGroup, body, StatusIllegalCommand)
		}
		return Group{Begin: true, TS: ts}, nil
	}
	return Group{}, fmt.Errorf("%w %q: %w", ErrBadGroup, body, StatusIllegalCommand)
}

// AppendGroupBegin appends a GROUP begin body: "b" when tsMillis is 0,
// else "t\0<tsMillis>".
func AppendGroupBegin(dst []byte, tsMillis int64) []byte {
	if tsMillis == 0 {
		return append(dst, 'b')
	}
	dst = append(dst, 't', 0)
	return strconv.AppendInt(dst, tsMillis, 10)
}

// AppendGroupEnd appends the GROUP end body "e".
func AppendGroupEnd(dst []byte) []byte { return append(dst, 'e') }
