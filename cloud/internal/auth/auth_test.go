package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordsRoundTrip(t *testing.T) {
	p := Passwords{Cost: 4}
	h, err := p.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(h, "correct horse"); err != nil {
		t.Errorf("Verify(right) = %v", err)
	}
	for _, wrong := range []string{"correct hors", "", strings.Repeat("x", 100)} {
		if err := p.Verify(h, wrong); !errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%q) = %v, want ErrMismatch", wrong, err)
		}
	}
	if err := p.Verify("", "correct horse"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify on empty hash = %v", err)
	}
}

func TestPasswordPolicy(t *testing.T) {
	p := Passwords{Cost: 4}
	for _, pw := range []string{"", "short", strings.Repeat("a", 73)} {
		if _, err := p.Hash(pw); !errors.Is(err, ErrPasswordPolicy) {
			t.Errorf("Hash(%d bytes) = %v, want ErrPasswordPolicy", len(pw), err)
		}
	}
	if _, err := p.Hash(strings.Repeat("a", 72)); err != nil {
		t.Errorf("Hash(72 bytes) = %v", err)
	}
}

func TestTokensAreUniqueAndHashStable(t *testing.T) {
	a, b := NewToken("opc_"), NewToken("opc_")
	if a == b || !strings.HasPrefix(a, "opc_") || len(a) != 4+43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if TokenHash(a) != TokenHash(a) || TokenHash(a) == TokenHash(b) || len(TokenHash(a)) != 64 {
		t.Error("TokenHash not a stable distinct digest")
	}
	if RandomPassword() == RandomPassword() || CheckPolicy(RandomPassword()) != nil {
		t.Error("RandomPassword")
	}
}
