package clientreg_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// CORS (docs/behaviour.md §12): preflights of the endpoints browsers call,
// Access-Control-Allow-Origin on their answers, never with credentials;
// none for introspection and the authorization endpoint.

func preflight(t *testing.T, e *authzEnv, path, method, origin string) *response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, e.iss+path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version")
	return e.send(req)
}

func TestCORSPreflight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newAuthzEnv(t, b, nil)
		pub := e.registerPublic(nil)
		cfgPath := strings.TrimPrefix(pub.uri, e.iss)
		for _, tc := range []struct{ path, method, allow string }{
			{"/.well-known/oauth-authorization-server", "GET", "GET, HEAD"},
			{"/register", "POST", "POST"},
			{cfgPath, "PUT", "GET, PUT, DELETE"},
			{"/token", "POST", "POST"},
			{"/revoke", "POST", "POST"},
		} {
			r := preflight(t, e, tc.path, tc.method, "https://web.example")
			h := r.header
			if r.status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
				h.Get("Access-Control-Allow-Methods") != tc.allow || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version") || h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("preflight %s: %d %v", tc.path, r.status, h)
			}
		}
		// The answers themselves carry the origin.
		req, _ := http.NewRequest(http.MethodGet, e.iss+"/.well-known/oauth-authorization-server", nil)
		req.Header.Set("Origin", "https://web.example")
		if r := e.send(req); r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("metadata: %d %v", r.status, r.header)
		} else if exp := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "X-Request-Id") || !strings.Contains(exp, "WWW-Authenticate") || r.header.Get("X-Request-Id") == "" {
			// A script may read the request's ID, to quote it in a report.
			t.Errorf("metadata: exposed headers %q, request id %q", exp, r.header.Get("X-Request-Id"))
		}
		// No CORS for introspection and the authorization endpoint.
		for _, path := range []string{"/introspect", "/authorize"} {
			r := preflight(t, e, path, "POST", "https://web.example")
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight %s: %d %v", path, r.status, r.header)
			}
		}
	})
}

func TestCORSAllowList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newAuthzEnv(t, b, func(c *clientreg.Config) {
			c.CORS.AllowedOrigins = []string{"https://web.example"}
		})
		r := preflight(t, e, "/token", "POST", "https://web.example")
		if r.header.Get("Access-Control-Allow-Origin") != "https://web.example" || !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
			t.Errorf("allowed origin: %v", r.header)
		}
		r = preflight(t, e, "/token", "POST", "https://evil.example")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("other origin: %d %v", r.status, r.header)
		}
		off := newAuthzEnv(t, b, func(c *clientreg.Config) { c.CORS.Disabled = true })
		if r := preflight(t, off, "/token", "POST", "https://web.example"); r.status != http.StatusMethodNotAllowed || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("CORS off: %d %v", r.status, r.header)
		}
	})
}
