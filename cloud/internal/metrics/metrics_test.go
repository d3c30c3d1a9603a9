package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesValuesAtScrapeTime(t *testing.T) {
	n := 3.0
	h, err := Handler([]Gauge{{Name: "things", Help: "Things.", Value: func() float64 { return n }}},
		[]Counter{{Name: "events_total", Help: "Events.", Value: func() float64 { return 2 * n }}})
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(w.Result().Body)
		return string(b)
	}
	if s := scrape(); !strings.Contains(s, "outpost_cloud_things 3\n") || !strings.Contains(s, "outpost_cloud_events_total 6\n") ||
		!strings.Contains(s, "go_goroutines") {
		t.Fatalf("first scrape:\n%s", s)
	}
	n = 5
	if s := scrape(); !strings.Contains(s, "outpost_cloud_things 5\n") {
		t.Fatal("the gauge was not read again at the second scrape")
	}
	if _, err := Handler([]Gauge{{Name: "x", Value: func() float64 { return 0 }}, {Name: "x", Value: func() float64 { return 0 }}}, nil); err == nil {
		t.Fatal("two metrics with one name accepted")
	}
}
