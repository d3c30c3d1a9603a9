package sitetest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
	"outpost/shared/devicesim"
)

// TestMetadataSetInConsoleReachesDevice: a person sets a device's metadata
// field on the console's Info tab; the gateway receives it with the
// tenancy and pushes it to the connected device (INTERNAL meta), answers
// the device's "meta get" with it, and reports it back, so the console
// shows it applied. The device's own later setting wins and shows too.
func TestMetadataSetInConsoleReachesDevice(t *testing.T) {
	s := startSite(t, datastream.Template{ID: "TMPLMETA", Name: "Metered",
		Datastreams: []datastream.Datastream{{Pin: 0, Name: "Temperature", Type: datastream.Double}},
		MetaFields:  []datastream.MetaField{{ID: 1, Name: "Serial Number", Default: "SN-0"}}})
	metas := make(chan string, 16)
	dev, err := devicesim.Dial(s.ctx, s.g.Addrs().Blynk, devicesim.Options{Token: token, Handler: func(in devicesim.Incoming) {
		if in.Msg.Cmd == blynk.CmdInternal && bytes.HasPrefix(in.Msg.Body, []byte("meta\x00")) {
			metas <- strings.ReplaceAll(string(in.Msg.Body), "\x00", "|")
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()

	// A person signs in to the console and finds the device once the
	// cloud has adopted it.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := s.c.URL()
	do := func(method, path string, form url.Values) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Location"), string(b)
	}
	if st, _, body := do(http.MethodPost, "/login", url.Values{"email": {"admin@site.test"}, "password": {"site-admin-password"}}); st != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", st, body)
	}
	var page string
	link := regexp.MustCompile(`href="(/devices/\d+)"`)
	poll.Until(t, "device in the console's list", func() bool {
		_, _, body := do(http.MethodGet, "/devices?q=Sensor", nil)
		if m := link.FindStringSubmatch(body); m != nil {
			page = m[1]
		}
		return page != ""
	})

	st, loc, _ := do(http.MethodPost, page+"/meta", url.Values{"name": {"Serial Number"}, "value": {"SN-77"}})
	if st != http.StatusSeeOther || loc != page+"/info?meta=saved" {
		t.Fatalf("save metadata: %d %q", st, loc)
	}
	want := "meta|Serial Number|SN-77"
	wait := func(what, want string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case got := <-metas:
				if got == want {
					return
				}
			case <-timeout:
				t.Fatalf("the device got no %s (%q) within 20 s", what, want)
			}
		}
	}
	wait("pushed metadata", want)
	if _, err := dev.Internal("meta", "get", "Serial Number"); err != nil {
		t.Fatal(err)
	}
	wait("answer to meta get", want)
	poll.Until(t, "the console showing the value applied", func() bool {
		_, _, body := do(http.MethodGet, page+"/info", nil)
		return strings.Contains(body, `value="SN-77"`) && strings.Contains(body, "applied at the site")
	})

	// The device's own setting is newer: it wins at the site and in the
	// console, and a tenancy resend does not undo it.
	time.Sleep(2 * time.Millisecond) // a later millisecond than the person's
	if _, err := dev.Internal("meta", "set", "Serial Number", "DEV-1"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the console showing the device's value", func() bool {
		_, _, body := do(http.MethodGet, page+"/info", nil)
		return strings.Contains(body, `value="DEV-1"`) && strings.Contains(body, "reported by the device")
	})
	if _, err := dev.Internal("meta", "get", "Serial Number"); err != nil {
		t.Fatal(err)
	}
	wait("its own value back", "meta|Serial Number|DEV-1")
}
