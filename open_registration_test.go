package clientreg_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// Open registration honours a presented initial access token: its policy
// applies (here a wider one than the default policy), its use counts, and
// a bad or used-up one is refused with 401 and stores nothing; a request
// without one gets the default policy (docs/behaviour.md §2; issue 16 §4).
func TestOpenRegistrationHonoursTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"read", "write", "admin"}}
			c.Policies = []clientreg.Policy{
				{Name: "anonymous", AllowedScopes: []string{"read"}},
				{Name: "partner", AllowedScopes: []string{"read", "write", "admin"}},
			}
			c.DefaultPolicy = "anonymous"
		}))
		partner := e.initialToken(clientreg.InitialTokenOptions{MaxUses: 1, Policy: "partner"})
		wide := body(obj{"scope": "read admin"})

		// Anonymous: the default policy refuses admin.
		r := e.post(wide, "")
		wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
		if d := r.str("error_description"); !strings.Contains(d, "anonymous") {
			t.Errorf("the refusal does not name the policy: %s", d)
		}
		// With the partner's token: its wider policy applies.
		c := e.registerWith(wide, "Bearer "+partner)
		if got := e.mustGet(c, c.Token).str("scope"); got != "read admin" {
			t.Errorf("scope under the token's policy = %q", got)
		}
		// Its use counted: a token good for one registration is used up.
		wantInvalidToken(t, e.post(wide, "Bearer "+partner))
		wantInvalidToken(t, e.post(body(nil), "Bearer garbage"))
		if n := e.store.created(); n != 1 {
			t.Errorf("%d clients stored, want 1", n)
		}
		// Without a token the default policy still lets a narrow client in.
		e.register(body(obj{"scope": "read"}))
	})
}

// With AnonymousPublicClientsOnly, registrations without an initial access
// token are public clients: none is their default and secret-based methods
// are refused, also on their later updates; a token-holding registration
// may still be confidential.
func TestAnonymousPublicClientsOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(withCodeFlow), withConfig(func(c *clientreg.Config) {
			c.ServeTokenEndpoints = true
			c.AnonymousPublicClientsOnly = true
		}))
		anon := e.register(body(nil))
		info := e.mustGet(anon, anon.Token)
		if got := info.str("token_endpoint_auth_method"); got != "none" || info.has(t, "client_secret") || anon.Secret != "" {
			t.Fatalf("anonymous registration: method %q, secret %q; want a public client", got, anon.Secret)
		}
		wantError(t, e.post(body(obj{"token_endpoint_auth_method": "client_secret_basic"}), ""), http.StatusBadRequest, "invalid_client_metadata")
		// The restriction stays with the client.
		r := e.put(anon.URI, anon.Token, updateBody(anon, obj{"token_endpoint_auth_method": "client_secret_post"}))
		wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")

		tok := e.initialToken(clientreg.InitialTokenOptions{})
		conf := e.registerWith(body(obj{"token_endpoint_auth_method": "client_secret_basic"}), "Bearer "+tok)
		if conf.Secret == "" {
			t.Error("a registration with an initial access token got no secret")
		}
	})
}

// AnonymousPublicClientsOnly and a default policy do not add up, and the
// built-in policy's name is reserved.
func TestAnonymousPublicClientsOnlyConfig(t *testing.T) {
	base := clientreg.Config{Issuer: "https://as.test", AnonymousPublicClientsOnly: true}
	if err := base.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c := base
	c.Policies, c.DefaultPolicy = []clientreg.Policy{{Name: "p"}}, "p"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("with a default policy: %v", err)
	}
	c = base
	c.Policies = []clientreg.Policy{{Name: clientreg.AnonymousPublicPolicy}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("with the reserved name: %v", err)
	}
}
