package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"outpost/shared/devicesim/fakeserver"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		{[]string{"-tokens", "f"}, true},
		{[]string{"-tokens", "f", "-addr", "[::1]:80", "-stats", "http://localhost:9/s", "-http", "http://127.0.0.2:8"}, true},
		{[]string{"-tokens", "f", "-addr", "10.0.0.1:8080"}, false},
		{[]string{"-tokens", "f", "-addr", "example.com:8080"}, false},
		{[]string{"-tokens", "f", "-addr", "10.0.0.1:8080", "-allow-remote"}, true},
		{[]string{"-tokens", "f", "-stats", "http://192.168.1.2/installer/api/stats"}, false},
		{[]string{"-tokens", "f", "-http", "http://0.0.0.0:80"}, false},
		{[]string{"-tokens-url", "http://8.8.8.8/t"}, false},
		{[]string{"-tokens", "f", "-stats", "ftp://127.0.0.1/x"}, false},
		{[]string{"-tokens", "f", "-duration", "0s"}, false},
		{[]string{"-tokens", "f", "-duration", "2h"}, false},
		{[]string{"-tokens", "f", "-rate", "-1"}, false},
		{[]string{}, false},
		{[]string{"-tokens", "f", "extra"}, false},
	}
	for _, c := range cases {
		_, err := parseFlags(c.args, io.Discard)
		if (err == nil) != c.ok {
			t.Errorf("parseFlags(%q) err = %v, want ok=%v", c.args, err, c.ok)
		}
	}
}

func TestRefusesRemoteTarget(t *testing.T) {
	var stderr bytes.Buffer
	if code := realMain([]string{"-tokens", "f", "-addr", "192.0.2.1:8080"}, io.Discard, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("stderr %q does not say why", stderr.String())
	}
}

func TestParseTokens(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"a\n\n b \n# comment\nc", []string{"a", "b", "c"}},
		{`["a","b"]`, []string{"a", "b"}},
		{`{"tokens":["a"]}`, []string{"a"}},
		{`[{"token":"a","id":1},{"token":"b"}]`, []string{"a", "b"}},
		{"", nil},
	}
	for _, c := range cases {
		got, err := parseTokens([]byte(c.in))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseTokens(%q) = %q, %v", c.in, got, err)
		}
	}
	if _, err := parseTokens([]byte(`{"tokens": 3}`)); err == nil {
		t.Error("a JSON non-list was accepted")
	}
}

func TestStatsDelta(t *testing.T) {
	var before, after map[string]any
	json.Unmarshal([]byte(`{"hub":{"writesAccepted":100},"store":{"committed":90}}`), &before)
	json.Unmarshal([]byte(`{"hub":{"writesAccepted":1100},"store":{"committed":1090,"commitP99Ms":4.5}}`), &after)
	total, rate := delta(before, after, "hub.writesAccepted", 2)
	if total == nil || *total != 1000 || *rate != 500 {
		t.Fatalf("delta = %v, %v", total, rate)
	}
	if p := lookup(after, "store.commitP99Ms"); p == nil || *p != 4.5 {
		t.Errorf("lookup = %v", p)
	}
	if total, _ := delta(before, after, "hub.missing", 2); total != nil {
		t.Errorf("a missing field gave %v", *total)
	}
	if lookup(after, "hub.writesAccepted.deeper") != nil {
		t.Error("lookup through a number")
	}
}

// TestRunAgainstFakeServer drives the whole tool against an in-test Blynk
// server and an HTTP server standing in for the gateway's device API and
// stats endpoint.
func TestRunAgainstFakeServer(t *testing.T) {
	tokens := make([]string, 4)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("bench-%026d", i)
	}
	srv := fakeserver.New(tokens...)
	srv.DiscardWrites = true
	t.Cleanup(func() { srv.Close() })
	addr, err := srv.Start()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /installer/api/stats", func(w http.ResponseWriter, r *http.Request) {
		n := srv.WriteCount()
		fmt.Fprintf(w, `{"hub":{"writesAccepted":%d},"store":{"committed":%d,"commitP50Ms":1.5,"commitP99Ms":3}}`, n, n)
	})
	mux.HandleFunc("GET /external/api/update", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if _, err := srv.VirtualWrite(q.Get("token"), 7, q.Get("V7")); err != nil {
			http.Error(w, `{"error":{"message":"offline"}}`, http.StatusBadRequest)
		}
	})
	web := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(web.Close)
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-addr", addr.String(), "-tokens", file, "-rate", "50", "-duration", "1s", "-warmup", "100ms",
		"-stats", web.URL + "/installer/api/stats", "-http", web.URL, "-ctl-pin", "7", "-ctl-rate", "20",
		"-pid", strconv.Itoa(os.Getpid()), "-json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	if rep.Connected != 4 || rep.Sent == 0 || rep.SendErrors != 0 || rep.Disconnected != 0 {
		t.Errorf("report %+v", rep)
	}
	if rep.Accepted == nil || *rep.Accepted <= 0 || rep.PersistedPerS == nil || rep.CommitP99Ms == nil || *rep.CommitP99Ms != 3 {
		t.Errorf("stats not reported: %s", stdout.String())
	}
	if rep.ProbeSent == 0 || rep.ProbeFailed != 0 || rep.Downlinks == 0 || rep.DownP50Ms == nil || rep.DownP99Ms == nil {
		t.Errorf("probe not reported: %s", stdout.String())
	}
	if rep.PeakRSSMB == nil || *rep.PeakRSSMB <= 0 {
		t.Errorf("RSS not reported: %s", stdout.String())
	}

	// The text report carries the same figures.
	stdout.Reset()
	rep.print(&stdout)
	for _, want := range []string{"accepted", "persisted", "write→commit", "server→device", "peak"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout.String())
		}
	}
}
