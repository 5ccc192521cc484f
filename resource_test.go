package clientreg_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/resource"
)

// Package resource through HTTP (docs/behaviour.md §13): an MCP-like
// server at <issuer>/mcp beside the authorization server, guarded by the
// middleware with the in-process verifier (the Handler) or the remote one
// (an Introspector asking the env's /introspect).

// withResource serves rs's metadata and, at /mcp and /mcp-admin, the
// resource guarded by rs's middleware (the scopes read, and admin), in
// front of the env's handler. The resource answers the verified token's
// subject and client.
func (e *authzEnv) withResource(v resource.Verifier) *resource.Server {
	e.t.Helper()
	rs, err := resource.New(resource.Config{
		Resource:             e.mcpResource(),
		AuthorizationServers: []string{e.h.Issuer()},
		ScopesSupported:      []string{"read", "write"},
		ResourceName:         "Test MCP",
		Verifier:             v,
		Logger:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := resource.TokenFromContext(r.Context())
		io.WriteString(w, t.Subject+" via "+t.ClientID)
	})
	mux := http.NewServeMux()
	for _, p := range rs.MetadataPaths() {
		mux.Handle(p, rs.MetadataHandler())
	}
	mux.Handle("/mcp", rs.Middleware("read")(whoami))
	mux.Handle("/mcp-admin", rs.Middleware("read", "admin")(whoami))
	mux.Handle("/", e.srv.Config.Handler)
	e.srv.Config.Handler = mux
	return rs
}

// call sends GET path with the bearer token (none when ""; auth sets the
// Authorization header as is).
func (e *authzEnv) call(path, tok string) *response {
	e.t.Helper()
	auth := ""
	if tok != "" {
		auth = "Bearer " + tok
	}
	return e.do(http.MethodGet, e.iss+path, nil, "", auth)
}

// challenge returns the parameters of the response's Bearer challenge.
func challenge(t *testing.T, r *response) map[string]string {
	t.Helper()
	h := r.header.Values("WWW-Authenticate")
	if len(h) != 1 || !strings.HasPrefix(h[0], "Bearer ") {
		t.Fatalf("WWW-Authenticate = %q, want one Bearer challenge (status %d %s)", h, r.status, r.body)
	}
	params := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(h[0], "Bearer "), ", ") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			t.Fatalf("challenge parameter %q is not a quoted string", p)
		}
		params[k] = v[1 : len(v)-1]
	}
	return params
}

// wantRefused asserts a refusal with status, error code (none for "") and
// a challenge naming the metadata document and the scope.
func wantRefused(t *testing.T, rs *resource.Server, r *response, status int, code, scope string) map[string]string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d %s, want %d", r.status, r.body, status)
	}
	c := challenge(t, r)
	if c["resource_metadata"] != rs.MetadataURL() || c["error"] != code || c["scope"] != scope {
		t.Errorf("challenge %v, want error %q, scope %q, resource_metadata %q", c, code, scope, rs.MetadataURL())
	}
	if code != "" && r.str("error") != code {
		t.Errorf("body %s, want error %s", r.body, code)
	}
	return c
}

func TestResourceMetadata(t *testing.T) {
	e := newGrantEnv(t, memoryBackend, nil)
	rs := e.withResource(e.h)
	if want := e.iss + "/.well-known/oauth-protected-resource/mcp"; rs.MetadataURL() != want {
		t.Fatalf("MetadataURL = %s, want %s (RFC 9728 section 3.1)", rs.MetadataURL(), want)
	}
	// The 401 challenge names the document; the document names the
	// authorization server; the server's metadata is found from there.
	c := wantRefused(t, rs, e.call("/mcp", ""), 401, "", "read")
	for _, u := range []string{c["resource_metadata"], e.iss + "/.well-known/oauth-protected-resource"} {
		r := e.do(http.MethodGet, u, nil, "", "")
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET %s: %d %v %s", u, r.status, r.header, r.body)
		}
		var m resource.Metadata
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatal(err)
		}
		if m.Resource != e.mcpResource() || len(m.AuthorizationServers) != 1 || m.AuthorizationServers[0] != e.iss ||
			strings.Join(m.BearerMethodsSupported, ",") != "header" || strings.Join(m.ScopesSupported, " ") != "read write" || m.ResourceName != "Test MCP" {
			t.Errorf("metadata %s", r.body)
		}
	}
	if r := e.metadata(); r.status != 200 || r.str("issuer") != e.iss {
		t.Errorf("the authorization server's metadata: %d %s", r.status, r.body)
	}
	if r := e.do(http.MethodPost, rs.MetadataURL(), nil, "", ""); r.status != 405 || r.header.Get("Allow") == "" {
		t.Errorf("POST metadata: %d %v", r.status, r.header)
	}
	if r := e.do(http.MethodOptions, rs.MetadataURL(), nil, "", ""); r.status != 204 {
		t.Errorf("OPTIONS metadata: %d", r.status)
	}

	for _, bad := range []resource.Config{
		{Resource: "mcp.example/mcp", AuthorizationServers: []string{e.iss}, Verifier: e.h},
		{Resource: "https://mcp.example/mcp#x", AuthorizationServers: []string{e.iss}, Verifier: e.h},
		{Resource: "https://mcp.example/mcp?q=1", AuthorizationServers: []string{e.iss}, Verifier: e.h},
		{Resource: "https://mcp.example/mcp", Verifier: e.h},
		{Resource: "https://mcp.example/mcp", AuthorizationServers: []string{e.iss}},
		{Resource: "https://mcp.example/mcp", AuthorizationServers: []string{e.iss}, Verifier: e.h, ScopesSupported: []string{"a b"}},
	} {
		if _, err := resource.New(bad); err == nil {
			t.Errorf("resource.New(%+v) accepted", bad)
		}
	}
	// A resource without a path has only the bare well-known path.
	root, err := resource.New(resource.Config{Resource: "https://mcp.example", AuthorizationServers: []string{e.iss}, Verifier: e.h})
	if err != nil || root.MetadataURL() != "https://mcp.example/.well-known/oauth-protected-resource" || len(root.MetadataPaths()) != 1 {
		t.Errorf("root resource: %v %v %v", err, root.MetadataURL(), root.MetadataPaths())
	}
}

