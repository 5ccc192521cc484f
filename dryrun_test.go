package clientreg_test

import (
	"testing"

	"github.com/clientreg/clientreg"
)

// POST ?dry_run=true validates and answers with what would be registered,
// without credentials, and stores nothing.
func TestDryRun(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.DefaultScopes = []string{"read"}
	})
	r := e.jsonReq("POST", e.iss+"/register?dry_run=true", "", map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "client_name": "Dry"})
	if r.status != 200 || r.str("client_name") != "Dry" || r.str("scope") != "read" || r.str("token_endpoint_auth_method") != "client_secret_basic" {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	for _, k := range []string{"client_id", "client_secret", "registration_access_token", "registration_client_uri"} {
		if _, ok := r.m[k]; ok {
			t.Fatalf("dry run returned %s: %s", k, r.body)
		}
	}
	bad := e.jsonReq("POST", e.iss+"/register?dry_run=true", "", map[string]any{"redirect_uris": []string{"http://evil.example/cb"}})
	wantOAuthError(t, bad, 400, "invalid_redirect_uri")
	wantOAuthError(t, e.jsonReq("POST", e.iss+"/register?dry_run=maybe", "", map[string]any{}), 400, "invalid_request")

	if n := e.store.called("CreateClient"); n != 0 {
		t.Fatalf("dry runs stored %d clients", n)
	}
}

func TestDryRunNeedsInitialToken(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) { c.RequireInitialToken = true })
	r := e.jsonReq("POST", e.iss+"/register?dry_run=true", "", map[string]any{"redirect_uris": []string{"https://a.example/cb"}})
	if r.status != 401 {
		t.Fatalf("dry run without a token: %d", r.status)
	}
	tok, _, err := e.h.CreateInitialToken(t.Context(), clientreg.InitialTokenOptions{MaxUses: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // a dry run does not use the token up
		if r := e.jsonReq("POST", e.iss+"/register?dry_run=true", tok, map[string]any{"redirect_uris": []string{"https://a.example/cb"}}); r.status != 200 {
			t.Fatalf("dry run with a token: %d %s", r.status, r.body)
		}
	}
	if r := e.jsonReq("POST", e.iss+"/register", tok, map[string]any{"redirect_uris": []string{"https://a.example/cb"}}); r.status != 201 {
		t.Fatalf("register after dry runs: %d %s", r.status, r.body)
	}
}
