// Package metrics is the cloud's /metrics endpoint in Prometheus' text
// format (client_golang, the one package that imports it). The values are
// read at scrape time from the parts that keep them, so nothing on a hot
// path touches this package.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Gauge is a value read at scrape time.
type Gauge struct {
	Name, Help string
	Value      func() float64
}

// Counter is a monotonically growing value read at scrape time.
type Counter struct {
	Name, Help string
	Value      func() float64
}

// Handler serves the gauges and counters (each name prefixed outpost_cloud_)
// with the Go runtime's and the process's metrics.
func Handler(gauges []Gauge, counters []Counter) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	for _, g := range gauges {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "outpost", Subsystem: "cloud", Name: g.Name, Help: g.Help}, g.Value))
	}
	for _, c := range counters {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "cloud", Name: c.Name, Help: c.Help}, c.Value))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
