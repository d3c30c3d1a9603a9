package deviceapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/hub/hubtest"
	"outpost/shared/datastream"
)

// discardWriter is the cheapest http.ResponseWriter, so allocations
// reported are the handler's own.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

func benchHandler(b *testing.B) (http.Handler, *hubtest.CountStore) {
	b.Helper()
	ctx := context.Background()
	st := &hubtest.CountStore{}
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		b.Fatal(err)
	}
	lo, hi := 0.0, 100.0
	t := datastream.Template{ID: "TMPLbench001", Name: "Bench", Datastreams: []datastream.Datastream{
		{Pin: 1, Name: "Level", Type: datastream.Integer, Min: &lo, Max: &hi},
		{Pin: 2, Name: "Note", Type: datastream.String},
	}}
	if err := h.SaveTemplate(ctx, t); err != nil {
		b.Fatal(err)
	}
	if _, err := h.AddDeviceWithToken(ctx, t.ID, "bench", token); err != nil {
		b.Fatal(err)
	}
	return New(Options{Hub: h}), st
}

// BenchmarkHandler is one request through the device API handler (query
// parsing, token check, hub write, answer), without the HTTP server.
func BenchmarkHandler(b *testing.B) {
	for _, bc := range []struct{ name, target string }{
		{"update", "/external/api/update?token=" + token + "&v1=42"},
		{"update-escaped", "/external/api/update?token=" + token + "&v2=hello%20world"},
		{"batch-update", "/external/api/batch/update?token=" + token + "&v1=42&v2=note"},
		{"get", "/external/api/get?token=" + token + "&v1"},
		{"isHardwareConnected", "/external/api/isHardwareConnected?token=" + token},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := benchHandler(b)
			r := httptest.NewRequest(http.MethodGet, bc.target, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.status = 0
				h.ServeHTTP(w, r)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
