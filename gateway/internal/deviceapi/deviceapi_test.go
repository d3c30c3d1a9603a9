package deviceapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
	"outpost/shared/datastream"
)

func f64(v float64) *float64 { return &v }

const token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

type env struct {
	path  string // the SQLite file
	hub   *hub.Hub
	store *sqlite.Store
	dev   hub.Device
	srv   *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gw.db")
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	tmpl := datastream.Template{
		ID: "TMPLhttp0001", Name: "Greenhouse",
		Datastreams: []datastream.Datastream{
			{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: f64(-40), Max: f64(85)},
			{Pin: 1, Name: "Target", Type: datastream.Integer, Min: f64(0), Max: f64(100)},
			{Pin: 2, Name: "Location", Type: datastream.Location},
			{Pin: 3, Name: "Note", Type: datastream.String},
			{Pin: 4, Name: "Pump", Type: datastream.Boolean},
		},
		Events:     []datastream.Event{{Code: "dry", Name: "Soil dry"}},
		MetaFields: []datastream.MetaField{{ID: 1, Name: "Serial Number"}, {ID: 2, Name: "Room"}},
	}
	if err := h.SaveTemplate(ctx, tmpl); err != nil {
		t.Fatal(err)
	}
	dev, err := h.AddDeviceWithToken(ctx, tmpl.ID, "Greenhouse 1", token)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, New(Options{Hub: h}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{path: path, hub: h, store: st, dev: dev, srv: srv}
}

// call GETs path+query exactly as typed and returns status and body.
func (e *env) call(t *testing.T, method, pathQuery, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+pathQuery, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func errBody(msg string) string {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"message": msg}})
	return string(b)
}

