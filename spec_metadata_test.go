package clientreg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// docs/behaviour.md §3: client metadata (RFC 7591 §2, §2.1, §2.2).

// metadataKinds is the RFC 7591 type of every member clientreg.Metadata
// models: "string", "strings" (array of strings), "object", "number" (a
// non-negative integer) or "bool".
var metadataKinds = map[string]string{
	"redirect_uris":              "strings",
	"token_endpoint_auth_method": "string",
	"grant_types":                "strings",
	"response_types":             "strings",
	"client_name":                "string",
	"client_uri":                 "string",
	"logo_uri":                   "string",
	"scope":                      "string",
	"contacts":                   "strings",
	"tos_uri":                    "string",
	"policy_uri":                 "string",
	"jwks_uri":                   "string",
	"jwks":                       "object",
	"software_id":                "string",
	"software_version":           "string",
	"software_statement":         "string",
	// OpenID Connect Dynamic Client Registration 1.0 §2.
	"application_type":                "string",
	"sector_identifier_uri":           "string",
	"subject_type":                    "string",
	"id_token_signed_response_alg":    "string",
	"id_token_encrypted_response_alg": "string",
	"id_token_encrypted_response_enc": "string",
	"userinfo_signed_response_alg":    "string",
	"userinfo_encrypted_response_alg": "string",
	"userinfo_encrypted_response_enc": "string",
	"request_object_signing_alg":      "string",
	"request_object_encryption_alg":   "string",
	"request_object_encryption_enc":   "string",
	"token_endpoint_auth_signing_alg": "string",
	"default_max_age":                 "number",
	"require_auth_time":               "bool",
	"default_acr_values":              "strings",
	"initiate_login_uri":              "string",
	"request_uris":                    "strings",
	"post_logout_redirect_uris":       "strings",
	// Language-tagged variants are typed like their member.
	"client_name#fr":      "string",
	"logo_uri#ja-Jpan-JP": "string",
}

// modelledMembers returns the member names of a Metadata with every field
// set, so that the wrong-type table cannot fall behind the model.
func modelledMembers(t *testing.T) []string {
	t.Helper()
	var m clientreg.Metadata
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString("x")
		case []string:
			f.Set(reflect.ValueOf([]string{"x"}))
		case json.RawMessage:
			f.Set(reflect.ValueOf(json.RawMessage(`{}`)))
		case *int64:
			f.Set(reflect.ValueOf(new(int64(1))))
		case *bool:
			f.Set(reflect.ValueOf(new(true)))
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		t.Fatal(err)
	}
	return sortedKeys(members)
}

// TestMetadataWrongTypes proves strict JSON types: a value of the wrong
// type for any known member is 400 invalid_client_metadata whose
// description names the member, and nothing is stored.
func TestMetadataWrongTypes(t *testing.T) {
	for _, name := range modelledMembers(t) {
		if _, ok := metadataKinds[name]; !ok {
			t.Errorf("member %s of clientreg.Metadata is missing from the wrong-type table", name)
		}
	}
	wrong := map[string][]any{
		"string":  {1, 1.5, true, false, []string{"a"}, []any{}, map[string]any{}, map[string]any{"a": "b"}},
		"strings": {"a", 1, true, map[string]any{}, []any{1}, []any{"a", nil}, []any{[]string{"a"}}, []any{map[string]any{}}, []any{true}},
		"object":  {"a", 1, true, []any{}, []any{map[string]any{}}},
		"number":  {"1", "x", true, false, []any{1}, map[string]any{}, -1, 1.5, json.RawMessage(`1e3`), json.RawMessage(`1.0`), json.RawMessage(`99999999999999999999`)},
		"bool":    {"true", "false", 1, 0, []any{true}, map[string]any{}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for _, name := range sortedKeys(metadataKinds) {
			for _, v := range wrong[metadataKinds[name]] {
				t.Run(name+"="+js(v), func(t *testing.T) {
					before := e.store.created()
					desc := wantError(t, e.post(body(obj{name: v}), ""), http.StatusBadRequest, "invalid_client_metadata")
					if !strings.Contains(desc, name) {
						t.Errorf("description %q does not name the member %s", desc, name)
					}
					e.wantNothingStored(before)
				})
			}
		}
	})
}

