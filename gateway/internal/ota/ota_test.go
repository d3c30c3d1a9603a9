package ota_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/ota"
	"outpost/gateway/internal/sqlite"
	"outpost/internal/poll"
	"outpost/shared/blnkinf"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

const (
	tmplID    = "TMPLota00001"
	ctlTmplID = "TMPLota00002" // a control shipment's template
)

// image is a firmware image with a tag.
func image(version, build string, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i * 7)
	}
	copy(b[size/2:], blnkinf.Encode(blnkinf.Tag{Version: version, Type: tmplID, Build: build}))
	return b
}

func firmwareOf(img []byte, version, build string) syncproto.Firmware {
	s, m := sha256.Sum256(img), md5.Sum(img)
	return syncproto.Firmware{SHA256: hex.EncodeToString(s[:]), MD5: hex.EncodeToString(m[:]), Size: int64(len(img)),
		Version: version, Type: tmplID, Build: build}
}

// fakeCloud serves one image like the cloud's gateway endpoint, counting
// the bytes it sends; cutAt > 0 breaks the first response after that many.
type fakeCloud struct {
	*httptest.Server
	img    []byte
	served atomic.Int64
	ranges []string
	mu     sync.Mutex
	cutAt  int
	cut    atomic.Bool
}

func newFakeCloud(t testing.TB, img []byte, cutAt int) *fakeCloud {
	c := &fakeCloud{img: img, cutAt: cutAt}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gw-credential" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		c.mu.Lock()
		c.ranges = append(c.ranges, r.Header.Get("Range"))
		c.mu.Unlock()
		if c.cutAt > 0 && !c.cut.Swap(true) {
			// Promise the whole image, send part of it, drop the connection.
			w.Header().Set("Content-Length", fmt.Sprint(len(c.img)))
			w.WriteHeader(http.StatusOK)
			w.Write(c.img[:c.cutAt])
			c.served.Add(int64(c.cutAt))
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		http.ServeContent(countingWriter{w, &c.served}, r, "", time.Time{}, strings.NewReader(string(c.img)))
	}))
	t.Cleanup(c.Close)
	return c
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

type env struct {
	hub   *hub.Hub
	d     *ota.Delivery
	lan   *httptest.Server
	cloud *fakeCloud
	dir   string
	stop  func() // stops the delivery's Run
}

func newEnv(t testing.TB, img []byte, cutAt int) *env {
	return newEnvWith(t, img, cutAt, nil)
}

func newEnvWith(t testing.TB, img []byte, cutAt int, opt func(*ota.Options)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "gw.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{tmplID, ctlTmplID} {
		tm := datastream.Template{ID: id, Name: "Pump", MetaFields: []datastream.MetaField{{ID: 1, Name: "Time Zone"}}}
		if err := h.SaveTemplate(ctx, tm); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{hub: h, cloud: newFakeCloud(t, img, cutAt), dir: dir}
	mux := http.NewServeMux()
	e.lan = httptest.NewUnstartedServer(mux)
	e.lan.Start()
	t.Cleanup(e.lan.Close)
	o := ota.Options{Hub: h, Dir: dir, URL: e.lan.URL, CacheBytes: 8 << 20, RetryFetch: 20 * time.Millisecond}
	if opt != nil {
		opt(&o)
	}
	e.d, err = ota.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/ota/", e.d)
	e.d.SetSource(ota.Source{BaseURL: e.cloud.URL, Credential: "gw-credential"})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.d.Run(ctx); close(done) }()
	var once sync.Once
	e.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(e.stop)
	return e
}

// device is a simulated device connection: on an offer it downloads the
// image, checks it against x-md5, then "reboots" into what behave says.
type device struct {
	e       *env
	id      int64
	uid     string
	version string
	build   string
	// next decides what the device runs after a download: ok=false keeps
	// the old firmware (a failed flash).
	next    func(ver, build string) (string, string, bool)
	offers  atomic.Int32
	detach  func()
	mu      sync.Mutex
	lastErr error
}

func (d *device) Transport() string { return "test" }
func (d *device) Close()            {}
func (d *device) Deliver(dl hub.Delivery) {
	if dl.Kind != hub.DeliverOTA {
		return
	}
	d.offers.Add(1)
	go d.update(dl)
}

