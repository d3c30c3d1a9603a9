package cloud

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/notify"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// BenchmarkEventNotify is one applied critical event to its owner's mail
// and console entry (SQLite, mailbox directory): the event → mail path.
func BenchmarkEventNotify(b *testing.B) {
	def := overheatTemplate(&datastream.EventNotify{Enabled: true, Email: true, Console: true, Owner: true})
	f := newEventFixture(b, def)
	ctx := context.Background()
	n := notify.New(f.e.s.store, &mail.Mailbox{Dir: b.TempDir(), From: "o@outpost.test"}, f.e.s.svc.Tree, 1<<30, nil, nil)
	en := newEventNotifications(f.e.s.store, n, EventsConfig{}, f.e.s.svc.Tree, nil, slog.New(slog.DiscardHandler))
	ts := time.Now().UnixMilli()
	b.ResetTimer()
	for i := range b.N {
		en.handle(ctx, []syncproto.Item{{Kind: syncproto.KindEvent, Device: f.dev.UID, Name: "overheat", Value: "hot", TS: ts + int64(i)}})
	}
}

// BenchmarkEventObserveWrite is what a datastream write of an activated
// device costs the event notifier on the apply path.
func BenchmarkEventObserveWrite(b *testing.B) {
	en := newEventNotifications(nil, nil, EventsConfig{}, nil, nil, slog.New(slog.DiscardHandler))
	en.activated["dev"] = true
	items := []syncproto.Item{{Kind: syncproto.KindWrite, Device: "dev", Pin: 1, Value: "1", TS: 1}}
	for range b.N {
		en.Observe(items)
	}
}
