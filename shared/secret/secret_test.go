package secret

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRestrict(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	// An existing world-readable database and WAL are tightened.
	for _, p := range []string{db, db + "-wal"} {
		if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o644)
	}
	if err := Restrict(db); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{db, db + "-wal"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want 0600", p, fi.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(db); string(b) != "data" {
		t.Errorf("Restrict changed the content: %q", b)
	}
	fresh := filepath.Join(dir, "new.db")
	if err := Restrict(fresh); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 0 {
		t.Errorf("new file: %v %v", fi, err)
	}
}

func TestWriteFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("content %q", b)
	}
}

func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"gw_AbCdEfGhIjKlMnOpQrStUvWx": "gw_AbC…",
		"abcdef":                      "ab…",
		"ab":                          "…",
		"":                            "…",
	} {
		if got := Prefix(in); got != want {
			t.Errorf("Prefix(%q) = %q, want %q", in, got, want)
		}
	}
}
