package devicesim_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"outpost/internal/poll"
	"outpost/shared/blnkinf"
	"outpost/shared/blynk"
	"outpost/shared/devicesim"
	"outpost/shared/devicesim/fakeserver"
)

const otaToken = "devicesim-ota-token-000000000001"

// An Updatable TCP device takes INTERNAL "ota\0<url>": it downloads and
// checks the image, logs in again and reports the image's firmware; it
// refuses an image whose MD5 does not match; Rollback brings the old
// firmware back.
func TestUpdatableOverTCP(t *testing.T) {
	img := bytes.Repeat([]byte{1, 2, 3, 4}, 4096)
	copy(img[5000:], blnkinf.Encode(blnkinf.Tag{Version: "2.0.0", Type: "TMPLsim", Build: "new build"}))
	sum := md5.Sum(img)
	var badMD5 atomic.Bool
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := hex.EncodeToString(sum[:])
		if badMD5.Load() {
			m = strings.Repeat("0", 32)
		}
		w.Header().Set("x-md5", m)
		w.Header().Set("Content-Length", strconv.Itoa(len(img)))
		w.Write(img)
	}))
	defer files.Close()
	srv, addr, err := fakeserver.Start(otaToken)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	old := devicesim.Firmware{Version: "1.0.0", Type: "TMPLsim", Build: "old build"}
	u, err := devicesim.StartUpdatable(ctx, devicesim.UpdatableOptions{Transport: "tcp", Addr: addr.String(), Token: otaToken, Firmware: old})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	offer := func() {
		t.Helper()
		if _, err := srv.Send(otaToken, blynk.CmdInternal, []byte("ota\x00"+files.URL+"/fw.bin")); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil := func(what string, cond func() bool) { t.Helper(); poll.Until(t, what, cond) }
	badMD5.Store(true)
	offer()
	waitUntil("a refused download", func() bool { return u.Err() != nil && srv.Logins(otaToken) == 2 })
	if u.Firmware() != old || u.Updates() != 0 {
		t.Fatalf("after a bad image: %+v, %d updates", u.Firmware(), u.Updates())
	}
	badMD5.Store(false)
	offer()
	waitUntil("the update", func() bool { return u.Updates() == 1 && srv.Logins(otaToken) == 3 })
	if fw := u.Firmware(); fw.Version != "2.0.0" || fw.Build != "new build" {
		t.Fatalf("after the update: %+v", fw)
	}
	// The new login reports the new firmware in its info message.
	waitUntil("info with the new firmware", func() bool {
		for _, r := range srv.Received() {
			if r.Msg.Cmd == blynk.CmdInternal && strings.Contains(string(r.Msg.Body), "fw\x002.0.0\x00") {
				return true
			}
		}
		return false
	})
	if err := u.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if u.Firmware() != old {
		t.Errorf("after rollback: %+v", u.Firmware())
	}
}
