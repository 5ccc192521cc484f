package clientreg

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Cross-origin requests (docs/behaviour.md §12; the Fetch standard's CORS
// protocol). Browser-based clients (an MCP client in a web page) discover
// the server, register, and call the token and revocation endpoints from
// another origin. None of those requests carries cookies or needs them:
// the answer allows the origin without credentials (no
// Access-Control-Allow-Credentials), by default any origin ("*"). The
// introspection endpoint is for resource servers and has no CORS; the
// authorization endpoint is a navigation, not a CORS request.

// CORSPolicy is the cross-origin policy of the metadata, registration,
// client configuration, token and revocation endpoints.
type CORSPolicy struct {
	// AllowedOrigins lists the origins allowed ("https://app.example",
	// scheme://host[:port], as browsers send them in Origin); empty (the
	// default) or "*" allows every origin, answered with "*".
	AllowedOrigins []string
	// Disabled turns CORS off: no CORS header is sent, and OPTIONS is
	// answered 405.
	Disabled bool
}

func (p CORSPolicy) check() error {
	for _, o := range p.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("clientreg: Config.CORS.AllowedOrigins: %q is not an origin (scheme://host[:port])", o)
		}
	}
	return nil
}

// corsPolicy is CORSPolicy as the handler applies it.
type corsPolicy struct {
	disabled bool
	any      bool
	origins  []string // lower-cased
}

func newCORSPolicy(p CORSPolicy) (corsPolicy, error) {
	if err := p.check(); err != nil {
		return corsPolicy{}, err
	}
	cp := corsPolicy{disabled: p.Disabled, any: len(p.AllowedOrigins) == 0 || slices.Contains(p.AllowedOrigins, "*")}
	for _, o := range p.AllowedOrigins {
		cp.origins = append(cp.origins, strings.ToLower(o))
	}
	return cp, nil
}

// corsRequestHeaders are the request headers a cross-origin request may
// send: those the endpoints read, and MCP-Protocol-Version, which MCP
// clients send with every request, discovery included.
const corsRequestHeaders = "Authorization, Content-Type, Idempotency-Key, If-Match, MCP-Protocol-Version"

// corsExposedHeaders are the response headers a script may read.
const corsExposedHeaders = "ETag, Location, Retry-After, WWW-Authenticate, X-Request-Id"

// allowOrigin sets Access-Control-Allow-Origin for the request's Origin,
// if the policy allows it, and reports whether it did.
func (p corsPolicy) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if p.any {
		if origin == "" {
			return false
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		return true
	}
	w.Header().Add("Vary", "Origin")
	if origin == "" || !slices.Contains(p.origins, strings.ToLower(origin)) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	return true
}

// wrap adds the CORS headers to the answers of f.
func (p corsPolicy) wrap(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p.allowOrigin(w, r) {
			w.Header().Set("Access-Control-Expose-Headers", corsExposedHeaders)
		}
		f(w, r)
	}
}

// preflight answers OPTIONS: 204 with Allow, and, for an allowed origin,
// the methods and headers a cross-origin request may use.
func (p corsPolicy) preflight(methods []string) http.HandlerFunc {
	allow := strings.Join(append(slices.Clone(methods), http.MethodOptions), ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		if p.allowOrigin(w, r) && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
			w.Header().Set("Access-Control-Allow-Headers", corsRequestHeaders)
			w.Header().Set("Access-Control-Max-Age", "600")
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	}
}