// TestMetadataUnknownMembersIgnored proves that members RFC 7591 does not
// define and the configuration does not declare are ignored: no error, not
// echoed, not stored.
func TestMetadataUnknownMembersIgnored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		unknown := obj{
			"x_unknown":               "v",
			"unknown_object":          map[string]any{"a": []any{1, "b", nil}},
			"unknown_number":          42,
			"scope#fr":                "openid", // scope is not a human-readable member
			"redirect_uris#fr":        []string{"javascript:alert(1)"},
			"frontchannel_logout_uri": 1, // OpenID Connect, not modelled
		}
		c := e.register(body(unknown))
		read := e.mustGet(c, c.Token)
		for name := range unknown {
			if c.res.has(t, name) || read.has(t, name) {
				t.Errorf("unknown member %s was echoed", name)
			}
		}
		st := e.stored(c.ID)
		if st.Metadata.Extensions != nil {
			t.Errorf("unknown members stored as extensions: %v", st.Metadata.Extensions)
		}
		raw, _ := json.Marshal(st.Metadata)
		for name := range unknown {
			if bytes.Contains(raw, []byte(name)) {
				t.Errorf("unknown member %s stored: %s", name, raw)
			}
		}
	})
}

// TestMetadataExtensions proves that members declared in Config.Extensions
// are kept, echoed and validated by their validator, and that a value the
// validator refuses stores nothing.
func TestMetadataExtensions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Extensions = []clientreg.Extension{
				{Name: "x_tenant", Validate: func(_ context.Context, v json.RawMessage) error {
					var s string
					if json.Unmarshal(v, &s) != nil || !strings.HasPrefix(s, "t-") {
						return errors.New("x_tenant must be a string starting with t-")
					}
					return nil
				}},
				{Name: "x_level", Validate: func(_ context.Context, v json.RawMessage) error {
					if string(v) != "1" && string(v) != "2" {
						return clientreg.ErrInvalidClientMetadata.WithDescription("x_level must be 1 or 2")
					}
					return nil
				}},
				{Name: "x_any"},
			}
		}))
		c := e.register(body(obj{"x_tenant": "t-1", "x_level": 2, "x_any": map[string]any{"a": []any{1, true}}, "x_other": "dropped"}))
		read := e.mustGet(c, c.Token)
		for _, r := range []*response{c.res, read} {
			if got := r.mustStr(t, "x_tenant"); got != "t-1" {
				t.Errorf("x_tenant = %q, want t-1", got)
			}
			if got := r.num(t, "x_level"); got != 2 {
				t.Errorf("x_level = %d, want 2", got)
			}
			if got := string(r.members(t)["x_any"]); !equalJSON(t, []byte(got), []byte(`{"a":[1,true]}`)) {
				t.Errorf("x_any = %s", got)
			}
			if r.has(t, "x_other") {
				t.Errorf("undeclared member x_other echoed")
			}
		}
		if got := e.stored(c.ID).Metadata.Extensions; len(got) != 3 {
			t.Errorf("stored extensions = %v, want x_tenant, x_level, x_any", got)
		}
		for _, tc := range []obj{{"x_tenant": "u-1"}, {"x_tenant": 5}, {"x_level": 3}, {"x_level": "1"}} {
			before := e.store.created()
			name := sortedKeys(tc)[0]
			desc := wantError(t, e.post(body(tc), ""), http.StatusBadRequest, "invalid_client_metadata")
			if !strings.Contains(desc, name) {
				t.Errorf("%s: description %q does not name the member", js(tc), desc)
			}
			e.wantNothingStored(before)
		}
	})
}

