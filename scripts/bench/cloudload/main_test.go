package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLoopbackOnly(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:8000": true, "http://localhost:8000": true, "http://[::1]:8000": true,
		"https://127.0.0.2": true, "http://10.0.0.1:8000": false, "http://example.com": false,
		"ftp://127.0.0.1": false, "127.0.0.1:8000": false, "http://0.0.0.0:8000": false,
	} {
		if err := loopbackOnly(raw); (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-fixture", "-url", "http://127.0.0.1:1"},
		{"-url", "http://192.168.1.1:8000", "-token", "x"},
		{"-url", "http://127.0.0.1:8000"},
		{"-fixture", "-clients", "0"},
		{"-fixture", "-duration", "1h"},
		{"-fixture", "-orgs", "10,x"},
		{"-fixture", "-orgs", "10,10,10,10"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut.String())
		}
	}
}

// A short run against a tiny in-process fixture: the tool must report
// successful requests and no errors.
func TestFixtureRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cloud and loads it")
	}
	dir := t.TempDir()
	for _, client := range []string{"-nethttp=false", "-nethttp=true"} { // the second run reuses the fixture
		var out, errOut bytes.Buffer
		code := run([]string{"-fixture", "-orgs", "2,2", "-devices", "50", "-clients", "4", "-duration", "300ms", "-warmup", "0s",
			"-data", dir, client}, &out, &errOut)
		if code != 0 {
			t.Fatalf("%s: code %d: %s", client, code, errOut.String())
		}
		if !strings.Contains(out.String(), "req/s") || !strings.Contains(out.String(), "status map[200:") ||
			!strings.Contains(out.String(), "transport errors 0") || strings.Contains(out.String(), " 0 requests") {
			t.Errorf("%s: output %q", client, out.String())
		}
	}
}
