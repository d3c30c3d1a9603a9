package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"outpost/cloud/internal/webhooks"
)

// BenchmarkDeliveries measures deliveries/s from the durable queue to a
// loopback receiver (target ≥ 1,000/s): b.N deliveries spread over 200
// webhooks (each limited to 600/min), every one recorded as ok in the
// store. The clock is real.
func BenchmarkDeliveries(b *testing.B) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	st := openStore(b, filepath.Join(b.TempDir(), "cloud.db"))
	defer st.Close()
	ctx := context.Background()
	hooks := make([]webhooks.Webhook, 200)
	for i := range hooks {
		w := hook(srv.URL)
		w.PerMinute = 600
		if err := st.SaveWebhook(ctx, w); err != nil {
			b.Fatal(err)
		}
		hooks[i] = *w
	}
	n := b.N
	for i := range n {
		if _, err := st.EnqueueDelivery(ctx, hooks[i%len(hooks)].ID, event, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	r := newRigClock(b, st, time.Now)
	for got.Load() < int64(n) {
		r.d.Kick()
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "deliveries/s")
}
