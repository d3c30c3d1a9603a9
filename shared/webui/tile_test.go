package webui

import (
	"testing"
	"time"

	"outpost/shared/datastream"
)

func f64(v float64) *float64 { return &v }
func intp(v int) *int        { return &v }

// TestTileDisplaySettings: the template's alias labels the tile, its step
// drives the control, its decimals format a Double's value; without them
// the tile picks as before.
func TestTileDisplaySettings(t *testing.T) {
	tests := []struct {
		name                         string
		ds                           datastream.Datastream
		v                            string
		label, step, decimals, shown string
	}{
		{"double bounded, picked step", datastream.Datastream{Name: "Temp", Type: datastream.Double, Min: f64(0), Max: f64(50)},
			"21.456", "Temp", "0.5", "", "21.456"},
		{"double with alias, step, decimals", datastream.Datastream{Name: "Temp", Alias: "Room temperature", Type: datastream.Double,
			Min: f64(0), Max: f64(50), Step: f64(0.1), Decimals: intp(1)}, "21.456", "Room temperature", "0.1", "1", "21.5"},
		{"double unbounded, decimals 0", datastream.Datastream{Name: "Power", Type: datastream.Double, Decimals: intp(0)},
			"1499.7", "Power", "any", "0", "1500"},
		{"integer with step", datastream.Datastream{Name: "Speed", Type: datastream.Integer, Min: f64(0), Max: f64(100), Step: f64(5)},
			"35", "Speed", "5", "", "35"},
		{"integer default step", datastream.Datastream{Name: "Speed", Type: datastream.Integer}, "35", "Speed", "1", "", "35"},
		{"enum alias", datastream.Datastream{Name: "Mode", Alias: "Heating mode", Type: datastream.Enum,
			Enum: []datastream.EnumItem{{Value: 1, Label: "heat"}}}, "1", "Heating mode", "", "", "heat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MakeTile(tc.ds, tc.v, time.Time{}, true)
			if got.Name != tc.label || got.Step != tc.step || got.Decimals != tc.decimals || got.Display != tc.shown {
				t.Errorf("tile name %q step %q decimals %q display %q, want %q %q %q %q",
					got.Name, got.Step, got.Decimals, got.Display, tc.label, tc.step, tc.decimals, tc.shown)
			}
		})
	}
}
