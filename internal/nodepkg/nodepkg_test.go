package nodepkg

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec, name, version string
		ok                  bool
	}{
		{"mqtt@5", "mqtt", "5", true},
		{"blynk-library@0.5.4", "blynk-library", "0.5.4", true},
		{"@scope/pkg@1.2.3", "@scope/pkg", "1.2.3", true},
		{"mqtt", "", "", false},
		{"mqtt@", "", "", false},
		{"@5", "", "", false},
		{"@scope/@1", "", "", false},
	}
	for _, tt := range tests {
		name, version, ok := parseSpec(tt.spec)
		if name != tt.name || version != tt.version || ok != tt.ok {
			t.Errorf("parseSpec(%q) = %q, %q, %v; want %q, %q, %v", tt.spec, name, version, ok, tt.name, tt.version, tt.ok)
		}
	}
}

// An installed package is found in the cache without npm or the network.
func TestRequireUsesTheCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache) // os.UserCacheDir on macOS
	pkg := filepath.Join(cache, "outpost-test", "npm", "left-pad@1.3.0", "node_modules", "left-pad")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"name":"left-pad"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", withoutNPM(t))
	_, modules := Require(t, "left-pad@1.3.0") // skips only if node itself is absent
	if want := filepath.Dir(pkg); modules != want {
		t.Errorf("modules = %s, want %s", modules, want)
	}
}

// withoutNPM returns a PATH holding only a link to node, so that an
// install attempt would fail.
func withoutNPM(t *testing.T) string {
	dir := t.TempDir()
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if node := filepath.Join(p, "node"); fileExists(node) {
			if err := os.Symlink(node, filepath.Join(dir, "node")); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	return dir
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// recorder is a testing.TB that records how the test would end.
type recorder struct {
	testing.TB
	ended string // "skip" or "fatal"
	msg   string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.ended, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.ended, r.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// With the registry unreachable and nothing cached, the test using the
// package fails (a real-client test must not pass unseen), or is skipped
// under -short.
func TestRequireRegistryUnreachable(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not installed")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("npm_config_registry", "http://127.0.0.1:1/") // nothing listens on port 1
	t.Setenv("npm_config_fetch_retries", "0")
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Require(r, "left-pad@1.3.0")
	}()
	<-done
	want := "fatal"
	if testing.Short() {
		want = "skip"
	}
	if r.ended != want || !strings.Contains(r.msg, "npm install left-pad@1.3.0 failed") {
		t.Errorf("ended %q (%s), want %q", r.ended, r.msg, want)
	}
}