func (d *device) update(dl hub.Delivery) {
	var offer struct {
		URL   string
		Size  int64
		Ver   string
		Build string
	}
	json.Unmarshal([]byte(dl.Value), &offer)
	resp, err := http.Get(offer.URL)
	if err != nil {
		d.fail(err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		d.fail(fmt.Errorf("download: %v %s", err, resp.Status))
		return
	}
	sum := md5.Sum(body)
	if hex.EncodeToString(sum[:]) != resp.Header.Get("x-md5") || int64(len(body)) != offer.Size {
		d.fail(fmt.Errorf("md5 mismatch"))
		return
	}
	tag, err := blnkinf.Find(body)
	if err != nil {
		d.fail(err)
		return
	}
	// Flashing and rebooting take a real device seconds; the delivery
	// tells a device that came back from one that has not left yet by
	// millisecond timestamps, so the fake takes a few milliseconds too.
	time.Sleep(3 * time.Millisecond)
	// Reboot: disconnect, come back with what the image holds (or not).
	d.mu.Lock()
	d.detach()
	if v, b, ok := d.next(tag.Version, tag.Build); ok {
		d.version, d.build = v, b
	}
	d.mu.Unlock()
	d.connect()
}

// reboot reconnects the device running version and build.
func (d *device) reboot(version, build string) {
	d.mu.Lock()
	d.detach()
	if version != "" {
		d.version, d.build = version, build
	}
	d.mu.Unlock()
	d.connect()
}

func (d *device) fail(err error) {
	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
}

func (d *device) connect() {
	d.mu.Lock()
	d.detach = d.e.hub.Attach(d.id, d)
	v, b := d.version, d.build
	d.mu.Unlock()
	d.e.hub.SetInfo(d.id, []string{"mcu", v, "fw-type", tmplID, "build", b}, "test")
}

func (e *env) addDevices(t testing.TB, n int, next func(v, b string) (string, string, bool)) []*device {
	return e.addDevicesOf(t, tmplID, n, next)
}

func (e *env) addDevicesOf(t testing.TB, tmpl string, n int, next func(v, b string) (string, string, bool)) []*device {
	t.Helper()
	var out []*device
	for i := range n {
		hd, _, err := e.hub.AddDevice(context.Background(), tmpl, fmt.Sprintf("%s %d", tmpl, i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &device{e: e, id: hd.ID, uid: hd.UID, version: "1.0.0", build: "old", next: next})
	}
	return out
}

func flashOK(v, b string) (string, string, bool) { return v, b, true }

func TestHundredDevicesUpdateFromOneFetch(t *testing.T) {
	img := image("2.0.0", "new", 1<<20)
	e := newEnv(t, img, 0)
	devs := e.addDevices(t, 100, flashOK)
	fw := firmwareOf(img, "2.0.0", "new")
	if err := e.d.ApplyShipments(context.Background(), syncproto.Shipments{Items: []syncproto.Shipment{{
		ID: "1", Name: "v2", TemplateID: tmplID, Window: "any", Rule: "lower_version", Attempts: 3, Firmware: fw}}}); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		d.connect()
	}
	poll.Within(t, "every device reports success", time.Minute, func() bool {
		for _, d := range devs {
			if e.d.Status("1", d.uid) != ota.StSuccess {
				return false
			}
		}
		return true
	})
	for _, d := range devs {
		d.mu.Lock()
		err := d.lastErr
		d.mu.Unlock()
		if err != nil {
			t.Fatalf("device %s: %v", d.uid, err)
		}
	}
	if got := e.cloud.served.Load(); got != int64(len(img)) {
		t.Errorf("cloud served %d bytes, want exactly one image (%d)", got, len(img))
	}
}

func TestFetchResumesWithRange(t *testing.T) {
	img := image("2.0.0", "new", 1<<20)
	e := newEnv(t, img, len(img)/2)
	dev := e.addDevices(t, 1, flashOK)[0]
	if err := e.d.ApplyShipments(context.Background(), syncproto.Shipments{Items: []syncproto.Shipment{{
		ID: "1", Name: "v2", TemplateID: tmplID, Window: "any", Rule: "lower_version", Attempts: 3, Firmware: firmwareOf(img, "2.0.0", "new")}}}); err != nil {
		t.Fatal(err)
	}
	dev.connect()
	poll.Until(t, "success after a resumed fetch", func() bool { return e.d.Status("1", dev.uid) == ota.StSuccess })
	e.cloud.mu.Lock()
	defer e.cloud.mu.Unlock()
	want := fmt.Sprintf("bytes=%d-", len(img)/2)
	if len(e.cloud.ranges) < 2 || e.cloud.ranges[0] != "" || e.cloud.ranges[len(e.cloud.ranges)-1] != want {
		t.Errorf("requests' Range headers %q, want a first full request then %q", e.cloud.ranges, want)
	}
	if got := e.cloud.served.Load(); got != int64(len(img)) {
		t.Errorf("cloud sent %d bytes, want %d (the second half only once)", got, len(img))
	}
}

func TestRollbackAndAttemptsLimit(t *testing.T) {
	img := image("2.0.0", "new", 64<<10)
	e := newEnv(t, img, 0)
	fw := firmwareOf(img, "2.0.0", "new")
	if err := e.d.ApplyShipments(context.Background(), syncproto.Shipments{Items: []syncproto.Shipment{{
		ID: "1", Name: "v2", TemplateID: tmplID, Window: "any", Rule: "lower_version", Attempts: 2, Firmware: fw}}}); err != nil {
		t.Fatal(err)
	}
	// A device whose flash never takes: it keeps coming back with 1.0.0.
	stuck := e.addDevices(t, 1, func(v, b string) (string, string, bool) { return "", "", false })[0]
	// A device that updates, then rolls back.
	back := e.addDevices(t, 1, flashOK)[0]
	// A device that comes back running something else altogether.
	other := e.addDevices(t, 1, func(v, b string) (string, string, bool) { return "1.5.0", "other", true })[0]
	stuck.connect()
	back.connect()
	other.connect()
	poll.Until(t, "rolling device succeeds", func() bool { return e.d.Status("1", back.uid) == ota.StSuccess })
	back.reboot("1.0.0", "old")
	poll.Until(t, "rollback detected", func() bool { return e.d.Status("1", back.uid) == ota.StRollback })
	poll.Until(t, "version mismatch", func() bool { return e.d.Status("1", other.uid) == ota.StVersionMismatch })
	poll.Until(t, "stuck device reaches its download limit", func() bool {
		return e.d.Status("1", stuck.uid) == ota.StDownloadLimit
	})
	n := stuck.offers.Load()
	// Reconnecting again must not bring another offer.
	stuck.reboot("", "")
	poll.Until(t, "status still download_limit after reconnecting", func() bool {
		return e.d.Status("1", stuck.uid) == ota.StDownloadLimit
	})
	if got := stuck.offers.Load(); got != n || n != 2 {
		t.Errorf("offers to the stuck device: %d before, %d after the limit; want 2 and no more", n, got)
	}
}

// The LAN download answers an HTTP/1.0 client (ESP8266 Edgent) with a
// Content-Length and the x- headers, never chunked, and honours Range.
func TestServeHeadersHTTP10AndRange(t *testing.T) {
	img := image("2.0.0", "new", 100000)
	e := newEnv(t, img, 0)
	fw := firmwareOf(img, "2.0.0", "new")
	// The device must not take the offer; it only gives us its URL.
	dev := e.addDevices(t, 1, flashOK)[0]
	var url atomic.Value
	dev.next = nil
	if err := e.d.ApplyShipments(context.Background(), syncproto.Shipments{Items: []syncproto.Shipment{{
		ID: "1", Name: "v2", TemplateID: tmplID, Window: "any", Rule: "lower_version", Attempts: 5, Firmware: fw}}}); err != nil {
		t.Fatal(err)
	}
	c := &urlConn{url: &url}
	e.hub.Attach(dev.id, c)
	e.hub.SetInfo(dev.id, []string{"mcu", "1.0.0", "fw-type", tmplID, "build", "old"}, "test")
	poll.Until(t, "an offer", func() bool { return url.Load() != nil })
	u := url.Load().(string)
	path := strings.TrimPrefix(u, e.lan.URL)

	conn, err := net.Dial("tcp", e.lan.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(img)) || len(resp.TransferEncoding) != 0 || string(body) != string(img) {
		t.Fatalf("HTTP/1.0: %s, length %d, TE %v, body %d bytes", resp.Status, resp.ContentLength, resp.TransferEncoding, len(body))
	}
	for k, want := range map[string]string{"x-md5": fw.MD5, "x-fw-ver": "2.0.0", "x-fw-type": tmplID, "x-fw-build": "new"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(resp.Header.Get("x-sha256")) != 44 {
		t.Errorf("x-sha256 = %q, want base64 of 32 bytes", resp.Header.Get("x-sha256"))
	}
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Range", "bytes=50000-")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusPartialContent || string(part) != string(img[50000:]) {
		t.Fatalf("range: %s, %d bytes", r2.Status, len(part))
	}
	if got := e.d.Status("1", dev.uid); got != ota.StDownloaded {
		t.Errorf("status after a full and a resumed download: %q, want downloaded", got)
	}
	bad, _ := http.Get(e.lan.URL + "/ota/" + fw.SHA256 + ".bin?token=wrong")
	if bad.StatusCode != http.StatusForbidden {
		t.Errorf("wrong token: %s", bad.Status)
	}
	bad.Body.Close()
}

type urlConn struct{ url *atomic.Value }

func (c *urlConn) Transport() string { return "test" }
func (c *urlConn) Close()            {}
func (c *urlConn) Deliver(dl hub.Delivery) {
	if dl.Kind == hub.DeliverOTA {
		c.url.Store(dl.Name)
	}
}
