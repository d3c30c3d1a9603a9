package deviceapi

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGetAsBlynkDocuments: the read shapes of PROTOCOL.md §3 over real
// HTTP, and the decisions where Blynk's docs are silent (see api.get): a
// pin asked by pin=V1 or pin=v1, Booleans as numbers everywhere, pins
// without a value, a pin asked twice, a string over the length limit.
func TestGetAsBlynkDocuments(t *testing.T) {
	e := newEnv(t)
	tk := "token=" + token
	long := strings.Repeat("x", 1025)
	tooLong := errBody("Value is too long: a datastream value holds at most 1024 bytes.")
	noValue := errBody("Requested pin doesn't exist in the app.")
	now := time.Now().UnixMilli()
	for _, s := range []struct {
		name, method, path, ctype, body string
		status                          int
		want                            string
	}{
		{"no value yet", "GET", "get?" + tk + "&v1", "", "", 400, noValue},
		{"no value yet, pin=", "GET", "get?" + tk + "&pin=V1", "", "", 400, noValue},
		{"no value yet, dataStreamId", "GET", "get?" + tk + "&dataStreamId=1", "", "", 400, noValue},
		{"several without values", "GET", "get?" + tk + "&v1&v4", "", "", 200, `{}`},
		{"getAll without values", "GET", "getAll?" + tk, "", "", 200, `{}`},

		{"write", "GET", "update?" + tk + "&v1=42&v4=1", "", "", 200, ""},
		{"pin=V1", "GET", "get?" + tk + "&pin=V1", "", "", 200, "42"},
		{"pin=v1", "GET", "get?" + tk + "&pin=v1", "", "", 200, "42"},
		{"pin= bad", "GET", "get?" + tk + "&pin=x1", "", "", 400, errBody("Wrong pin format.")},
		{"pin= without datastream", "GET", "get?" + tk + "&pin=v9", "", "", 400, errBody("No datastream setup for that pin.")},

		{"boolean single", "GET", "get?" + tk + "&v4", "", "", 200, "1"},
		{"boolean multi", "GET", "get?" + tk + "&v4&v1", "", "", 200, `{"v4":1,"v1":42}`},
		{"boolean getAll", "GET", "getAll?" + tk, "", "", 200, `{"v1":42,"v4":1}`},
		{"boolean off", "GET", "update?" + tk + "&v4=0", "", "", 200, ""},
		{"boolean off multi", "GET", "get?" + tk + "&pin=v4&v1", "", "", 200, `{"v4":0,"v1":42}`},
		{"boolean off getAll", "GET", "getAll?" + tk, "", "", 200, `{"v1":42,"v4":0}`},

		{"a pin without value left out", "GET", "get?" + tk + "&v1&v0&v4", "", "", 200, `{"v1":42,"v4":0}`},
		{"repeated pin, one key", "GET", "get?" + tk + "&v1&v1", "", "", 200, `{"v1":42}`},
		{"repeated in every form", "GET", "get?" + tk + "&v1&V1&pin=v1&dataStreamId=1&v4", "", "", 200, `{"v1":42,"v4":0}`},

		{"string too long", "GET", "update?" + tk + "&v3=" + long, "", "", 400, tooLong},
		{"nothing stored", "GET", "get?" + tk + "&v3", "", "", 400, noValue},
		{"string at the limit", "GET", "update?" + tk + "&v3=" + long[:1024], "", "", 200, ""},
		{"batch string too long", "POST", "batch/update?" + tk + "&pin=v3", "application/json",
			fmt.Sprintf(`[[%d, "%s"]]`, now, long), 400, tooLong},
		{"wrong type still says so", "GET", "update?" + tk + "&v1=abc", "", "", 400, errBody("Value doesn't match the Datastream data type")},
	} {
		status, body := e.call(t, s.method, Prefix+s.path, s.ctype, s.body)
		if status != s.status || body != s.want {
			t.Errorf("%s: %s %s → %d %q, want %d %q", s.name, s.method, s.path[:min(len(s.path), 80)], status, body, s.status, s.want)
		}
	}
}
