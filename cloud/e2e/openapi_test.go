package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"outpost/internal/pgtest"
)

// The Platform API's responses are checked against the OpenAPI document
// it serves: every JSON answer req receives is validated against the
// schema documented for its route and status, so a field the code sends
// and the document lacks (or the other way round) fails the test that saw
// it, and TestOpenAPIResponsesChecked lists the documented answers no test
// saw.

// apiDoc is openapi.json, parsed once.
var apiDoc = sync.OnceValues(func() (map[string]any, error) {
	data, err := os.ReadFile("../internal/platformapi/openapi.json")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return doc, nil
})

// checked records the (method path status) answers validated so far.
var checked sync.Map

// checkResponse validates r, the answer to method path, against the
// document and returns the mismatches; there are none to find when r has
// no JSON body or answers no documented route.
func checkResponse(method, path string, r resp) []string {
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || len(r.body) == 0 {
		return nil
	}
	doc, err := apiDoc()
	if err != nil {
		return []string{err.Error()}
	}
	path, _, _ = strings.Cut(path, "?")
	op, ok := lookup(doc, "paths", path, strings.ToLower(method)).(map[string]any)
	if !ok {
		return nil // not a Platform API route (the openapi document itself, the sync endpoint, …)
	}
	status := fmt.Sprint(r.status)
	documented := lookup(op, "responses", status)
	if documented == nil {
		return []string{fmt.Sprintf("status %s is not documented", status)}
	}
	schema := lookup(resolve(doc, documented), "content", "application/json", "schema")
	if schema == nil {
		return []string{fmt.Sprintf("status %s is documented without a JSON body", status)}
	}
	checked.Store(strings.ToLower(method)+" "+path+" "+status, true)
	var body any
	if err := json.Unmarshal(r.body, &body); err != nil {
		return []string{"body: " + err.Error()}
	}
	var errs []string
	validate(doc, schema, body, "$", &errs)
	return errs
}

func lookup(n any, keys ...string) any {
	for _, k := range keys {
		m, ok := n.(map[string]any)
		if !ok {
			return nil
		}
		n = m[k]
	}
	return n
}

