package webui

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"outpost/shared/datastream"
)

// Tile is one datastream on a device dashboard: its latest value for
// people and the control that writes it (device.js drives it).
type Tile struct {
	Pin      int
	Name     string // what people see: the alias, else the name
	Type     string
	Units    string
	Value    string // raw canonical value ("" if none)
	Initial  string // where the control starts: Value, else the default
	Display  string // for people (enum label, On/Off, …)
	TS       time.Time
	Control  string // switch, slider, number, select, text, or "" (read only)
	Min, Max string
	Step     string // the control's step: the datastream's, else picked
	Decimals string // digits after the point a Double is shown with ("" = as stored)
	Options  []Option
	MapURL   string
	Chart    bool   // numeric: has a chart
	Step2    bool   // chart as steps (boolean, enum)
	Labels   string // JSON of enum labels for the chart
}

// Option is one choice of an enum's select.
type Option struct {
	Value, Label string
	Selected     bool
}

// MakeTile picks the display and the control of a datastream whose latest
// value is v (canonical, "" if none) from ts.
func MakeTile(ds datastream.Datastream, v string, ts time.Time, canWrite bool) Tile {
	t := Tile{Pin: ds.Pin, Name: ds.Label(), Type: string(ds.Type), Units: ds.Units, Value: v, TS: ts,
		Min: fnum(ds.Min), Max: fnum(ds.Max)}
	t.Display = Display(ds, v)
	t.Initial = v
	if t.Initial == "" {
		t.Initial = ds.Default
	}
	bounded := ds.Min != nil && ds.Max != nil
	switch ds.Type {
	case datastream.Boolean:
		t.Control, t.Chart, t.Step2 = "switch", true, true
	case datastream.Integer:
		t.Chart, t.Step = true, "1"
		switch {
		case bounded && *ds.Min == 0 && *ds.Max == 1:
			t.Control, t.Step2 = "switch", true
		case bounded:
			t.Control = "slider"
		default:
			t.Control = "number"
		}
	case datastream.Double:
		t.Chart, t.Step = true, "any"
		if bounded {
			t.Control = "slider"
			t.Step = strconv.FormatFloat((*ds.Max-*ds.Min)/100, 'f', -1, 64)
		} else {
			t.Control = "number"
		}
	}
	if ds.Step != nil && t.Step != "" {
		t.Step = fnum(ds.Step)
	}
	if ds.Decimals != nil && ds.Type == datastream.Double {
		t.Decimals = strconv.Itoa(*ds.Decimals)
	}
	switch ds.Type {
	case datastream.Enum:
		t.Control, t.Chart, t.Step2 = "select", true, true
		labels := map[string]string{}
		for _, e := range ds.Enum {
			val := strconv.Itoa(e.Value)
			t.Options = append(t.Options, Option{Value: val, Label: e.Label, Selected: val == t.Initial})
			labels[val] = e.Label
		}
		b, _ := json.Marshal(labels)
		t.Labels = string(b)
	case datastream.String:
		t.Control = "text"
	case datastream.Location:
		if lon, lat, ok := strings.Cut(v, "\x00"); ok {
			t.MapURL = "https://www.openstreetmap.org/?mlat=" + url.QueryEscape(lat) + "&mlon=" + url.QueryEscape(lon) + "#map=15/" +
				url.PathEscape(lat) + "/" + url.PathEscape(lon)
		}
	}
	if !canWrite || ds.Type == datastream.Location {
		t.Control = ""
	}
	return t
}

// Display renders a canonical value for people.
func Display(ds datastream.Datastream, v string) string {
	if v == "" {
		return "—"
	}
	switch ds.Type {
	case datastream.Boolean:
		if v == "1" {
			return "On"
		}
		return "Off"
	case datastream.Enum:
		for _, e := range ds.Enum {
			if strconv.Itoa(e.Value) == v {
				return e.Label
			}
		}
	case datastream.Location:
		if lon, lat, ok := strings.Cut(v, "\x00"); ok {
			return lat + ", " + lon
		}
	case datastream.Double:
		if ds.Decimals != nil {
			items := strings.Split(v, "\x00")
			for i, it := range items {
				items[i] = ds.Format(it)
			}
			return strings.Join(items, ", ")
		}
	}
	return strings.ReplaceAll(v, "\x00", ", ")
}

func fnum(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// Bucket is one step of a chart's series: the values of a datastream in
// [Start, Start+width), as a store aggregates them.
type Bucket struct {
	Start         time.Time
	Avg, Min, Max float64
	Last          float64 // the newest value: what boolean and enum charts step through
	Count         int64
}

// Series is the JSON the chart script (chart.js) draws: the range asked,
// the width of a bucket and the buckets, times in Unix ms.
type Series struct {
	From    int64          `json:"from"`
	To      int64          `json:"to"`
	Width   int64          `json:"width"`
	Buckets []seriesBucket `json:"buckets"`
}

type seriesBucket struct {
	T    int64   `json:"t"`
	Avg  float64 `json:"avg"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Last float64 `json:"last"`
	N    int64   `json:"n"`
}

// MakeSeries is the chart's JSON of the buckets of [from, to).
func MakeSeries(from, to time.Time, width time.Duration, bs []Bucket) Series {
	out := Series{From: from.UnixMilli(), To: to.UnixMilli(), Width: width.Milliseconds(), Buckets: make([]seriesBucket, len(bs))}
	for i, b := range bs {
		out.Buckets[i] = seriesBucket{b.Start.UnixMilli(), b.Avg, b.Min, b.Max, b.Last, b.Count}
	}
	return out
}
