package clientreg_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// docs/behaviour.md §1: discovery (RFC 8414).

// TestDiscoveryDocument proves that GET /.well-known/oauth-authorization-server
// returns JSON with issuer, an absolute registration_endpoint and the
// REQUIRED response_types_supported, and no endpoint that does not exist.
func TestDiscoveryDocument(t *testing.T) {
	e := newEnv(t, memoryBackend)
	r := e.do(http.MethodGet, e.srv.URL+"/.well-known/oauth-authorization-server", nil, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, jsonType) {
		t.Errorf("Content-Type = %q, want %s", ct, jsonType)
	}
	if got := r.mustStr(t, "issuer"); got != e.iss {
		t.Errorf("issuer = %q, want %q", got, e.iss)
	}
	reg := r.mustStr(t, "registration_endpoint")
	u, err := url.Parse(reg)
	if err != nil || !u.IsAbs() || u.Host == "" {
		t.Errorf("registration_endpoint %q is not an absolute URL", reg)
	}
	if !strings.HasPrefix(reg, e.iss+"/") {
		t.Errorf("registration_endpoint %q is not under the issuer %q", reg, e.iss)
	}
	if rts := r.strs(t, "response_types_supported"); !slices.Contains(rts, "code") {
		t.Errorf("response_types_supported = %q, want it to contain code", rts)
	}
	for _, name := range []string{"grant_types_supported", "token_endpoint_auth_methods_supported"} {
		if len(r.strs(t, name)) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	// Endpoints clientreg does not serve are not advertised (docs/behaviour.md §1: they
	// appear once they exist).
	for _, name := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"} {
		if r.has(t, name) {
			t.Errorf("metadata advertises %s, which this server does not serve", name)
		}
	}
	// The registration endpoint it names is the one that registers.
	c := e.register(body(nil))
	if !strings.HasPrefix(c.URI, reg+"/") {
		t.Errorf("registration_client_uri %q is not under %q", c.URI, reg)
	}
}

// TestDiscoveryCustomRegistrationEndpoint proves that a configured
// registration endpoint is the one advertised and the one served.
func TestDiscoveryCustomRegistrationEndpoint(t *testing.T) {
	var reg string
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) {
		reg = c.Issuer + "/connect/register"
		c.RegistrationEndpoint = reg
	}))
	if got := e.registrationEndpoint(); got != reg {
		t.Fatalf("registration_endpoint = %q, want %q", got, reg)
	}
	c := e.register(body(nil))
	if !strings.HasPrefix(c.URI, reg+"/") {
		t.Errorf("registration_client_uri %q is not under %q", c.URI, reg)
	}
	e.mustGet(c, c.Token)
	if r := e.do(http.MethodPost, e.srv.URL+"/register", strings.NewReader(body(nil)), jsonType, ""); r.status == http.StatusCreated {
		t.Errorf("the default path registers though another endpoint is configured")
	}
}

// candidate values for the *_supported lists, supported or not.
var (
	candidateGrantTypes = []string{"authorization_code", "implicit", "refresh_token", "client_credentials", "password",
		"urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"}
	candidateAuthMethods = []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt",
		"none", "tls_client_auth", "self_signed_tls_client_auth"}
	candidateResponseTypes = []string{"code", "token", "id_token", "code token", "code id_token", "id_token token", "code id_token token"}
	candidateScopes        = []string{"openid", "profile", "email", "admin", "offline_access"}
)

// grantsFor returns the grant types a response type value needs.
func grantsFor(rt string) []string {
	var g []string
	for _, w := range strings.Fields(rt) {
		switch w {
		case "code":
			g = append(g, "authorization_code")
		case "token", "id_token":
			if !slices.Contains(g, "implicit") {
				g = append(g, "implicit")
			}
		}
	}
	return g
}

// containsResponseType reports whether list holds rt, word order ignored.
func containsResponseType(list []string, rt string) bool {
	norm := func(s string) string { w := strings.Fields(s); slices.Sort(w); return strings.Join(w, " ") }
	return slices.ContainsFunc(list, func(s string) bool { return norm(s) == norm(rt) })
}

