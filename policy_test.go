package clientreg_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/clientreg/clientreg"
)

// partnerPolicy is the policy most tests register under.
var partnerPolicy = clientreg.Policy{
	Name:                 "partner",
	AllowedScopes:        []string{"read", "write"},
	DefaultScopes:        []string{"read"},
	AllowedGrantTypes:    []string{"authorization_code"},
	AllowedAuthMethods:   []string{"private_key_jwt", "none"},
	AllowedRedirectHosts: []string{"*.partner.example", "loopback"},
}

// withPolicies configures the policies and requires initial access tokens.
func withPolicies(ps ...clientreg.Policy) option {
	return func(c *clientreg.Config) {
		c.Policies = ps
		c.RequireInitialToken = true
	}
}

// iat creates an initial access token with the given policy and uses.
func (e *testEnv) iat(policy string, uses int64) string {
	e.t.Helper()
	tok, _, err := e.h.CreateInitialToken(e.t.Context(), clientreg.InitialTokenOptions{MaxUses: uses, Policy: policy})
	if err != nil {
		e.t.Fatalf("CreateInitialToken(%q): %v", policy, err)
	}
	return tok
}

// A policy attached to an initial access token narrows scopes, grant types,
// auth methods and redirect hosts at registration, applies its defaults,
// and keeps applying to the client's later updates.
func TestPolicyOnInitialToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withPolicies(partnerPolicy))
		tok := e.iat("partner", 0)
		open := e.iat("", 0)
		ok := obj{"redirect_uris": []string{"https://app.partner.example/cb"}, "token_endpoint_auth_method": "none"}

		// Defaults come from the policy.
		c := e.registerWith(body(ok), bearer(tok))
		if got := c.res.mustStr(t, "scope"); got != "read" {
			t.Errorf("scope = %q, want the policy's default %q", got, "read")
		}
		if got := e.stored(c.ID).Policy; got != "partner" {
			t.Errorf("stored Policy = %q, want partner", got)
		}
		// Without a method, the first method the policy allows.
		noMethod := e.registerWith(body(obj{"redirect_uris": []string{"https://app.partner.example/cb"},
			"jwks": jwkSet(ecJWK(t))}), bearer(tok))
		if got := noMethod.res.mustStr(t, "token_endpoint_auth_method"); got != "private_key_jwt" {
			t.Errorf("token_endpoint_auth_method = %q, want private_key_jwt", got)
		}

		bad := []struct {
			name   string
			extra  obj
			code   string
			phrase string
		}{
			{"scope outside the policy", obj{"scope": "read admin"}, "invalid_client_metadata", "admin"},
			{"grant type outside the policy", obj{"grant_types": []string{"authorization_code", "refresh_token"}}, "invalid_client_metadata", "/grant_types/1"},
			{"auth method outside the policy", obj{"token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata", "client_secret_basic"},
			{"redirect host outside the policy", obj{"redirect_uris": []string{"https://partner.example/cb"}}, "invalid_redirect_uri", "/redirect_uris/0"},
			{"look-alike host", obj{"redirect_uris": []string{"https://app.partner.example.evil.example/cb"}}, "invalid_redirect_uri", "/redirect_uris/0"},
			{"second redirect URI outside", obj{"redirect_uris": []string{"http://127.0.0.1:9999/cb", "https://x.example/cb"}}, "invalid_redirect_uri", "/redirect_uris/1"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				before := e.store.created()
				extra := obj{"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://app.partner.example/cb"}}
				for k, v := range tc.extra {
					extra[k] = v
				}
				desc := wantError(t, e.post(body(extra), bearer(tok)), http.StatusBadRequest, tc.code)
				if !strings.Contains(desc, tc.phrase) {
					t.Errorf("description %q does not name %q", desc, tc.phrase)
				}
				e.wantNothingStored(before)
				// The same request without the policy's token is fine.
				if r := e.post(body(extra), bearer(open)); r.status != http.StatusCreated {
					t.Errorf("without a policy: status %d: %s", r.status, r.body)
				}
			})
		}

		// The policy travels with the client: a PUT is held to it even
		// though it carries no initial access token.
		put := obj{"client_id": c.ID, "redirect_uris": []string{"https://app.partner.example/cb"}, "token_endpoint_auth_method": "none", "scope": "read admin"}
		r := e.put(c.URI, c.Token, js(map[string]any(put)))
		wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
		if got := e.stored(c.ID).Metadata.Scope; got != "read" {
			t.Errorf("a refused PUT changed scope to %q", got)
		}
		put["scope"] = "read write"
		r = e.put(c.URI, c.Token, js(map[string]any(put)))
		if r.status != http.StatusOK {
			t.Fatalf("PUT within the policy: %d %s", r.status, r.body)
		}
		// Omitting scope on update gives the policy's default again.
		delete(put, "scope")
		r = e.put(c.URI, r.mustStr(t, "registration_access_token"), js(map[string]any(put)))
		if r.status != http.StatusOK || r.mustStr(t, "scope") != "read" {
			t.Fatalf("PUT without scope: %d %s", r.status, r.body)
		}
	})
}

