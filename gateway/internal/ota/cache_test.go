package ota_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"outpost/gateway/internal/ota"
	"outpost/internal/poll"
	"outpost/shared/syncproto"
)

// The cache stays within its bound: an image not in use is evicted to make
// room, one in use never is (the fetch fails instead).
func TestCacheBound(t *testing.T) {
	ctx := context.Background()
	a, b := image("1.0.0", "a", 100<<10), image("2.0.0", "b", 100<<10)
	ca, cb := newFakeCloud(t, a, 0), newFakeCloud(t, b, 0)
	fa, fb := firmwareOf(a, "1.0.0", "a"), firmwareOf(b, "2.0.0", "b")
	c := &ota.Cache{Dir: t.TempDir(), MaxBytes: 150 << 10}
	src := func(fc *fakeCloud) ota.Source { return ota.Source{BaseURL: fc.URL, Credential: "gw-credential"} }
	if err := c.Fetch(ctx, src(ca), fa, map[string]bool{fa.SHA256: true}); err != nil {
		t.Fatal(err)
	}
	err := c.Fetch(ctx, src(cb), fb, map[string]bool{fa.SHA256: true, fb.SHA256: true})
	if !errors.Is(err, ota.ErrTooLarge) || c.Has(fb.SHA256) || !c.Has(fa.SHA256) {
		t.Fatalf("both in use: err %v, has a %v, has b %v; want ErrTooLarge and a kept", err, c.Has(fa.SHA256), c.Has(fb.SHA256))
	}
	if err := c.Fetch(ctx, src(cb), fb, map[string]bool{fb.SHA256: true}); err != nil {
		t.Fatal(err)
	}
	if c.Has(fa.SHA256) || !c.Has(fb.SHA256) {
		t.Errorf("a unused: has a %v, has b %v; want a evicted for b", c.Has(fa.SHA256), c.Has(fb.SHA256))
	}
	// A corrupt download is refused and not kept.
	bad := fb
	bad.SHA256, bad.MD5 = fa.SHA256, fa.MD5
	c2 := &ota.Cache{Dir: t.TempDir()}
	if err := c2.Fetch(ctx, src(cb), bad, nil); err == nil || c2.Has(bad.SHA256) {
		t.Errorf("image with the wrong digest: err %v, cached %v", err, c2.Has(bad.SHA256))
	}
}

// A gateway restarted while the cloud is unreachable goes on shipping what
// it holds: shipments and progress come from its state file, the image
// from its cache.
func TestRestartOfflineKeepsShipping(t *testing.T) {
	img := image("2.0.0", "new", 64<<10)
	e := newEnv(t, img, 0)
	if err := e.d.ApplyShipments(context.Background(), syncproto.Shipments{Items: []syncproto.Shipment{{
		ID: "1", Name: "v2", TemplateID: tmplID, Window: "any", Rule: "lower_version", Attempts: 3, Firmware: firmwareOf(img, "2.0.0", "new")}}}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the image cached", e.d.Fetched)
	e.cloud.Close() // the cloud is gone from now on
	e.stop()        // and the gateway restarts

	mux := http.NewServeMux()
	lan := httptest.NewServer(mux)
	defer lan.Close()
	d, err := ota.New(ota.Options{Hub: e.hub, Dir: e.dir, URL: lan.URL})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/ota/", d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if !d.Fetched() {
		t.Fatal("the restarted delivery does not find the cached image")
	}
	dev := e.addDevices(t, 1, flashOK)[0]
	dev.connect()
	poll.Until(t, "success from the restarted, offline gateway", func() bool { return d.Status("1", dev.uid) == ota.StSuccess })
}
