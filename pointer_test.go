package clientreg_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// Issue 3 item 6: every invalid_client_metadata and invalid_redirect_uri
// error_description starts with the RFC 6901 JSON pointer of the member (or
// element) that fails, then ": ", then the rule.

// pointerEnv is a handler with a trusted statement issuer, extension
// members (one whose name needs RFC 6901 escaping, one non-ASCII) and the
// OpenID Connect lists configured, so that every kind of fault is reachable.
func pointerEnv(t *testing.T, si statementIssuer) *testEnv {
	t.Helper()
	return newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) {
		c.Metadata = &clientreg.ServerMetadata{
			GrantTypesSupported:    []string{"authorization_code", "implicit", "client_credentials"},
			ResponseTypesSupported: []string{"code", "token"},
			ScopesSupported:        []string{"openid", "profile"},
		}
		c.TrustedIssuers = []clientreg.TrustedIssuer{{Issuer: si.iss, Keys: si.keys(), Algorithms: []string{"ES256"}}}
		plain := func(_ context.Context, v json.RawMessage) error {
			if string(v) != `"ok"` {
				return errors.New("must be the string ok")
			}
			return nil
		}
		c.Extensions = []clientreg.Extension{
			{Name: "x_plain", Validate: plain},
			{Name: "x_oauth", Validate: func(_ context.Context, v json.RawMessage) error {
				if string(v) != "1" {
					return clientreg.ErrInvalidClientMetadata.WithDescription("must be 1")
				}
				return nil
			}},
			{Name: "x_prefixed", Validate: func(_ context.Context, v json.RawMessage) error {
				if string(v) != "1" {
					return clientreg.ErrInvalidClientMetadata.WithDescription("/x_prefixed/a: must be 1")
				}
				return nil
			}},
			{Name: "urn:x/a~b", Validate: plain},
			{Name: "x_\u540d\u524d", Validate: plain},
		}
	}))
}

