package clientreg_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// The lifecycle of RFC 7592's promises, for each authentication method:
// register -> token -> introspect active -> rotate the secret (old secret
// works within the overlap, fails after) -> DELETE -> introspect inactive,
// token request invalid_client.
func TestClientLifecycleWithTokens(t *testing.T) {
	key, jwks := ecKey(t)
	jwksSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jwks)
	}))
	defer jwksSrv.Close()

	for _, tc := range []struct {
		method string
		meta   map[string]any
	}{
		{"client_secret_basic", nil},
		{"client_secret_post", nil},
		{"client_secret_jwt", nil},
		{"private_key_jwt", map[string]any{"jwks": jwks}},
		{"private_key_jwt", map[string]any{"jwks_uri": jwksSrv.URL + "/jwks"}},
	} {
		name := tc.method
		if tc.meta != nil && tc.meta["jwks_uri"] != nil {
			name += "/jwks_uri"
		}
		t.Run(name, func(t *testing.T) {
			var introspector clientreg.Client
			e := newOAuthEnv(t, func(c *clientreg.Config) {
				c.Fetch = clientreg.FetchPolicy{AllowPrivateNetworks: true, Transport: jwksSrv.Client().Transport}
				c.MayIntrospect = func(caller *clientreg.Client, tok *store.AccessToken) bool {
					return caller.ID == introspector.ID || caller.ID == tok.ClientID
				}
			})
			// A resource server that may introspect every token.
			rs := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}, "client_name": "rs"})
			introspector.ID = rs.str("client_id")
			rsCreds := clientCreds{id: rs.str("client_id"), secret: rs.str("client_secret"), method: "client_secret_basic"}

			meta := map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": tc.method, "scope": "read write"}
			for k, v := range tc.meta {
				meta[k] = v
			}
			reg := e.jsonReq("POST", e.iss+"/register", "", meta)
			if reg.status != 201 {
				t.Fatalf("register: %d %s", reg.status, reg.body)
			}
			c := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: tc.method, key: key, kid: "k1"}
			uri, rat := reg.str("registration_client_uri"), reg.str("registration_access_token")

			tok := e.token(c, "read")
			if tok.status != 200 || tok.str("token_type") != "Bearer" || tok.str("scope") != "read" || tok.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("token: %d %s", tok.status, tok.body)
			}
			at := tok.str("access_token")
			if in := e.introspect(c, at); in.m["active"] != true || in.str("client_id") != c.id || in.str("scope") != "read" {
				t.Fatalf("introspect own token: %s", in.body)
			}
			if in := e.introspect(rsCreds, at); in.m["active"] != true {
				t.Fatalf("introspect by resource server: %s", in.body)
			}

			if c.secret != "" {
				// Rotate the secret; the old one works for the overlap.
				put := map[string]any{"client_id": c.id}
				for k, v := range meta {
					put[k] = v
				}
				up := e.jsonReq("PUT", uri+"?rotate_secret=true", rat, put)
				if up.status != 200 || up.str("client_secret") == "" || up.str("client_secret") == c.secret {
					t.Fatalf("rotate secret: %d %s", up.status, up.body)
				}
				rat = up.str("registration_access_token")
				old := c
				c.secret = up.str("client_secret")
				if r := e.token(c, ""); r.status != 200 {
					t.Fatalf("new secret: %d %s", r.status, r.body)
				}
				if r := e.token(old, ""); r.status != 200 {
					t.Fatalf("old secret within the overlap: %d %s", r.status, r.body)
				}
				e.clock.Add(clientreg.DefaultSecretOverlap + time.Second)
				wantOAuthError(t, e.token(old, ""), 401, "invalid_client")
				if r := e.token(c, ""); r.status != 200 {
					t.Fatalf("new secret after the overlap: %d %s", r.status, r.body)
				}
				at = e.token(c, "").str("access_token")
			}

			if r := e.jsonReq("DELETE", uri, rat, nil); r.status != 204 {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if in := e.introspect(rsCreds, at); in.status != 200 || in.m["active"] != false {
				t.Fatalf("introspect after delete: %d %s", in.status, in.body)
			}
			wantOAuthError(t, e.token(c, ""), 401, "invalid_client")
		})
	}
}

