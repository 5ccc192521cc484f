package cli

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var metricsLineRE = regexp.MustCompile(`(?m)^metrics on (http://\S+/metrics)\n`)

// --metrics-addr serves /metrics on a listener of its own, with the
// handler's metrics and the Go and process collectors; the public port
// does not serve it.
func TestServeMetricsAddr(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--db", dbIn(t), "--login", "none", "--metrics-addr", "127.0.0.1:0")
	m := metricsLineRE.FindStringSubmatch(s.stderr.String())
	if m == nil {
		t.Fatalf("no \"metrics on\" line; stderr:\n%s", s.stderr)
	}
	if strings.HasPrefix(m[1], s.issuer) {
		t.Fatalf("metrics at %s, on the public port %s", m[1], s.issuer)
	}
	wantStatus(t, "register", do(t, http.MethodPost, s.issuer+"/register", "", clientBody), http.StatusCreated)
	wantStatus(t, "public /metrics", do(t, http.MethodGet, s.issuer+"/metrics", "", ""), http.StatusNotFound)

	r := do(t, http.MethodGet, m[1], "", "")
	wantStatus(t, "metrics", r, http.StatusOK)
	body := string(r.body)
	for _, want := range []string{
		`clientreg_http_requests_total{code="201",endpoint="registration"} 1`,
		`clientreg_http_requests_total{code="404",endpoint="other"} 1`,
		`clientreg_client_operations_total{operation="register",outcome="ok"} 1`,
		`clientreg_sweeper_removed_total{kind="expired"} 0`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	wantStatus(t, "metrics port, another path", do(t, http.MethodGet, strings.TrimSuffix(m[1], "/metrics")+"/register", "", ""), http.StatusNotFound)
}

// Without --metrics-addr nothing serves metrics.
func TestServeNoMetricsByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--db", dbIn(t), "--login", "none")
	if metricsLineRE.MatchString(s.stderr.String()) {
		t.Fatalf("a metrics line without --metrics-addr:\n%s", s.stderr)
	}
	wantStatus(t, "public /metrics", do(t, http.MethodGet, s.issuer+"/metrics", "", ""), http.StatusNotFound)
}
