package api

import (
	"crypto/subtle"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"cordtrace/domain"
)

// metrics are the service's Prometheus metrics. Each server has its own registry, so that tests
// can run many servers in one process.
type metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	verifications *prometheus.CounterVec
	failedChecks  *prometheus.CounterVec
	scans         *prometheus.CounterVec
	prints        *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cordtrace_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cordtrace_http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .015, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
	}
	m.verifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cordtrace_bedside_verifications_total", Help: "Bedside verifications by verdict (pass or stop).",
	}, []string{"verdict"})
	m.failedChecks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cordtrace_bedside_failed_checks_total", Help: "Failed bedside checks by code (SPEC §7).",
	}, []string{"check"})
	m.scans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cordtrace_custody_scans_total", Help: "Custody scans by kind, how the code was read, and outcome.",
	}, []string{"kind", "code_kind", "outcome"})
	m.prints = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cordtrace_label_prints_total", Help: "Label prints by entity and format.",
	}, []string{"entity", "format"})
	m.registry.MustRegister(m.requests, m.latency, m.verifications, m.failedChecks, m.scans, m.prints,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one finished request. Routes are the registered patterns, never raw paths,
// so that ids in URLs cannot blow up the number of series.
func (m *metrics) observe(c echo.Context, took time.Duration) {
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	method := c.Request().Method
	status := strconv.Itoa(c.Response().Status)
	m.requests.WithLabelValues(route, method, status).Inc()
	m.latency.WithLabelValues(route, method, status).Observe(took.Seconds())
}

// RegisterDB adds the database pool's statistics to /metrics.
func (s *Server) RegisterDB(db *sql.DB) {
	s.metrics.registry.MustRegister(collectors.NewDBStatsCollector(db, "cordtrace"))
}

// Register adds collectors of other packages (verifications, label prints) to /metrics.
func (s *Server) Register(c ...prometheus.Collector) { s.metrics.registry.MustRegister(c...) }

// MetricsHandler serves the metrics in Prometheus's format, for a listener of their own.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

// metricsOnServiceAddress serves /metrics on the service's address to the bearer of
// Config.MetricsToken only.
func (s *Server) metricsOnServiceAddress(c echo.Context) error {
	if s.cfg.MetricsToken == "" {
		return domain.Errorf(domain.ENotFound, "the metrics are not served on this address: set CORDTRACE_METRICS_ADDR or CORDTRACE_METRICS_TOKEN")
	}
	token, _ := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.MetricsToken)) != 1 {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		return domain.Errorf(domain.EUnauthenticated, "the metrics need the metrics token (Authorization: Bearer)")
	}
	s.MetricsHandler().ServeHTTP(c.Response(), c.Request())
	return nil
}