// ecJWK returns a public EC JWK as a map.
func ecJWK(t *testing.T) map[string]any {
	t.Helper()
	si := newStatementIssuer(t, "unused")
	raw, err := si.keys().Keys[0].MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Redirect schemes, the redirect preset and the same-host rule of RFC 7591
// §5 come from the policy.
func TestPolicyRedirectRulesAndSameHost(t *testing.T) {
	strict := clientreg.Policy{
		Name:                   "strict",
		RedirectPreset:         clientreg.PresetWeb,
		AllowedRedirectSchemes: []string{"https"},
		SameHostURIs:           true,
	}
	e := newEnv(t, memoryBackend, withPolicies(strict))
	tok := e.iat("strict", 0)
	cases := []struct {
		name  string
		extra obj
		code  string // "" for success
		ptr   string
	}{
		{"same host", obj{"client_uri": "https://app.example/", "logo_uri": "https://app.example/logo.png", "tos_uri": "https://app.example/tos", "policy_uri": "https://app.example/privacy"}, "", ""},
		{"logo elsewhere", obj{"logo_uri": "https://cdn.example/logo.png"}, "invalid_client_metadata", "/logo_uri: "},
		{"client_uri other scheme", obj{"client_uri": "http://app.example/"}, "invalid_client_metadata", "/client_uri: "},
		{"localized tos elsewhere", obj{"tos_uri#fr": "https://fr.example/tos"}, "invalid_client_metadata", "/tos_uri#fr: "},
		{"private-use scheme", obj{"redirect_uris": []string{"cursor://cb"}}, "invalid_redirect_uri", "/redirect_uris/0"},
		{"loopback http", obj{"redirect_uris": []string{"http://127.0.0.1:3000/cb"}}, "invalid_redirect_uri", "/redirect_uris/0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(body(tc.extra), bearer(tok))
			if tc.code == "" {
				if r.status != http.StatusCreated {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				return
			}
			desc := wantError(t, r, http.StatusBadRequest, tc.code)
			if !strings.HasPrefix(desc, tc.ptr) {
				t.Errorf("description %q does not start with %q", desc, tc.ptr)
			}
		})
	}
}

// MaxClients is exact under parallel registration, a refused registration
// spends no use of its initial access token, and a deleted client frees its
// place.
func TestPolicyMaxClientsParallel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		const limit, tries = 5, 24
		e := newEnv(t, b, withPolicies(clientreg.Policy{Name: "capped", MaxClients: limit}, clientreg.Policy{Name: "other"}))
		tok := e.iat("capped", 0)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created []*response
			refused int
		)
		for range tries {
			wg.Go(func() {
				r := e.post(body(nil), bearer(tok))
				mu.Lock()
				defer mu.Unlock()
				switch r.status {
				case http.StatusCreated:
					created = append(created, r)
				case http.StatusForbidden:
					refused++
				default:
					t.Errorf("status %d: %s", r.status, r.body)
				}
			})
		}
		wg.Wait()
		if len(created) != limit || refused != tries-limit {
			t.Fatalf("%d created, %d refused; want %d and %d", len(created), refused, limit, tries-limit)
		}
		r := e.post(body(nil), bearer(tok))
		if desc := wantError(t, r, http.StatusForbidden, "access_denied"); !strings.Contains(desc, "capped") {
			t.Errorf("description %q does not name the policy", desc)
		}
		// Another policy, and no policy, are not counted.
		e.registerWith(body(nil), bearer(e.iat("other", 0)))
		e.registerWith(body(nil), bearer(e.iat("", 0)))

		// A token good for one use, refused by the limit, is not spent.
		once := e.iat("capped", 1)
		wantError(t, e.post(body(nil), bearer(once)), http.StatusForbidden, "access_denied")
		first := created[0]
		if r := e.del(first.mustStr(t, "registration_client_uri"), first.mustStr(t, "registration_access_token")); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		e.registerWith(body(nil), bearer(once))
		wantInvalidToken(t, e.post(body(nil), bearer(once)))
	})
}