// The middleware with the in-process verifier: every refusal, then
// revocation and expiry.
func TestResourceMiddlewareLocal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		rs := e.withResource(e.h)
		pub := e.registerPublic(nil)
		tok := e.accessToken(pub, e.mcpResource())
		if r := e.call("/mcp", tok); r.status != 200 || string(r.body) != "ada via "+pub.creds.id {
			t.Fatalf("good token: %d %s", r.status, r.body)
		}
		// Scope refusal names the scopes needed.
		wantRefused(t, rs, e.call("/mcp-admin", tok), 403, "insufficient_scope", "read admin")
		// Audience: a token for another resource, and one without any.
		wantRefused(t, rs, e.call("/mcp", e.accessToken(pub, "https://other.example/mcp")), 401, "invalid_token", "read")
		wantRefused(t, rs, e.call("/mcp", e.accessToken(pub)), 401, "invalid_token", "read")
		wantRefused(t, rs, e.call("/mcp", "unknown-token"), 401, "invalid_token", "read")
		// Malformed credentials.
		for _, auth := range []string{"Bearer", "Bearer a b", "Bearer {x}"} {
			wantRefused(t, rs, e.do(http.MethodGet, e.iss+"/mcp", nil, "", auth), 400, "invalid_request", "read")
		}
		// Another scheme is no bearer token at all.
		wantRefused(t, rs, e.do(http.MethodGet, e.iss+"/mcp", nil, "", "Basic eDp5"), 401, "", "read")
		// The store failing: 503, no challenge.
		e.store.set("GetAccessToken", faultOutage)
		if r := e.call("/mcp", tok); r.status != 503 || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("store outage: %d %v", r.status, r.header)
		}
		e.store.set("GetAccessToken", faultNone)
		// Revoked (RFC 7009), then verified.
		tok2 := e.accessToken(pub, e.mcpResource())
		if rv := e.form("/revoke", pub.creds, url.Values{"token": {tok2}}); rv.status != 200 {
			t.Fatalf("revoke: %d", rv.status)
		}
		wantRefused(t, rs, e.call("/mcp", tok2), 401, "invalid_token", "read")
		// Expired, by the env's clock.
		e.clock.Add(clientreg.DefaultAccessTokenLifetime)
		c := wantRefused(t, rs, e.call("/mcp", tok), 401, "invalid_token", "read")
		if !strings.Contains(c["error_description"], "expired") {
			t.Errorf("expired: %v", c)
		}
	})
}

