package datastream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value rules (PROTOCOL.md §4, §7.6), the same on every transport:
//
//   - A write carries one item, except Location (exactly two: lon, lat) and
//     String, whose items are kept as they came, NUL-joined (a device may
//     virtualWrite several strings to a terminal-like pin). No item at all,
//     or another count, is ErrArity.
//   - Integer and Enum take an optional sign and decimal digits only: `1e3`,
//     `10.0` and `123.45` are the wrong type (dropped, never truncated).
//     Out-of-range integers, however large, are in-type and clamped to
//     Min/Max, and always to the int32 range.
//   - Double takes decimal notation with an optional exponent (`1e3`, `.5`,
//     `+2.50`); hexadecimal, `_`, NaN and Inf are the wrong type. A value
//     beyond float64 clamps to a bound if there is one, else is refused.
//     Canonical form is the shortest decimal that round-trips, without an
//     exponent (strconv 'f', -1): `2.5000000` → `2.5`; `-0` → `0`.
//   - Boolean takes `0`, `1`, `true`, `false` (any case) → `0`/`1`.
//   - Enum values not listed in Enum are replaced by EnumFallback.
//   - Location items are doubles, lon in [-180, 180], lat in [-90, 90];
//     outside that the value is the wrong type (clamping a position would
//     invent one).
//   - Numeric and boolean items may be surrounded by ASCII spaces, tabs and
//     line ends (HTTP forms, hand-typed MQTT payloads); strings are kept byte
//     for byte (UTF-8 not required), at most MaxString bytes joined.
//
// The canonical value returned always normalizes to itself again.

// Normalize validates the items of one write to d and returns the canonical
// value (items NUL-joined). It is the validation every transport uses.
func (d *Datastream) Normalize(items [][]byte) (string, error) {
	v, _, err := d.normalize(items)
	return v, err
}

// NormalizeStrings is Normalize for items held as strings (HTTP query
// values, config files).
func (d *Datastream) NormalizeStrings(items ...string) (string, error) {
	var small [2][]byte
	b := small[:0]
	for _, s := range items {
		b = append(b, []byte(s))
	}
	return d.Normalize(b)
}

// normalize also reports whether an in-type value was clamped or replaced
// by the enum fallback, which Template.Check refuses for defaults.
func (d *Datastream) normalize(items [][]byte) (string, bool, error) {
	switch d.Type {
	case String:
		return normString(items)
	case Location:
		if len(items) != 2 {
			return "", false, fmt.Errorf("%w: location takes 2 values (lon, lat), got %d", ErrArity, len(items))
		}
		return normLocation(items[0], items[1])
	case Integer, Double, Enum, Boolean:
		if len(items) != 1 {
			return "", false, fmt.Errorf("%w: %s takes 1 value, got %d", ErrArity, d.Type, len(items))
		}
	default:
		return "", false, fmt.Errorf("%w: unknown datastream type %q", ErrWrongType, d.Type)
	}
	item := trimSpace(items[0])
	var buf [24]byte
	switch d.Type {
	case Integer:
		v, ok := parseInt(item)
		if !ok {
			return "", false, fmt.Errorf("%w: %q is not an integer", ErrWrongType, clip(item))
		}
		lo, hi := d.intBounds()
		c := clampInt(v, lo, hi)
		return string(strconv.AppendInt(buf[:0], c, 10)), c != v, nil
	case Enum:
		v, ok := parseInt(item)
		if !ok {
			return "", false, fmt.Errorf("%w: %q is not an enum integer", ErrWrongType, clip(item))
		}
		lo, hi := d.intBounds()
		c := clampInt(v, lo, hi)
		if len(d.Enum) > 0 && !d.enumListed(c) {
			c = int64(d.EnumFallback)
		}
		return string(strconv.AppendInt(buf[:0], c, 10)), c != v, nil
	case Double:
		f, ok := parseFloat(item)
		if !ok {
			return "", false, fmt.Errorf("%w: %q is not a number", ErrWrongType, clip(item))
		}
		c := f
		if lo := d.Min; lo != nil && c < *lo {
			c = *lo
		}
		if hi := d.Max; hi != nil && c > *hi {
			c = *hi
		}
		if math.IsInf(c, 0) || math.IsNaN(c) {
			return "", false, fmt.Errorf("%w: %q is out of the double range", ErrWrongType, clip(item))
		}
		if c == f && canonicalDecimal(item) {
			return string(item), false, nil // what formatFloat would give
		}
		return formatFloat(c), c != f, nil
	default: // Boolean
		switch {
		case len(item) == 1 && (item[0] == '0' || item[0] == '1'):
			return string(item), false, nil
		case bytes.EqualFold(item, []byte("true")):
			return "1", false, nil
		case bytes.EqualFold(item, []byte("false")):
			return "0", false, nil
		}
		return "", false, fmt.Errorf("%w: %q is not a boolean", ErrWrongType, clip(item))
	}
}

