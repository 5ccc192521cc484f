package clientreg_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// Every failed client authentication, at every endpoint that authenticates
// clients, gets one byte-identical answer (status, WWW-Authenticate, body),
// so that no answer tells an unknown client from a wrong credential; the
// cause is logged at debug level.
func TestClientAuthFailuresAreIdentical(t *testing.T) {
	key, jwks := ecKey(t)
	var logs syncBuffer
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	basicReg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
	basic := clientCreds{id: basicReg.str("client_id"), secret: basicReg.str("client_secret"), method: "client_secret_basic"}
	pkReg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks})
	pk := clientCreds{id: pkReg.str("client_id"), method: "private_key_jwt", key: key, kid: "k1"}
	pubReg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none"})
	pub := clientCreds{id: pubReg.str("client_id"), method: "none"}
	other, _ := ecKey(t)

	for _, ep := range []struct {
		name, path string
		vals       url.Values
		publicOK   bool // a public client is identified, not refused
	}{
		{"token", "/token", url.Values{"grant_type": {"client_credentials"}}, true},
		{"introspection", "/introspect", url.Values{"token": {"x"}}, false},
		{"revocation", "/revoke", url.Values{"token": {"x"}}, true},
		{"recovery", strings.TrimPrefix(pkReg.str("registration_client_uri"), e.iss) + "/registration_access_token", url.Values{}, false},
	} {
		t.Run(ep.name, func(t *testing.T) {
			aud := e.iss + ep.path
			assertion := func(c clientCreds, exp time.Time, jti string) *response {
				v := url.Values{"client_assertion_type": {clientreg.AssertionTypeJWTBearer}, "client_assertion": {e.assertion(c, aud, exp, jti)}}
				for k, vs := range ep.vals {
					v[k] = vs
				}
				return e.form(ep.path, clientCreds{}, v)
			}
			vals := func() url.Values {
				v := url.Values{}
				for k, vs := range ep.vals {
					v[k] = vs
				}
				return v
			}
			send := func(c clientCreds) *response { return e.form(ep.path, c, vals()) }
			wrongSecret := basic
			wrongSecret.secret += "x"
			wrongMethod := basic
			wrongMethod.method = "client_secret_post"
			unknownJWT := pk
			unknownJWT.id = "no-such-client"
			badSig := pk
			badSig.key = other
			jti := randomID()
			if r := assertion(pk, e.clock.Now().Add(time.Minute), jti); r.status == 401 {
				t.Fatalf("a valid assertion: %d %s", r.status, r.body)
			}
			failures := map[string]*response{
				"unknown client (Basic)": send(clientCreds{id: "no-such-client", secret: "x", method: "client_secret_basic"}),
				"unknown client (post)":  send(clientCreds{id: "no-such-client", secret: "x", method: "client_secret_post"}),
				"unknown client (JWT)":   assertion(unknownJWT, e.clock.Now().Add(time.Minute), randomID()),
				"wrong secret":           send(wrongSecret),
				"wrong method":           send(wrongMethod),
				"bad signature":          assertion(badSig, e.clock.Now().Add(time.Minute), randomID()),
				"expired assertion":      assertion(pk, e.clock.Now().Add(-5*time.Minute), randomID()),
				"replayed assertion":     assertion(pk, e.clock.Now().Add(time.Minute), jti),
				"no credentials":         e.form(ep.path, clientCreds{}, vals()),
				"wrong assertion type":   e.form(ep.path, clientCreds{}, url.Values{"client_assertion_type": {"urn:x"}, "client_assertion": {"x"}, "token": {"x"}}),
				"malformed Basic":        e.send(malformedBasic(e, ep.path)),
				"unknown public client":  send(clientCreds{id: "no-such-client", method: "none"}),
				"confidential as public": send(clientCreds{id: basic.id, method: "none"}),
			}
			if !ep.publicOK {
				failures["public client"] = send(pub)
			}
			if ep.name == "recovery" {
				failures["another client's credentials"] = send(basic)
			}
			first := failures["unknown client (Basic)"]
			if first.status != http.StatusUnauthorized || first.str("error") != "invalid_client" ||
				!strings.HasPrefix(first.header.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("unknown client: %d %q %s", first.status, first.header.Values("WWW-Authenticate"), first.body)
			}
			for name, r := range failures {
				if r.status != first.status || !bytes.Equal(r.body, first.body) ||
					!slices.Equal(r.header.Values("WWW-Authenticate"), first.header.Values("WWW-Authenticate")) ||
					r.header.Get("Content-Type") != first.header.Get("Content-Type") {
					t.Errorf("%s: %d %q %s, want %d %q %s", name, r.status, r.header.Values("WWW-Authenticate"), r.body,
						first.status, first.header.Values("WWW-Authenticate"), first.body)
				}
			}
		})
	}
	for _, cause := range []string{"unknown client", "wrong or expired client secret", "expired", "jti was already used", "the signature does not verify"} {
		if !strings.Contains(logs.String(), cause) {
			t.Errorf("no debug log line names the cause %q", cause)
		}
	}
}

// malformedBasic is a request to path whose Basic credentials do not
// decode.
func malformedBasic(e *testEnv, path string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, e.iss+path, strings.NewReader("grant_type=client_credentials&token=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic !!!")
	return req
}