// TestMetadataDefaults proves the defaults applied, returned and stored:
// grant_types [authorization_code], response_types [code],
// token_endpoint_auth_method client_secret_basic, and scope the configured
// default scopes (no scope member when there are none).
func TestMetadataDefaults(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		check := func(t *testing.T, e *testEnv, wantScope string) {
			t.Helper()
			c := e.register(body(nil))
			for _, r := range []*response{c.res, e.mustGet(c, c.Token)} {
				if got := r.strs(t, "grant_types"); !slices.Equal(got, []string{"authorization_code"}) {
					t.Errorf("grant_types = %q", got)
				}
				if got := r.strs(t, "response_types"); !slices.Equal(got, []string{"code"}) {
					t.Errorf("response_types = %q", got)
				}
				if got := r.mustStr(t, "token_endpoint_auth_method"); got != "client_secret_basic" {
					t.Errorf("token_endpoint_auth_method = %q", got)
				}
				switch {
				case wantScope == "" && r.has(t, "scope"):
					t.Errorf("scope = %s, want no scope member", r.members(t)["scope"])
				case wantScope != "" && r.mustStr(t, "scope") != wantScope:
					t.Errorf("scope = %q, want %q", r.mustStr(t, "scope"), wantScope)
				}
			}
			st := e.stored(c.ID).Metadata
			if !slices.Equal(st.GrantTypes, []string{"authorization_code"}) || !slices.Equal(st.ResponseTypes, []string{"code"}) ||
				st.TokenEndpointAuthMethod != "client_secret_basic" || st.Scope != wantScope {
				t.Errorf("stored metadata lacks the defaults: %+v", st)
			}
			// An explicit scope is kept as sent, not merged with the defaults.
			c = e.register(body(obj{"scope": "email"}))
			if got := c.res.mustStr(t, "scope"); got != "email" {
				t.Errorf("explicit scope = %q, want email", got)
			}
		}
		t.Run("no default scopes", func(t *testing.T) { check(t, newEnv(t, b), "") })
		t.Run("default scopes", func(t *testing.T) {
			check(t, newEnv(t, b, withConfig(func(c *clientreg.Config) { c.DefaultScopes = []string{"openid", "profile"} })), "openid profile")
		})
	})
}

// implicitEnv supports the implicit grant and hybrid response types.
func implicitEnv(t *testing.T, b backend) *testEnv {
	return newEnv(t, b, withConfig(func(c *clientreg.Config) {
		c.Metadata = &clientreg.ServerMetadata{
			GrantTypesSupported:    []string{"authorization_code", "implicit", "refresh_token", "client_credentials"},
			ResponseTypesSupported: []string{"code", "token", "id_token token", "code id_token", "code token", "code id_token token"},
		}
	}))
}

