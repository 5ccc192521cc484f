package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a configuration file in a new temporary directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clientreg.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const policyConfig = `# Registration policies for the test.
policies:
  mcp-desktop:
    allowed_scopes: [tools, resources]
    default_scopes: [tools]
    allowed_grant_types: [authorization_code, refresh_token]
    allowed_auth_methods: [none]
    allowed_redirect_hosts: [loopback]
    max_clients: 2
`

// A policy from the configuration file, attached to an initial access token
// with "iat create --policy", governs registrations with that token and the
// client's later updates.
func TestServeConfigPolicy(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	cfg := writeConfig(t, policyConfig)
	// Without the token endpoints, so that the policy's grants
	// (authorization_code for public clients) are supported: this
	// server serves no authorization endpoint (docs/behaviour.md §9).
	s := startServer(t, nil, "--db", db, "--registration", "token", "--config", cfg, "--token-endpoints=false")

	code, out, errOut := run(t, nil, "iat", "create", "--db", db, "--uses", "0", "--config", cfg, "--policy", "mcp-desktop")
	if code != ExitOK {
		t.Fatalf("iat create --policy: exit %d; stderr:\n%s", code, errOut)
	}
	iat := strings.TrimSpace(out)

	const okBody = `{"redirect_uris":["http://127.0.0.1:7777/cb"],"token_endpoint_auth_method":"none"}`
	r := do(t, http.MethodPost, s.issuer+"/register", iat, okBody)
	wantStatus(t, "register under the policy", r, http.StatusCreated)
	if got := r.str(t, "scope"); got != "tools" {
		t.Errorf("scope = %q, want the policy default tools", got)
	}
	uri, rat, id := r.str(t, "registration_client_uri"), r.str(t, "registration_access_token"), r.str(t, "client_id")

	for _, bad := range []string{
		`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["http://127.0.0.1:7777/cb"],"token_endpoint_auth_method":"client_secret_basic"}`,
		`{"redirect_uris":["http://127.0.0.1:7777/cb"],"token_endpoint_auth_method":"none","scope":"admin"}`,
	} {
		wantStatus(t, "register outside the policy: "+bad, do(t, http.MethodPost, s.issuer+"/register", iat, bad), http.StatusBadRequest)
	}
	r = do(t, http.MethodPut, uri, rat, `{"client_id":"`+id+`","redirect_uris":["http://127.0.0.1:7777/cb"],"token_endpoint_auth_method":"none","scope":"admin"}`)
	wantStatus(t, "PUT outside the policy", r, http.StatusBadRequest)

	wantStatus(t, "second client", do(t, http.MethodPost, s.issuer+"/register", iat, okBody), http.StatusCreated)
	wantStatus(t, "third client over max_clients", do(t, http.MethodPost, s.issuer+"/register", iat, okBody), http.StatusForbidden)
}

// Configuration errors are usage errors that name the file and the problem.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ text, want string }{
		"unknown key":       {"policies:\n  a:\n    allowed_scope: [x]\n", "allowed_scope"},
		"wrong type":        {"policies:\n  a:\n    max_clients: many\n", "line 3"},
		"two documents":     {"policies: {}\n---\npolicies: {}\n", "one YAML document"},
		"unknown default":   {"default_policy: nope\n", "nope"},
		"issuer keys":       {"trusted_issuers:\n  - issuer: https://i.example\n", "keys_file or jwks_uri"},
		"issuer key file":   {"trusted_issuers:\n  - issuer: https://i.example\n    keys_file: missing.pem\n", "missing.pem"},
		"issuer bad policy": {"trusted_issuers:\n  - issuer: https://i.example\n    jwks_uri: https://i.example/jwks\n    policy: nope\n", "nope"},
		"bad policy rule":   {"policies:\n  a:\n    allowed_grant_types: [password]\n", "password"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--config", writeConfig(t, tc.text))
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want a usage error naming %q", code, stderr, tc.want)
			}
		})
	}
	code, _, stderr := run(t, nil, "iat", "create", "--db", dbIn(t), "--policy", "nope")
	if code != ExitUsage || !strings.Contains(stderr, "nope") {
		t.Errorf("iat create with an undefined policy: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != ExitUsage || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing config file: exit %d, stderr %q", code, stderr)
	}
}
