package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"outpost/shared/blnkinf"
)

// Firmware over the air in the isolation matrix (tenancy.md decision 18):
// firmware and shipments belong to a root org, like templates. Reading
// them follows the template (visible where it is enabled in the caller's
// org, PRODUCT_VIEW); editing them is for the root org (PRODUCT_EDIT
// there), so every caller of United Heaters is refused, and only the
// other tree's Admin, at home in its root, edits its own; approving one
// device's update follows the device (the right to control it).

// firmwareImage is a small image whose blnkinf tag names tmpl as its
// firmware type.
func firmwareImage(tmpl string) []byte { return firmwareVersion(tmpl, "2.0.0") }

func firmwareVersion(tmpl, version string) []byte {
	b := bytes.Repeat([]byte{0xE9, 0x03, 0x02, 0x20}, 256)
	return append(b, blnkinf.Encode(blnkinf.Tag{Version: version, Type: tmpl, Build: "Dec  3 2026 03:00:00"})...)
}

// matrixShipment is a user-controlled shipment of firmware to every
// device of its template, named uniquely (names are unique per root).
func (m *matrix) matrixShipment(firmware int64) map[string]any {
	return map[string]any{"name": fmt.Sprintf("matrix %d", m.next()), "firmwareId": firmware, "userControlled": true}
}

// shipTo gives t a firmware of its template, a shipment of it and a
// device to approve it for, all made by tok (its root's Admin).
func (m *matrix) shipTo(t *target, tok string) {
	var fw, sh, d struct{ ID int64 }
	m.must(201, "POST", q(o+"/firmware/upload", "templateId", t.template, "name", "matrix.bin"), tok, firmwareImage(t.template)).decode(m.t, &fw)
	m.must(201, "POST", o+"/shipment/create", tok, m.matrixShipment(fw.ID)).decode(m.t, &sh)
	m.must(201, "POST", o+"/device/create", tok, map[string]any{"templateId": t.template, "orgId": t.org, "name": fmt.Sprintf("OTA device %d", m.next())}).decode(m.t, &d)
	t.firmware, t.shipment, t.otaDevice = fw.ID, sh.ID, d.ID
}

// freshShipment is a new shipment of t's firmware (to cancel), or a
// missing id.
func (m *matrix) freshShipment(t target) int64 {
	if t.org == missingID {
		return missingID
	}
	tok, _ := m.creator(t.org)
	var sh struct{ ID int64 }
	m.must(201, "POST", o+"/shipment/create", tok, m.matrixShipment(t.firmware)).decode(m.t, &sh)
	return sh.ID
}

var otaProbes = []probe{
	// Editing is refused below the root before anything is looked up (a
	// missing template or firmware gets the same 403); at its root the
	// other tree's Admin finds only its own.
	{name: "upload firmware", perm: "PRODUCT_EDIT", ok: 201, belowRoot: 403, rootFirst: true, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/firmware/upload", "templateId", t.template, "name", "matrix.bin"), firmwareImage(t.template)
	}},
	{name: "create shipment", perm: "PRODUCT_EDIT", ok: 201, belowRoot: 403, rootFirst: true, req: func(m *matrix, t target) (string, string, any) {
		return "POST", o + "/shipment/create", m.matrixShipment(t.firmware)
	}},
	// Reading follows the template.
	{name: "list firmware", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/firmwares", "templateId", t.template), nil
	}},
	{name: "get firmware", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/firmware", "firmwareId", t.firmware), nil
	}},
	{name: "get shipment", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/shipment", "shipmentId", t.shipment), nil
	}},
	{name: "shipment devices", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/shipment/devices", "shipmentId", t.shipment), nil
	}},
	{name: "shipment report", perm: "PRODUCT_VIEW", ok: 200, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "GET", q(o+"/shipment/report", "shipmentId", t.shipment), nil
	}},
	// The lifecycle: a shipment the caller cannot see is 404; one it sees
	// is refused below the root. Pausing, then resuming, leaves the
	// target's shipment live; cancelling takes a fresh one.
	{name: "pause shipment", perm: "PRODUCT_EDIT", sees: "PRODUCT_VIEW", ok: 200, belowRoot: 403, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/shipment/pause", "shipmentId", t.shipment), nil
	}},
	{name: "resume shipment", perm: "PRODUCT_EDIT", sees: "PRODUCT_VIEW", ok: 200, belowRoot: 403, enabledHere: true, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/shipment/resume", "shipmentId", t.shipment), nil
	}},
	{name: "cancel shipment", perm: "PRODUCT_EDIT", sees: "PRODUCT_VIEW", ok: 200, belowRoot: 403, enabledHere: true, req: func(m *matrix, t target) (string, string, any) {
		return "POST", q(o+"/shipment/cancel", "shipmentId", m.freshShipment(t)), nil
	}},
	// Approving follows the device: whoever may control it.
	{name: "approve shipment", perm: "ORG_DEVICES_CONTROL", ok: 204, req: func(_ *matrix, t target) (string, string, any) {
		return "POST", q(o+"/shipment/approve", "shipmentId", t.shipment, "deviceId", t.otaDevice), nil
	}},
}

