package archtest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// maxMainLines bounds a main.go: mains parse flags, open what the process
// owns and call a package (docs/architecture.md, principle 1).
const maxMainLines = 100

func TestMainsAreThin(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "main.go" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte("\npackage main\n")) && !bytes.HasPrefix(data, []byte("package main\n")) {
			return nil
		}
		seen++
		if n := bytes.Count(data, []byte("\n")); n > maxMainLines {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s: %d lines; a main holds at most %d (move the code into a package or a topic file)", rel, n, maxMainLines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 3 {
		t.Fatalf("found %d mains; the walk missed the cmd directories", seen)
	}
}
