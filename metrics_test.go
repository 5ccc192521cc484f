package clientreg_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/clientreg/clientreg"
)

// metricValue returns the value of the counter, or the sample count of the
// histogram, name with exactly the labels given, or -1 when there is none.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			want := map[string]string{}
			for i := 0; i+1 < len(labels); i += 2 {
				want[labels[i]] = labels[i+1]
			}
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
					continue metric
				}
			}
			return sampleValue(m)
		}
	}
	return -1
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// A scripted flow through HTTP: register, read, token, a refused
// registration, a path not served, a registration over the rate limit;
// the registry then holds exactly those counts.
func TestMetricsScriptedFlow(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Metrics = reg
		// Two registration attempts per address, then 429.
		c.Limits = clientreg.Limits{RegistrationsPerMinute: 1, RegistrationBurst: 2}
	})
	c := e.register(ccBody)
	e.mustGet(c, c.Token)
	if r := e.token(creds(c), ""); r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	wantError(t, e.post(`{"redirect_uris":["not a url"]}`, ""), http.StatusBadRequest, "invalid_redirect_uri")
	if r := e.do("GET", e.base()+"/nowhere", nil, "", ""); r.status != http.StatusNotFound {
		t.Fatalf("GET /nowhere: %d", r.status)
	}
	if r := e.post(ccBody, ""); r.status != http.StatusTooManyRequests {
		t.Fatalf("third registration: %d, want 429", r.status)
	}

	for _, w := range []struct {
		want   float64
		name   string
		labels []string
	}{
		{1, "clientreg_http_requests_total", []string{"endpoint", "registration", "code", "201"}},
		{1, "clientreg_http_requests_total", []string{"endpoint", "registration", "code", "400"}},
		{1, "clientreg_http_requests_total", []string{"endpoint", "registration", "code", "429"}},
		{0, "clientreg_http_requests_total", []string{"endpoint", "registration", "code", "500"}},
		{1, "clientreg_http_requests_total", []string{"endpoint", "configuration", "code", "200"}},
		{1, "clientreg_http_requests_total", []string{"endpoint", "token", "code", "200"}},
		{1, "clientreg_http_requests_total", []string{"endpoint", "other", "code", "404"}},
		{3, "clientreg_http_request_duration_seconds", []string{"endpoint", "registration"}},
		{1, "clientreg_http_request_duration_seconds", []string{"endpoint", "token"}},
		{1, "clientreg_client_operations_total", []string{"operation", "register", "outcome", "ok"}},
		{1, "clientreg_client_operations_total", []string{"operation", "register", "outcome", "refused"}},
		{0, "clientreg_client_operations_total", []string{"operation", "register", "outcome", "error"}},
		{0, "clientreg_client_operations_total", []string{"operation", "update", "outcome", "ok"}},
		{1, "clientreg_tokens_issued_total", []string{"grant_type", "client_credentials"}},
		{0, "clientreg_tokens_issued_total", []string{"grant_type", "refresh_token"}},
		{0, "clientreg_refresh_token_reuse_total", nil},
		{1, "clientreg_rate_limited_total", []string{"limit", "registration"}},
		{0, "clientreg_rate_limited_total", []string{"limit", "failed_auth"}},
		{1, "clientreg_store_duration_seconds", []string{"method", "CreateClient"}},
		{1, "clientreg_store_duration_seconds", []string{"method", "CreateAccessToken"}},
	} {
		if got := metricValue(t, reg, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	// Updates and deletions are counted too.
	upd := e.put(c.URI, c.Token, strings.Replace(ccBody, "{", `{"client_id":"`+c.ID+`",`, 1))
	if upd.status != http.StatusOK {
		t.Fatalf("update: %d %s", upd.status, upd.body)
	}
	if r := e.del(c.URI, upd.str("registration_access_token")); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.del(c.URI, "wrong"); r.status != http.StatusUnauthorized {
		t.Fatalf("delete with a wrong token: %d", r.status)
	}
	for op, want := range map[string][3]float64{"update": {1, 0, 0}, "delete": {1, 1, 0}} {
		for i, outcome := range []string{"ok", "refused", "error"} {
			if got := metricValue(t, reg, "clientreg_client_operations_total", "operation", op, "outcome", outcome); got != want[i] {
				t.Errorf("%s %s = %v, want %v", op, outcome, got, want[i])
			}
		}
	}
}

// Without Config.Metrics nothing is registered anywhere, the default
// registry included; a Registerer cannot take a second handler's metrics.
func TestMetricsOffAndDuplicate(t *testing.T) {
	newOAuthEnv(t, nil).register(ccBody)
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "clientreg_") {
			t.Errorf("the default registry has %s", f.GetName())
		}
	}
	reg := prometheus.NewRegistry()
	cfg := clientreg.Config{Issuer: "https://as.example", Store: memoryBackend.open(t), SecretKey: testKey, Metrics: reg}
	if _, err := clientreg.New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate registers nothing: %v", err)
	}
	if _, err := clientreg.New(cfg); err == nil {
		t.Fatal("a second handler on one Registerer: no error")
	}
}