// TestMetadataGrantResponseConsistency proves RFC 7591 §2.1:
// authorization_code ⇔ code, implicit ⇔ token/id_token, word order inside
// a response type irrelevant; an inconsistent pair is invalid_client_metadata.
func TestMetadataGrantResponseConsistency(t *testing.T) {
	cases := []struct {
		grants, responses []string
		ok                bool
	}{
		{[]string{"authorization_code"}, []string{"code"}, true},
		{[]string{"implicit"}, []string{"token"}, true},
		{[]string{"authorization_code", "implicit"}, []string{"code", "token"}, true},
		{[]string{"authorization_code", "implicit"}, []string{"id_token code"}, true},
		{[]string{"implicit", "authorization_code"}, []string{"token id_token code"}, true},
		{[]string{"implicit"}, []string{"token id_token"}, true},
		{[]string{"authorization_code", "refresh_token"}, []string{"code"}, true},
		{[]string{"client_credentials"}, []string{}, true},
		{nil, []string{"token"}, true},
		{[]string{"implicit"}, nil, true},
		{[]string{"authorization_code"}, []string{"token"}, false},
		{[]string{"implicit"}, []string{"code"}, false},
		{[]string{"authorization_code"}, []string{"code", "token"}, false},
		{[]string{"authorization_code", "implicit"}, []string{"code"}, false},
		{[]string{"authorization_code", "implicit"}, []string{"token"}, false},
		{[]string{"authorization_code"}, []string{"code id_token"}, false},
		{[]string{"implicit"}, []string{"id_token code"}, false},
		{[]string{"authorization_code"}, []string{}, false},
		{[]string{"implicit"}, []string{}, false},
		{[]string{"client_credentials"}, []string{"code"}, false},
		{[]string{"refresh_token"}, []string{"token"}, false},
		{[]string{"authorization_code"}, []string{"id_token"}, false}, // not supported
		{[]string{"authorization_code"}, []string{""}, false},
		{[]string{""}, []string{"code"}, false},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := implicitEnv(t, b)
		for _, tc := range cases {
			m := obj{"grant_types": tc.grants, "response_types": tc.responses}
			if tc.grants == nil {
				m["grant_types"] = nil
			}
			if tc.responses == nil {
				m["response_types"] = nil
			}
			t.Run(js(tc.grants)+js(tc.responses), func(t *testing.T) {
				before := e.store.created()
				r := e.post(body(m), "")
				if tc.ok {
					if r.status != http.StatusCreated {
						t.Fatalf("status %d, want 201: %s", r.status, r.body)
					}
					// The registered pair is itself consistent.
					gs, rs := r.strs(t, "grant_types"), r.strs(t, "response_types")
					for _, rt := range rs {
						for _, g := range grantsFor(rt) {
							if !slices.Contains(gs, g) {
								t.Errorf("registered response type %q without grant %s: %s", rt, g, r.body)
							}
						}
					}
					return
				}
				wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
				e.wantNothingStored(before)
			})
		}
	})
}

// TestRedirectURIsRequired proves that redirect_uris is required when a
// redirect-based grant is registered, and not otherwise.
func TestRedirectURIsRequired(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := implicitEnv(t, b)
		for _, m := range []obj{
			{"redirect_uris": nil},
			{"redirect_uris": []string{}},
			{"redirect_uris": nil, "grant_types": []string{"authorization_code"}, "response_types": []string{"code"}},
			{"redirect_uris": nil, "grant_types": []string{"implicit"}, "response_types": []string{"token"}},
			{"redirect_uris": nil, "grant_types": []string{"client_credentials", "authorization_code"}, "response_types": []string{"code"}},
		} {
			before := e.store.created()
			r := e.post(body(m), "")
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400: %s", body(m), r.status, r.body)
			}
			if code, _ := checkErrorBody(t, r); code != "invalid_redirect_uri" && code != "invalid_client_metadata" {
				t.Errorf("%s: error %q, want invalid_redirect_uri", body(m), code)
			}
			e.wantNothingStored(before)
		}
		c := e.register(body(obj{"redirect_uris": nil, "grant_types": []string{"client_credentials"}, "response_types": []string{}}))
		if c.res.has(t, "redirect_uris") {
			t.Errorf("redirect_uris invented: %s", c.res.body)
		}
	})
}