// GET /organization/shipments names nothing: it lists the caller's own
// root's shipments (exempt from the matrix; this is its check).
func checkShipmentList(t *testing.T, w *exemptWorld) {
	unauthenticated(t, w, "GET", o+"/shipments", nil)
	var fw, mine, theirs struct{ ID int64 }
	w.must(201, "POST", q(o+"/firmware/upload", "templateId", w.tmpl), w.tok["A"], firmwareImage(w.tmpl)).decode(t, &fw)
	w.must(201, "POST", o+"/shipment/create", w.tok["A"], map[string]any{"name": "WarmPlus 2.0", "firmwareId": fw.ID}).decode(t, &mine)
	w.must(201, "POST", q(o+"/firmware/upload", "templateId", w.xTmpl), w.x, firmwareImage(w.xTmpl)).decode(t, &fw)
	w.must(201, "POST", o+"/shipment/create", w.x, map[string]any{"name": "Other 2.0", "firmwareId": fw.ID}).decode(t, &theirs)
	ids := func(tok string) []int64 {
		var l []struct{ ID int64 }
		w.must(200, "GET", o+"/shipments", tok, nil).decode(t, &l)
		var out []int64
		for _, s := range l {
			out = append(out, s.ID)
		}
		return out
	}
	for who, tok := range map[string]string{"WarmPlus's Admin": w.tok["A"], "WarmPlus's OAuth client": w.rootClient, "the other tree's Admin": w.x} {
		own, other := mine.ID, theirs.ID
		if tok == w.x {
			own, other = other, own
		}
		if got := ids(tok); !slices.Contains(got, own) || slices.Contains(got, other) {
			t.Errorf("%s lists shipments %v: want %d, not %d", who, got, own, other)
		}
	}
	// Below the root the list is refused, whoever asks.
	for who, tok := range w.nonRootCallers() {
		jsonError(t, who+" lists shipments", w.req("GET", o+"/shipments", tok, nil), 403)
	}
}

// GET /api/v1/gateway/firmware/{sha256} is a gateway's download, with its
// own credential, of an image its shipments name: another tree's image
// answers like an unknown one (exempt from the matrix; this is its check).
func checkFirmwareDownload(t *testing.T, w *exemptWorld) {
	path := func(image []byte) string {
		sum := sha256.Sum256(image)
		return "/api/v1/gateway/firmware/" + hex.EncodeToString(sum[:])
	}
	// A live shipment in each tree, and a gateway of the other tree
	// serving a device its shipment names.
	ours, theirs := firmwareVersion(w.tmpl, "3.0.0"), firmwareVersion(w.xTmpl, "3.0.0")
	var fw struct{ ID int64 }
	w.must(201, "POST", q(o+"/firmware/upload", "templateId", w.tmpl), w.tok["A"], ours).decode(t, &fw)
	w.must(201, "POST", o+"/shipment/create", w.tok["A"], map[string]any{"name": "WarmPlus 3.0", "firmwareId": fw.ID})
	w.must(201, "POST", q(o+"/firmware/upload", "templateId", w.xTmpl), w.x, theirs).decode(t, &fw)
	w.must(201, "POST", o+"/shipment/create", w.x, map[string]any{"name": "Other 3.0", "firmwareId": fw.ID})
	var me struct{ OrgID int64 }
	w.must(200, "GET", "/api/v1/auth/me", w.x, nil).decode(t, &me)
	w.must(201, "POST", o+"/device/create", w.x, map[string]any{"templateId": w.xTmpl, "name": "Other device"})
	var g struct{ ClaimCode, Credential string }
	w.must(201, "POST", "/api/v1/gateway/register", "", map[string]string{"name": "other site", "software": "t"}).decode(t, &g)
	w.must(200, "POST", o+"/gateway/claim", w.x, map[string]any{"claimCode": g.ClaimCode, "orgId": me.OrgID})

	for what, tok := range map[string]string{"no credential": "", "a person's session": w.tok["A"], "an OAuth client": w.rootClient} {
		if r := w.req("GET", path(ours), tok, nil); r.status != 401 {
			t.Errorf("download with %s: %s", what, r)
		}
	}
	if r := w.req("GET", path(theirs), g.Credential, nil); r.status != 200 || !bytes.Equal(r.body, theirs) {
		t.Errorf("the gateway downloads its shipment's image: %d, %d bytes", r.status, len(r.body))
	}
	sameAnswer(t, "another tree's image vs an unknown one", w.req("GET", path(ours), g.Credential, nil),
		w.req("GET", path([]byte("no such image")), g.Credential, nil))
	if r := w.req("GET", path(ours), g.Credential, nil); r.status != 404 {
		t.Errorf("the gateway downloads another tree's image: %s", r)
	}
}
