package worker

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// sdkLatencyBuckets cover the SDK's timers, from a gRPC call (milliseconds) to a long
// poll (a minute) and a workflow's end-to-end latency (hours and more).
var sdkLatencyBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400}

// NewMetricsHandler returns a Temporal SDK metrics handler that records the client's and
// the worker's metrics (temporal_request, temporal_worker_task_slots_available,
// temporal_activity_execution_latency, …) in reg, named the Prometheus way: counters end
// in _total, timers are histograms in seconds ending in _seconds, and the SDK's tags
// (namespace, task_queue, worker_type, workflow_type, activity_type, operation, …)
// become labels. Pass it as client.Options.MetricsHandler.
//
// The SDK names a metric's tags only when it records it, and one metric may carry
// different tag sets, so each series is created on first use and the whole set is one
// unchecked collector.
func NewMetricsHandler(reg prometheus.Registerer) client.MetricsHandler {
	set := &sdkMetrics{series: map[string]prometheus.Metric{}}
	reg.MustRegister(set)
	return sdkHandler{set: set}
}

// sdkMetrics holds every series the SDK has recorded.
type sdkMetrics struct {
	mu     sync.Mutex
	series map[string]prometheus.Metric // by kind, name and labels
}

// Describe sends nothing: the series are only known once recorded (an unchecked collector).
func (m *sdkMetrics) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series.
func (m *sdkMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	all := make([]prometheus.Metric, 0, len(m.series))
	for _, s := range m.series {
		all = append(all, s)
	}
	m.mu.Unlock()
	for _, s := range all {
		s.(prometheus.Collector).Collect(ch)
	}
}

// get returns the series of kind and name with labels, made by mk on first use.
func (m *sdkMetrics) get(kind, name string, h sdkHandler, mk func(prometheus.Opts) prometheus.Metric) prometheus.Metric {
	key := kind + "\x00" + name + "\x00" + h.key
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.series[key]
	if !ok {
		s = mk(prometheus.Opts{Name: name, Help: "Temporal SDK metric " + name + ".", ConstLabels: h.labels})
		m.series[key] = s
	}
	return s
}

// sdkHandler is the SDK's view: the shared set plus the tags of this handler.
type sdkHandler struct {
	set    *sdkMetrics
	labels prometheus.Labels
	key    string // labels in a canonical order
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	labels := make(prometheus.Labels, len(h.labels)+len(tags))
	for k, v := range h.labels {
		labels[k] = v
	}
	for k, v := range tags {
		labels[promName(k)] = v
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + labels[k] + "\x00")
	}
	return sdkHandler{set: h.set, labels: labels, key: b.String()}
}

func (h sdkHandler) Counter(name string) client.MetricsCounter {
	c := h.set.get("counter", promName(name)+"_total", h, func(o prometheus.Opts) prometheus.Metric {
		return prometheus.NewCounter(prometheus.CounterOpts(o))
	}).(prometheus.Counter)
	return counter{c}
}

func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	g := h.set.get("gauge", promName(name), h, func(o prometheus.Opts) prometheus.Metric {
		return prometheus.NewGauge(prometheus.GaugeOpts(o))
	}).(prometheus.Gauge)
	return gauge{g}
}

func (h sdkHandler) Timer(name string) client.MetricsTimer {
	hist := h.set.get("timer", promName(name)+"_seconds", h, func(o prometheus.Opts) prometheus.Metric {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: o.Name, Help: o.Help, ConstLabels: o.ConstLabels, Buckets: sdkLatencyBuckets,
		})
	}).(prometheus.Histogram)
	return timer{hist}
}

type counter struct{ c prometheus.Counter }

func (c counter) Inc(d int64) {
	if d > 0 { // a Prometheus counter only goes up
		c.c.Add(float64(d))
	}
}

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ h prometheus.Histogram }

func (t timer) Record(d time.Duration) { t.h.Observe(d.Seconds()) }

// promName turns an SDK metric or tag name into a valid Prometheus metric or label name.
func promName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}