func normString(items [][]byte) (string, bool, error) {
	if len(items) == 0 {
		return "", false, fmt.Errorf("%w: string takes at least 1 value", ErrArity)
	}
	if len(items) == 1 {
		if len(items[0]) > MaxString {
			return "", false, fmt.Errorf("%w (%d bytes)", ErrTooLong, len(items[0]))
		}
		return string(items[0]), false, nil
	}
	n := len(items) - 1
	for _, it := range items {
		n += len(it)
	}
	if n > MaxString {
		return "", false, fmt.Errorf("%w (%d bytes)", ErrTooLong, n)
	}
	b := make([]byte, 0, n)
	for i, it := range items {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, it...)
	}
	return string(b), false, nil
}

func normLocation(lonB, latB []byte) (string, bool, error) {
	lon, ok1 := parseFloat(trimSpace(lonB))
	lat, ok2 := parseFloat(trimSpace(latB))
	if !ok1 || !ok2 {
		return "", false, fmt.Errorf("%w: location %q, %q is not two numbers", ErrWrongType, clip(lonB), clip(latB))
	}
	if !(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90) {
		return "", false, fmt.Errorf("%w: location lon %g, lat %g out of range", ErrWrongType, lon, lat)
	}
	return formatFloat(lon) + "\x00" + formatFloat(lat), false, nil
}

// intBounds returns the inclusive integer range of an Integer or Enum
// datastream: Min/Max rounded inwards, never beyond int32.
func (d *Datastream) intBounds() (lo, hi int64) {
	lo, hi = math.MinInt32, math.MaxInt32
	if d.Min != nil && !math.IsNaN(*d.Min) {
		if m := math.Ceil(*d.Min); m > float64(lo) {
			lo = int64(math.Min(m, float64(hi)))
		}
	}
	if d.Max != nil && !math.IsNaN(*d.Max) {
		if m := math.Floor(*d.Max); m < float64(hi) {
			hi = int64(math.Max(m, math.MinInt32))
		}
	}
	return lo, hi
}

func clampInt(v, lo, hi int64) int64 {
	if v < lo {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return v
}

func (d *Datastream) enumListed(v int64) bool {
	for _, e := range d.Enum {
		if int64(e.Value) == v {
			return true
		}
	}
	return false
}

// parseInt parses [+-]digits. Values beyond int64 saturate: they are still
// integers and get clamped.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	switch b[0] {
	case '+':
		b = b[1:]
	case '-':
		neg = true
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	over := false
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxInt64-9)/10 {
			over = true
			continue
		}
		v = v*10 + uint64(c-'0')
	}
	switch {
	case over && neg:
		return math.MinInt64, true
	case over:
		return math.MaxInt64, true
	case neg:
		return -int64(v), true
	}
	return int64(v), true
}

// parseFloat accepts decimal notation only ([+-]digits[.digits][e[+-]digits]
// with at least one mantissa digit) so that strconv's hexadecimal, `_`,
// `Inf` and `NaN` forms are refused. Overflow yields ±Inf (the caller
// clamps or refuses).
func parseFloat(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	digits := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(b) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// canonicalDecimal reports whether b is a number as formatFloat writes
// it: an optional minus, an integer part without leading zeros, and an
// optional fraction without trailing zeros, no exponent, 15 digits at
// most, and not a negative zero. Such a decimal is the shortest that
// parses back to its float64 (two decimals of 15 digits or fewer never
// parse to the same float64), so formatting the parsed value gives b back;
// Double values from devices mostly look like this, and skipping the
// formatting is a visible share of an uplink's CPU.
func canonicalDecimal(b []byte) bool {
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intDigits := i - start
	if intDigits == 0 || (intDigits > 1 && b[start] == '0') {
		return false
	}
	digits := intDigits
	nonzero := intDigits > 1 || b[start] != '0'
	if i < len(b) && b[i] == '.' {
		i++
		frac := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nonzero = nonzero || b[i] != '0'
			i++
		}
		if i == frac || b[i-1] == '0' {
			return false
		}
		digits += i - frac
	}
	return i == len(b) && digits <= 15 && (start == 0 || nonzero)
}