// TestRedirectURIRules proves the redirect URI rules: absolute, no
// fragment, https for remote hosts, http only for loopback on any port,
// private-use schemes allowed, script and local-data schemes always refused;
// a refusal is invalid_redirect_uri naming the URI.
func TestRedirectURIRules(t *testing.T) {
	accepted := []string{
		"https://app.example/cb",
		"https://app.example:8443/oauth/callback?x=1",
		"http://127.0.0.1:4567/cb",
		"http://127.0.0.1/cb",
		"http://127.10.20.30:1/cb",
		"http://[::1]/cb",
		"http://[::1]:61000/cb",
		"http://localhost:9/cb",
		"http://localhost/cb",
		"cursor://anysphere.cursor-retrieval/oauth/user-x/callback",
		"vscode://vscode.github-authentication/did-authenticate",
		"com.example.app:/cb",
		"com.example.app:/oauth2redirect/example-provider",
	}
	rejected := []string{
		"http://example.com/cb",
		"http://app.example:80/cb",
		"http://localhost.example.com/cb",
		"http://127.0.0.1.nip.io/cb",
		"http://10.0.0.1/cb",
		"HTTP://example.com/cb",
		"https://app.example/cb#fragment",
		"https://app.example/cb#",
		"http://127.0.0.1/cb#x",
		"com.example.app:/cb#x",
		"/cb",
		"cb",
		"//app.example/cb",
		"app.example/cb",
		"https:///cb",
		"https:cb",
		"javascript:alert(1)",
		"JavaScript:alert(1)",
		"javascript://app.example/%0aalert(1)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"file:///etc/passwd",
		"file://localhost/etc/passwd",
		"blob:https://app.example/0b1c5e7a",
		"about:blank",
		"https://app.example/c b",
		"https://app.example/cb\n",
		"",
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for _, u := range accepted {
			t.Run("accept "+u, func(t *testing.T) {
				c := e.register(body(obj{"redirect_uris": []string{u}}))
				if got := c.res.strs(t, "redirect_uris"); !slices.Equal(got, []string{u}) {
					t.Errorf("redirect_uris = %q, want [%q]", got, u)
				}
			})
		}
		for _, u := range rejected {
			for _, list := range [][]string{{u}, {testRedirect, u}} {
				t.Run("reject "+js(list), func(t *testing.T) {
					before := e.store.created()
					desc := wantError(t, e.post(body(obj{"redirect_uris": list}), ""), http.StatusBadRequest, "invalid_redirect_uri")
					if printable := strings.TrimSpace(u); printable != "" && !strings.ContainsAny(u, " \n") && !strings.Contains(desc, u) {
						t.Errorf("description %q does not name the URI %q", desc, u)
					}
					e.wantNothingStored(before)
				})
			}
		}
	})
}

