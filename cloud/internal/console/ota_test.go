package console

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/blnkinf"
)

// maxTestImage is the fixture's firmware.max_image_bytes.
const maxTestImage = 64 << 10

// withExtras is e with a console that also serves the firmware and the
// webhook pages (real OTA and webhooks services on e's store; webhook
// test sends may reach 127.0.0.1).
func withExtras(t *testing.T, e *env) (*env, *ota.Service) {
	t.Helper()
	o, err := ota.New(ota.Options{Tenancy: e.svc, Store: e.store, Blobs: ota.DirBlobs{Dir: filepath.Join(t.TempDir(), "firmware")},
		MaxImageBytes: maxTestImage})
	if err != nil {
		t.Fatal(err)
	}
	d, err := webhooks.NewDispatcher(webhooks.Options{Store: e.store,
		Guard: &webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hooks := webhooks.NewService(e.store, e.svc.Tree, d, func() {})
	c, err := New(Options{Service: e.svc, Live: e.live, History: fakeHistory{}, Feed: e.feed, OTA: o, Webhooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	x := *e
	x.c, x.srv = c, httptest.NewServer(c)
	t.Cleanup(func() { c.Close(); x.srv.Close() })
	return &x, o
}

// image is a firmware image whose tag names typ.
func image(typ, version string, size int) []byte {
	b := bytes.Repeat([]byte{0xE9, 1, 2, 3}, size/4)
	copy(b[size/2:], blnkinf.Encode(blnkinf.Tag{Version: version, Type: typ, Build: "Dec  3 2026 07:00:00"}))
	return b
}

// upload posts the console's upload form as a browser does.
func (c *client) upload(tmpl, name string, img []byte) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("template", tmpl)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(img)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+"/firmware/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// rootStaff makes a root-organization user who may view templates and
// devices but neither edit templates nor control devices.
func (e *env) rootStaff(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	if err := e.svc.SetRolePermissions(ctx, e.admin, e.admin.OrgID, tenancy.RoleUser,
		tenancy.NewPermSet(tenancy.ProductView, tenancy.OrgDevicesView, tenancy.OrgSwitchSub), tenancy.PushNone); err != nil {
		t.Fatal(err)
	}
	need(e.svc.CreateUser(ctx, e.admin, tenancy.NewUser{Email: "staff@acme.test", Name: "Stan Staff", OrgID: e.admin.OrgID,
		RoleID: tenancy.RoleUser, Password: pw}))
	return "staff@acme.test"
}

// TestFirmwareUpload: the upload form stores an image whose tag names the
// template and lists it; a tag naming another template is refused with
// the service's reason; an image over the limit is 413 with the limit
// said; people who may not edit templates are not offered the form and
// are refused when they forge it.
func TestFirmwareUpload(t *testing.T) {
	e, o := withExtras(t, newEnv(t))
	tm := e.template(t)
	admin := e.signedIn("admin@acme.test")
	checkPage(t, "firmware page", admin.get("/firmware"), 200, `action="/firmware/upload"`, `enctype="multipart/form-data"`, "64 KiB")

	res := admin.upload(string(tm.ID), "thermo-1.3.bin", image(string(tm.ID), "1.3.0", 32<<10))
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/firmware?done=upload" {
		t.Fatalf("upload: %d %s\n%.1000s", res.status, res.header.Get("Location"), res.body)
	}
	fws, err := o.Firmwares(context.Background(), e.admin, tm.ID)
	if err != nil || len(fws) != 1 || fws[0].Version != "1.3.0" || fws[0].Name != "thermo-1.3.bin" || fws[0].Size != 32<<10 {
		t.Fatalf("stored: %+v %v", fws, err)
	}
	checkPage(t, "after upload", admin.get("/firmware?done=upload"), 200, "The image is uploaded", "1.3.0", "thermo-1.3.bin")

	res = admin.upload(string(tm.ID), "other.bin", image("TMPLother", "2.0.0", 8<<10))
	checkPage(t, "wrong template", res, http.StatusBadRequest, `id="upload-error"`, "does not match template")
	res = admin.upload(string(tm.ID), "big.bin", image(string(tm.ID), "9.0.0", maxTestImage+4))
	checkPage(t, "over the limit", res, http.StatusRequestEntityTooLarge, "larger than the limit of 64 KiB")
	res = admin.upload(string(tm.ID), "huge.bin", image(string(tm.ID), "9.0.0", 4*maxTestImage)) // beyond the body limit too
	checkPage(t, "far over the limit", res, http.StatusRequestEntityTooLarge, "larger than the limit of 64 KiB")
	if fws, _ := o.Firmwares(context.Background(), e.admin, tm.ID); len(fws) != 1 {
		t.Fatalf("%d images stored after the refusals, want 1", len(fws))
	}

	staff := e.signedIn(e.rootStaff(t))
	page := staff.get("/firmware")
	checkPage(t, "firmware page as staff", page, 200, "1.3.0")
	if strings.Contains(page.body, `action="/firmware/upload"`) {
		t.Error("the upload form is offered to a role without PRODUCT_EDIT")
	}
	if res := staff.upload(string(tm.ID), "x.bin", image(string(tm.ID), "1.4.0", 8<<10)); res.status != http.StatusForbidden {
		t.Errorf("forged upload by staff: %d, want 403", res.status)
	}
	if res := e.signedIn("viewer@a.test").upload(string(tm.ID), "x.bin", image(string(tm.ID), "1.4.0", 8<<10)); res.status != http.StatusForbidden {
		t.Errorf("forged upload by a Client A viewer: %d, want 403", res.status)
	}
	if fws, _ := o.Firmwares(context.Background(), e.admin, tm.ID); len(fws) != 1 {
		t.Fatalf("%d images stored after forged uploads, want 1", len(fws))
	}
}

// TestShipmentApprove: a user-controlled shipment offers Approve per
// device awaiting approval to whoever may control it, and the approval
// is recorded; pause / resume / cancel and Approve are neither offered to
// nor accepted from a role that may view but not edit or control.
func TestShipmentApprove(t *testing.T) {
	e, o := withExtras(t, newEnv(t))
	ctx := context.Background()
	tm := e.template(t)
	f, err := o.Upload(ctx, e.admin, tm.ID, "t.bin", image(string(tm.ID), "2.0.0", 8<<10))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := o.CreateShipment(ctx, e.admin, ota.NewShipment{Name: "Approve me", FirmwareID: f.ID, UserControlled: true})
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/firmware/shipments/%d", sh.ID)
	approve := regexp.MustCompile(`action="` + path + `/approve"[^>]*><input type="hidden" name="device" value="(\d+)"`)

	staff := e.signedIn(e.rootStaff(t))
	page := staff.get(path)
	checkPage(t, "shipment as staff", page, 200, "awaiting_user")
	for _, act := range []string{"approve", "pause", "cancel"} {
		if strings.Contains(page.body, path+"/"+act) {
			t.Errorf("%s offered to a role without the permission", act)
		}
	}
	form := url.Values{"device": {fmt.Sprint(e.devA.ID)}}
	if res := staff.post(path+"/approve", form); res.status != http.StatusForbidden {
		t.Errorf("forged approve by staff: %d, want 403", res.status)
	}
	for _, act := range []string{"pause", "cancel"} {
		if res := staff.post(path+"/"+act, nil); res.status != http.StatusForbidden {
			t.Errorf("forged %s by staff: %d, want 403", act, res.status)
		}
	}

	admin := e.signedIn("admin@acme.test")
	page = admin.get(path)
	checkPage(t, "shipment as admin", page, 200, path+"/pause", path+"/cancel")
	offered := approve.FindAllStringSubmatch(page.body, -1)
	if len(offered) != 2 { // devA and devB, both of the template
		t.Fatalf("%d Approve buttons, want 2:\n%.3000s", len(offered), page.body)
	}
	if res := admin.post(path+"/approve", form); res.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %.500s", res.status, res.body)
	}
	_, rows, err := o.Statuses(ctx, e.admin, sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Approved != (r.Device.ID == e.devA.ID) {
			t.Errorf("device %s approved=%v", r.Device.Name, r.Approved)
		}
	}
	page = admin.get(path + "?done=approve")
	checkPage(t, "after approve", page, 200, "Approved: the device is offered the update")
	if n := len(approve.FindAllString(page.body, -1)); n != 1 {
		t.Errorf("%d Approve buttons after approving one of two, want 1", n)
	}
}

// TestDeviceApproveUpdate: the device page of a device awaiting a
// user-controlled update offers Approve to a client organization's Admin
// (who may control it but has no firmware pages), and approving from
// there is recorded; a viewer is offered nothing and refused when forging.
func TestDeviceApproveUpdate(t *testing.T) {
	e, o := withExtras(t, newEnv(t))
	ctx := context.Background()
	tm := e.template(t)
	f, err := o.Upload(ctx, e.admin, tm.ID, "t.bin", image(string(tm.ID), "2.0.0", 8<<10))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := o.CreateShipment(ctx, e.admin, ota.NewShipment{Name: "Owners approve", FirmwareID: f.ID, UserControlled: true})
	if err != nil {
		t.Fatal(err)
	}
	devPath := fmt.Sprintf("/devices/%d", e.devA.ID)
	action := fmt.Sprintf(`action="/firmware/shipments/%d/approve"`, sh.ID)
	form := url.Values{"device": {fmt.Sprint(e.devA.ID)}, "back": {"device"}}

	viewer := e.signedIn("viewer@a.test")
	if page := viewer.get(devPath); page.status != 200 || strings.Contains(page.body, action) {
		t.Fatalf("viewer's device page: %d, offers Approve: %v", page.status, strings.Contains(page.body, action))
	}
	if res := viewer.post(fmt.Sprintf("/firmware/shipments/%d/approve", sh.ID), form); res.status != http.StatusForbidden {
		t.Errorf("forged approve by a viewer: %d, want 403", res.status)
	}
	op := e.signedIn("op@a.test")
	checkPage(t, "operator's device page", op.get(devPath), 200, action, "Owners approve", "waiting for your approval")
	res := op.post(fmt.Sprintf("/firmware/shipments/%d/approve", sh.ID), form)
	if res.status != http.StatusSeeOther || res.header.Get("Location") != devPath+"?done=approve" {
		t.Fatalf("approve from the device page: %d %s", res.status, res.header.Get("Location"))
	}
	page := op.get(devPath + "?done=approve")
	checkPage(t, "after approving", page, 200, "Firmware update approved")
	if strings.Contains(page.body, action) {
		t.Error("Approve still offered after approving")
	}
	_, rows, err := o.Statuses(ctx, e.admin, sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Approved != (r.Device.ID == e.devA.ID) {
			t.Errorf("device %s approved=%v", r.Device.Name, r.Approved)
		}
	}
}