func formatFloat(f float64) string {
	if f == 0 {
		f = 0 // drop the sign of -0
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// clip keeps error messages short when a device sends a long bad value.
func clip(b []byte) string {
	const n = 32
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// NormalizeJSON validates one JSON value written to d, as MQTT `batch_ds`
// and timestamped batches carry them: a JSON string for String, a number
// for Integer, Double and Enum, true/false for Boolean and [lon, lat] for
// Location (PROTOCOL.md §2). A JSON type that doesn't match is
// ErrWrongType; numbers then follow Normalize's text rules (so 1.0 is not an
// Integer). A string containing NUL characters is several String items.
func (d *Datastream) NormalizeJSON(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("%w: invalid JSON: %v", ErrWrongType, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", fmt.Errorf("%w: invalid JSON: data after the value", ErrWrongType)
	}
	switch d.Type {
	case String:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%w: string datastream needs a JSON string", ErrWrongType)
		}
		return d.Normalize(bytes.Split([]byte(s), []byte{0}))
	case Integer, Double, Enum:
		n, ok := v.(json.Number)
		if !ok {
			return "", fmt.Errorf("%w: %s datastream needs a JSON number", ErrWrongType, d.Type)
		}
		return d.Normalize([][]byte{[]byte(n)})
	case Boolean:
		b, ok := v.(bool)
		if !ok {
			return "", fmt.Errorf("%w: boolean datastream needs true or false", ErrWrongType)
		}
		if b {
			return "1", nil
		}
		return "0", nil
	case Location:
		a, ok := v.([]any)
		if !ok {
			return "", fmt.Errorf("%w: location datastream needs [lon, lat]", ErrWrongType)
		}
		if len(a) != 2 {
			return "", fmt.Errorf("%w: location takes [lon, lat], got %d values", ErrArity, len(a))
		}
		lon, ok1 := a[0].(json.Number)
		lat, ok2 := a[1].(json.Number)
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: location needs two JSON numbers", ErrWrongType)
		}
		return d.Normalize([][]byte{[]byte(lon), []byte(lat)})
	}
	return "", fmt.Errorf("%w: unknown datastream type %q", ErrWrongType, d.Type)
}

// AppendJSON appends canonical (a value Normalize returned for d) to dst as
// a JSON value for the HTTP getAll / multi-get answers: Integer, Double and
// Enum as numbers, Boolean as true/false, Location as [lon, lat], String as
// a JSON string (NUL items as \u0000, invalid UTF-8 as U+FFFD). A stored
// value that doesn't fit the type (the template changed since) is written
// as a JSON string, so the output is always valid JSON.
func (d *Datastream) AppendJSON(dst []byte, canonical string) []byte {
	switch d.Type {
	case Integer, Double, Enum:
		if isJSONNumber(canonical) {
			return append(dst, canonical...)
		}
	case Boolean:
		switch canonical {
		case "1":
			return append(dst, "true"...)
		case "0":
			return append(dst, "false"...)
		}
	case Location:
		lon, lat, ok := strings.Cut(canonical, "\x00")
		if ok && isJSONNumber(lon) && isJSONNumber(lat) {
			dst = append(dst, '[')
			dst = append(dst, lon...)
			dst = append(dst, ", "...)
			dst = append(dst, lat...)
			return append(dst, ']')
		}
	}
	return appendJSONString(dst, canonical)
}

// isJSONNumber reports whether s matches the JSON number grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n++
		}
		if n == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n++
		}
		if n == 0 {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// DefaultValue returns the datastream's default in canonical form, and
// false when it has none (or an invalid one, which Template.Check refuses).
func (d *Datastream) DefaultValue() (string, bool) {
	if d.Default == "" {
		return "", false
	}
	v, err := d.Normalize(SplitValue(d.Default))
	if err != nil {
		return "", false
	}
	return v, true
}

// SplitValue splits a canonical value into its NUL-separated items.
func SplitValue(v string) [][]byte {
	return bytes.Split([]byte(v), []byte{0})
}
