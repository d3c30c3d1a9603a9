package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordsRoundTrip(t *testing.T) {
	p := Passwords{Cost: 4}
	long := strings.Repeat("x", 100)
	for _, pw := range []string{"correct horse", long} {
		h, err := p.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(h, pw); err != nil {
			t.Errorf("Verify(right %d bytes) = %v", len(pw), err)
		}
		for _, wrong := range []string{pw[:len(pw)-1], "", pw + "y"} {
			if err := p.Verify(h, wrong); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify(%q) = %v, want ErrMismatch", wrong, err)
			}
		}
	}
	// Bytes beyond bcrypt's 72 still count.
	h, _ := p.Hash(long)
	if err := p.Verify(h, strings.Repeat("x", 99)+"z"); !errors.Is(err, ErrMismatch) {
		t.Error("a change after byte 72 was ignored")
	}
	if err := p.Verify("", "correct horse"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify on empty hash = %v", err)
	}
}

func TestRandomPassword(t *testing.T) {
	a, b := RandomPassword(), RandomPassword()
	if a == b || len(a) < 20 {
		t.Errorf("RandomPassword gave %q and %q", a, b)
	}
}
