package e2e

import (
	"slices"
	"testing"
)

func TestFixtureBuilds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	if got := f.deviceNames(f.tok["A"], "includeSubOrgDevices", true); len(got) != 5 {
		t.Fatalf("A sees %v", got)
	}
	if f.clients == 0 || f.partners == 0 {
		t.Fatal("special orgs missing")
	}
	if !slices.Contains(f.deviceNames(f.tok["U"], "includeSubOrgDevices", true), "Pool Heater") {
		t.Fatal("U cannot see Pool Heater")
	}
}
