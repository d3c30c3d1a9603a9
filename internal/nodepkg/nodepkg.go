// Package nodepkg gives tests that drive a real Node.js client library (the
// npm packages blynk-library and mqtt) the node binary and the package,
// installed once per version under the user's cache directory. Every such
// test behaves the same way:
//
//   - node or npm not installed: the test is skipped, saying so;
//   - the package already installed: no network is needed;
//   - otherwise it is installed; when that fails (the registry is
//     unreachable, say) the test fails with npm's output, except under
//     -short, where it is skipped: a real-client test that could not run
//     must not pass silently in CI, which installs node and npm.
package nodepkg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var installMu sync.Mutex

// Require returns the node binary and the node_modules directory holding
// the package spec ("name@version"), installing it if needed.
func Require(t testing.TB, spec string) (node, modules string) {
	t.Helper()
	name, version, ok := parseSpec(spec)
	if !ok {
		t.Fatalf("nodepkg: %q: want name@version", spec)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node not installed: skipping the test with the npm package %s", spec)
	}
	installMu.Lock() // tests of one package may install the same package at once
	defer installMu.Unlock()
	dir := filepath.Join(cacheDir(t), "outpost-test", "npm", strings.ReplaceAll(name, "/", "+")+"@"+version)
	modules = filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, name, "package.json")); err == nil {
		return node, modules
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skipf("npm not installed: skipping the test with the npm package %s", spec)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefer-offline",
		"--prefix", dir, "--cache", filepath.Join(dir, ".cache"), name+"@"+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		if testing.Short() {
			t.Skipf("npm install %s failed (-short: skipped): %v\n%s", spec, err, out)
		}
		t.Fatalf("npm install %s failed (registry unreachable? run with -short to skip): %v\n%s", spec, err, out)
	}
	return node, modules
}

// parseSpec splits "name@version"; a scoped name keeps its leading @.
func parseSpec(spec string) (name, version string, ok bool) {
	i := strings.LastIndexByte(spec, '@')
	if i <= 0 || i == len(spec)-1 || spec[i-1] == '/' {
		return "", "", false
	}
	return spec[:i], spec[i+1:], true
}

func cacheDir(t testing.TB) string {
	if d, err := os.UserCacheDir(); err == nil {
		return d
	}
	return t.TempDir()
}
