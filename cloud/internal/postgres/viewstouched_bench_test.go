package postgres

import (
	"testing"

	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/tenancy/tenancytest"
)

// BenchmarkViewsTouchedTemplate: an edit of a template one site holds,
// among 100 to 10,000 sites of one company (tenancytest).
func BenchmarkViewsTouchedTemplate(b *testing.B) {
	tenancytest.BenchViewsTouchedTemplate(b, func(b *testing.B) tenancy.Store { return newTestStore(b) })
}
