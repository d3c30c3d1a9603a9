package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"outpost/gateway"
)

// Issue 15 (superseding issue 11, item 6): an installer port beyond
// loopback starts without a token, but serves other hosts nothing until a
// password or a token exists (gateway/internal/installer TestExposedGate);
// loopback peers are served, to set the password.
func TestInstallerOffLoopbackWithoutToken(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Installer.Listen = "127.0.0.1:0"
	g, _ := start(t, cfg)
	resp, err := http.Get("http://" + g.Addrs().Installer + "/setup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /setup from loopback = %d, want 200", resp.StatusCode)
	}
	cfg = testConfig(t.TempDir())
	cfg.Installer.Listen = ":0"
	g2, _, err := gateway.New(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("New with the installer on every interface and no token: %v", err)
	}
	g2.Close()
}

// Writes to the installer API must be declared JSON: a form or text/plain
// (what a foreign web page can send without a preflight) gets 415.
func TestInstallerWritesRequireJSON(t *testing.T) {
	g, _ := start(t, testConfig(t.TempDir()))
	url := "http://" + g.Addrs().Installer + "/installer/api/devices"
	body := `{"template":"TMPLTEST","name":"N%d"}`
	for i, c := range []struct {
		ctype string
		want  int
	}{
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"", http.StatusUnsupportedMediaType},
		{"application/json", http.StatusCreated},
		{"application/json; charset=utf-8", http.StatusCreated},
	} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(strings.Replace(body, "%d", string(rune('a'+i)), 1)))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("Content-Type %q: %d, want %d", c.ctype, resp.StatusCode, c.want)
		}
	}
	if code, _ := httpGet(t, url); code != http.StatusOK {
		t.Errorf("GET needs no Content-Type: %d", code)
	}
}

// The device HTTP API and the installer API close a connection that sends
// nothing after its request (idle) or trickles a request (read timeout).
func TestHTTPServersTimeOut(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.HTTP.ReadTimeout, cfg.HTTP.IdleTimeout = 300*time.Millisecond, 200*time.Millisecond
	g, _ := start(t, cfg)
	for name, addr := range map[string]string{"device API": g.Addrs().HTTP, "installer": g.Addrs().Installer} {
		for _, c := range []struct {
			what, send string
		}{
			{"idle after a request", "GET /installer/api/templates HTTP/1.1\r\nHost: x\r\n\r\n"},
			{"a request that never ends", "GET /installer/api/templates HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		} {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(conn, c.send); err != nil {
				t.Fatal(err)
			}
			// The server must close the connection long before this
			// generous deadline; without timeouts it never does.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			r := bufio.NewReader(conn)
			if strings.HasSuffix(c.send, "\r\n\r\n") {
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			_, err = io.Copy(io.Discard, r)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("%s, %s: the server kept the connection open", name, c.what)
			}
			conn.Close()
		}
	}
}
