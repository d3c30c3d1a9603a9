// Package metrics serves the gateway's counters in the Prometheus text
// format: the one package that adapts github.com/prometheus/client_golang.
// Every value is read from the gateway's own counters at scrape time (a
// collector of constant metrics), so an unscraped gateway pays nothing.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is the gateway's state at one scrape.
type Snapshot struct {
	// Connections open now, by transport ("blynk", "mqtt").
	Connections map[string]int64
	// Devices known and online.
	Devices, Online int
	// WritesAccepted: device and control writes the hub accepted;
	// Persisted: records the store committed.
	WritesAccepted, Persisted uint64
	// Commit latency (Append → committed): cumulative counts per bound of
	// CommitBounds, the total and the summed latency.
	CommitCounts []uint64
	CommitTotal  uint64
	CommitSum    time.Duration
	// Outbox entries waiting for the cloud.
	Backlog int64
	// Cloud link: configured, connected.
	CloudConfigured, CloudConnected bool
	// Messages dropped over the flood limit, by transport.
	FloodDrops map[string]uint64
}

// CommitBounds are the commit latency histogram's upper bounds.
var CommitBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond,
}

var (
	connDesc    = prometheus.NewDesc("outpost_gateway_connections", "Device connections open now, by transport.", []string{"transport"}, nil)
	devicesDesc = prometheus.NewDesc("outpost_gateway_devices", "Devices this gateway serves.", nil, nil)
	onlineDesc  = prometheus.NewDesc("outpost_gateway_devices_online", "Devices with at least one connection.", nil, nil)
	writesDesc  = prometheus.NewDesc("outpost_gateway_writes_accepted_total", "Device and control writes the hub accepted.", nil, nil)
	persistDesc = prometheus.NewDesc("outpost_gateway_records_persisted_total", "Records the local store committed.", nil, nil)
	commitDesc  = prometheus.NewDesc("outpost_gateway_commit_latency_seconds", "Time from a write's acceptance to its commit.", nil, nil)
	backlogDesc = prometheus.NewDesc("outpost_gateway_outbox_backlog", "Records waiting for the cloud's acknowledgement.", nil, nil)
	cloudDesc   = prometheus.NewDesc("outpost_gateway_cloud_connected", "1 while the cloud link is up (0 when down or not configured).", []string{"configured"}, nil)
	floodDesc   = prometheus.NewDesc("outpost_gateway_flood_drops_total", "Device messages dropped over the flood limit, by transport.", []string{"transport"}, nil)
)

type collector struct{ read func() Snapshot }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connDesc, devicesDesc, onlineDesc, writesDesc, persistDesc, commitDesc, backlogDesc, cloudDesc, floodDesc} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	for t, n := range s.Connections {
		ch <- prometheus.MustNewConstMetric(connDesc, prometheus.GaugeValue, float64(n), t)
	}
	ch <- prometheus.MustNewConstMetric(devicesDesc, prometheus.GaugeValue, float64(s.Devices))
	ch <- prometheus.MustNewConstMetric(onlineDesc, prometheus.GaugeValue, float64(s.Online))
	ch <- prometheus.MustNewConstMetric(writesDesc, prometheus.CounterValue, float64(s.WritesAccepted))
	ch <- prometheus.MustNewConstMetric(persistDesc, prometheus.CounterValue, float64(s.Persisted))
	buckets := make(map[float64]uint64, len(CommitBounds))
	for i, b := range CommitBounds {
		if i < len(s.CommitCounts) {
			buckets[b.Seconds()] = s.CommitCounts[i]
		}
	}
	ch <- prometheus.MustNewConstHistogram(commitDesc, s.CommitTotal, s.CommitSum.Seconds(), buckets)
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(s.Backlog))
	up := 0.0
	if s.CloudConnected {
		up = 1
	}
	configured := "false"
	if s.CloudConfigured {
		configured = "true"
	}
	ch <- prometheus.MustNewConstMetric(cloudDesc, prometheus.GaugeValue, up, configured)
	for t, n := range s.FloodDrops {
		ch <- prometheus.MustNewConstMetric(floodDesc, prometheus.CounterValue, float64(n), t)
	}
}

// Handler serves /metrics from read, called once per scrape.
func Handler(read func() Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{read})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
