package sqlite

import (
	"testing"

	"outpost/cloud/internal/extrastest"
)

// The SQLite store passes the extras' conformance suite, which the
// PostgreSQL store runs too.
func TestExtrasConformance(t *testing.T) {
	extrastest.Run(t, func(t *testing.T) extrastest.Store {
		s := newTestStore(t)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
