package server

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/actorstore/actorstore/host"
)

// metrics are the server's Prometheus metrics: requests by route, method
// and status with their latency, watchers, and the store's gauges read
// from Stats at each scrape.
type metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	watchers    prometheus.Gauge
	watchEvents prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, store host.API) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "actorstore", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "actorstore", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route and method (watches: the connection's life).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "actorstore", Subsystem: "http", Name: "watchers",
			Help: "WebSocket watchers connected.",
		}),
		watchEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "actorstore", Subsystem: "http", Name: "watch_events_total",
			Help: "Change events sent to watchers.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.watchers, m.watchEvents, &storeCollector{store: store})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	switch method {
	case "GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH":
	default:
		method = "other" // bounded label values
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// storeCollector reads the store's Stats when scraped.
type storeCollector struct{ store host.API }

var (
	descSequence = prometheus.NewDesc("actorstore_sequence", "The store's current sequence number.", nil, nil)
	descEvents   = prometheus.NewDesc("actorstore_events_total", "Change events made.", nil, nil)
	descActors   = prometheus.NewDesc("actorstore_actors", "Actors held.", nil, nil)
	descData     = prometheus.NewDesc("actorstore_data_bytes", "Bytes the actors account for against MaxDataBytes.", nil, nil)
	descSubs     = prometheus.NewDesc("actorstore_subscriptions", "Open subscriptions (watchers and long polls included).", nil, nil)
	descDropped  = prometheus.NewDesc("actorstore_events_dropped_total", "Change events evicted from the replay buffer.", nil, nil)
	descReplay   = prometheus.NewDesc("actorstore_replay_buffer_events", "Change events retained in the replay buffer.", nil, nil)
	descReplayB  = prometheus.NewDesc("actorstore_replay_buffer_bytes", "Bytes the retained change events account for.", nil, nil)
	descIdemKeys = prometheus.NewDesc("actorstore_idempotency_keys", "Idempotency keys remembered with their first answers.", nil, nil)
	descIdemB    = prometheus.NewDesc("actorstore_idempotency_bytes", "Bytes the remembered idempotency answers account for.", nil, nil)
	descUp       = prometheus.NewDesc("actorstore_store_up", "1 when the store answered Stats at this scrape, else 0.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSequence, descEvents, descActors, descData, descSubs, descDropped, descReplay, descReplayB, descIdemKeys, descIdemB, descUp} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.Stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descSequence, prometheus.GaugeValue, float64(st.CurrentSequence))
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(st.TotalEvents))
	ch <- prometheus.MustNewConstMetric(descActors, prometheus.GaugeValue, float64(st.Actors))
	ch <- prometheus.MustNewConstMetric(descData, prometheus.GaugeValue, float64(st.DataBytes))
	ch <- prometheus.MustNewConstMetric(descSubs, prometheus.GaugeValue, float64(st.ActiveSubscriptions))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.EventsDropped))
	ch <- prometheus.MustNewConstMetric(descReplay, prometheus.GaugeValue, float64(st.ReplayBufferSize))
	ch <- prometheus.MustNewConstMetric(descReplayB, prometheus.GaugeValue, float64(st.ReplayBufferBytes))
	ch <- prometheus.MustNewConstMetric(descIdemKeys, prometheus.GaugeValue, float64(st.IdempotencyKeys))
	ch <- prometheus.MustNewConstMetric(descIdemB, prometheus.GaugeValue, float64(st.IdempotencyBytes))
}
