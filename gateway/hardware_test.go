package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"outpost/firmware-bridge/serialbridge"
	"outpost/gateway"
	"outpost/internal/poll"
	"outpost/internal/ptyboard"
	"outpost/shared/blynk"
)

// signIn sets the installer password of a fresh gateway (from loopback)
// and returns the session cookie.
func signIn(t *testing.T, base string) *http.Cookie {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/setup", url.Values{"password": {"installer-pass-1"}, "confirm": {"installer-pass-1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "outpost_installer" {
			return ck
		}
	}
	t.Fatalf("setup = %d, no session cookie", resp.StatusCode)
	return nil
}

func postForm(t *testing.T, u string, ck *http.Cookie, vals url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(ck)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSerialBoundFromInstallerPage: a pty-backed port bound on the
// hardware page is served at once (the MCU's login brings its device
// online), kept across a restart, and freed by unbinding.
func TestSerialBoundFromInstallerPage(t *testing.T) {
	dir := t.TempDir()
	path, mcu := ptyboard.Plug(t)
	hw := gateway.Hardware{OpenSerial: func(pc serialbridge.PortConfig) serialbridge.Opener {
		return func(context.Context) (io.ReadWriteCloser, error) {
			return os.OpenFile(pc.Path, os.O_RDWR|syscall.O_NOCTTY, 0)
		}
	}}
	g, stop := startWith(t, testConfig(dir), gateway.WithHardware(hw))
	base := "http://" + g.Addrs().Installer
	ck := signIn(t, base)
	if code, body := postForm(t, base+"/hardware/serial/bind", ck, url.Values{"path": {"/etc/passwd"}, "baud": {"115200"}}); code != 400 ||
		!strings.Contains(body, "under /dev/") {
		t.Errorf("bind outside /dev → %d", code)
	}
	if code, body := postForm(t, base+"/hardware/serial/bind", ck, url.Values{"path": {path}, "baud": {"115200"}}); code != http.StatusSeeOther {
		t.Fatalf("bind → %d %s", code, body)
	}
	login := func(mcu *os.File) {
		t.Helper()
		w := blynk.NewWriter(mcu)
		rd := blynk.NewReader(mcu, 0)
		poll.NoError(t, "the MCU's login answered over the bound port", func() error {
			if err := w.Write(blynk.Message{Cmd: blynk.CmdHWLogin, ID: 1, Body: []byte(tokA)}); err != nil {
				return err
			}
			mcu.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			for {
				m, err := rd.Next()
				if err != nil {
					rd = blynk.NewReader(mcu, 0)
					return err
				}
				if m.Cmd == blynk.CmdResponse && m.ID == 1 && m.Status == blynk.StatusSuccess {
					return nil
				}
			}
		})
	}
	login(mcu)
	poll.NoError(t, "the hardware page shows the device", func() error {
		req, _ := http.NewRequest("GET", base+"/hardware", nil)
		req.AddCookie(ck)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), ">A</a>") || !strings.Contains(string(b), path) {
			return fmt.Errorf("device A not shown bound to %s", path)
		}
		return nil
	})
	// A restart keeps the binding.
	stop()
	mcu.Close()
	b, err := os.ReadFile(dir + "/" + gateway.SerialBindingsFile)
	if err != nil || !strings.Contains(string(b), path) {
		t.Fatalf("bindings file %q %v", b, err)
	}
	g2, _ := startWith(t, testConfig(dir), gateway.WithHardware(hw))
	base2 := "http://" + g2.Addrs().Installer
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base2+"/login", url.Values{"password": {"installer-pass-1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ck2 := resp.Cookies()[0]
	if code, body := postForm(t, base2+"/hardware/serial/unbind", ck2, url.Values{"path": {path}}); code != http.StatusSeeOther {
		t.Fatalf("unbind after restart → %d %s", code, body)
	}
	if b, _ := os.ReadFile(dir + "/" + gateway.SerialBindingsFile); strings.Contains(string(b), path) {
		t.Errorf("unbound port still saved: %s", b)
	}
}
