package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
)

// metrics holds the server's Prometheus registry and instruments.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(s *store.Store, runner *tasks.Runner) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulpo_http_requests_total", Help: "HTTP requests served, by route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pulpo_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"method", "route"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pulpo_node_tasks_running", Help: "Tasks this server node is running now.",
		}, func() float64 { return float64(runner.Running()) }),
		&taskCollector{store: s},
	)
	return m
}

// instrument counts and times every request, labelled by the route pattern
// (not the raw path, so ids do not explode the label space).
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
		m.duration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush keeps live log streams working through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// taskCollector reports how many tasks are in each state, read at scrape time.
type taskCollector struct{ store *store.Store }

var taskDesc = prometheus.NewDesc("pulpo_tasks", "Tasks in the queue and history, by state.", []string{"state"}, nil)

func (c *taskCollector) Describe(ch chan<- *prometheus.Desc) { ch <- taskDesc }

func (c *taskCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, st := range []model.TaskState{model.TaskQueued, model.TaskExecuting, model.TaskCanceling, model.TaskSuccess, model.TaskFailed, model.TaskCanceled} {
		_, n, err := c.store.Read().ListTasks(ctx, store.TaskFilter{States: []model.TaskState{st}, Take: 1})
		if err != nil {
			ch <- prometheus.NewInvalidMetric(taskDesc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(taskDesc, prometheus.GaugeValue, float64(n), string(st))
	}
}
