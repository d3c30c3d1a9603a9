package cloud

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/postgres"
	"outpost/internal/pgtest"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// The event notifier's limit period and pending offlines live in the
// store: a notifier started afresh on it (a restarted process, or on
// PostgreSQL another instance with its own pool) honours the limit the
// first one counted, and tells of the offline the first one was waiting
// on, once.
func TestEventCountersSurviveRestart(t *testing.T) {
	def := overheatTemplate(&datastream.EventNotify{Enabled: true, Console: true, Owner: true, LimitS: 60})
	def.System = &datastream.SystemEvents{OfflineIgnoreS: 30, Offline: &datastream.EventNotify{Enabled: true, Console: true, Owner: true}}
	dsn := pgtest.Database(t)
	for _, c := range []struct {
		name string
		env  func() *syncEnv
		// restart returns the store the next notifier uses.
		restart func(f *eventFixture) eventStore
	}{
		{"sqlite", func() *syncEnv { return newSyncEnv(t) }, func(f *eventFixture) eventStore { return f.e.s.store }},
		{"postgres, another instance", func() *syncEnv {
			return runEnv(t, func(c *Config) { c.Store.Driver, c.Store.DSN, c.Store.MaxConns = "postgres", dsn, 8 })
		}, func(f *eventFixture) eventStore {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newEventFixtureOn(t, c.env(), def)
			ctx := context.Background()
			start := func(store eventStore) *eventNotifications {
				n := notify.New(f.e.s.store, nil, f.e.s.svc.Tree, 1000, nil, nil)
				return newEventNotifications(store, n, EventsConfig{}, f.e.s.svc.Tree, nil, slog.New(slog.DiscardHandler))
			}
			st := notifications{f.e.s.store}
			count := func() int {
				ns, err := st.Notifications(ctx, f.owner.ID, 100)
				if err != nil {
					t.Fatal(err)
				}
				return len(ns)
			}
			t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC).UnixMilli()
			ev := func(en *eventNotifications, ms int64) {
				en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindEvent, Device: f.dev.UID, Name: "overheat", TS: t0 + ms}})
			}

			en := start(f.e.s.store)
			ev(en, 0)
			if got := count(); got != 1 {
				t.Fatalf("the first event: %d notifications, want 1", got)
			}
			en = start(c.restart(f))
			ev(en, 10_000)
			if got := count(); got != 1 {
				t.Fatalf("after a restart, an event inside the 60 s limit period notified: %d notifications, want 1", got)
			}
			ev(en, 61_000)
			if got := count(); got != 2 {
				t.Fatalf("after the limit period: %d notifications, want 2", got)
			}

			// Offline on one notifier; the next (restarted) one tells of
			// it once the ignore period is over, and only once.
			off := t0 + 3_600_000
			en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindOffline, Device: f.dev.UID, TS: off}})
			en = start(c.restart(f))
			en.tick(ctx, time.UnixMilli(off+29_999))
			if got := count(); got != 2 {
				t.Fatalf("offline told inside its ignore period: %d", got)
			}
			en.tick(ctx, time.UnixMilli(off+30_000))
			if got := count(); got != 3 {
				t.Fatalf("the offline pending before the restart: %d notifications, want 3", got)
			}
			start(f.e.s.store).tick(ctx, time.UnixMilli(off+90_000))
			if got := count(); got != 3 {
				t.Fatalf("the offline was told twice: %d", got)
			}
		})
	}
}
