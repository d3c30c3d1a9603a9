package cloud

import (
	"context"
	"log/slog"
	"maps"
	"strconv"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// History retention per organization on both stores: an org's bound
// applies to its devices and those below it (a child's longer bound does
// not lengthen it), an org without one keeps everything, and the global
// bound is kept by deleting rows on SQLite and left to the monthly
// partitions on PostgreSQL.
func TestHistoryRetentionPerOrg(t *testing.T) {
	dsn := pgtest.Database(t)
	for _, c := range []struct {
		name string
		env  func() *syncEnv
		rows bool // the global bound is kept by deleting rows
	}{
		{"sqlite", func() *syncEnv { return newSyncEnv(t) }, true},
		{"postgres", func() *syncEnv { return newInstance(t, dsn) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := c.env()
			ctx, svc := context.Background(), e.s.svc
			tm, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Meter",
				Datastreams: []datastream.Datastream{{Pin: 1, Name: "kwh", Type: datastream.Double}}}})
			if err != nil {
				t.Fatal(err)
			}
			org := func(parent tenancy.OrgID, name string, days int) tenancy.Org {
				t.Helper()
				o, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: parent, Name: name})
				if err != nil {
					t.Fatal(err)
				}
				if err := svc.SetTemplateEnabled(ctx, e.admin, o.ID, tm.ID, true); err != nil {
					t.Fatal(err)
				}
				if days > 0 {
					if o, err = svc.UpdateOrg(ctx, e.admin, o.ID, tenancy.OrgUpdate{HistoryRetentionDays: &days}); err != nil {
						t.Fatal(err)
					}
				}
				return o
			}
			short := org(e.admin.OrgID, "Short", 7)
			child := org(short.ID, "Child", 30)
			keep := org(e.admin.OrgID, "Keep", 0)
			if _, err := svc.UpdateOrg(ctx, e.admin, keep.ID, tenancy.OrgUpdate{HistoryRetentionDays: new(int(tenancy.MaxHistoryRetentionDays + 1))}); tenancy.CodeOf(err) != tenancy.Invalid {
				t.Fatalf("a retention past the maximum: %v, want Invalid", err)
			}
			devs := map[string]tenancy.Device{}
			for _, o := range []tenancy.Org{short, child, keep} {
				d, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: o.Name + " meter", OrgID: o.ID})
				if err != nil {
					t.Fatal(err)
				}
				devs[o.Name] = d
			}
			gw := tenancy.Gateway{Name: "pi", OrgID: e.admin.OrgID, ClaimCodeHash: tenancy.HashToken("c"), CredentialHash: tenancy.HashToken("g")}
			if err := e.s.store.CreateGateway(ctx, &gw); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			var items []syncproto.Item
			for _, d := range devs {
				for _, age := range []time.Duration{10 * 24 * time.Hour, 24 * time.Hour} {
					items = append(items, syncproto.Item{Seq: int64(len(items) + 1), Kind: syncproto.KindWrite, Device: d.UID, Pin: 1,
						Value: "1", TS: now.Add(-age).UnixMilli()})
				}
			}
			gwID := strconv.FormatInt(int64(gw.ID), 10)
			if _, err := e.s.store.ApplyItems(ctx, gwID, 1, items, int64(len(items))); err != nil {
				t.Fatal(err)
			}
			points := func() map[string]int {
				out := map[string]int{}
				for name, d := range devs {
					h, _, err := e.s.store.History(ctx, d.UID, 1, 0, 100)
					if err != nil {
						t.Fatal(err)
					}
					out[name] = len(h)
				}
				return out
			}
			ret := &historyRetention{store: e.s.store, globalByRows: c.rows, now: time.Now, log: slog.New(slog.DiscardHandler)}
			if _, err := ret.apply(ctx); err != nil {
				t.Fatal(err)
			}
			if got, want := points(), map[string]int{"Short": 1, "Child": 1, "Keep": 2}; !maps.Equal(got, want) {
				t.Fatalf("after the orgs' retention: %v, want %v", got, want)
			}
			ret.global = 9 * 24 * time.Hour
			if _, err := ret.apply(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"Short": 1, "Child": 1, "Keep": 2} // PostgreSQL: months are dropped whole
			if c.rows {
				want["Keep"] = 1
			}
			if got := points(); !maps.Equal(got, want) {
				t.Fatalf("with a global bound of 9 days: %v, want %v", got, want)
			}
		})
	}
}
