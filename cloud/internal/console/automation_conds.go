package console

import (
	"net/http"
	"strconv"
	"time"

	"outpost/shared/rules"
)

// The editor's conditions ("only if") as a form: datastream comparisons on
// any devices joined by AND or OR, and a time window AND-ed with them. A
// condition tree the form cannot show (nested groups, several windows) is
// edited as JSON, which stays available for any tree ("advanced").

// condForm is one datastream comparison row; I is its index in the field
// names (c<I>_device …), kept when rows are removed.
type condForm struct {
	I                          int
	Device, Pin, Op, Value, V2 string
}

// editorSpareConds are the empty rows the form adds (the script adds more).
const editorSpareConds = 2

// condOps are the comparisons a condition may use (changed and any are for
// triggers only).
var condOps = []rules.Op{rules.OpGt, rules.OpGe, rules.OpLt, rules.OpLe, rules.OpEq, rules.OpNe, rules.OpBetween, rules.OpOn, rules.OpOff}

// condsOf fills the conditions' fields from a tree; a tree the form cannot
// show leaves the form empty and the JSON mode chosen.
func (f *autoForm) condsOf(c *rules.Condition) {
	f.CMode, f.CJoin = "form", "all"
	if c == nil {
		return
	}
	join, ds, w, ok := flatten(c)
	if !ok {
		f.CMode, f.Nested = "json", true
		return
	}
	f.CJoin = join
	for i, d := range ds {
		f.Conds = append(f.Conds, condForm{I: i, Device: d.Device, Pin: strconv.Itoa(d.Pin), Op: string(d.Op), Value: d.Value, V2: d.Value2})
	}
	if w != nil {
		f.WFrom, f.WTo, f.WTZ = w.From, w.To, w.TZ
		for _, d := range w.Weekdays {
			if d >= 0 && d < 7 {
				f.WDays[d] = true
			}
		}
	}
}

// flatten reads a tree the form can show: comparisons joined by all or any
// (one alone needs no group), with at most one window AND-ed to them.
func flatten(c *rules.Condition) (join string, ds []rules.Compare, w *rules.Window, ok bool) {
	leaf := func(c *rules.Condition) bool {
		return c.Datastream != nil && c.All == nil && c.Any == nil && c.Window == nil
	}
	group := func(join string, cs []rules.Condition) ([]rules.Compare, bool) {
		var out []rules.Compare
		for i := range cs {
			if !leaf(&cs[i]) {
				return nil, false
			}
			out = append(out, *cs[i].Datastream)
		}
		return out, len(out) > 0
	}
	switch {
	case c.Window != nil && c.All == nil && c.Any == nil && c.Datastream == nil:
		return "all", nil, c.Window, true
	case leaf(c):
		return "all", []rules.Compare{*c.Datastream}, nil, true
	case c.Any != nil && c.All == nil:
		ds, ok := group("any", c.Any)
		return "any", ds, nil, ok
	case c.All != nil && c.Any == nil:
		join = "all"
		for i := range c.All {
			n := &c.All[i]
			switch {
			case leaf(n):
				ds = append(ds, *n.Datastream)
			case n.Window != nil && w == nil && n.All == nil && n.Any == nil && n.Datastream == nil:
				w = n.Window
			case n.Any != nil && n.All == nil && join == "all" && len(ds) == 0:
				// (a OR b) AND window: the only group the form shows.
				g, ok := group("any", n.Any)
				if !ok {
					return "", nil, nil, false
				}
				ds, join = g, "any"
			default:
				return "", nil, nil, false
			}
		}
		if join == "any" && (w == nil || len(c.All) != 2) {
			return "", nil, nil, false
		}
		return join, ds, w, true
	}
	return "", nil, nil, false
}

// spareConds adds empty rows after the last and sets CNext.
func (f *autoForm) spareConds() {
	next := 0
	for _, c := range f.Conds {
		next = max(next, c.I+1)
	}
	for range min(editorSpareConds, rules.MaxConditions-len(f.Conds)) {
		f.Conds = append(f.Conds, condForm{I: next, Op: string(rules.OpGt)})
		next++
	}
	f.CNext = next
}

