package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/tenancy/tenancytest"
)

// BenchmarkViewsTouchedTemplate: an edit of a template one site holds,
// among 100 to 10,000 sites of one company (tenancytest).
func BenchmarkViewsTouchedTemplate(b *testing.B) {
	tenancytest.BenchViewsTouchedTemplate(b, func(b *testing.B) tenancy.Store {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "cloud.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