// A trusted issuer's policy applies to registrations carrying its
// statements; an initial access token's policy wins over it; the default
// policy applies to the rest.
func TestPolicyFromIssuerAndDefault(t *testing.T) {
	partner := newStatementIssuer(t, "https://partner.example")
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) {
		c.Policies = []clientreg.Policy{
			{Name: "partner", AllowedScopes: []string{"partner.read"}},
			{Name: "public", AllowedScopes: []string{"public.read"}, DefaultScopes: []string{"public.read"}},
			{Name: "iat", AllowedScopes: []string{"iat.read"}},
		}
		c.DefaultPolicy = "public"
		c.TrustedIssuers = []clientreg.TrustedIssuer{{Issuer: partner.iss, Keys: partner.keys(), Policy: "partner"}}
	}))
	stmt := partner.sign(t, map[string]any{"software_id": "p1", "scope": "partner.read"})

	c := e.register(body(obj{"software_statement": stmt}))
	if got := e.stored(c.ID).Policy; got != "partner" {
		t.Errorf("statement registration: Policy %q, want partner", got)
	}
	wantError(t, e.post(body(obj{"scope": "partner.read"}), ""), http.StatusBadRequest, "invalid_client_metadata")
	d := e.register(body(nil))
	if got := e.stored(d.ID).Policy; got != "public" || d.res.mustStr(t, "scope") != "public.read" {
		t.Errorf("open registration: Policy %q scope %q, want the default policy", got, d.res.mustStr(t, "scope"))
	}

	// The policy stays the registration's on update, even when the PUT
	// drops the statement's scope claim by sending a body scope.
	r := e.put(c.URI, c.Token, js(map[string]any{"client_id": c.ID, "redirect_uris": []string{testRedirect}, "scope": "public.read"}))
	// The kept statement's claims take precedence: scope stays partner.read.
	if r.status != http.StatusOK || r.mustStr(t, "scope") != "partner.read" {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
}

// The initial access token's policy takes precedence over the issuer's.
func TestPolicyInitialTokenBeatsIssuer(t *testing.T) {
	partner := newStatementIssuer(t, "https://partner.example")
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) {
		c.RequireInitialToken = true
		c.Policies = []clientreg.Policy{{Name: "partner"}, {Name: "iat", AllowedScopes: []string{"iat.read"}}}
		c.TrustedIssuers = []clientreg.TrustedIssuer{{Issuer: partner.iss, Keys: partner.keys(), Policy: "partner"}}
	}))
	stmt := partner.sign(t, map[string]any{"software_id": "p1", "scope": "other"})
	r := e.post(body(obj{"software_statement": stmt}), bearer(e.iat("iat", 0)))
	wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
	c := e.registerWith(body(obj{"software_statement": stmt}), bearer(e.iat("", 0)))
	if got := e.stored(c.ID).Policy; got != "partner" {
		t.Errorf("Policy %q, want partner", got)
	}
}