// parseConds reads the conditions' fields: the JSON in JSON mode, else the
// rows (a row without a device is empty; a row ticked "remove" is
// dropped) and the window (empty from and to: none).
func (f *autoForm) parseConds(r *http.Request, v func(string) string, num func(field, s string, dst *int)) *rules.Condition {
	f.CMode, f.CJoin = v("c_mode"), v("c_join")
	if f.CMode == "" && f.Conditions != "" {
		f.CMode = "json" // a post without the choice (an older page): the JSON
	}
	if f.CMode == "json" {
		return f.parseJSONConds()
	}
	f.CMode = "form"
	if f.CJoin != "any" {
		f.CJoin = "all"
	}
	var leaves []rules.Condition
	for i := 0; i < 4*rules.MaxConditions && len(f.Conds) < rules.MaxConditions; i++ {
		p := "c" + strconv.Itoa(i) + "_"
		if _, ok := r.PostForm[p+"device"]; !ok || r.PostFormValue(p+"remove") != "" {
			continue
		}
		cf := condForm{I: i, Device: v(p + "device"), Pin: v(p + "pin"), Op: v(p + "op"), Value: v(p + "value"), V2: v(p + "value2")}
		if cf.Device == "" {
			continue // an empty row
		}
		f.Conds = append(f.Conds, cf)
		cmp := &rules.Compare{Device: cf.Device, Op: rules.Op(cf.Op), Value: cf.Value, Value2: cf.V2}
		num(p+"pin", cf.Pin, &cmp.Pin)
		leaves = append(leaves, rules.Condition{Datastream: cmp})
	}
	f.WFrom, f.WTo, f.WTZ = v("w_from"), v("w_to"), v("w_tz")
	var w *rules.Window
	if f.WFrom != "" || f.WTo != "" {
		w = &rules.Window{From: f.WFrom, To: f.WTo, TZ: f.WTZ}
		for _, d := range r.PostForm["w_day"] {
			if n, err := strconv.Atoi(d); err == nil && n >= 0 && n < 7 && !f.WDays[n] {
				f.WDays[n] = true
				w.Weekdays = append(w.Weekdays, time.Weekday(n))
			}
		}
		if len(w.Weekdays) == 7 {
			w.Weekdays = nil
		}
	}
	var c *rules.Condition
	switch {
	case len(leaves) == 1:
		c = &leaves[0]
	case len(leaves) > 1 && f.CJoin == "any":
		c = &rules.Condition{Any: leaves}
	case len(leaves) > 1:
		c = &rules.Condition{All: leaves}
	}
	switch {
	case w == nil:
	case c == nil:
		c = &rules.Condition{Window: w}
	case c.All != nil:
		c.All = append(c.All, rules.Condition{Window: w})
	default:
		c = &rules.Condition{All: []rules.Condition{*c, {Window: w}}}
	}
	return c
}

// WDay is whether the window's weekday i (0 = Sunday) is chosen.
func (f autoForm) WDay(i int) bool { return f.WDays[i] }

// condOpsOptions are the comparison choices of a condition row.
func condOpsOptions() []option {
	out := make([]option, len(condOps))
	for i, op := range condOps {
		out[i] = option{Value: string(op), Label: opWords[op]}
	}
	return out
}

// condRow is what the editor's row template gets: the row, the key in its
// field names ("__I__" in the script's blank row) and the choices.
type condRow struct {
	Key     string
	C       condForm
	Devices []option
	Ops     []option
	PinErr  string
}

// CondRows are the rows to show.
func (f autoForm) CondRows() []condRow {
	out := make([]condRow, len(f.Conds))
	for i, c := range f.Conds {
		k := strconv.Itoa(c.I)
		out[i] = condRow{Key: k, C: c, Devices: f.Devices, Ops: f.CondOps, PinErr: f.Errs["c"+k+"_pin"]}
	}
	return out
}

// BlankRow is the row the script copies to add a condition.
func (f autoForm) BlankRow() condRow {
	return condRow{Key: "__I__", C: condForm{Op: string(rules.OpGt)}, Devices: f.Devices, Ops: f.CondOps}
}
