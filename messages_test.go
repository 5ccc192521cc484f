package clientreg_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// A registration access token recovery needs no body: a POST with only the
// client's Basic credentials, as curl -X POST -u ID:SECRET sends it, works.
// A body that is sent keeps the form's media type rule.
func TestRecoveryWithoutBody(t *testing.T) {
	e := newOAuthEnv(t, nil)
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
	uri, lost := reg.str("registration_client_uri"), reg.str("registration_access_token")
	recover := func(body, contentType string) *response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, uri+"/registration_access_token", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body == "" {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.SetBasicAuth(reg.str("client_id"), reg.str("client_secret"))
		return e.send(req)
	}
	r := recover("", "")
	if r.status != http.StatusOK || r.str("registration_access_token") == "" || r.str("registration_access_token") == lost {
		t.Fatalf("recovery without a body: %d %s", r.status, r.body)
	}
	if g := e.jsonReq("GET", uri, r.str("registration_access_token"), nil); g.status != http.StatusOK {
		t.Fatalf("read with the recovered token: %d %s", g.status, g.body)
	}
	wantOAuthError(t, recover(`{"x":1}`, "application/json"), http.StatusUnsupportedMediaType, "invalid_request")
	wantOAuthError(t, recover("a=b", ""), http.StatusUnsupportedMediaType, "invalid_request")
	if r := recover("", "application/x-www-form-urlencoded"); r.status != http.StatusOK {
		t.Fatalf("recovery with an empty form: %d %s", r.status, r.body)
	}
}

// A scope that a registration policy leaves out is refused in the policy's
// name, not as unsupported by the server.
func TestPolicyRefusesScopeByName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"read", "write", "admin"}}
			c.Policies = []clientreg.Policy{{Name: "public", AllowedScopes: []string{"read"}}}
			c.DefaultPolicy = "public"
		}))
		r := e.post(`{"redirect_uris":["https://app.example/cb"],"scope":"read admin"}`, "")
		_, desc := checkErrorBody(t, r)
		if want := `/scope: 'admin' is not allowed by the registration policy 'public' (allowed: read)`; r.status != http.StatusBadRequest || desc != want {
			t.Errorf("scope outside the policy: %d %q, want 400 %q", r.status, desc, want)
		}
		r = e.post(`{"redirect_uris":["https://app.example/cb"],"scope":"other"}`, "")
		if _, desc := checkErrorBody(t, r); !strings.Contains(desc, "is not allowed by the registration policy 'public'") {
			t.Errorf("scope neither supported nor allowed: %q", desc)
		}
		// Without a policy, the server's own rule.
		e = newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"read"}}
		}))
		r = e.post(`{"redirect_uris":["https://app.example/cb"],"scope":"admin"}`, "")
		if _, desc := checkErrorBody(t, r); desc != `/scope: 'admin' is not supported by this server` {
			t.Errorf("unsupported scope without a policy: %q", desc)
		}
	})
}

// An update without client_id and one with another client's get different
// descriptions, each saying what is wrong.
func TestUpdateClientIDMessages(t *testing.T) {
	e := newEnv(t, memoryBackend)
	c := e.register(`{"redirect_uris":["https://app.example/cb"]}`)
	for _, tc := range []struct{ body, want string }{
		{`{"redirect_uris":["https://app.example/cb"]}`, "client_id is missing: an update must repeat the client's own client_id (RFC 7592 section 2.2)"},
		{`{"client_id":"someone-else","redirect_uris":["https://app.example/cb"]}`, "client_id differs from the client_id of the client being updated (RFC 7592 section 2.2)"},
	} {
		r := e.put(c.URI, c.Token, tc.body)
		if code, desc := checkErrorBody(t, r); r.status != http.StatusBadRequest || code != "invalid_request" || desc != tc.want {
			t.Errorf("PUT %s: %d %s %q, want 400 invalid_request %q", tc.body, r.status, code, desc, tc.want)
		}
	}
}

// A malformed body is described: what is wrong and where.
func TestMalformedJSONDescription(t *testing.T) {
	e := newEnv(t, memoryBackend)
	for body, want := range map[string]string{
		`{"client_name":"x","redirect_uris":["https://app.example/cb"]`: "malformed JSON: unexpected end of input at byte 61",
		`{"client_name":x}`:                  "malformed JSON: invalid character 'x' at byte 15",
		`{"client_name":"x",}`:               "malformed JSON: invalid character '}' at byte 19",
		`{"client_name":"x"} {"again":true}`: "malformed JSON: invalid character '{' at byte 20",
	} {
		r := e.post(body, "")
		if code, desc := checkErrorBody(t, r); r.status != http.StatusBadRequest || code != "invalid_request" || desc != want {
			t.Errorf("POST %s: %d %s %q, want 400 invalid_request %q", body, r.status, code, desc, want)
		}
	}
}