func TestDeviceAPI(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UnixMilli()
	tk := "token=" + token
	steps := []struct {
		name, method, path, ctype, body string
		status                          int
		want                            string
	}{
		{"update v1", "GET", "/external/api/update?" + tk + "&v1=42", "", "", 200, ""},
		{"get v1", "GET", "/external/api/get?" + tk + "&v1", "", "", 200, "42"},
		{"get V1 upper", "GET", "/external/api/get?" + tk + "&V1", "", "", 200, "42"},
		{"update clamps", "GET", "/external/api/update?" + tk + "&V1=250", "", "", 200, ""},
		{"clamped", "GET", "/external/api/get?" + tk + "&v1", "", "", 200, "100"},
		{"dataStreamId", "GET", "/external/api/update?" + tk + "&dataStreamId=0&value=21.50", "", "", 200, ""},
		{"get dataStreamId", "GET", "/external/api/get?" + tk + "&dataStreamId=0", "", "", 200, "21.5"},
		{"location multi-value", "GET", "/external/api/update?" + tk + "&dataStreamId=2&value=24.03&value=49.84", "", "", 200, ""},
		{"pin=V2 form", "GET", "/external/api/update?" + tk + "&pin=V2&value=24.5&value=49.5", "", "", 200, ""},
		{"get location", "GET", "/external/api/get?" + tk + "&v2", "", "", 200, "[24.5, 49.5]"},
		{"repeated pin key", "GET", "/external/api/update?" + tk + "&v2=1.5&v2=2.5", "", "", 200, ""},
		{"get repeated", "GET", "/external/api/get?" + tk + "&v2", "", "", 200, "[1.5, 2.5]"},
		{"pin key and pin= form together", "GET", "/external/api/update?" + tk + "&v2=3.5&pin=V2&value=4.5", "", "", 200, ""},
		{"get merged", "GET", "/external/api/get?" + tk + "&v2", "", "", 200, "[3.5, 4.5]"},
		{"pin= form needs a value", "GET", "/external/api/update?" + tk + "&pin=V2", "", "", 400, errBody("Wrong value")},
		{"pin= form", "GET", "/external/api/update?" + tk + "&pin=V2&value=24.5&value=49.5", "", "", 200, ""},
		{"string with spaces", "GET", "/external/api/update?" + tk + "&v3=hello%20big+world", "", "", 200, ""},
		{"get several", "GET", "/external/api/get?" + tk + "&v1&v0&v3&v2&v4", "", "", 200,
			`{"v1":100,"v0":21.5,"v3":"hello big world","v2":[24.5, 49.5]}`},
		{"batch GET", "GET", "/external/api/batch/update?" + tk + "&v1=33&v4=true", "", "", 200, ""},
		{"getAll", "GET", "/external/api/getAll?" + tk, "", "", 200,
			`{"v0":21.5,"v1":33,"v2":[24.5, 49.5],"v3":"hello big world","v4":1}`},
		{"batch POST", "POST", "/external/api/batch/update?" + tk + "&pin=v0", "application/json",
			fmt.Sprintf("[[%d, 10.5], [%d, 11.25]]", now-60000, now-30000), 200, ""},
		{"after batch", "GET", "/external/api/get?" + tk + "&v0", "", "", 200, "11.25"},
		{"property", "GET", "/external/api/update/property?" + tk + "&pin=v1&label=Target%20%25&color=%23D3435C", "", "", 200, ""},
		{"logEvent", "GET", "/external/api/logEvent?" + tk + "&code=dry&description=Soil+is+dry", "", "", 200, ""},
		{"isHardwareConnected", "GET", "/external/api/isHardwareConnected?" + tk, "", "", 200, "false"},
		{"meta update by id", "GET", "/external/api/device/meta/update?" + tk + "&metaFieldId=1&value=SN-7", "", "", 200, ""},
		{"meta update by name", "GET", "/external/api/device/meta/update?" + tk + "&metaFieldName=Room&value=North%20wing", "", "", 200, ""},
		{"meta get", "GET", "/external/api/device/meta?" + tk + "&metaFieldId=1", "", "", 200, "SN-7"},
		{"meta get 2", "GET", "/external/api/device/meta?" + tk + "&metaFieldId=2", "", "", 200, "North wing"},

		// errors, each with Blynk's body
		{"no token", "GET", "/external/api/get?v1", "", "", 400, errBody("Invalid token.")},
		{"bad token", "GET", "/external/api/get?token=nope&v1", "", "", 400, errBody("Invalid token.")},
		{"bad pin", "GET", "/external/api/get?" + tk + "&v256", "", "", 400, errBody("Wrong pin format.")},
		{"no pin", "GET", "/external/api/get?" + tk, "", "", 400, errBody("Wrong pin format.")},
		{"update no pin", "GET", "/external/api/update?" + tk + "&value=1", "", "", 400, errBody("Wrong pin format.")},
		{"wrong type", "GET", "/external/api/update?" + tk + "&v1=12.5", "", "", 400, errBody("Value doesn't match the Datastream data type")},
		{"wrong arity", "GET", "/external/api/update?" + tk + "&v2=1", "", "", 400, errBody("Value doesn't match the Datastream data type")},
		{"no datastream", "GET", "/external/api/update?" + tk + "&v9=1", "", "", 400, errBody("No datastream setup for that pin.")},
		{"no datastream get", "GET", "/external/api/get?" + tk + "&v9", "", "", 400, errBody("No datastream setup for that pin.")},
		{"unknown dataStreamId", "GET", "/external/api/get?" + tk + "&dataStreamId=77", "", "", 400, errBody("Requested dataStream doesn't exist in the product Greenhouse")},
		{"content type", "POST", "/external/api/batch/update?" + tk + "&pin=v0", "text/plain", "[]", 400, errBody("Unknown content type.")},
		{"batch type", "POST", "/external/api/batch/update?" + tk + "&pin=v0", "application/json", fmt.Sprintf(`[[%d, "hot"]]`, now), 400, errBody("Value doesn't match the Datastream data type")},
		{"batch old", "POST", "/external/api/batch/update?" + tk + "&pin=v0", "application/json", fmt.Sprintf(`[[%d, 1]]`, now-40*24*3600*1000), 400, errBody("Timestamp is outside the allowed range (one month).")},
		{"batch syntax", "POST", "/external/api/batch/update?" + tk + "&pin=v0", "application/json", `[[1,2`, 400, errBody("Wrong batch format.")},
		{"no event code", "GET", "/external/api/logEvent?" + tk, "", "", 400, errBody("Event code is not provided.")},
		{"unknown event", "GET", "/external/api/logEvent?" + tk + "&code=flood", "", "", 400, errBody("Can't find Event with this code in Product template")},
		{"meta format", "GET", "/external/api/device/meta?" + tk + "&metaFieldId=abc", "", "", 400, errBody("Wrong metaField format.")},
		{"meta missing", "GET", "/external/api/device/meta?" + tk + "&metaFieldId=9", "", "", 400, errBody("MetaField doesn't exist.")},
		{"meta no value", "GET", "/external/api/device/meta/update?" + tk + "&metaFieldId=1", "", "", 400, errBody("Wrong value")},
		{"bad property", "GET", "/external/api/update/property?" + tk + "&pin=v1&bogus=1", "", "", 400, errBody("Wrong property.")},
		{"unknown endpoint", "GET", "/external/api/nope?" + tk, "", "", 404, errBody("Not found.")},
		{"wrong method", "DELETE", "/external/api/update?" + tk + "&v1=1", "", "", 405, errBody("Method not allowed.")},
	}
	for _, s := range steps {
		status, body := e.call(t, s.method, s.path, s.ctype, s.body)
		if status != s.status || body != s.want {
			t.Errorf("%s: %s %s → %d %q, want %d %q", s.name, s.method, s.path, status, body, s.status, s.want)
		}
	}
	if v, _ := e.hub.Property(e.dev.ID, 1, "label"); v != "Target %" {
		t.Errorf("label property = %q", v)
	}
	if err := e.store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hist, err := e.store.History(context.Background(), e.dev.ID, 0, now-120000, now+60000, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range hist {
		got = append(got, p.Value)
	}
	for _, want := range []string{"10.5", "11.25"} {
		if !containsStr(got, want) {
			t.Errorf("history of v0 %v lacks batch point %s", got, want)
		}
	}
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestBatchTooLarge(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UnixMilli()
	var b strings.Builder
	b.WriteString("[")
	for i := range 10001 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%d,%d]", now-int64(i), i%50)
	}
	b.WriteString("]")
	status, body := e.call(t, "POST", "/external/api/batch/update?token="+token+"&pin=v1", "application/json", b.String())
	if want := errBody("Too much data in batch. Maximum batch size is 10000 points."); status != 400 || body != want {
		t.Errorf("→ %d %q, want 400 %q", status, body, want)
	}
	if _, ok := e.hub.Value(e.dev.ID, 1); ok {
		t.Errorf("a refused batch stored a value")
	}
}
