package clientreg

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clientreg/clientreg/internal/statusrec"
)

// Metric names, all prefixed clientreg_. Config.Metrics documents them.
const metricsNamespace = "clientreg"

// The endpoint label values of clientreg_http_requests_total and
// clientreg_http_request_duration_seconds: a fixed set, never the path.
const (
	endpointMetadata      = "metadata"
	endpointRegistration  = "registration"
	endpointConfiguration = "configuration"
	endpointToken         = "token"
	endpointIntrospection = "introspection"
	endpointRevocation    = "revocation"
	endpointAuthorization = "authorization"
	endpointRecovery      = "recovery"
	endpointJWKS          = "jwks"
	endpointOther         = "other" // a path the handler does not serve
)

// metricRegister is the operation label of registrations (updates and
// deletions are their Operation).
const metricRegister = "register"

// The outcome label values of the operation counters.
const (
	outcomeOK      = "ok"
	outcomeRefused = "refused" // an *Error below 500: the caller's to correct
	outcomeError   = "error"   // anything else: the server's
)

// The grant types of clientreg_tokens_issued_total.
var metricGrants = []string{grantClientCredentials, grantAuthorizationCode, grantRefreshToken}

// The status codes whose counters are made up front; others are looked up.
var metricCodes = []int{200, 201, 204, 302, 303, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 500, 503}

// metrics holds the handler's collectors. A nil *metrics (Config.Metrics
// nil) records nothing: every method checks.
type metrics struct {
	requests  *prometheus.CounterVec   // endpoint, code
	duration  *prometheus.HistogramVec // endpoint
	ops       *prometheus.CounterVec   // operation, outcome
	tokens    *prometheus.CounterVec   // grant_type
	reuse     prometheus.Counter
	docFetch  *prometheus.CounterVec // outcome
	docHits   prometheus.Counter
	limited   *prometheus.CounterVec   // limit
	storeTime *prometheus.HistogramVec // method

	opCounters    map[string]*[3]prometheus.Counter // operation -> ok, refused, error
	tokenCounters map[string]prometheus.Counter
	limitCounters map[string]prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by endpoint.",
			Buckets: prometheus.DefBuckets,
		}, []string{"endpoint"}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "client_operations_total",
			Help: "Client registrations, updates and deletions, by outcome (ok, refused, error).",
		}, []string{"operation", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "tokens_issued_total",
			Help: "Access tokens issued at the token endpoint, by grant type.",
		}, []string{"grant_type"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "refresh_token_reuse_total",
			Help: "Refresh tokens presented again after they were retired (the grant is revoked).",
		}),
		docFetch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "client_metadata_document_fetches_total",
			Help: "Fetches of client ID metadata documents, by outcome (ok, error).",
		}, []string{"outcome"}),
		docHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "client_metadata_document_cache_hits_total",
			Help: "Client ID metadata documents answered from the cache.",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "rate_limited_total",
			Help: "Requests refused by a rate limit, by limit (registration, failed_auth).",
		}, []string{"limit"}),
		storeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "store_duration_seconds",
			Help:    "Time of the handler's Store calls, by method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method"}),
		opCounters:    map[string]*[3]prometheus.Counter{},
		tokenCounters: map[string]prometheus.Counter{},
		limitCounters: map[string]prometheus.Counter{},
	}
	for _, op := range []string{metricRegister, string(OpUpdate), string(OpDelete)} {
		m.opCounters[op] = &[3]prometheus.Counter{
			m.ops.WithLabelValues(op, outcomeOK),
			m.ops.WithLabelValues(op, outcomeRefused),
			m.ops.WithLabelValues(op, outcomeError),
		}
	}
	for _, g := range metricGrants {
		m.tokenCounters[g] = m.tokens.WithLabelValues(g)
	}
	for _, l := range []string{limitRegistration, limitFailedAuth} {
		m.limitCounters[l] = m.limited.WithLabelValues(l)
	}
	m.docFetch.WithLabelValues(outcomeOK)
	m.docFetch.WithLabelValues(outcomeError)
	return m
}

// register registers every collector with r.
func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.ops, m.tokens, m.reuse, m.docFetch, m.docHits, m.limited, m.storeTime} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// endpointMetrics are the collectors of one endpoint, made once.
type endpointMetrics struct {
	name     string
	codes    map[int]prometheus.Counter // read only after it is made
	duration prometheus.Observer
	requests *prometheus.CounterVec
}

func (m *metrics) endpoint(name string) *endpointMetrics {
	e := &endpointMetrics{name: name, codes: make(map[int]prometheus.Counter, len(metricCodes)),
		duration: m.duration.WithLabelValues(name), requests: m.requests}
	for _, c := range metricCodes {
		e.codes[c] = m.requests.WithLabelValues(name, strconv.Itoa(c))
	}
	return e
}

// instrument wraps f to count its answers and time them as endpoint
// name's; without metrics it returns f.
func (m *metrics) instrument(name string, f http.Handler) http.Handler {
	if m == nil {
		return f
	}
	e := m.endpoint(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statusrec.New(w)
		f.ServeHTTP(sw, r)
		e.duration.Observe(time.Since(start).Seconds())
		code := sw.Status()
		if c, ok := e.codes[code]; ok {
			c.Inc()
		} else {
			e.requests.WithLabelValues(e.name, strconv.Itoa(code)).Inc()
		}
	})
}

// operation counts one registration, update or deletion by its outcome.
func (m *metrics) operation(op string, err error) {
	if m == nil {
		return
	}
	c := m.opCounters[op]
	if c == nil {
		return
	}
	c[outcomeIndex(err)].Inc()
}

func outcomeIndex(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) && e.Status < 500 {
		return 1
	}
	return 2
}

// tokenIssued counts a token issued with grant type grant.
func (m *metrics) tokenIssued(grant string) {
	if m == nil {
		return
	}
	if c := m.tokenCounters[grant]; c != nil {
		c.Inc()
	}
}

// refreshReuse counts a refresh token reuse detection.
func (m *metrics) refreshReuse() {
	if m != nil {
		m.reuse.Inc()
	}
}

// The limit label values of clientreg_rate_limited_total.
const (
	limitRegistration = "registration"
	limitFailedAuth   = "failed_auth"
)

// rateLimited counts a request refused by limit.
func (m *metrics) rateLimited(limit string) {
	if m != nil {
		m.limitCounters[limit].Inc()
	}
}

// fetchStats are the counters of a fetchCache; nil counts nothing.
type fetchStats struct {
	hits    prometheus.Counter
	fetched prometheus.Counter
	failed  prometheus.Counter
}

func (m *metrics) documentStats() *fetchStats {
	if m == nil {
		return nil
	}
	return &fetchStats{hits: m.docHits, fetched: m.docFetch.WithLabelValues(outcomeOK), failed: m.docFetch.WithLabelValues(outcomeError)}
}

func (s *fetchStats) hit() {
	if s != nil {
		s.hits.Inc()
	}
}

func (s *fetchStats) fetch(err error) {
	switch {
	case s == nil:
	case err != nil:
		s.failed.Inc()
	default:
		s.fetched.Inc()
	}
}
