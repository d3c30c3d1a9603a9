// Package ulid makes and checks ULIDs: 128-bit ids whose first 48 bits are
// milliseconds since the Unix epoch and whose other 80 are random, written
// as 26 characters of Crockford base32 so that they sort by creation time.
// Gateways and the cloud both draw device ids with it, so an id created on
// either side merges into the other without collision.
package ulid

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// alphabet is Crockford's base32: digits and upper-case letters without
// I, L, O and U.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Len is the length of a ULID in its canonical text form.
const Len = 26

// maxMS is the largest time a ULID holds: 48 bits of milliseconds.
const maxMS = 1<<48 - 1

// New returns the ULID for t with 80 bits read from r (crypto/rand.Reader
// in production, a fixed reader in tests). A t before the epoch or past
// the year 10889 does not fit in 48 bits and is an error.
func New(t time.Time, r io.Reader) (string, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms > maxMS {
		return "", fmt.Errorf("ulid: time %v outside the 48-bit millisecond range", t)
	}
	var b [16]byte
	for i, m := 5, uint64(ms); i >= 0; i-- {
		b[i] = byte(m)
		m >>= 8
	}
	if _, err := io.ReadFull(r, b[6:]); err != nil {
		return "", fmt.Errorf("ulid: random bits: %w", err)
	}
	return encode(b), nil
}

// encode writes 128 bits as 26 base32 digits; the first carries only 3.
func encode(b [16]byte) string {
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	var out [Len]byte
	for i := Len - 1; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// Valid reports whether s is a ULID in canonical form: 26 characters of
// the upper-case alphabet, the first at most '7' (128 bits).
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// ErrInvalid is returned, wrapped, for text that is not a canonical ULID.
var ErrInvalid = errors.New("ulid: not a ULID")

// Parse decodes a canonical ULID into its 16 bytes. Lower case and the
// look-alike letters Crockford allows on input are refused: ids are
// compared as strings on both sides, so only one spelling may exist.
func Parse(s string) ([16]byte, error) {
	var b [16]byte
	if len(s) != Len {
		return b, fmt.Errorf("%w: %d characters, want %d", ErrInvalid, len(s), Len)
	}
	if s[0] > '7' {
		return b, fmt.Errorf("%w: first character %q overflows 128 bits", ErrInvalid, s[0])
	}
	var hi, lo uint64
	for i := 0; i < Len; i++ {
		d := digit(s[i])
		if d < 0 {
			return b, fmt.Errorf("%w: character %q at %d", ErrInvalid, s[i], i)
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(d)
	}
	for i := 7; i >= 0; i-- {
		b[i], b[8+i] = byte(hi), byte(lo)
		hi >>= 8
		lo >>= 8
	}
	return b, nil
}

// Time returns the creation time a canonical ULID carries.
func Time(s string) (time.Time, error) {
	b, err := Parse(s)
	if err != nil {
		return time.Time{}, err
	}
	var ms int64
	for i := 0; i < 6; i++ {
		ms = ms<<8 | int64(b[i])
	}
	return time.UnixMilli(ms).UTC(), nil
}

func digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U':
		// index in alphabet: letters before c that are skipped shift it down.
		d := int(c-'A') + 10
		for _, skip := range []byte{'I', 'L', 'O', 'U'} {
			if c > skip {
				d--
			}
		}
		return d
	}
	return -1
}
