package sqlite

import (
	"math"
	"path/filepath"
	"testing"
)

// TestCastRealAgreesWithSQLite: the committer's aggregates read values as
// SQLite's CAST(value AS REAL) does, which the chart applies to the
// writes above the cursor: both halves of a bucket must agree.
func TestCastRealAgreesWithSQLite(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "gw.db"), Options{})
	for _, v := range []string{
		"", "0", "21.5", "-3", "+4", ".5", "5.", ".", "-", "+", "1e3", "1E-2", "2e", "2e+", "2e+x", "1.5e3.2",
		"  7", "\t8\n", "7  ", "12abc", "abc", "0x10", "1,5", "Inf", "-inf", "NaN", "nan", "1e400", "-1e400",
		"1e-400", "00012", "3.14159265358979323846", "1 2", "--1", "+-1", "[1,2]", "true", "１",
	} {
		var want float64
		if err := s.db.QueryRow(`SELECT CAST(? AS REAL)`, v).Scan(&want); err != nil {
			t.Fatalf("CAST(%q): %v", v, err)
		}
		got := castReal(v)
		if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("castReal(%q) = %v, SQLite says %v", v, got, want)
		}
	}
}

// FuzzCastReal: whatever a device writes, castReal neither panics nor
// disagrees with SQLite by more than rounding.
func FuzzCastReal(f *testing.F) {
	for _, v := range []string{"21.5", "-1e3", " .5x", "0x1p3", "1e400"} {
		f.Add(v)
	}
	s := openTest(f, filepath.Join(f.TempDir(), "gw.db"), Options{})
	f.Fuzz(func(t *testing.T, v string) {
		var want float64
		if err := s.db.QueryRow(`SELECT CAST(? AS REAL)`, v).Scan(&want); err != nil {
			t.Skip(err) // not text SQLite takes (invalid UTF-8)
		}
		got := castReal(v)
		if got != want && math.Abs(got-want) > 1e-12*math.Abs(want) {
			t.Errorf("castReal(%q) = %v, SQLite says %v", v, got, want)
		}
	})
}