// TestJWKSRules proves: jwks and jwks_uri are mutually exclusive; jwks
// holds public keys only (no "d", no symmetric "oct" keys); jwks_uri must be
// https; private_key_jwt needs jwks or jwks_uri and gets no secret.
func TestJWKSRules(t *testing.T) {
	k := testKeys()
	withD := func(key map[string]any) map[string]any {
		c := map[string]any{}
		for n, v := range key {
			c[n] = v
		}
		c["d"] = "AQAB"
		return c
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		ok := []obj{
			{"jwks": jwkSet(k.rsaPub)},
			{"jwks": jwkSet(k.ecPub)},
			{"jwks": jwkSet(k.okpPub)},
			{"jwks": jwkSet(k.rsaPub, k.ecPub, k.okpPub)},
			{"jwks": map[string]any{"keys": []any{}}},
			{"jwks_uri": "https://app.example/jwks.json"},
			{"token_endpoint_auth_method": "private_key_jwt", "jwks": jwkSet(k.ecPub)},
			{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example/jwks.json"},
		}
		for _, m := range ok {
			c := e.register(body(m))
			if m["jwks"] != nil && !equalJSON(t, c.res.members(t)["jwks"], []byte(js(m["jwks"]))) {
				t.Errorf("jwks echoed as %s, want %s", c.res.members(t)["jwks"], js(m["jwks"]))
			}
			if m["token_endpoint_auth_method"] == "private_key_jwt" && (c.res.has(t, "client_secret") || c.res.has(t, "client_secret_expires_at")) {
				t.Errorf("private_key_jwt client got a secret: %s", c.res.body)
			}
		}
		bad := map[string]obj{
			"jwks and jwks_uri":         {"jwks": jwkSet(k.ecPub), "jwks_uri": "https://app.example/jwks.json"},
			"private RSA key":           {"jwks": jwkSet(k.rsaPriv)},
			"private EC key":            {"jwks": jwkSet(k.ecPriv)},
			"private OKP key":           {"jwks": jwkSet(k.okpPriv)},
			"public and private keys":   {"jwks": jwkSet(k.ecPub, k.rsaPriv)},
			"RSA key with a bare d":     {"jwks": jwkSet(withD(k.rsaPub))},
			"EC key with a bogus d":     {"jwks": jwkSet(withD(k.ecPub))},
			"symmetric key":             {"jwks": jwkSet(k.oct)},
			"not a JWK Set":             {"jwks": map[string]any{"kty": "EC"}},
			"keys not an array":         {"jwks": map[string]any{"keys": "x"}},
			"key not a JWK":             {"jwks": map[string]any{"keys": []any{"x"}}},
			"jwks_uri http":             {"jwks_uri": "http://app.example/jwks.json"},
			"jwks_uri relative":         {"jwks_uri": "/jwks.json"},
			"private_key_jwt, no keys":  {"token_endpoint_auth_method": "private_key_jwt"},
			"private_key_jwt, null key": {"token_endpoint_auth_method": "private_key_jwt", "jwks": nil, "jwks_uri": nil},
		}
		for _, name := range sortedKeys(bad) {
			t.Run(name, func(t *testing.T) {
				before := e.store.created()
				desc := wantError(t, e.post(body(bad[name]), ""), http.StatusBadRequest, "invalid_client_metadata")
				if !strings.Contains(desc, "jwks") {
					t.Errorf("description %q does not name jwks or jwks_uri", desc)
				}
				e.wantNothingStored(before)
			})
		}
	})
}

// TestURLMembers proves that client_uri, logo_uri, tos_uri and policy_uri,
// and their language-tagged variants, must be absolute http(s) URLs, https
// unless the host is loopback; a refusal names the member.
func TestURLMembers(t *testing.T) {
	ok := []string{"https://app.example/", "https://app.example/a/b?c=d", "http://127.0.0.1/x", "http://localhost:8080/x", "http://[::1]/x"}
	bad := []string{"http://app.example/x", "ftp://app.example/x", "javascript:alert(1)", "data:text/plain,x",
		"/relative", "app.example/x", "https://", "https:///x", "mailto:a@app.example", "cursor://app/x", "not a url"}
	names := []string{"client_uri", "logo_uri", "tos_uri", "policy_uri", "client_uri#fr", "logo_uri#ja-Jpan-JP", "tos_uri#de-CH", "policy_uri#en-US"}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for _, name := range names {
			for _, u := range ok {
				c := e.register(body(obj{name: u}))
				if got := c.res.mustStr(t, name); got != u {
					t.Errorf("%s = %q, want %q", name, got, u)
				}
			}
			for _, u := range bad {
				t.Run(name+"="+u, func(t *testing.T) {
					before := e.store.created()
					desc := wantError(t, e.post(body(obj{name: u}), ""), http.StatusBadRequest, "invalid_client_metadata")
					if !strings.Contains(desc, name) {
						t.Errorf("description %q does not name %s", desc, name)
					}
					e.wantNothingStored(before)
				})
			}
		}
	})
}