// checkAdvertisedIsEnforced registers a client with every candidate value
// of the grant type, auth method, response type and scope lists and proves
// that exactly the values the metadata document advertises are accepted.
func checkAdvertisedIsEnforced(t *testing.T, e *testEnv) {
	t.Helper()
	doc := e.metadata()
	grants := doc.strs(t, "grant_types_supported")
	methods := doc.strs(t, "token_endpoint_auth_methods_supported")
	rtypes := doc.strs(t, "response_types_supported")
	var scopes []string
	if doc.has(t, "scopes_supported") {
		scopes = doc.strs(t, "scopes_supported")
	}
	try := func(what string, b string, want bool) {
		t.Helper()
		before := e.store.created()
		r := e.post(b, "")
		switch {
		case want && r.status != http.StatusCreated:
			t.Errorf("%s advertised but rejected: %d %s", what, r.status, r.body)
		case !want:
			wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
			e.wantNothingStored(before)
		}
	}
	for _, g := range candidateGrantTypes {
		m := obj{"grant_types": []string{g}, "response_types": []string{}}
		switch g {
		case "authorization_code":
			m["response_types"] = []string{"code"}
		case "implicit":
			m["response_types"] = []string{"token"}
		}
		want := slices.Contains(grants, g) && (g != "implicit" || containsResponseType(rtypes, "token")) &&
			(g != "authorization_code" || containsResponseType(rtypes, "code"))
		try("grant type "+g, body(m), want)
	}
	for _, am := range candidateAuthMethods {
		m := obj{"token_endpoint_auth_method": am, "jwks_uri": "https://app.example/jwks.json"}
		try("auth method "+am, body(m), slices.Contains(methods, am))
	}
	for _, rt := range candidateResponseTypes {
		need := grantsFor(rt)
		want := containsResponseType(rtypes, rt)
		for _, g := range need {
			want = want && slices.Contains(grants, g)
		}
		try("response type "+rt, body(obj{"response_types": []string{rt}, "grant_types": need}), want)
	}
	for _, s := range candidateScopes {
		try("scope "+s, body(obj{"scope": s}), scopes == nil || slices.Contains(scopes, s))
	}
}

// TestDiscoveryAdvertisedIsEnforced proves that what the metadata document
// advertises is exactly what registration accepts, for the default lists
// and for lists configured through Config.Metadata: changing the
// configuration changes the document and the enforcement together.
func TestDiscoveryAdvertisedIsEnforced(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		e := newEnv(t, memoryBackend)
		doc := e.metadata()
		if slices.Contains(doc.strs(t, "grant_types_supported"), "implicit") {
			t.Errorf("implicit is advertised by default")
		}
		if doc.has(t, "scopes_supported") {
			t.Errorf("scopes_supported advertised though any scope is accepted: %s", doc.body)
		}
		checkAdvertisedIsEnforced(t, e)
	})
	t.Run("configured", func(t *testing.T) {
		e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{
				ScopesSupported:                   []string{"openid", "profile"},
				GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
				TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "none"},
			}
		}))
		doc := e.metadata()
		for name, want := range map[string][]string{
			"scopes_supported":                      {"openid", "profile"},
			"grant_types_supported":                 {"authorization_code", "refresh_token"},
			"token_endpoint_auth_methods_supported": {"client_secret_post", "none"},
			"response_types_supported":              {"code"},
		} {
			if got := doc.strs(t, name); !slices.Equal(got, want) {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		checkAdvertisedIsEnforced(t, e)
		// The default auth method client_secret_basic is not supported: the
		// server substitutes the first supported one (RFC 7591 §3.2.1).
		c := e.register(body(nil))
		if got := c.res.mustStr(t, "token_endpoint_auth_method"); got != "client_secret_post" {
			t.Errorf("default token_endpoint_auth_method = %q, want client_secret_post", got)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{
				GrantTypesSupported:    []string{"authorization_code", "implicit"},
				ResponseTypesSupported: []string{"code", "token", "code id_token"},
			}
		}))
		checkAdvertisedIsEnforced(t, e)
	})
}

