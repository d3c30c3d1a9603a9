package tenancy_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// TestPropertyRandomOps runs random creates, transfers and deletes through
// the Service and checks the tree and device invariants as it goes. Set
// OUTPOST_SEED to replay a failing run.
func TestPropertyRandomOps(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("OUTPOST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (OUTPOST_SEED=%d to replay)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	steps := 250
	if testing.Short() {
		steps = 120
	}

	e := newEnv(t, tenancy.Config{})
	root, admin, err := e.svc.Bootstrap(e.ctx, tenancy.Bootstrap{OrgName: "Root Org", AdminEmail: "root@x.test", Password: pw})
	e.must(err)
	A := tenancy.Actor{UserID: admin.ID, OrgID: root.ID, RoleID: tenancy.RoleAdmin}
	tmpl, err := e.svc.CreateTemplate(e.ctx, A, tenancy.NewTemplate{Def: datastream.Template{Name: "T"}})
	e.must(err)
	yes := true

	var users []tenancy.User
	var devices []tenancy.DeviceID
	orgIDs := func() []tenancy.OrgID {
		all, err := e.store.AllOrgs(e.ctx)
		e.must(err)
		var ids []tenancy.OrgID
		for _, o := range all {
			ids = append(ids, o.ID)
		}
		return ids
	}
	pick := func(ids []tenancy.OrgID) tenancy.OrgID { return ids[rng.IntN(len(ids))] }
	// allowed lists the refusals an operation may legitimately give.
	check := func(op string, err error, allowed ...tenancy.Code) bool {
		t.Helper()
		if err == nil {
			return true
		}
		if !slices.Contains(allowed, tenancy.CodeOf(err)) {
			t.Fatalf("seed %d: %s: unexpected %v", seed, op, err)
		}
		return false
	}

	for i := 0; i < steps; i++ {
		orgs := orgIDs()
		switch op := rng.IntN(9); op {
		case 0, 1: // create an org
			_, err := e.svc.CreateOrg(e.ctx, A, tenancy.NewOrg{ParentID: pick(orgs), Name: fmt.Sprintf("Org %d", i), CanCreateSub: &yes})
			check("create org", err, tenancy.LimitReached, tenancy.Forbidden)
		case 2: // org transfer
			_, err := e.svc.TransferOrg(e.ctx, A, pick(orgs), pick(orgs))
			check("transfer org", err, tenancy.Invalid, tenancy.LimitReached)
		case 3: // delete an org
			err := e.svc.DeleteOrg(e.ctx, A, pick(orgs))
			check("delete org", err, tenancy.Invalid)
		case 4: // a new, active user
			org := pick(orgs)
			email := fmt.Sprintf("u%d@x.test", i)
			u, err := e.svc.CreateUser(e.ctx, A, tenancy.NewUser{Email: email, Name: "U", OrgID: org, RoleID: tenancy.RoleID(1 + rng.IntN(3)), Password: pw})
			e.must(err)
			_, err = e.svc.Login(e.ctx, tenancy.Login{Email: email, Password: pw})
			e.must(err)
			users = append(users, u)
		case 5: // a device, owned half the time
			nd := tenancy.NewDevice{TemplateID: tmpl.ID, Name: fmt.Sprintf("d%d", i), OrgID: pick(orgs)}
			if len(users) > 0 && rng.IntN(2) == 0 {
				nd.OrgID, nd.OwnerID = 0, users[rng.IntN(len(users))].ID
			}
			d, err := e.svc.CreateDevice(e.ctx, A, nd)
			e.must(err)
			devices = append(devices, d.ID)
		case 6: // device transfer to a user or an org
			if len(devices) == 0 {
				continue
			}
			to := tenancy.DeviceTransfer{OrgID: pick(orgs)}
			if len(users) > 0 && rng.IntN(2) == 0 {
				to = tenancy.DeviceTransfer{UserID: users[rng.IntN(len(users))].ID}
			}
			_, err := e.svc.TransferDevice(e.ctx, A, devices[rng.IntN(len(devices))], to)
			check("transfer device", err, tenancy.Invalid)
		case 7: // user transfer with the devices
			if len(users) == 0 {
				continue
			}
			_, err := e.svc.TransferUser(e.ctx, A, users[rng.IntN(len(users))].ID,
				tenancy.UserTransfer{OrgID: pick(orgs), RoleID: tenancy.RoleUser, MoveDevices: true})
			check("transfer user", err, tenancy.Invalid) // already there, or a template not enabled there
		case 8: // delete a device
			if len(devices) == 0 {
				continue
			}
			k := rng.IntN(len(devices))
			e.must(e.svc.DeleteDevice(e.ctx, A, devices[k]))
			devices = slices.Delete(devices, k, k+1)
		}
		if i%20 == 0 || i == steps-1 {
			checkInvariants(t, e, seed, root.ID, len(devices))
		}
	}
}

func checkInvariants(t *testing.T, e *env, seed int64, root tenancy.OrgID, wantDevices int) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: "+format, append([]any{seed}, args...)...)
	}
	all, err := e.store.AllOrgs(e.ctx)
	e.must(err)
	byID := map[tenancy.OrgID]tenancy.Org{}
	for _, o := range all {
		byID[o.ID] = o
	}
	tree := e.svc.Tree()
	// Depth ≤ 4, no cycles, stored depth/root/tree snapshot agree with links.
	ancestors := map[tenancy.OrgID][]tenancy.OrgID{}
	for _, o := range all {
		chain := []tenancy.OrgID{o.ID}
		for cur := o; cur.ParentID != 0; {
			p, ok := byID[cur.ParentID]
			if !ok {
				fail("org %d has a missing parent %d", cur.ID, cur.ParentID)
			}
			if slices.Contains(chain, p.ID) {
				fail("cycle through org %d", p.ID)
			}
			chain = append(chain, p.ID)
			cur = p
		}
		if len(chain) > 4 || o.Depth != len(chain) || o.RootID != chain[len(chain)-1] || o.RootID != root {
			fail("org %d: depth %d root %d, chain %v", o.ID, o.Depth, o.RootID, chain)
		}
		if tree.Depth(o.ID) != o.Depth || tree.Parent(o.ID) != o.ParentID {
			fail("snapshot disagrees on org %d", o.ID)
		}
		ancestors[o.ID] = chain
	}
	// The closure lists exactly the descendants the parent links imply.
	for _, o := range all {
		got, err := e.store.Descendants(e.ctx, o.ID)
		e.must(err)
		var want []tenancy.OrgID
		for id, chain := range ancestors {
			if slices.Contains(chain, o.ID) {
				want = append(want, id)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			fail("closure below %d = %v, links say %v", o.ID, got, want)
		}
	}
	// Each device in exactly one existing org; owned devices in their owner's org.
	l, err := e.store.ListDevices(e.ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: root, Subtree: true}, Page: tenancy.Page{Size: tenancy.MaxPageSize}})
	e.must(err)
	if l.Total != wantDevices || len(l.Items) != wantDevices {
		fail("%d devices listed (total %d), want %d", len(l.Items), l.Total, wantDevices)
	}
	sum := 0
	for _, o := range all {
		one, err := e.store.ListDevices(e.ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: o.ID}, Page: tenancy.Page{Size: 1}})
		e.must(err)
		sum += one.Total
	}
	if sum != wantDevices {
		fail("per-org device counts sum to %d, want %d", sum, wantDevices)
	}
	for _, d := range l.Items {
		if _, ok := byID[d.OrgID]; !ok {
			fail("device %d in missing org %d", d.ID, d.OrgID)
		}
		if d.OwnerID != 0 {
			u, err := e.store.GetUser(e.ctx, d.OwnerID)
			e.must(err)
			if u.OrgID != d.OrgID {
				fail("device %d in org %d, its owner %d in org %d", d.ID, d.OrgID, u.ID, u.OrgID)
			}
		}
	}
}
