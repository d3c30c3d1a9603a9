package platformapi

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The OpenAPI document must describe exactly the registered routes, and
// every $ref in it must resolve.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	registered := map[string]bool{}
	for _, r := range (&API{}).routeTable() {
		key := strings.ToLower(r.method) + " " + r.path
		if registered[key] {
			t.Errorf("route %s registered twice", key)
		}
		registered[key] = true
		if _, ok := doc.Paths[r.path][strings.ToLower(r.method)]; !ok {
			t.Errorf("route %s %s is missing from openapi.json", r.method, r.path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !registered[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which is not registered", method, path)
			}
		}
	}

	var generic any
	if err := json.Unmarshal(openapiDoc, &generic); err != nil {
		t.Fatal(err)
	}
	for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllSubmatch(openapiDoc, -1) {
		node := generic
		for _, part := range strings.Split(string(ref[1]), "/") {
			m, ok := node.(map[string]any)
			if !ok {
				node = nil
				break
			}
			node = m[part]
		}
		if node == nil {
			t.Errorf("unresolved $ref #/%s", ref[1])
		}
	}
}