// countingTransport counts the requests it sends.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// The middleware with the remote verifier: RFC 7662 introspection of the
// env's server, with its cache.
func TestResourceMiddlewareRemote(t *testing.T) {
	e := newGrantEnv(t, memoryBackend, nil)
	introspector := e.resourceServer()
	counter := &countingTransport{next: e.srv.Client().Transport}
	remote, err := resource.NewIntrospector(resource.IntrospectorConfig{
		Endpoint: e.iss + "/introspect", ClientID: introspector.id, ClientSecret: introspector.secret,
		Issuer: e.iss, Client: &http.Client{Transport: counter}, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := e.withResource(remote)
	pub := e.registerPublic(nil)
	tok := e.accessToken(pub, e.mcpResource())

	// N requests within the TTL: one introspection.
	for range 5 {
		if r := e.call("/mcp", tok); r.status != 200 || string(r.body) != "ada via "+pub.creds.id {
			t.Fatalf("good token: %d %s", r.status, r.body)
		}
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("5 requests introspected %d times, want 1", n)
	}
	wantRefused(t, rs, e.call("/mcp-admin", tok), 403, "insufficient_scope", "read admin")
	if n := counter.n.Load(); n != 1 {
		t.Errorf("a scope refusal introspected again (%d)", n)
	}
	wantRefused(t, rs, e.call("/mcp", e.accessToken(pub, "https://other.example/mcp")), 401, "invalid_token", "read")
	wantRefused(t, rs, e.call("/mcp", "unknown-token"), 401, "invalid_token", "read")

	// Revocation is seen once the cached answer is older than the TTL.
	if rv := e.form("/revoke", pub.creds, url.Values{"token": {tok}}); rv.status != 200 {
		t.Fatalf("revoke: %d", rv.status)
	}
	if r := e.call("/mcp", tok); r.status != 200 {
		t.Errorf("revoked, within the TTL: %d (the cached answer is reused)", r.status)
	}
	e.clock.Add(resource.DefaultCacheTTL)
	before := counter.n.Load()
	wantRefused(t, rs, e.call("/mcp", tok), 401, "invalid_token", "read")
	if counter.n.Load() != before+1 {
		t.Errorf("after the TTL: %d introspections, want 1", counter.n.Load()-before)
	}

	// Expired: an answer is never kept past the token's exp, and an
	// expired token introspects inactive.
	tok2 := e.accessToken(pub, e.mcpResource())
	if r := e.call("/mcp", tok2); r.status != 200 {
		t.Fatalf("tok2: %d", r.status)
	}
	e.clock.Add(clientreg.DefaultAccessTokenLifetime)
	wantRefused(t, rs, e.call("/mcp", tok2), 401, "invalid_token", "read")

	// Failures of the introspection are 503 and never cached.
	bad, err := resource.NewIntrospector(resource.IntrospectorConfig{
		Endpoint: e.iss + "/introspect", ClientID: introspector.id, ClientSecret: "wrong",
		Client: &http.Client{Transport: counter}, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok3 := e.accessToken(pub, e.mcpResource())
	before = counter.n.Load()
	for range 2 {
		if _, err := bad.VerifyAccessToken(t.Context(), tok3, e.mcpResource()); err == nil || refused(err) {
			t.Errorf("bad introspector credentials: %v, want a failure that is no refusal", err)
		}
	}
	if counter.n.Load() != before+2 {
		t.Errorf("a failed introspection was cached")
	}
}

// The cache stays within CacheSize, and Off turns it off.
func TestIntrospectorCacheBounds(t *testing.T) {
	var calls atomic.Int64
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		r.ParseForm()
		json.NewEncoder(w).Encode(clientreg.Introspection{Active: true, Scope: "read", Aud: clientreg.Audience{"https://rs.example/"},
			Exp: time.Now().Add(time.Hour).Unix(), Sub: r.PostForm.Get("token")})
	}))
	defer as.Close()
	for _, tc := range []struct {
		size, ttl int
		want      int64
	}{{size: 2, want: 5}, {size: clientreg.Off, want: 6}, {ttl: clientreg.Off, want: 6}, {want: 3}} {
		calls.Store(0)
		v, err := resource.NewIntrospector(resource.IntrospectorConfig{Endpoint: as.URL, ClientID: "rs", ClientSecret: "s",
			CacheSize: tc.size, CacheTTL: time.Duration(tc.ttl)})
		if err != nil {
			t.Fatal(err)
		}
		// a, b, c, then c, a and b again: a cache of 2 has evicted some,
		// and kept c.
		for _, tok := range []string{"a", "b", "c", "c", "a", "b"} {
			info, err := v.VerifyAccessToken(t.Context(), tok, "https://rs.example/")
			if err != nil || info.Subject != tok {
				t.Fatalf("%s: %v %+v", tok, err, info)
			}
		}
		if got := calls.Load(); got < 3 || (tc.size == 2 && got > tc.want) || (tc.size != 2 && got != tc.want) {
			t.Errorf("size %d ttl %d: %d introspections, want %d", tc.size, tc.ttl, got, tc.want)
		}
	}
	if _, err := resource.NewIntrospector(resource.IntrospectorConfig{Endpoint: as.URL, ClientID: "rs", ClientSecret: "s", CacheTTL: -2}); err == nil {
		t.Error("CacheTTL -2 accepted")
	}
}
