// Package metrics holds Kanal's Prometheus metrics on a registry of its own
// (never the global one).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the process's instruments.
type Metrics struct {
	Registry     *prometheus.Registry
	HTTPDuration *prometheus.HistogramVec
	Ingested     *prometheus.CounterVec
	DispatchLag  prometheus.Histogram
	Dispatched   prometheus.Counter
}

// New registers Kanal's metrics and the Go runtime's on a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kanal_http_request_duration_seconds",
			Help:    "HTTP request latency by route and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "code"}),
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kanal_ingested_messages_total",
			Help: "Inbound messages ingested, by channel and result (new or duplicate).",
		}, []string{"channel", "result"}),
		DispatchLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kanal_event_dispatch_lag_seconds",
			Help:    "Time from an event's append to its publication on the bus.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		Dispatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kanal_events_dispatched_total",
			Help: "Events published on the bus.",
		}),
	}
	m.Registry.MustRegister(m.HTTPDuration, m.Ingested, m.DispatchLag, m.Dispatched,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