// Changing token_endpoint_auth_method or scope by PUT takes effect at the
// next token request.
func TestUpdateTakesEffectAtNextTokenRequest(t *testing.T) {
	e := newOAuthEnv(t, nil)
	meta := map[string]any{"grant_types": []string{"client_credentials"}, "scope": "read write"}
	reg := e.jsonReq("POST", e.iss+"/register", "", meta)
	c := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: "client_secret_basic"}
	if r := e.token(c, "write"); r.status != 200 {
		t.Fatalf("token: %s", r.body)
	}
	up := e.jsonReq("PUT", reg.str("registration_client_uri"), reg.str("registration_access_token"),
		map[string]any{"client_id": c.id, "grant_types": []string{"client_credentials"}, "scope": "read", "token_endpoint_auth_method": "client_secret_post"})
	if up.status != 200 {
		t.Fatalf("update: %s", up.body)
	}
	wantOAuthError(t, e.token(c, "read"), 401, "invalid_client") // Basic no longer accepted
	c.method = "client_secret_post"
	wantOAuthError(t, e.token(c, "write"), 400, "invalid_scope")
	if r := e.token(c, "read"); r.status != 200 {
		t.Fatalf("token after update: %s", r.body)
	}
}

// A registration access token is never an access token, and an access token
// never a registration access token.
func TestTokenKindsNeverCross(t *testing.T) {
	e := newOAuthEnv(t, nil)
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
	c := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: "client_secret_basic"}
	at := e.token(c, "").str("access_token")
	rat := reg.str("registration_access_token")
	if r := e.jsonReq("GET", reg.str("registration_client_uri"), at, nil); r.status != 401 {
		t.Fatalf("access token used as registration access token: %d", r.status)
	}
	if in := e.introspect(c, rat); in.m["active"] != false {
		t.Fatalf("registration access token introspected as active: %s", in.body)
	}
}

