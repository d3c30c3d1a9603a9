// Package auth provides the cloud's password primitives: hashing with
// bcrypt from golang.org/x/crypto (kept inside this package, behind the
// tenancy.PasswordHasher shape) and generated passwords.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// DefaultCost is the bcrypt cost used when none is configured.
const DefaultCost = 12

// ErrMismatch reports a password that does not match its hash.
var ErrMismatch = errors.New("auth: password does not match")

// Passwords hashes and verifies passwords with bcrypt at Cost
// (4..31; 0 means DefaultCost). Tests use the minimum to stay fast.
//
// bcrypt reads at most 72 bytes, so the password is first reduced to
// base64(SHA-256(password)) (44 bytes): every byte of a long password counts,
// and no input is refused. Length policy is the caller's.
type Passwords struct {
	Cost int
}

func (p Passwords) cost() int {
	switch {
	case p.Cost == 0:
		return DefaultCost
	case p.Cost < bcrypt.MinCost:
		return bcrypt.MinCost
	case p.Cost > bcrypt.MaxCost:
		return bcrypt.MaxCost
	}
	return p.Cost
}

func prehash(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum[:])
	return out
}

// Hash returns the encoded bcrypt hash of password.
func (p Passwords) Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(password), p.cost())
	if err != nil {
		return "", fmt.Errorf("auth: hash: %w", err)
	}
	return string(h), nil
}

// Verify returns nil when password matches hash, ErrMismatch otherwise.
func (p Passwords) Verify(hash, password string) error {
	if hash == "" {
		return ErrMismatch
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), prehash(password)); err != nil {
		return ErrMismatch
	}
	return nil
}

// RandomPassword returns a printable password with 128 random bits, used for
// the generated first admin.
func RandomPassword() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
