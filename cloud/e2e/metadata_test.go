package e2e

import (
	"strings"
	"testing"
)

// TestDeviceMetadataAPI: Blynk's device metafield pair. GET lists every
// field of the template (the default until set); POST sets one by id; a
// field the template lacks is 404 and a value over 1024 bytes 400; the
// change is in the audit log.
func TestDeviceMetadataAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	var d struct{ ID int64 }
	f.must(201, "POST", o+"/device/create", a, map[string]any{"templateId": f.tmpl, "orgId": f.uh, "name": "Boiler"}).decode(t, &d)
	type field struct {
		ID          int
		Name, Value string
	}
	get := func() []field {
		var fs []field
		f.must(200, "GET", q(o+"/device/metafield", "deviceId", d.ID), a, nil).decode(t, &fs)
		return fs
	}
	if fs := get(); len(fs) != 1 || fs[0] != (field{1, "Serial Number", ""}) {
		t.Fatalf("before: %+v", fs)
	}
	f.must(204, "POST", o+"/device/metafield", a, map[string]any{"deviceId": d.ID, "metaFieldId": 1, "newValue": "SN-1"})
	if fs := get(); len(fs) != 1 || fs[0].Value != "SN-1" {
		t.Fatalf("after: %+v", fs)
	}
	f.must(404, "POST", o+"/device/metafield", a, map[string]any{"deviceId": d.ID, "metaFieldId": 9, "newValue": "x"})
	f.must(400, "POST", o+"/device/metafield", a, map[string]any{"deviceId": d.ID, "metaFieldId": 1, "newValue": strings.Repeat("x", 1025)})
	f.must(400, "POST", o+"/device/metafield", a, map[string]any{"deviceId": d.ID, "metaFieldId": 1})
	if fs := get(); fs[0].Value != "SN-1" {
		t.Fatalf("a refused change applied: %+v", fs)
	}
	if r := f.must(200, "GET", q(o+"/audit", "orgId", f.uh), a, nil); !strings.Contains(string(r.body), "device.metadata") {
		t.Errorf("audit log lacks the change: %s", r.body)
	}
}
