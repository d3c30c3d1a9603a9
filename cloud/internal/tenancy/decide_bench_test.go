package tenancy

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// benchTree is 1,111 orgs, 1/10/100/1,000 per level, default permissions.
func benchTree() (*Tree, []OrgID) {
	var orgs []Org
	var perms []RolePerms
	next := OrgID(1)
	var parents, leaves []OrgID
	for depth, n := range []int{1, 10, 100, 1000} {
		var level []OrgID
		for i := 0; i < n; i++ {
			o := Org{ID: next, CanCreateSub: true}
			if depth > 0 {
				o.ParentID = parents[i/10]
			}
			orgs = append(orgs, o)
			for _, r := range []RoleID{RoleAdmin, RoleStaff, RoleUser} {
				perms = append(perms, RolePerms{OrgID: o.ID, RoleID: r, Perms: DefaultPermissions(r)})
			}
			level = append(level, next)
			next++
		}
		parents = level
		leaves = level
	}
	return NewTree(orgs, perms), leaves
}

type decideCase struct {
	a Actor
	p Permission
	r Resource
}

// decideMix is a mix of allowed, forbidden and out-of-scope checks.
func decideMix(leaves []OrgID) []decideCase {
	rng := rand.New(rand.NewPCG(1, 2))
	var cs []decideCase
	for i := 0; i < 4096; i++ {
		leaf := leaves[rng.IntN(len(leaves))]
		other := leaves[rng.IntN(len(leaves))]
		switch i % 4 {
		case 0: // root Admin, deep device
			cs = append(cs, decideCase{Actor{UserID: 1, OrgID: 1, RoleID: RoleAdmin}, OrgDevicesControl, Resource{OrgID: leaf, OwnerID: 7}})
		case 1: // leaf Staff, own org
			cs = append(cs, decideCase{Actor{UserID: 2, OrgID: leaf, RoleID: RoleStaff}, OrgDevicesView, Resource{OrgID: leaf}})
		case 2: // leaf User, a sibling's device (NotFound)
			cs = append(cs, decideCase{Actor{UserID: 3, OrgID: leaf, RoleID: RoleUser}, OrgDevicesView, Resource{OrgID: other, OwnerID: 3}})
		case 3: // level-2 client
			cs = append(cs, decideCase{Actor{ClientID: "c", OrgID: 2 + OrgID(i%10)}, OrgDevicesEdit, Resource{OrgID: leaf}})
		}
	}
	return cs
}

func BenchmarkDecide(b *testing.B) {
	t, leaves := benchTree()
	cs := decideMix(leaves)
	i := 0
	for b.Loop() {
		c := cs[i&4095]
		_ = Decide(t, c.a, c.p, c.r)
		i++
	}
}

// BenchmarkDecideLatency times each call to report p50 and p99 (the
// timer adds some tens of ns to each figure).
func BenchmarkDecideLatency(b *testing.B) {
	t, leaves := benchTree()
	cs := decideMix(leaves)
	durs := make([]time.Duration, 0, 1<<20)
	i := 0
	for b.Loop() {
		c := cs[i&4095]
		t0 := time.Now()
		_ = Decide(t, c.a, c.p, c.r)
		durs = append(durs, time.Since(t0))
		i++
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
}