// resolve follows $ref until a node without one.
func resolve(doc map[string]any, n any) any {
	for range 16 {
		ref, ok := lookup(n, "$ref").(string)
		if !ok {
			return n
		}
		n = lookup(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
	return n
}

// properties merges an object schema's properties with those of its
// allOf parts (the document composes objects that way).
func properties(doc map[string]any, s map[string]any) (props map[string]any, required []string) {
	props = map[string]any{}
	if p, ok := s["properties"].(map[string]any); ok {
		for k, v := range p {
			props[k] = v
		}
	}
	for _, r := range asSlice(s["required"]) {
		required = append(required, fmt.Sprint(r))
	}
	for _, part := range asSlice(s["allOf"]) {
		ps, _ := resolve(doc, part).(map[string]any)
		p, r := properties(doc, ps)
		for k, v := range p {
			props[k] = v
		}
		required = append(required, r...)
	}
	return props, required
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// validate checks v against schema s (the subset of JSON Schema the
// document uses: type, properties, required, items, enum, allOf, oneOf,
// additionalProperties, $ref). An object with documented properties may
// carry no others.
func validate(doc map[string]any, s any, v any, at string, errs *[]string) {
	sm, _ := resolve(doc, s).(map[string]any)
	if len(sm) == 0 {
		return // {}: anything
	}
	if alts := asSlice(sm["oneOf"]); len(alts) > 0 {
		for _, a := range alts {
			var e []string
			validate(doc, a, v, at, &e)
			if len(e) == 0 {
				return
			}
		}
		*errs = append(*errs, fmt.Sprintf("%s: %s matches none of oneOf", at, short(v)))
		return
	}
	typ, _ := sm["type"].(string)
	if typ == "" && (sm["properties"] != nil || sm["allOf"] != nil) {
		typ = "object"
	}
	if enum := asSlice(sm["enum"]); len(enum) > 0 && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		*errs = append(*errs, fmt.Sprintf("%s: %s is not one of %v", at, short(v), enum))
	}
	if v == nil {
		if n, _ := sm["nullable"].(bool); !n && typ != "" {
			*errs = append(*errs, fmt.Sprintf("%s: null, documented as %s", at, typ))
		}
		return
	}
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %s, documented as an object", at, short(v)))
			return
		}
		props, required := properties(doc, sm)
		for _, r := range required {
			if _, ok := m[r]; !ok {
				*errs = append(*errs, fmt.Sprintf("%s: required field %q missing", at, r))
			}
		}
		extra := sm["additionalProperties"]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				validate(doc, ps, m[k], at+"."+k, errs)
				continue
			}
			switch x := extra.(type) {
			case nil:
				if len(props) > 0 {
					*errs = append(*errs, fmt.Sprintf("%s: field %q is not documented", at, k))
				}
			case bool:
				if !x {
					*errs = append(*errs, fmt.Sprintf("%s: field %q is not allowed", at, k))
				}
			default:
				validate(doc, x, m[k], at+"."+k, errs)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %s, documented as an array", at, short(v)))
			return
		}
		for i, x := range a {
			validate(doc, sm["items"], x, fmt.Sprintf("%s[%d]", at, i), errs)
		}
	case "string":
		if _, ok := v.(string); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %s, documented as a string", at, short(v)))
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			*errs = append(*errs, fmt.Sprintf("%s: %s, documented as an integer", at, short(v)))
		}
	case "number":
		if _, ok := v.(float64); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %s, documented as a number", at, short(v)))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %s, documented as a boolean", at, short(v)))
		}
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// The checker itself: it must refuse what the document does not allow.
func TestOpenAPICheckerRefuses(t *testing.T) {
	doc := map[string]any{"components": map[string]any{"schemas": map[string]any{
		"Thing": map[string]any{"type": "object", "required": []any{"id"}, "properties": map[string]any{
			"id": map[string]any{"type": "integer"}, "kind": map[string]any{"type": "string", "enum": []any{"a", "b"}},
			"tags": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}},
	}}}
	ref := map[string]any{"$ref": "#/components/schemas/Thing"}
	for _, c := range []struct {
		body string
		bad  int
	}{
		{`{"id":1,"kind":"a","tags":["x"]}`, 0},
		{`{"id":1.5}`, 1},
		{`{"kind":"a"}`, 1},
		{`{"id":1,"kind":"c"}`, 1},
		{`{"id":1,"extra":true}`, 1},
		{`{"id":1,"tags":[1]}`, 1},
		{`[]`, 1},
	} {
		var v any
		json.Unmarshal([]byte(c.body), &v)
		var errs []string
		validate(doc, ref, v, "$", &errs)
		if len(errs) != c.bad {
			t.Errorf("%s: %d mismatches %q, want %d", c.body, len(errs), errs, c.bad)
		}
	}
}

// unchecked lists the documented JSON answers of a success status that
// no request of the tests got (and so were never checked).
func unchecked() ([]string, error) {
	doc, err := apiDoc()
	if err != nil {
		return nil, err
	}
	var missing []string
	for path, ops := range doc["paths"].(map[string]any) {
		for method, op := range ops.(map[string]any) {
			for status, r := range lookup(op, "responses").(map[string]any) {
				if !strings.HasPrefix(status, "2") || lookup(resolve(doc, r), "content", "application/json", "schema") == nil {
					continue
				}
				if _, ok := checked.Load(method + " " + path + " " + status); !ok {
					missing = append(missing, method+" "+path+" "+status)
				}
			}
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// TestMain runs the tests (stopping the PostgreSQL cluster those on
// PostgreSQL started), then, when all of them ran, fails if a documented
// success answer was never checked against the document.
func TestMain(m *testing.M) {
	flag.Parse()
	code := pgtest.Main(m)
	if code != 0 || flag.Lookup("test.run").Value.String() != "" || testing.Short() {
		os.Exit(code)
	}
	missing, err := unchecked()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "openapi.json: %d documented success answers no test checked (add a request to a test):\n  %s\n",
			len(missing), strings.Join(missing, "\n  "))
		os.Exit(1)
	}
	os.Exit(code)
}

// A root Admin replaces a template's definition; a user below cannot, and
// the new definition is what the template then reads.
func TestTemplateReplace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a, u := f.tok["A"], f.tok["U"]
	def := map[string]any{"name": "T2", "datastreams": []map[string]any{
		{"pin": 1, "name": "Temperature", "type": "double"}, {"pin": 2, "name": "Power", "type": "integer"}}}
	f.must(403, "PUT", q(o+"/template", "templateId", f.tmpl), u, def)
	var got struct {
		Name        string
		Datastreams []struct {
			Pin  int
			Name string
		}
	}
	f.must(200, "PUT", q(o+"/template", "templateId", f.tmpl), a, def).decode(t, &got)
	if got.Name != "T2" || len(got.Datastreams) != 2 || got.Datastreams[1].Name != "Power" {
		t.Fatalf("replaced template %+v", got)
	}
	f.must(200, "GET", q(o+"/template", "templateId", f.tmpl), a, nil).decode(t, &got)
	if got.Name != "T2" || len(got.Datastreams) != 2 {
		t.Errorf("template after the replacement %+v", got)
	}
}