func TestTokenEndpointNegative(t *testing.T) {
	key, jwks := ecKey(t)
	// With an authorization endpoint, so that the public client below,
	// which registers no grant_types, gets authorization_code: a server
	// without one gives client_credentials, which a public client cannot
	// register (docs/behaviour.md §3).
	e := newOAuthEnv(t, withCodeFlow)
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}, "scope": "read"})
	basic := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: "client_secret_basic"}
	pk := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks})
	jwtC := clientCreds{id: pk.str("client_id"), method: "private_key_jwt", key: key, kid: "k1"}
	pub := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none"})

	t.Run("wrong secret", func(t *testing.T) {
		c := basic
		c.secret += "x"
		r := e.token(c, "")
		wantOAuthError(t, r, 401, "invalid_client")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("no Basic challenge: %q", r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		c := basic
		c.method = "client_secret_post"
		wantOAuthError(t, e.token(c, ""), 401, "invalid_client")
	})
	t.Run("unknown client", func(t *testing.T) {
		wantOAuthError(t, e.token(clientCreds{id: "nope", secret: "x", method: "client_secret_basic"}, ""), 401, "invalid_client")
	})
	t.Run("scope outside registration", func(t *testing.T) {
		wantOAuthError(t, e.token(basic, "read admin"), 400, "invalid_scope")
	})
	t.Run("unsupported grant", func(t *testing.T) {
		wantOAuthError(t, e.form("/token", basic, url.Values{"grant_type": {"password"}}), 400, "unsupported_grant_type")
	})
	t.Run("public client asking for client_credentials", func(t *testing.T) {
		r := e.token(clientCreds{id: pub.str("client_id"), method: "none"}, "")
		if r.status != 400 || (r.str("error") != "unauthorized_client" && r.str("error") != "invalid_client") {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("two methods at once", func(t *testing.T) {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {basic.id}, "client_secret": {basic.secret}}
		wantOAuthError(t, e.form("/token", basic, v), 400, "invalid_request")
	})
	send := func(assertion string) *response {
		return e.form("/token", clientCreds{}, url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {clientreg.AssertionTypeJWTBearer}, "client_assertion": {assertion}})
	}
	t.Run("replayed jti", func(t *testing.T) {
		a := e.assertion(jwtC, e.iss+"/token", e.clock.Now().Add(time.Minute), "same-jti")
		if r := send(a); r.status != 200 {
			t.Fatalf("first use: %s", r.body)
		}
		wantOAuthError(t, send(a), 401, "invalid_client")
	})
	t.Run("wrong aud", func(t *testing.T) {
		wantOAuthError(t, send(e.assertion(jwtC, "https://elsewhere.example/token", e.clock.Now().Add(time.Minute), randomID())), 401, "invalid_client")
	})
	t.Run("expired assertion", func(t *testing.T) {
		wantOAuthError(t, send(e.assertion(jwtC, e.iss+"/token", e.clock.Now().Add(-5*time.Minute), randomID())), 401, "invalid_client")
	})
	t.Run("alg none", func(t *testing.T) {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
		claims, _ := json.Marshal(map[string]any{"iss": jwtC.id, "sub": jwtC.id, "aud": e.iss + "/token", "exp": e.clock.Now().Add(time.Minute).Unix(), "jti": randomID()})
		wantOAuthError(t, send(hdr+"."+base64.RawURLEncoding.EncodeToString(claims)+"."), 401, "invalid_client")
	})
	t.Run("signed by another key", func(t *testing.T) {
		other, _ := ecKey(t)
		c := jwtC
		c.key = other
		wantOAuthError(t, send(e.assertion(c, e.iss+"/token", e.clock.Now().Add(time.Minute), randomID())), 401, "invalid_client")
	})
}

// A secret with characters that need form-urlencoding in Basic
// authentication (RFC 6749 §2.3.1): the server undoes the encoding, which
// net/http's BasicAuth does not.
func TestBasicAuthFormURLEncoding(t *testing.T) {
	const secret = "s3cr:t+/=%&\u00e9 ~"
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.NewSecret = func(context.Context) (string, error) { return secret, nil }
	})
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
	if reg.str("client_secret") != secret {
		t.Fatalf("secret = %q", reg.str("client_secret"))
	}
	c := clientCreds{id: reg.str("client_id"), secret: secret, method: "client_secret_basic"}
	if r := e.token(c, ""); r.status != 200 {
		t.Fatalf("form-urlencoded Basic credentials: %d %s", r.status, r.body)
	}
	// Unencoded, "+" reads as a space and "%&" is malformed: refused.
	req, _ := http.NewRequest(http.MethodPost, e.iss+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.id, secret)
	wantOAuthError(t, e.send(req), 401, "invalid_client")
}