// TestLanguageTaggedMembers proves RFC 7591 §2.2: member#tag variants of the
// human-readable members are stored and echoed byte-exact (emoji and <>&
// included, the tag's case kept), a malformed BCP 47 tag is refused naming
// the member.
func TestLanguageTaggedMembers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		values := [][2]string{
			{"client_name", "My <App> & Co"},
			{"client_name#ja-Jpan-JP", "クライアント名 😀 <>&"},
			{"client_name#en-US", "Tab\there \"quoted\" \\ back"},
			{"client_name#zh-Hant", "客戶端\u00e9\u0301"},
			{"logo_uri#fr", "https://app.example/logo-fr.png?a=1&b=2"},
			{"tos_uri#de-CH", "https://app.example/agb"},
			{"policy_uri#x-private", "https://app.example/p"},
		}
		var sb strings.Builder
		sb.WriteString(`{"redirect_uris":["https://app.example/cb"]`)
		for _, kv := range values {
			sb.WriteString("," + js(kv[0]) + ":" + js(kv[1]))
		}
		sb.WriteString("}")
		c := e.register(sb.String())
		read := e.mustGet(c, c.Token)
		for _, r := range []*response{c.res, read} {
			m := r.members(t)
			for _, kv := range values {
				want := js(kv[1]) // the value exactly as sent, raw bytes
				if got := string(m[kv[0]]); got != want {
					t.Errorf("%s echoed as %s, want the bytes %s", kv[0], got, want)
				}
				if !bytes.Contains(r.body, []byte(js(kv[0])+":"+want)) {
					t.Errorf("response does not carry %s:%s byte-exact: %s", kv[0], want, r.body)
				}
			}
		}
		st := e.stored(c.ID).Metadata
		if st.Localized["client_name#ja-Jpan-JP"] != "クライアント名 😀 <>&" || st.ClientName != "My <App> & Co" {
			t.Errorf("stored localized values differ: %q", st.Localized)
		}

		badTags := []string{"client_name#not_a_tag", "client_name#", "client_name#en--US", "client_name#toolongtag1",
			"client_name#-en", "client_name#en-", "client_name#1en", "logo_uri#f r", "client_name#日本"}
		for _, name := range badTags {
			t.Run(name, func(t *testing.T) {
				before := e.store.created()
				desc := wantError(t, e.post(body(obj{name: "x"}), ""), http.StatusBadRequest, "invalid_client_metadata")
				base, _, _ := strings.Cut(name, "#")
				if !strings.Contains(desc, base) {
					t.Errorf("description %q does not name the member %s", desc, name)
				}
				e.wantNothingStored(before)
			})
		}
		// The same tag twice, in different case, is ambiguous.
		wantError(t, e.post(body(obj{"client_name#fr": "a", "client_name#FR": "b"}), ""), http.StatusBadRequest, "invalid_client_metadata")
	})
}

// TestContactsAndScope proves contacts is an array of strings and scope a
// space-separated list of RFC 6749 §3.3 scope tokens, limited to
// scopes_supported when it is configured.
func TestContactsAndScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ScopesSupported: []string{"openid", "profile", "urn:x:read", "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}}
		}))
		c := e.register(body(obj{"contacts": []string{"ops@app.example", "+1 555 0100"}, "scope": "openid profile urn:x:read"}))
		if got := c.res.strs(t, "contacts"); !slices.Equal(got, []string{"ops@app.example", "+1 555 0100"}) {
			t.Errorf("contacts = %q", got)
		}
		if got := c.res.mustStr(t, "scope"); got != "openid profile urn:x:read" {
			t.Errorf("scope = %q", got)
		}
		e.register(body(obj{"scope": "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}))
		// Syntax is checked whether or not scopes_supported is configured:
		// open accepts any well-formed scope token.
		open := newEnv(t, b)
		open.register(body(obj{"scope": "any:scope x!y a#b"}))
		malformed := []string{"openid  profile", " openid", "openid ", "openid\tprofile", `openid "profile"`, `open"id`, `open\id`,
			"openid\nprofile", "opénid", "openid\x7f"}
		unsupported := []string{"admin", "openid admin", "OPENID"}
		check := func(e *testEnv, s string) {
			t.Run("scope "+s, func(t *testing.T) {
				before := e.store.created()
				desc := wantError(t, e.post(body(obj{"scope": s}), ""), http.StatusBadRequest, "invalid_client_metadata")
				if !strings.Contains(desc, "scope") {
					t.Errorf("description %q does not name scope", desc)
				}
				e.wantNothingStored(before)
			})
		}
		for _, s := range malformed {
			check(open, s)
			check(e, s)
		}
		for _, s := range unsupported {
			check(e, s)
		}
		for _, v := range []any{"ops@app.example", []any{"a", 1}, []any{""}, []any{" "}} {
			before := e.store.created()
			desc := wantError(t, e.post(body(obj{"contacts": v}), ""), http.StatusBadRequest, "invalid_client_metadata")
			if !strings.Contains(desc, "contacts") {
				t.Errorf("description %q does not name contacts", desc)
			}
			e.wantNothingStored(before)
		}
	})
}

