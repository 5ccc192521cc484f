package cli

import (
	"net/http"
	"strings"
	"testing"
)

// serve --access-token-format jwt publishes jwks_uri and serves the JWK Set
// there; the default, opaque, publishes none.
func TestServeAccessTokenFormat(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--db", dbIn(t), "--access-token-format", "jwt")
	m := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	wantStatus(t, "metadata", m, http.StatusOK)
	if got := m.json(t)["jwks_uri"]; got != s.issuer+"/jwks.json" {
		t.Fatalf("jwks_uri = %v, want %s/jwks.json", got, s.issuer)
	}
	r := do(t, http.MethodGet, s.issuer+"/jwks.json", "", "")
	wantStatus(t, "jwks", r, http.StatusOK)
	if !strings.Contains(string(r.body), `"alg":"RS256"`) {
		t.Errorf("JWKS %s: want an RS256 key", r.body)
	}

	o := startServer(t, nil, "--db", dbIn(t))
	m = do(t, http.MethodGet, o.issuer+"/.well-known/oauth-authorization-server", "", "")
	if _, ok := m.json(t)["jwks_uri"]; ok {
		t.Errorf("opaque tokens: jwks_uri published")
	}
	if code, _, _ := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--access-token-format", "paseto"); code == 0 {
		t.Error("--access-token-format paseto accepted")
	}
}
