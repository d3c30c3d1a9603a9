package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"outpost/shared/rules"
)

// Conditions are edited without JSON: rows of datastream comparisons
// joined by AND or OR (an empty row is left out, a ticked one removed)
// and a time window AND-ed with them; the editor shows them back as rows.
// A tree the form cannot show is edited as JSON, which the form keeps
// as "advanced".
func TestAutomationConditionsForm(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op@a.test")
	ctx := context.Background()
	id := e.createAutomation(t, op, "Guarded")
	f := e.autoForm(id, "Guarded")
	for k, v := range map[string]string{"c_mode": "form", "c_join": "any",
		"c0_device": e.devA.UID, "c0_pin": "2", "c0_op": "gt", "c0_value": "20",
		"c1_device": e.devA.UID, "c1_pin": "3", "c1_op": "between", "c1_value": "1", "c1_value2": "4",
		"c2_device": e.devA.UID, "c2_pin": "4", "c2_op": "on", "c2_remove": "1", // removed
		"c5_device": "", "c5_pin": "", "c5_op": "gt", // an empty row
		"w_from": "08:00", "w_to": "18:30", "w_tz": "UTC",
		"conditions": `{"window":{"from":"00:00","to":"01:00"}}`} { // not read in form mode
		f.Set(k, v)
	}
	f["w_day"] = []string{"1", "2"}
	if res := op.post("/automations/"+id+"/edit", f); res.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.status, res.body)
	}
	au, err := e.store.GetAutomation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(au.Conditions)
	want := `{"all":[{"any":[{"datastream":{"device":"` + e.devA.UID + `","pin":2,"op":"gt","value":"20"}},` +
		`{"datastream":{"device":"` + e.devA.UID + `","pin":3,"op":"between","value":"1","value2":"4"}}]},` +
		`{"window":{"from":"08:00","to":"18:30","weekdays":[1,2],"tz":"UTC"}}]}`
	if string(got) != want {
		t.Fatalf("conditions\n%s\nwant\n%s", got, want)
	}
	res := op.get("/automations/" + id + "/edit")
	for _, w := range []string{`name="c_mode" value="form" checked`, `<option value="any" selected>`, `name="c0_pin" value="2"`,
		`name="c1_value2" value="4"`, `name="c2_device"`, `name="c3_device"`, `name="w_from" value="08:00"`, `name="w_day" value="2" checked`,
		`data-next="4"`, `id="condrow-blank"`} {
		if !strings.Contains(res.body, w) {
			t.Errorf("editor lacks %q", w)
		}
	}
	// AND of one row: the comparison alone; no rows and no window: none.
	f = e.autoForm(id, "Guarded")
	f.Set("c_mode", "form")
	f.Set("c4_device", e.devA.UID)
	f.Set("c4_pin", "x")
	if res := op.post("/automations/"+id+"/edit", f); res.status != http.StatusBadRequest || !strings.Contains(res.body, "Enter a whole number.") {
		t.Fatalf("unreadable pin: %d", res.status)
	}
	f.Set("c4_pin", "1")
	f.Set("c4_op", "changed") // triggers only: refused by the model, in its words
	if res := op.post("/automations/"+id+"/edit", f); res.status != http.StatusBadRequest || !strings.Contains(res.body, "is for triggers only") {
		t.Fatalf("condition with a trigger's op: %d", res.status)
	}
	f.Set("c4_op", "le")
	f.Set("c4_value", "7")
	if res := op.post("/automations/"+id+"/edit", f); res.status != http.StatusSeeOther {
		t.Fatalf("one row: %d\n%s", res.status, res.body[strings.Index(res.body, "<main"):])
	}
	if au, _ = e.store.GetAutomation(ctx, id); au.Conditions == nil || au.Conditions.Datastream == nil || au.Conditions.Datastream.Op != rules.OpLe {
		t.Fatalf("one row stored as %+v", au.Conditions)
	}
	f = e.autoForm(id, "Guarded")
	f.Set("c_mode", "form")
	if res := op.post("/automations/"+id+"/edit", f); res.status != http.StatusSeeOther {
		t.Fatalf("no rows: %d", res.status)
	}
	if au, _ = e.store.GetAutomation(ctx, id); au.Conditions != nil {
		t.Fatalf("no rows stored as %+v", au.Conditions)
	}
	// Nested beyond the form: JSON it is.
	nested := `{"any":[{"all":[{"datastream":{"device":"` + e.devA.UID + `","pin":1,"op":"on"}},{"window":{"from":"08:00","to":"09:00"}}]},` +
		`{"window":{"from":"20:00","to":"21:00"}}]}`
	f = e.autoForm(id, "Guarded")
	f.Set("c_mode", "json")
	f.Set("conditions", nested)
	f.Set("c0_device", e.devA.UID) // not read in JSON mode
	if res := op.post("/automations/"+id+"/edit", f); res.status != http.StatusSeeOther {
		t.Fatalf("nested: %d", res.status)
	}
	if au, _ = e.store.GetAutomation(ctx, id); au.Conditions == nil || len(au.Conditions.Any) != 2 {
		t.Fatalf("nested stored as %+v", au.Conditions)
	}
	res = op.get("/automations/" + id + "/edit")
	for _, w := range []string{`name="c_mode" value="json" checked`, `id="nested"`, "20:00"} {
		if !strings.Contains(res.body, w) {
			t.Errorf("editor of nested conditions lacks %q", w)
		}
	}
}

