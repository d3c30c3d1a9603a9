package tenancytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

func testAudit(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	var ids []tenancy.AuditID
	for i, org := range []tenancy.OrgID{tr.a.ID, tr.a1.ID, tr.b.ID, tr.a1.ID} {
		e := tenancy.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), OrgID: org, UserID: 1, Action: "device.transfer",
			ObjectType: "device", ObjectID: fmt.Sprint(i), Before: json.RawMessage(`{"orgId":1}`), After: json.RawMessage(`{"orgId":2}`)}
		if i == 0 {
			e.Before, e.ClientID, e.UserID = nil, "oc_1", 0
		}
		must(t, s.AppendAudit(ctx, &e))
		ids = append(ids, e.ID)
	}
	l, err := s.ListAudit(ctx, tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 2}})
	must(t, err)
	if l.Total != 3 || len(l.Items) != 2 || l.Items[0].ID != ids[3] || l.Items[1].ID != ids[1] {
		t.Fatalf("newest first: %+v", l)
	}
	l2, err := s.ListAudit(ctx, tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, Page: tenancy.Page{Size: 2, After: l.Next}})
	must(t, err)
	if len(l2.Items) != 1 || l2.Items[0].ID != ids[0] {
		t.Fatalf("second page: %+v", l2)
	}
	e := l2.Items[0]
	if e.Before != nil || string(e.After) != `{"orgId":2}` || e.ClientID != "oc_1" || !e.At.Equal(t0) {
		t.Fatalf("entry round trip: %+v", e)
	}
	// One object's entries, still within the scope.
	more := tenancy.AuditEntry{At: t0, OrgID: tr.b.ID, Action: "device.rename", ObjectType: "device", ObjectID: "1"}
	must(t, s.AppendAudit(ctx, &more))
	other := tenancy.AuditEntry{At: t0, OrgID: tr.a1.ID, Action: "user.create", ObjectType: "user", ObjectID: "1"}
	must(t, s.AppendAudit(ctx, &other))
	for _, c := range []struct {
		scope tenancy.Scope
		want  []tenancy.AuditID
	}{
		{tenancy.Scope{OrgID: tr.root.ID, Subtree: true}, []tenancy.AuditID{more.ID, ids[1]}},
		{tenancy.Scope{OrgID: tr.a.ID, Subtree: true}, []tenancy.AuditID{ids[1]}},
		{tenancy.Scope{OrgID: tr.a.ID}, nil},
	} {
		l, err := s.ListAudit(ctx, tenancy.AuditFilter{Scope: c.scope, ObjectType: "device", ObjectID: "1", Page: tenancy.Page{Size: 10}})
		must(t, err)
		var got []tenancy.AuditID
		for _, e := range l.Items {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, c.want) || l.Total != len(c.want) {
			t.Fatalf("device 1's entries in %+v: %v (total %d), want %v", c.scope, got, l.Total, c.want)
		}
	}
}

