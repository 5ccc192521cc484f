package clientreg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/store"
)

// docs/behaviour.md §6: errors.

// TestStoreFailures proves that an internal Store error is a bare 500
// {"error":"server_error"} (logged, never shown) and an error wrapping
// ErrUnavailable is 503 temporarily_unavailable, at every endpoint.
func TestStoreFailures(t *testing.T) {
	internal := errors.New("sql: connection reset; SELECT secret_hash FROM clients WHERE id = 'x' %!d(string=x)")
	outage := fmt.Errorf("dial tcp 10.0.0.1:5432: connect: connection refused: %w", store.ErrUnavailable)
	type call func(e *testEnv, c *registered) *response
	ops := []struct {
		name   string
		method string // the store method that fails
		token  bool   // RequireInitialToken
		call   call
	}{
		{"register", "CreateClient", false, func(e *testEnv, _ *registered) *response { return e.post(body(nil), "") }},
		{"register with initial token", "GetInitialToken", true, func(e *testEnv, _ *registered) *response {
			return e.post(body(nil), "Bearer "+e.initialToken(clientreg.InitialTokenOptions{}))
		}},
		{"use initial token and store", "CreateClient", true, func(e *testEnv, _ *registered) *response {
			return e.post(body(nil), "Bearer "+e.initialToken(clientreg.InitialTokenOptions{}))
		}},
		{"read", "GetClientByTokenHash", false, func(e *testEnv, c *registered) *response { return e.get(c.URI, c.Token) }},
		{"update", "UpdateClient", false, func(e *testEnv, c *registered) *response { return e.put(c.URI, c.Token, updateBody(c, nil)) }},
		{"delete", "DeleteClient", false, func(e *testEnv, c *registered) *response { return e.del(c.URI, c.Token) }},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, op := range ops {
			for _, failure := range []struct {
				err    error
				status int
				code   string
			}{
				{internal, http.StatusInternalServerError, "server_error"},
				{outage, http.StatusServiceUnavailable, "temporarily_unavailable"},
			} {
				t.Run(op.name+" "+failure.code, func(t *testing.T) {
					var logs syncBuffer
					e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
						c.RequireInitialToken = op.token
						c.Logger = debugLogger(&logs)
					}))
					var c *registered
					if !op.token {
						c = e.register(body(nil))
					}
					e.store.failWith(op.method, failure.err)
					r := op.call(e, c)
					wantError(t, r, failure.status, failure.code)
					if want := `{"error":"server_error","error_description":"internal error"}`; failure.status == http.StatusInternalServerError && string(r.body) != want {
						t.Errorf("500 body = %s, want %s", r.body, want)
					}
					for _, leak := range []string{"sql", "SELECT", "10.0.0.1", "connection", "%!"} {
						if bytes.Contains(r.body, []byte(leak)) {
							t.Errorf("response leaks %q: %s", leak, r.body)
						}
					}
					if !strings.Contains(logs.String(), "connection") {
						t.Errorf("the internal error was not logged: %q", logs.String())
					}
					if c != nil {
						if leak := testutil.FindCredential([]byte(logs.String()), map[string]string{"registration access token": c.Token, "client secret": c.Secret}); leak != "" {
							t.Errorf("a credential was logged, %s: %q", leak, logs.String())
						}
					}
				})
			}
		}
	})
}

// TestErrorDescriptionsAreASCII proves that descriptions quoting request
// values stay within the RFC 6749 §5.2 character set, whatever the request
// carried (non-ASCII, quotes, backslashes, control characters).
func TestErrorDescriptionsAreASCII(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"openid"}}
			c.Extensions = []clientreg.Extension{{Name: "x_e", Validate: func(context.Context, json.RawMessage) error {
				return errors.New("x_e: bad value \"é\" \\ \x01")
			}}}
		}))
		bad := []obj{
			{"redirect_uris": []string{"http://exämple.com/cb"}},
			{"redirect_uris": []string{"https://app.example/\"quoted\"\\#frag"}},
			{"redirect_uris": []string{"https://app.example/cb#ü"}},
			{"redirect_uris": []string{"javascript:alert('é')"}},
			{"scope": "opénid"},
			{"scope": `"openid"`},
			{"scope": "openid \u2028"},
			{"client_name#日本語": "x"},
			{"client_name#\"x\"": "x"},
			{"logo_uri": "http://例え.jp/logo.png"},
			{"grant_types": []string{"gränt"}},
			{"response_types": []string{"cöde"}},
			{"token_endpoint_auth_method": "nöne\"\\"},
			{"x_e": "v"},
			{"redirect_uris": []string{strings.Repeat("é", 2000)}},
		}
		for _, m := range bad {
			r := e.post(body(m), "")
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400: %s", body(m), r.status, r.body)
				continue
			}
			checkErrorBody(t, r)
		}
		// Malformed JSON with non-ASCII around the error position.
		for _, raw := range []string{`{"é":`, `{"a":"é","a":"é"}`, `{"日本":1,"日本":2}`, "{\"\x7f\":1,\"\x7f\":1}"} {
			wantError(t, e.post(raw, ""), http.StatusBadRequest, "invalid_request")
		}
	})
}