// A client whose policy is no longer configured cannot be updated (fail
// closed), and a token naming a removed policy cannot register.
func TestPolicyRemovedFailsClosed(t *testing.T) {
	st := memoryBackend.open(t)
	e := newEnvWithStore(t, st, withPolicies(clientreg.Policy{Name: "gone"}))
	tok := e.iat("gone", 0)
	c := e.registerWith(body(nil), bearer(tok))

	e2 := newEnvWithStore(t, st, withConfig(func(c *clientreg.Config) { c.RequireInitialToken = true }))
	before := e2.stored(c.ID).Revision
	wantError(t, e2.put(strings.Replace(c.URI, e.iss, e2.iss, 1), c.Token, js(map[string]any{"client_id": c.ID, "redirect_uris": []string{testRedirect}})), http.StatusForbidden, "access_denied")
	if got := e2.stored(c.ID).Revision; got != before {
		t.Errorf("a refused PUT changed the revision %d -> %d", before, got)
	}
	if r := e2.get(strings.Replace(c.URI, e.iss, e2.iss, 1), c.Token); r.status != http.StatusOK {
		t.Errorf("read of the client: %d %s", r.status, r.body)
	}
	wantError(t, e2.post(body(nil), bearer(tok)), http.StatusForbidden, "access_denied")
}

// Dry runs apply the policy too.
func TestPolicyDryRun(t *testing.T) {
	e := newEnv(t, memoryBackend, withPolicies(partnerPolicy))
	tok := e.iat("partner", 1)
	r := e.do(http.MethodPost, e.registrationEndpoint()+"?dry_run=true", strings.NewReader(body(obj{"token_endpoint_auth_method": "none"})), "application/json", bearer(tok))
	wantError(t, r, http.StatusBadRequest, "invalid_redirect_uri")
	r = e.do(http.MethodPost, e.registrationEndpoint()+"?dry_run=true", strings.NewReader(body(obj{"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://a.partner.example/cb"}})), "application/json", bearer(tok))
	if r.status != http.StatusOK || r.mustStr(t, "scope") != "read" {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	// The dry run did not spend the single use.
	e.registerWith(body(obj{"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://a.partner.example/cb"}}), bearer(tok))
}

// New refuses policies that contradict themselves or the server, and
// references to policies that do not exist.
func TestPolicyConfigErrors(t *testing.T) {
	base := func() clientreg.Config {
		return clientreg.Config{Issuer: "https://as.example", Store: memoryBackend.open(t), SecretKey: testKey}
	}
	cases := map[string]func(*clientreg.Config){
		"no name": func(c *clientreg.Config) { c.Policies = []clientreg.Policy{{}} },
		"twice":   func(c *clientreg.Config) { c.Policies = []clientreg.Policy{{Name: "a"}, {Name: "a"}} },
		"default scope not allowed": func(c *clientreg.Config) {
			c.Policies = []clientreg.Policy{{Name: "a", AllowedScopes: []string{"x"}, DefaultScopes: []string{"y"}}}
		},
		"unsupported grant type": func(c *clientreg.Config) {
			c.Policies = []clientreg.Policy{{Name: "a", AllowedGrantTypes: []string{"password"}}}
		},
		"unsupported scope": func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"x"}}
			c.Policies = []clientreg.Policy{{Name: "a", AllowedScopes: []string{"y"}}}
		},
		"empty allow-list": func(c *clientreg.Config) {
			c.Policies = []clientreg.Policy{{Name: "a", AllowedAuthMethods: []string{}}}
		},
		"bad preset":   func(c *clientreg.Config) { c.Policies = []clientreg.Policy{{Name: "a", RedirectPreset: "lax"}} },
		"negative max": func(c *clientreg.Config) { c.Policies = []clientreg.Policy{{Name: "a", MaxClients: -1}} },
		"bad host pattern": func(c *clientreg.Config) {
			c.Policies = []clientreg.Policy{{Name: "a", AllowedRedirectHosts: []string{"https://x"}}}
		},
		"unknown default": func(c *clientreg.Config) { c.DefaultPolicy = "missing" },
		"issuer names none": func(c *clientreg.Config) {
			si := newStatementIssuer(t, "https://i.example")
			c.TrustedIssuers = []clientreg.TrustedIssuer{{Issuer: si.iss, Keys: si.keys(), Policy: "missing"}}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := base()
			mutate(&cfg)
			if _, err := clientreg.New(cfg); err == nil {
				t.Fatal("New accepted the configuration")
			}
		})
	}
	h, err := clientreg.New(base())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.CreateInitialToken(t.Context(), clientreg.InitialTokenOptions{Policy: "missing"}); err == nil {
		t.Error("CreateInitialToken accepted an unknown policy")
	}
}