// TestNullMembersAreAbsent proves that a member whose value is null is
// treated as if it were absent: no error, defaults apply.
func TestNullMembersAreAbsent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		names := []string{"client_name", "client_name#fr", "scope", "grant_types", "response_types", "token_endpoint_auth_method",
			"jwks", "jwks_uri", "contacts", "logo_uri", "client_uri", "tos_uri", "policy_uri", "software_id", "software_version", "software_statement"}
		var sb strings.Builder
		sb.WriteString(`{"redirect_uris":["https://app.example/cb"]`)
		for _, n := range names {
			sb.WriteString(`,"` + n + `":null`)
		}
		sb.WriteString("}")
		c := e.register(sb.String())
		for _, n := range []string{"client_name", "client_name#fr", "scope", "jwks", "jwks_uri", "contacts", "logo_uri", "software_statement"} {
			if c.res.has(t, n) {
				t.Errorf("null member %s echoed: %s", n, c.res.body)
			}
		}
		if got := c.res.strs(t, "grant_types"); !slices.Equal(got, []string{"authorization_code"}) {
			t.Errorf("grant_types = %q, want the default", got)
		}
		if got := c.res.mustStr(t, "token_endpoint_auth_method"); got != "client_secret_basic" {
			t.Errorf("token_endpoint_auth_method = %q, want the default", got)
		}
		// A null redirect_uris is absent too: required, so refused.
		wantError(t, e.post(`{"redirect_uris":null}`, ""), http.StatusBadRequest, "invalid_redirect_uri")
	})
}

// TestSoftwareStatementDefault proves the default software statement
// handling, with no trusted issuer configured: a well-formed compact JWS is
// unapproved_software_statement, anything else invalid_software_statement,
// and nothing is stored.
func TestSoftwareStatementDefault(t *testing.T) {
	const (
		hdr     = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"                                     // {"alg":"RS256","typ":"JWT"}
		payload = "eyJpc3MiOiJodHRwczovL3NvZnR3YXJlLmV4YW1wbGUiLCJzb2Z0d2FyZV9pZCI6InNpZCJ9" // {"iss":"https://software.example","software_id":"sid"}
		sig     = "c2lnbmF0dXJlLWJ5dGVz"
	)
	cases := []struct {
		statement, code string
	}{
		{hdr + "." + payload + "." + sig, "unapproved_software_statement"},
		{"garbage", "invalid_software_statement"},
		{"a.b.c", "invalid_software_statement"},
		{hdr + "." + payload, "invalid_software_statement"},
		{hdr + "." + payload + ".", "invalid_software_statement"},              // unsigned (alg none style)
		{"eyJhbGciOiJub25lIn0." + payload + ".", "invalid_software_statement"}, // alg none
		{hdr + ".!!!." + sig, "invalid_software_statement"},
		{hdr + "." + payload + "." + sig + ".x.y", "invalid_software_statement"},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for _, tc := range cases {
			t.Run(tc.statement, func(t *testing.T) {
				before := e.store.created()
				wantError(t, e.post(body(obj{"software_statement": tc.statement}), ""), http.StatusBadRequest, tc.code)
				e.wantNothingStored(before)
			})
		}
	})
}
