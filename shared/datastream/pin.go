package datastream

// maxPinDigits bounds a pin number's digits, leading zeros included.
const maxPinDigits = 5

// ParsePin parses a virtual pin number as devices send it in a HARDWARE body
// (`vw\0<pin>\0…`): one to five ASCII decimal digits with a value of at
// most MaxPin, leading zeros allowed (the library and the legacy server
// parse the number, so `007` is pin 7). Signs, spaces and longer forms are
// refused with ErrBadPin, as the legacy server refused `vw -1` and `vw 256`
// (PROTOCOL.md §5). The same rule as shared/blynk's, so a pin means the
// same over every transport.
func ParsePin(b []byte) (int, error) {
	if len(b) == 0 || len(b) > maxPinDigits {
		return 0, ErrBadPin
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrBadPin
		}
		n = n*10 + int(c-'0')
	}
	if n > MaxPin {
		return 0, ErrBadPin
	}
	return n, nil
}

// ParsePinName parses the pin names of the HTTP API and config files: `V1`
// or `v1` (PROTOCOL.md §7.9). The number follows ParsePin's rules.
func ParsePinName(s string) (int, error) {
	if len(s) < 2 || (s[0] != 'V' && s[0] != 'v') {
		return 0, ErrBadPin
	}
	if len(s) > 1+maxPinDigits {
		return 0, ErrBadPin
	}
	var buf [maxPinDigits]byte
	return ParsePin(append(buf[:0], s[1:]...))
}