// Recovering a lost registration access token with client credentials.
func TestRegistrationTokenRecovery(t *testing.T) {
	key, jwks := ecKey(t)
	for _, method := range []string{"client_secret_basic", "private_key_jwt"} {
		t.Run(method, func(t *testing.T) {
			e := newOAuthEnv(t, nil)
			meta := map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": method}
			if method == "private_key_jwt" {
				meta["jwks"] = jwks
			}
			reg := e.jsonReq("POST", e.iss+"/register", "", meta)
			uri, lost := reg.str("registration_client_uri"), reg.str("registration_access_token")
			c := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: method, key: key, kid: "k1", aud: uri + "/registration_access_token"}
			r := e.form(strings.TrimPrefix(uri, e.iss)+"/registration_access_token", c, nil)
			if r.status != 200 || r.str("registration_access_token") == "" || r.str("registration_access_token") == lost || r.str("client_secret") != "" {
				t.Fatalf("recovery: %d %s", r.status, r.body)
			}
			fresh := r.str("registration_access_token")
			if g := e.jsonReq("GET", uri, fresh, nil); g.status != 200 {
				t.Fatalf("read with the recovered token: %d", g.status)
			}
			if g := e.jsonReq("GET", uri, lost, nil); g.status != 401 {
				t.Fatalf("the old token still works: %d", g.status)
			}
			if d := e.jsonReq("DELETE", uri, fresh, nil); d.status != 204 {
				t.Fatalf("delete with the recovered token: %d", d.status)
			}
		})
	}
	t.Run("public client", func(t *testing.T) {
		e := newOAuthEnv(t, withCodeFlow) // see TestTokenEndpointNegative
		reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none"})
		uri := reg.str("registration_client_uri")
		r := e.form(strings.TrimPrefix(uri, e.iss)+"/registration_access_token", clientCreds{id: reg.str("client_id"), method: "none"}, nil)
		wantOAuthError(t, r, 401, "invalid_client")
		if g := e.jsonReq("GET", uri, reg.str("registration_access_token"), nil); g.status != 200 {
			t.Fatalf("a refused recovery changed the token: %d", g.status)
		}
	})
	t.Run("another client's credentials", func(t *testing.T) {
		e := newOAuthEnv(t, nil)
		a := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
		b := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
		r := e.form(strings.TrimPrefix(a.str("registration_client_uri"), e.iss)+"/registration_access_token",
			clientCreds{id: b.str("client_id"), secret: b.str("client_secret"), method: "client_secret_basic"}, nil)
		wantOAuthError(t, r, 401, "invalid_client")
	})
}

// With the token endpoints on, discovery lists them with the methods and
// algorithms that work there, and nothing else.
func TestDiscoveryListsTokenEndpoints(t *testing.T) {
	e := newOAuthEnv(t, nil)
	r := e.jsonReq("GET", e.iss+"/.well-known/oauth-authorization-server", "", nil)
	for k, want := range map[string]string{"token_endpoint": "/token", "introspection_endpoint": "/introspect", "revocation_endpoint": "/revoke"} {
		if r.str(k) != e.iss+want {
			t.Errorf("%s = %q, want %q", k, r.str(k), e.iss+want)
		}
	}
	list := func(k string) []string {
		var out []string
		for _, v := range r.m[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := list("token_endpoint_auth_methods_supported"); strings.Join(got, ",") != "client_secret_basic,client_secret_post,client_secret_jwt,private_key_jwt,none" {
		t.Errorf("token_endpoint_auth_methods_supported = %v", got)
	}
	if got := list("introspection_endpoint_auth_methods_supported"); slices.Contains(got, "none") || len(got) != 4 {
		t.Errorf("introspection_endpoint_auth_methods_supported = %v", got)
	}
	algs := list("token_endpoint_auth_signing_alg_values_supported")
	if slices.Contains(algs, "none") || !slices.Contains(algs, "ES256") || !slices.Contains(algs, "HS256") {
		t.Errorf("token_endpoint_auth_signing_alg_values_supported = %v", algs)
	}
	// Each advertised endpoint answers (401 without client credentials,
	// not 404).
	for _, p := range []string{"/token", "/introspect", "/revoke"} {
		if got := e.form(p, clientCreds{}, url.Values{"token": {"x"}}); got.status != 401 {
			t.Errorf("POST %s without credentials: %d %s", p, got.status, got.body)
		}
	}
}

// A secret past its client_secret_expires_at is refused.
func TestExpiredSecretRefused(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) { c.SecretLifetime = time.Hour })
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
	if exp, _ := reg.m["client_secret_expires_at"].(float64); int64(exp) != e.clock.Now().Add(time.Hour).Unix() {
		t.Fatalf("client_secret_expires_at = %v", reg.m["client_secret_expires_at"])
	}
	c := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: "client_secret_basic"}
	if r := e.token(c, ""); r.status != 200 {
		t.Fatalf("fresh secret: %d %s", r.status, r.body)
	}
	e.clock.Add(time.Hour)
	wantOAuthError(t, e.token(c, ""), 401, "invalid_client")
}