// TestErrorDescriptionPointers sends representative bad requests over HTTP
// and asserts the exact pointer that starts each description, the error
// code, and that nothing is stored.
func TestErrorDescriptionPointers(t *testing.T) {
	k := testKeys()
	si := newStatementIssuer(t, "https://issuer.example")
	e := pointerEnv(t, si)
	many := make([]string, 65)
	for i := range many {
		many[i] = testRedirect
	}
	const meta, redir = "invalid_client_metadata", "invalid_redirect_uri"
	cases := []struct {
		name string
		body string
		code string
		ptr  string
	}{
		{"string member of the wrong type", body(obj{"client_name": 5}), meta, "/client_name"},
		{"array member of the wrong type", body(obj{"grant_types": "authorization_code"}), meta, "/grant_types"},
		{"array element of the wrong type", body(obj{"contacts": []any{"a", 2}}), meta, "/contacts/1"},
		{"object member of the wrong type", body(obj{"jwks": []any{}}), meta, "/jwks"},
		{"localized member of the wrong type", body(obj{"client_name#ja-Jpan-JP": 1}), meta, "/client_name#ja-Jpan-JP"},
		{"malformed language tag", body(obj{"client_name#not_a_tag": "x"}), meta, "/client_name#not_a_tag"},
		{"unsupported grant type", body(obj{"grant_types": []string{"authorization_code", "password"}}), meta, "/grant_types/1"},
		{"empty grant type", body(obj{"grant_types": []string{""}}), meta, "/grant_types/0"},
		{"unsupported response type", body(obj{"response_types": []string{"code", "id_token"}}), meta, "/response_types/1"},
		{"response type without its grant", body(obj{"grant_types": []string{"authorization_code"}, "response_types": []string{"code", "token"}}), meta, "/response_types/1"},
		{"grant without its response type", body(obj{"grant_types": []string{"client_credentials", "implicit"}, "response_types": []string{}}), meta, "/grant_types/1"},
		{"unsupported auth method", body(obj{"token_endpoint_auth_method": "tls_client_auth"}), meta, "/token_endpoint_auth_method"},
		{"public client with client_credentials", body(obj{"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "client_credentials"}}), meta, "/grant_types/1"},
		{"redirect_uris missing", body(obj{"redirect_uris": nil}), redir, "/redirect_uris"},
		{"http redirect URI to a remote host", body(obj{"redirect_uris": []string{testRedirect, "http://example.com/cb"}}), redir, "/redirect_uris/1"},
		{"redirect URI with a fragment", body(obj{"redirect_uris": []string{"https://app.example/cb#x"}}), redir, "/redirect_uris/0"},
		{"too many redirect URIs", body(obj{"redirect_uris": many}), meta, "/redirect_uris"},
		{"http jwks_uri", body(obj{"jwks_uri": "http://app.example/jwks"}), meta, "/jwks_uri"},
		{"private key in jwks", body(obj{"jwks": jwkSet(k.rsaPub, k.ecPub, k.ecPriv)}), meta, "/jwks/keys/2"},
		{"jwks keys not an array", body(obj{"jwks": map[string]any{"keys": "x"}}), meta, "/jwks/keys"},
		{"localized URL over http", body(obj{"logo_uri#fr": "http://app.example/logo.png"}), meta, "/logo_uri#fr"},
		{"unsupported scope", body(obj{"scope": "openid admin"}), meta, "/scope"},
		{"empty contact", body(obj{"contacts": []string{"ops@app.example", " "}}), meta, "/contacts/1"},
		{"negative default_max_age", body(obj{"default_max_age": -1}), meta, "/default_max_age"},
		{"require_auth_time not a boolean", body(obj{"require_auth_time": "yes"}), meta, "/require_auth_time"},
		{"unknown application_type", body(obj{"application_type": "desktop"}), meta, "/application_type"},
		{"web client with a private-use scheme", body(obj{"application_type": "web", "redirect_uris": []string{testRedirect, "cursor://cb"}}), redir, "/redirect_uris/1"},
		{"enc without alg", body(obj{"userinfo_encrypted_response_enc": "A128CBC-HS256"}), meta, "/userinfo_encrypted_response_enc"},
		{"http request_uri", body(obj{"request_uris": []string{"https://app.example/r", "http://app.example/r"}}), meta, "/request_uris/1"},
		{"bad post-logout redirect URI", body(obj{"post_logout_redirect_uris": []string{"javascript:alert(1)"}}), meta, "/post_logout_redirect_uris/0"},
		{"extension, plain error", body(obj{"x_plain": "no"}), meta, "/x_plain"},
		{"extension, *Error without pointer", body(obj{"x_oauth": 2}), meta, "/x_oauth"},
		{"extension, *Error with its own pointer", body(obj{"x_prefixed": 2}), meta, "/x_prefixed/a"},
		{"extension name escaped per RFC 6901", body(obj{"urn:x/a~b": "no"}), meta, "/urn:x~1a~0b"},
		{"non-ASCII extension name percent-encoded", body(obj{"x_\u540d\u524d": "no"}), meta, "/x_%E5%90%8D%E5%89%8D"},
		{"software statement claim of the wrong type", body(obj{"software_statement": si.sign(t, map[string]any{"client_name": 5})}), "invalid_software_statement", "/software_statement"},
		{"software statement claim breaking a rule", body(obj{"software_statement": si.sign(t, map[string]any{"redirect_uris": []string{"http://example.com/cb"}})}), redir, "/redirect_uris/0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.store.created()
			desc := wantError(t, e.post(tc.body, ""), http.StatusBadRequest, tc.code)
			t.Log(desc)
			ptr, rule, ok := strings.Cut(desc, ": ")
			if !ok || ptr != tc.ptr || rule == "" {
				t.Errorf("description %q: want it to start with %q followed by \": \" and the rule", desc, tc.ptr)
			}
			if strings.ContainsAny(ptr, " \"\\") {
				t.Errorf("pointer %q carries a space, quote or backslash", ptr)
			}
			e.wantNothingStored(before)
		})
	}
}

// TestErrorDescriptionPointerOnUpdate proves that an update is described
// the same way as a registration.
func TestErrorDescriptionPointerOnUpdate(t *testing.T) {
	e := newEnv(t, memoryBackend)
	c := e.register(body(nil))
	r := e.put(c.URI, c.Token, js(map[string]any{"client_id": c.ID, "redirect_uris": []string{testRedirect, "http://example.com/cb"}}))
	desc := wantError(t, r, http.StatusBadRequest, "invalid_redirect_uri")
	if want := "/redirect_uris/1: "; !strings.HasPrefix(desc, want) || !strings.HasSuffix(desc, "'http://example.com/cb'") {
		t.Errorf("description %q: want the prefix %q and the URI at the end", desc, want)
	}
}
