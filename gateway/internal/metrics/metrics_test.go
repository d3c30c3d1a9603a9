package metrics

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestHandler: a snapshot comes out in the text format, parsed back with
// the Prometheus parser: labels, counters and a cumulative histogram.
func TestHandler(t *testing.T) {
	counts := make([]uint64, len(CommitBounds))
	for i := range counts {
		counts[i] = uint64(i + 1)
	}
	h := Handler(func() Snapshot {
		return Snapshot{Connections: map[string]int64{"blynk": 3, "mqtt": 2}, Devices: 7, Online: 5,
			WritesAccepted: 100, Persisted: 98, CommitCounts: counts, CommitTotal: 20, CommitSum: 150 * time.Millisecond,
			Backlog: 12, CloudConfigured: true, CloudConnected: true, FloodDrops: map[string]uint64{"blynk": 4}}
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	conns := map[string]float64{}
	for _, m := range fams["outpost_gateway_connections"].GetMetric() {
		conns[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if conns["blynk"] != 3 || conns["mqtt"] != 2 {
		t.Errorf("connections = %v", conns)
	}
	if v := fams["outpost_gateway_writes_accepted_total"].GetMetric()[0].GetCounter().GetValue(); v != 100 {
		t.Errorf("writes = %v", v)
	}
	hist := fams["outpost_gateway_commit_latency_seconds"].GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 20 || hist.GetSampleSum() != 0.15 || len(hist.GetBucket()) != len(CommitBounds)+1 { // and +Inf
		t.Errorf("histogram = %v", hist)
	}
	if b := hist.GetBucket()[0]; b.GetUpperBound() != 0.001 || b.GetCumulativeCount() != 1 {
		t.Errorf("first bucket = %v", b)
	}
	if v := fams["outpost_gateway_cloud_connected"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("cloud connected = %v", v)
	}
}