// TestTemplateDisplaySettings: a datastream's alias, step and decimals
// are stored and read back through the API; a bad one is refused and
// changes nothing.
func TestTemplateDisplaySettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	a := f.tok["A"]
	def := map[string]any{"name": "T3", "datastreams": []map[string]any{
		{"pin": 1, "name": "Temperature", "type": "double", "min": 0, "max": 50, "alias": "Room temperature", "step": 0.5, "decimals": 1},
		{"pin": 2, "name": "Speed", "type": "integer", "step": 5}}}
	type ds struct {
		Pin      int
		Alias    string
		Step     *float64
		Decimals *int
	}
	var got struct{ Datastreams []ds }
	f.must(200, "PUT", q(o+"/template", "templateId", f.tmpl), a, def).decode(t, &got)
	check := func(what string, got []ds) {
		t.Helper()
		if len(got) != 2 || got[0].Alias != "Room temperature" || got[0].Step == nil || *got[0].Step != 0.5 ||
			got[0].Decimals == nil || *got[0].Decimals != 1 || got[1].Step == nil || *got[1].Step != 5 || got[1].Decimals != nil {
			t.Errorf("%s: %+v", what, got)
		}
	}
	check("PUT's answer", got.Datastreams)
	var list []ds
	f.must(200, "GET", q(o+"/template/datastreams", "templateId", f.tmpl), a, nil).decode(t, &list)
	check("datastreams read back", list)
	for _, bad := range []map[string]any{
		{"pin": 1, "name": "Temperature", "type": "double", "decimals": 7},
		{"pin": 1, "name": "Temperature", "type": "integer", "step": 0.5},
		{"pin": 1, "name": "Temperature", "type": "string", "step": 1},
	} {
		f.must(400, "PUT", q(o+"/template", "templateId", f.tmpl), a, map[string]any{"name": "T4", "datastreams": []map[string]any{bad}})
	}
	f.must(200, "GET", q(o+"/template/datastreams", "templateId", f.tmpl), a, nil).decode(t, &list)
	check("datastreams after the refusals", list)
}

// TestUserTags: an Admin tags a user with a tag of the user's org's
// ancestor, reads the tags back and lists the users carrying it; a tag of
// another branch is refused, and the user's own org sees no tags.
func TestUserTags(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	u := f.tok["U"]
	var tag, other struct{ ID int64 }
	f.must(201, "POST", o+"/tags/create", u, map[string]any{"name": "installer", "orgId": f.uh}).decode(t, &tag)
	f.must(201, "POST", o+"/tags/create", f.tok["A"], map[string]any{"name": "muller", "orgId": f.muller}).decode(t, &other)
	m := f.user["M"]
	f.must(404, "PUT", q(o+"/user/tags", "userId", m), u, map[string]any{"tagIds": []int64{other.ID}})
	f.must(204, "PUT", q(o+"/user/tags", "userId", m), u, map[string]any{"tagIds": []int64{tag.ID}})
	var tags []struct {
		ID   int64
		Name string
	}
	f.must(200, "GET", q(o+"/user/tags", "userId", m), u, nil).decode(t, &tags)
	if len(tags) != 1 || tags[0].ID != tag.ID || tags[0].Name != "installer" {
		t.Fatalf("user tags %+v", tags)
	}
	var l struct{ Content []struct{ ID int64 } }
	f.must(200, "GET", q(o+"/users", "orgId", f.uh, "includeSubOrgUsers", true, "tagId", tag.ID), u, nil).decode(t, &l)
	if len(l.Content) != 1 || l.Content[0].ID != m {
		t.Errorf("users tagged installer: %+v", l.Content)
	}
	f.must(403, "GET", q(o+"/user/tags", "userId", f.user["R"]), f.tok["R"], nil)
}