// testAuditFilters: user, action and time range narrow the scope's
// entries, each alone and together, newest first.
func testAuditFilters(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	var ids []tenancy.AuditID
	for i, e := range []struct {
		org    tenancy.OrgID
		user   tenancy.UserID
		action string
	}{
		{tr.a.ID, 1, "user.invite"}, {tr.a1.ID, 2, "user.invite"}, {tr.a1.ID, 1, "org.create"}, {tr.b.ID, 1, "user.invite"}, {tr.a.ID, 1, "user.invite"},
	} {
		en := tenancy.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), OrgID: e.org, UserID: e.user, Action: e.action,
			ObjectType: "user", ObjectID: fmt.Sprint(i)}
		must(t, s.AppendAudit(ctx, &en))
		ids = append(ids, en.ID)
	}
	sub := tenancy.Scope{OrgID: tr.a.ID, Subtree: true}
	for _, c := range []struct {
		name string
		f    tenancy.AuditFilter
		want []tenancy.AuditID
	}{
		{"user", tenancy.AuditFilter{Scope: sub, UserID: 1}, []tenancy.AuditID{ids[4], ids[2], ids[0]}},
		{"action", tenancy.AuditFilter{Scope: sub, Action: "user.invite"}, []tenancy.AuditID{ids[4], ids[1], ids[0]}},
		{"since", tenancy.AuditFilter{Scope: sub, Since: t0.Add(time.Minute)}, []tenancy.AuditID{ids[4], ids[2], ids[1]}},
		{"until is exclusive", tenancy.AuditFilter{Scope: sub, Until: t0.Add(2 * time.Minute)}, []tenancy.AuditID{ids[1], ids[0]}},
		{"all together", tenancy.AuditFilter{Scope: sub, UserID: 1, Action: "user.invite", Since: t0, Until: t0.Add(4 * time.Minute)}, []tenancy.AuditID{ids[0]}},
		{"with an object", tenancy.AuditFilter{Scope: sub, ObjectType: "user", ObjectID: "2", UserID: 1}, []tenancy.AuditID{ids[2]}},
		{"one org", tenancy.AuditFilter{Scope: tenancy.Scope{OrgID: tr.a.ID}, Action: "user.invite"}, []tenancy.AuditID{ids[4], ids[0]}},
	} {
		c.f.Page = tenancy.Page{Size: 10}
		l, err := s.ListAudit(ctx, c.f)
		must(t, err)
		var got []tenancy.AuditID
		for _, e := range l.Items {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, c.want) || l.Total != len(c.want) {
			t.Errorf("%s: %v (total %d), want %v", c.name, got, l.Total, c.want)
		}
		// Without the count (a store may count anyway): the same
		// entries, paged the same way.
		c.f.SkipTotal, c.f.Page = true, tenancy.Page{Size: 1}
		got = nil
		for range 10 {
			l, err := s.ListAudit(ctx, c.f)
			must(t, err)
			for _, e := range l.Items {
				got = append(got, e.ID)
			}
			if l.Next == 0 {
				break
			}
			c.f.Page.After = l.Next
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s without the total, a page of one at a time: %v, want %v", c.name, got, c.want)
		}
	}
}

func testAtomic(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	tr := mkTree(t, s)
	boom := errors.New("boom")
	var id tenancy.OrgID
	err := s.Atomic(ctx, func(tx tenancy.Tx) error {
		o := tenancy.Org{ParentID: tr.a.ID, Name: "Ghost", Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
		if err := tx.CreateOrg(ctx, &o); err != nil {
			return err
		}
		id = o.ID
		if _, err := tx.GetOrg(ctx, o.ID); err != nil { // visible inside
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomic returned %v, want fn's error", err)
	}
	_, err = s.GetOrg(ctx, id)
	wantCode(t, err, tenancy.NotFound)
	desc, _ := s.Descendants(ctx, tr.a.ID)
	if len(desc) != 2 {
		t.Fatalf("rolled-back org left closure rows: %v", desc)
	}
	must(t, s.Atomic(ctx, func(tx tenancy.Tx) error {
		o := tenancy.Org{ParentID: tr.a.ID, Name: "Real", Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
		if err := tx.CreateOrg(ctx, &o); err != nil {
			return err
		}
		id = o.ID
		return tx.MoveOrg(ctx, o.ID, tr.b.ID)
	}))
	o, err := s.GetOrg(ctx, id)
	must(t, err)
	if o.ParentID != tr.b.ID {
		t.Fatalf("committed org %+v", o)
	}
	// Concurrent transactions serialize instead of failing.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Atomic(ctx, func(tx tenancy.Tx) error {
				o := tenancy.Org{ParentID: tr.b.ID, Name: fmt.Sprintf("Par %d", i), Type: tenancy.OrgBusiness, CreatedAt: t0, UpdatedAt: t0}
				return tx.CreateOrg(ctx, &o)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
}