// TestDiscoveryIssuerWithPath proves RFC 8414 §3.1 path insertion: an issuer
// http://host/tenant1 publishes its metadata at
// /.well-known/oauth-authorization-server/tenant1, and its registration
// endpoint lies under the issuer path and works.
func TestDiscoveryIssuerWithPath(t *testing.T) {
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) { c.Issuer += "/tenant1" }))
	base := e.srv.URL
	r := e.do(http.MethodGet, base+"/.well-known/oauth-authorization-server/tenant1", nil, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("path-inserted metadata: status %d: %s", r.status, r.body)
	}
	if got := r.mustStr(t, "issuer"); got != base+"/tenant1" {
		t.Errorf("issuer = %q, want %q", got, base+"/tenant1")
	}
	reg := r.mustStr(t, "registration_endpoint")
	if !strings.HasPrefix(reg, base+"/tenant1/") {
		t.Errorf("registration_endpoint %q is not under the issuer path", reg)
	}
	// The path-appended form (OpenID Connect style) and the root document
	// are not this issuer's metadata.
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/tenant1/.well-known/oauth-authorization-server"} {
		if r := e.do(http.MethodGet, base+p, nil, "", ""); r.status == http.StatusOK {
			t.Errorf("GET %s = 200; only the path-inserted form identifies the issuer", p)
		}
	}
	c := e.register(body(nil))
	if !strings.HasPrefix(c.URI, reg+"/") {
		t.Errorf("registration_client_uri %q is not under %q", c.URI, reg)
	}
	e.mustGet(c, c.Token)
}

// TestDiscoveryOperatorMembers proves that members describing things outside
// clientreg are published exactly as the operator set them, while issuer and
// registration_endpoint always come from the handler's configuration.
func TestDiscoveryOperatorMembers(t *testing.T) {
	sm := &clientreg.ServerMetadata{
		Issuer:                                 "https://not-the-issuer.example",
		RegistrationEndpoint:                   "https://not-the-endpoint.example/reg",
		AuthorizationEndpoint:                  "https://as.example/authorize",
		TokenEndpoint:                          "https://as.example/token",
		RevocationEndpoint:                     "https://as.example/revoke",
		IntrospectionEndpoint:                  "https://as.example/introspect",
		JWKSURI:                                "https://as.example/jwks",
		ServiceDocumentation:                   "https://as.example/docs",
		OPPolicyURI:                            "https://as.example/policy",
		OPTOSURI:                               "https://as.example/tos",
		UILocalesSupported:                     []string{"en-US", "fr"},
		ResponseModesSupported:                 []string{"query", "fragment"},
		CodeChallengeMethodsSupported:          []string{"S256"},
		RevocationEndpointAuthMethodsSupported: []string{"client_secret_basic"},
		IntrospectionEndpointAuthSigningAlgValuesSupported: []string{"RS256"},
	}
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) { c.Metadata = sm }))
	doc := e.metadata()
	strMembers := map[string]string{
		"authorization_endpoint": sm.AuthorizationEndpoint,
		"token_endpoint":         sm.TokenEndpoint,
		"revocation_endpoint":    sm.RevocationEndpoint,
		"introspection_endpoint": sm.IntrospectionEndpoint,
		"jwks_uri":               sm.JWKSURI,
		"service_documentation":  sm.ServiceDocumentation,
		"op_policy_uri":          sm.OPPolicyURI,
		"op_tos_uri":             sm.OPTOSURI,
		"issuer":                 e.iss,
		"registration_endpoint":  e.iss + "/register",
	}
	for name, want := range strMembers {
		if got := doc.mustStr(t, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	listMembers := map[string][]string{
		"ui_locales_supported":                                     sm.UILocalesSupported,
		"response_modes_supported":                                 sm.ResponseModesSupported,
		"code_challenge_methods_supported":                         sm.CodeChallengeMethodsSupported,
		"revocation_endpoint_auth_methods_supported":               sm.RevocationEndpointAuthMethodsSupported,
		"introspection_endpoint_auth_signing_alg_values_supported": sm.IntrospectionEndpointAuthSigningAlgValuesSupported,
	}
	for name, want := range listMembers {
		if got := doc.strs(t, name); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// The registration endpoint published is the one served.
	e.register(body(nil))
}
