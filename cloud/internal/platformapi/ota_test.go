package platformapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/blnkinf"
)

func newOTAAPI(t *testing.T) *testAPI {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := tenancy.New(ctx, tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: "Root Org", AdminEmail: "admin@example.com", Password: "admin-password"}); err != nil {
		t.Fatal(err)
	}
	o, err := ota.New(ota.Options{Tenancy: svc, Store: st, Blobs: ota.DirBlobs{Dir: filepath.Join(dir, "fw")}, MaxImageBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	// MaxBodyBytes is far below the image: the upload route has its own limit.
	api, err := New(Options{Service: svc, RateLimit: -1, MaxBodyBytes: 64 << 10, OTA: o})
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAPI{api: api}
	var s struct{ Token string }
	ta.do(t, "POST", "/api/v1/auth/login", "text/json", `{"email":"admin@example.com","password":"admin-password"}`).decode(t, &s)
	ta.token = s.Token
	return ta
}

func fwImage(typ string, size int) string {
	b := []byte(strings.Repeat("\xe9\x00\x17\x55", size/4))
	copy(b[size/2:], blnkinf.Encode(blnkinf.Tag{Version: "1.4.0", Type: typ, Build: "Dec  3 2026 03:00:00"}))
	return string(b)
}

func TestFirmwareAndShipmentRoutes(t *testing.T) {
	ta := newOTAAPI(t)
	var tmpl struct{ ID string }
	ta.do(t, "POST", "/api/v1/organization/template/create", "application/json", `{"name":"Pump"}`).decode(t, &tmpl)
	var dev struct{ ID int64 }
	ta.do(t, "POST", "/api/v1/organization/device/create", "application/json", `{"templateId":"`+tmpl.ID+`","name":"P1"}`).decode(t, &dev)

	if r := ta.do(t, "POST", firmwareUploadPath+"?templateId="+tmpl.ID, "application/octet-stream", fwImage("TMPLNOTTHIS", 1<<20)); r.status != http.StatusBadRequest {
		t.Fatalf("mismatched tag: %d %s", r.status, r.body)
	}
	r := ta.do(t, "POST", firmwareUploadPath+"?templateId="+tmpl.ID+"&name=pump.bin", "application/octet-stream", fwImage(tmpl.ID, 1<<20))
	if r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var fw firmwareJSON
	r.decode(t, &fw)
	if fw.Version != "1.4.0" || fw.Size != 1<<20 || len(fw.MD5) != 32 {
		t.Fatalf("firmware %+v", fw)
	}
	if r := ta.do(t, "POST", firmwareUploadPath+"?templateId="+tmpl.ID, "application/octet-stream", fwImage(tmpl.ID, 8<<20)); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %d", r.status)
	}
	var list []firmwareJSON
	ta.do(t, "GET", "/api/v1/organization/firmwares?templateId="+tmpl.ID, "", "").decode(t, &list)
	if len(list) != 1 {
		t.Fatalf("list %+v", list)
	}
	body, _ := json.Marshal(map[string]any{"name": "pump 1.4", "firmwareId": fw.ID, "deviceIds": []int64{dev.ID}, "window": "night"})
	r = ta.do(t, "POST", "/api/v1/organization/shipment/create", "application/json", string(body))
	if r.status != http.StatusCreated {
		t.Fatalf("create shipment: %d %s", r.status, r.body)
	}
	var sh shipmentJSON
	r.decode(t, &sh)
	id := "?shipmentId=" + jsonID(sh.ID)
	ta.do(t, "POST", "/api/v1/organization/shipment/pause"+id, "", "").decode(t, &sh)
	if sh.State != "paused" {
		t.Fatalf("state %s", sh.State)
	}
	var rows []shipmentDeviceJSON
	ta.do(t, "GET", "/api/v1/organization/shipment/devices"+id, "", "").decode(t, &rows)
	if len(rows) != 1 || rows[0].Status != "pending" || rows[0].DeviceName != "P1" {
		t.Fatalf("rows %+v", rows)
	}
	req := httptest.NewRequest("GET", "http://cloud.test/api/v1/organization/shipment/report"+id, nil)
	req.Header.Set("Authorization", "Bearer "+ta.token)
	w := httptest.NewRecorder()
	ta.api.ServeHTTP(w, req)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") || !strings.Contains(w.Body.String(), ",P1,pending,") {
		t.Fatalf("report: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
}

func jsonID(id int64) string { b, _ := json.Marshal(id); return string(b) }