// flatten takes exactly the trees the form can show back as they were
// saved, and leaves every other to the JSON.
func TestFlattenConditions(t *testing.T) {
	ds := func(pin int) rules.Condition {
		return rules.Condition{Datastream: &rules.Compare{Device: "D", Pin: pin, Op: rules.OpGt, Value: "1"}}
	}
	win := rules.Condition{Window: &rules.Window{From: "08:00", To: "18:00"}}
	tests := []struct {
		name string
		c    rules.Condition
		join string
		n    int
		w    bool
		ok   bool
	}{
		{"one comparison", ds(1), "all", 1, false, true},
		{"a window", win, "all", 0, true, true},
		{"and", rules.Condition{All: []rules.Condition{ds(1), ds(2)}}, "all", 2, false, true},
		{"or", rules.Condition{Any: []rules.Condition{ds(1), ds(2)}}, "any", 2, false, true},
		{"and with a window", rules.Condition{All: []rules.Condition{ds(1), win, ds(2)}}, "all", 2, true, true},
		{"or with a window", rules.Condition{All: []rules.Condition{{Any: []rules.Condition{ds(1), ds(2)}}, win}}, "any", 2, true, true},
		{"or of a window", rules.Condition{Any: []rules.Condition{ds(1), win}}, "", 0, false, false},
		{"two windows", rules.Condition{All: []rules.Condition{win, win}}, "", 0, false, false},
		{"or group without a window", rules.Condition{All: []rules.Condition{{Any: []rules.Condition{ds(1), ds(2)}}}}, "", 0, false, false},
		{"or group and more", rules.Condition{All: []rules.Condition{{Any: []rules.Condition{ds(1)}}, ds(3), win}}, "", 0, false, false},
		{"nested and", rules.Condition{All: []rules.Condition{{All: []rules.Condition{ds(1)}}, win}}, "", 0, false, false},
	}
	for _, tc := range tests {
		join, got, w, ok := flatten(&tc.c)
		if ok != tc.ok || (ok && (join != tc.join || len(got) != tc.n || (w != nil) != tc.w)) {
			t.Errorf("%s: %q %d comparisons, window %v, ok %v; want %q %d %v %v", tc.name, join, len(got), w != nil, ok, tc.join, tc.n, tc.w, tc.ok)
		}
	}
}
