package clientreg_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clientreg/clientreg"
)

// docs/behaviour.md §3, OpenID Connect Dynamic Client Registration 1.0 §2: the OpenID
// Connect client metadata, its rules, and the discovery members that bound
// it.

// oidcServer advertises every OpenID Connect list, so that each member can
// be registered.
func oidcServer() *clientreg.ServerMetadata {
	return &clientreg.ServerMetadata{
		GrantTypesSupported:                       []string{"authorization_code", "implicit", "refresh_token", "client_credentials"},
		ResponseTypesSupported:                    []string{"code", "token", "id_token", "code id_token"},
		SubjectTypesSupported:                     []string{"public", "pairwise"},
		IDTokenSigningAlgValuesSupported:          []string{"RS256", "ES256", "none"},
		IDTokenEncryptionAlgValuesSupported:       []string{"RSA-OAEP-256", "ECDH-ES"},
		IDTokenEncryptionEncValuesSupported:       []string{"A128CBC-HS256", "A256GCM"},
		UserinfoSigningAlgValuesSupported:         []string{"RS256"},
		UserinfoEncryptionAlgValuesSupported:      []string{"RSA-OAEP-256"},
		UserinfoEncryptionEncValuesSupported:      []string{"A256GCM"},
		RequestObjectSigningAlgValuesSupported:    []string{"ES256", "none"},
		RequestObjectEncryptionAlgValuesSupported: []string{"ECDH-ES"},
		RequestObjectEncryptionEncValuesSupported: []string{"A128CBC-HS256"},
		ACRValuesSupported:                        []string{"urn:mace:incommon:iap:silver", "loa-2"},
	}
}

// fullOIDCRequest sets every OpenID Connect member except
// sector_identifier_uri (fetched; see TestOIDCSectorIdentifier).
func fullOIDCRequest() obj {
	return obj{
		"application_type":                "web",
		"subject_type":                    "pairwise",
		"id_token_signed_response_alg":    "ES256",
		"id_token_encrypted_response_alg": "RSA-OAEP-256",
		"id_token_encrypted_response_enc": "A256GCM",
		"userinfo_signed_response_alg":    "RS256",
		"userinfo_encrypted_response_alg": "RSA-OAEP-256",
		"userinfo_encrypted_response_enc": "A256GCM",
		"request_object_signing_alg":      "ES256",
		"request_object_encryption_alg":   "ECDH-ES",
		"request_object_encryption_enc":   "A128CBC-HS256",
		"token_endpoint_auth_method":      "private_key_jwt",
		"token_endpoint_auth_signing_alg": "ES256",
		"jwks":                            jwkSet(testKeys().ecPub),
		"default_max_age":                 0,
		"require_auth_time":               false,
		"default_acr_values":              []string{"loa-2", "urn:mace:incommon:iap:silver"},
		"initiate_login_uri":              "https://app.example/login?x=1",
		"request_uris":                    []string{"https://app.example/req.jwt#Lx4bGnTTkHZdIw"},
		"post_logout_redirect_uris":       []string{"https://app.example/bye", "http://127.0.0.1:8000/bye"},
	}
}

// TestOIDCMetadataRoundTrip proves that every OpenID Connect member is
// stored and returned exactly as sent (a number 0 and a boolean false
// included), on registration, read and update, through every store, that
// the ETag does not change when nothing did, and that members not sent are
// not invented.
func TestOIDCMetadataRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.Metadata = oidcServer() }))
		req := fullOIDCRequest()
		c := e.register(body(req))
		read := e.mustGet(c, c.Token)
		for _, r := range []*response{c.res, read} {
			got := r.members(t)
			for name, v := range req {
				if !equalJSON(t, got[name], []byte(js(v))) {
					t.Errorf("%s = %s, want %s", name, got[name], js(v))
				}
			}
		}
		if read.header.Get("ETag") != c.res.header.Get("ETag") {
			t.Errorf("ETag changed between registration and read: %q, %q", c.res.header.Get("ETag"), read.header.Get("ETag"))
		}
		st := e.stored(c.ID).Metadata
		if st.DefaultMaxAge == nil || *st.DefaultMaxAge != 0 || st.RequireAuthTime == nil || *st.RequireAuthTime {
			t.Errorf("stored default_max_age %v, require_auth_time %v; want 0 and false, present", st.DefaultMaxAge, st.RequireAuthTime)
		}
		if st.ApplicationType != "web" || st.SubjectType != "pairwise" || !slices.Equal(st.RequestURIs, req["request_uris"].([]string)) {
			t.Errorf("stored metadata lacks the OpenID Connect members: %+v", st)
		}

		// Update: changed values replace, the numbers and booleans too.
		upd := fullOIDCRequest()
		upd["client_id"] = c.ID
		upd["default_max_age"] = 3600
		upd["require_auth_time"] = true
		r := e.put(c.URI, c.Token, body(upd))
		if r.status != http.StatusOK {
			t.Fatalf("update: status %d: %s", r.status, r.body)
		}
		if got := r.num(t, "default_max_age"); got != 3600 {
			t.Errorf("updated default_max_age = %d, want 3600", got)
		}
		if got := string(r.members(t)["require_auth_time"]); got != "true" {
			t.Errorf("updated require_auth_time = %s, want true", got)
		}
		if r.header.Get("ETag") == c.res.header.Get("ETag") {
			t.Errorf("ETag unchanged by an update that changed default_max_age")
		}
		// Full replace: omitted OpenID Connect members are removed.
		r = e.put(c.URI, r.mustStr(t, "registration_access_token"), body(obj{"client_id": c.ID}))
		if r.status != http.StatusOK {
			t.Fatalf("update: status %d: %s", r.status, r.body)
		}
		for name := range req {
			if name != "token_endpoint_auth_method" && r.has(t, name) {
				t.Errorf("omitted member %s kept by the update: %s", name, r.body)
			}
		}

		// Nothing is defaulted: a plain registration carries none of them.
		plain := e.register(body(nil))
		for name := range req {
			if name != "token_endpoint_auth_method" && plain.res.has(t, name) {
				t.Errorf("member %s invented: %s", name, plain.res.body)
			}
		}
	})
}

// TestOIDCApplicationType proves the application_type rules: web or native
// only; absent is not defaulted and adds no rule (MCP clients register
// private-use and loopback URIs without it); web refuses private-use
// schemes, and with the implicit grant plain http and loopback hosts;
// native accepts loopback http, private-use schemes and claimed https, but
// not https on loopback.
func TestOIDCApplicationType(t *testing.T) {
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) { c.Metadata = oidcServer() }))
	implicit := obj{"grant_types": []string{"implicit"}, "response_types": []string{"token"}}
	with := func(appType string, uris []string, extra obj) string {
		m := obj{"redirect_uris": uris}
		if appType != "" {
			m["application_type"] = appType
		}
		for k, v := range extra {
			m[k] = v
		}
		return body(m)
	}
	accepted := []string{
		with("", []string{"cursor://anysphere.cursor-retrieval/oauth/callback", "http://127.0.0.1:3000/cb"}, nil),
		with("", []string{"http://localhost:3000/cb"}, implicit),
		with("web", []string{"https://app.example/cb", "http://localhost:3000/cb"}, nil),
		with("web", []string{"https://app.example/cb"}, implicit),
		with("native", []string{"com.example.app:/cb", "vscode://vscode.github-authentication/cb", "http://127.0.0.1:5000/cb", "https://app.example/cb"}, nil),
	}
	for _, b := range accepted {
		c := e.register(b)
		if !strings.Contains(b, "application_type") && c.res.has(t, "application_type") {
			t.Errorf("application_type defaulted: %s", c.res.body)
		}
	}
	rejected := []struct {
		body, code, ptr string
	}{
		{with("desktop", []string{testRedirect}, nil), "invalid_client_metadata", "/application_type"},
		{with("Web", []string{testRedirect}, nil), "invalid_client_metadata", "/application_type"},
		{with("web", []string{testRedirect, "cursor://cb"}, nil), "invalid_redirect_uri", "/redirect_uris/1"},
		{with("web", []string{"http://127.0.0.1:3000/cb"}, implicit), "invalid_redirect_uri", "/redirect_uris/0"},
		{with("web", []string{testRedirect, "https://localhost/cb"}, implicit), "invalid_redirect_uri", "/redirect_uris/1"},
		{with("web", []string{"https://[::1]/cb"}, implicit), "invalid_redirect_uri", "/redirect_uris/0"},
		{with("native", []string{"https://127.0.0.1/cb"}, nil), "invalid_redirect_uri", "/redirect_uris/0"},
		{with("native", []string{"http://app.example/cb"}, nil), "invalid_redirect_uri", "/redirect_uris/0"},
	}
	for _, tc := range rejected {
		t.Run(tc.body, func(t *testing.T) {
			before := e.store.created()
			desc := wantError(t, e.post(tc.body, ""), http.StatusBadRequest, tc.code)
			if !strings.HasPrefix(desc, tc.ptr+": ") {
				t.Errorf("description %q does not start with %s", desc, tc.ptr)
			}
			e.wantNothingStored(before)
		})
	}
}

// TestOIDCDiscoveryDefaults proves the OpenID Connect discovery members
// published by default: subject_types_supported [public] and
// id_token_signing_alg_values_supported with RS256 (OpenID Connect
// Discovery 1.0 §3 requires both), and no encryption, UserInfo or request
// object lists, so that those members are refused.
func TestOIDCDiscoveryDefaults(t *testing.T) {
	e := newEnv(t, memoryBackend)
	doc := e.metadata()
	if got := doc.strs(t, "subject_types_supported"); !slices.Equal(got, []string{"public"}) {
		t.Errorf("subject_types_supported = %q, want [public]", got)
	}
	if got := doc.strs(t, "id_token_signing_alg_values_supported"); !slices.Contains(got, "RS256") || slices.Contains(got, "none") || slices.Contains(got, "HS256") {
		t.Errorf("id_token_signing_alg_values_supported = %q, want RS256 and public-key algorithms only", got)
	}
	for _, name := range []string{"id_token_encryption_alg_values_supported", "id_token_encryption_enc_values_supported",
		"userinfo_signing_alg_values_supported", "userinfo_encryption_alg_values_supported", "userinfo_encryption_enc_values_supported",
		"request_object_signing_alg_values_supported", "request_object_encryption_alg_values_supported",
		"request_object_encryption_enc_values_supported", "acr_values_supported", "request_uri_parameter_supported"} {
		if doc.has(t, name) {
			t.Errorf("%s advertised by default: %s", name, doc.body)
		}
	}
	e.register(body(obj{"subject_type": "public", "id_token_signed_response_alg": "RS256", "default_acr_values": []string{"anything"}}))
	for _, m := range []obj{
		{"subject_type": "pairwise"},
		{"id_token_signed_response_alg": "HS256"},
		{"id_token_encrypted_response_alg": "RSA-OAEP-256"},
		{"userinfo_signed_response_alg": "RS256"},
		{"request_object_signing_alg": "RS256"},
		{"request_object_encryption_alg": "RSA-OAEP-256", "request_object_encryption_enc": "A128CBC-HS256"},
	} {
		before := e.store.created()
		desc := wantError(t, e.post(body(m), ""), http.StatusBadRequest, "invalid_client_metadata")
		if name := sortedKeys(m)[0]; !strings.HasPrefix(desc, "/"+name+": ") {
			t.Errorf("%s: description %q does not start with /%s", js(m), desc, name)
		}
		e.wantNothingStored(before)
	}
}

// oidcAlgMembers pairs each algorithm member with the discovery list that
// bounds it.
var oidcAlgMembers = map[string]string{
	"subject_type":                    "subject_types_supported",
	"id_token_signed_response_alg":    "id_token_signing_alg_values_supported",
	"id_token_encrypted_response_alg": "id_token_encryption_alg_values_supported",
	"id_token_encrypted_response_enc": "id_token_encryption_enc_values_supported",
	"userinfo_signed_response_alg":    "userinfo_signing_alg_values_supported",
	"userinfo_encrypted_response_alg": "userinfo_encryption_alg_values_supported",
	"userinfo_encrypted_response_enc": "userinfo_encryption_enc_values_supported",
	"request_object_signing_alg":      "request_object_signing_alg_values_supported",
	"request_object_encryption_alg":   "request_object_encryption_alg_values_supported",
	"request_object_encryption_enc":   "request_object_encryption_enc_values_supported",
	"token_endpoint_auth_signing_alg": "token_endpoint_auth_signing_alg_values_supported",
	"default_acr_values":              "acr_values_supported",
}

// TestOIDCAdvertisedIsEnforced proves, for every OpenID Connect member
// bounded by a discovery list, that exactly the values the document
// advertises are accepted, with the configured lists and with the defaults.
func TestOIDCAdvertisedIsEnforced(t *testing.T) {
	candidates := []string{"public", "pairwise", "RS256", "ES256", "PS256", "EdDSA", "HS256", "none", "RSA-OAEP-256", "ECDH-ES",
		"A128CBC-HS256", "A256GCM", "loa-2", "urn:mace:incommon:iap:silver"}
	for _, cfg := range []struct {
		name string
		srv  *clientreg.ServerMetadata
	}{{"configured", oidcServer()}, {"defaults", &clientreg.ServerMetadata{}}} {
		t.Run(cfg.name, func(t *testing.T) {
			e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) { c.Metadata = cfg.srv }))
			doc := e.metadata()
			for _, member := range sortedKeys(oidcAlgMembers) {
				var advertised []string
				if doc.has(t, oidcAlgMembers[member]) {
					advertised = doc.strs(t, oidcAlgMembers[member])
				}
				for _, v := range candidates {
					m := obj{member: v}
					want := slices.Contains(advertised, v)
					switch member {
					case "default_acr_values":
						m[member] = []string{v}
						want = want || advertised == nil // any value when none is configured
					case "id_token_encrypted_response_enc":
						m["id_token_encrypted_response_alg"] = "RSA-OAEP-256"
						want = want && cfg.name == "configured"
					case "userinfo_encrypted_response_enc":
						m["userinfo_encrypted_response_alg"] = "RSA-OAEP-256"
						want = want && cfg.name == "configured"
					case "request_object_encryption_enc":
						m["request_object_encryption_alg"] = "ECDH-ES"
						want = want && cfg.name == "configured"
					case "id_token_encrypted_response_alg", "userinfo_encrypted_response_alg", "request_object_encryption_alg":
						if encList := strings.TrimSuffix(oidcAlgMembers[member], "alg_values_supported") + "enc_values_supported"; doc.has(t, encList) {
							m[strings.TrimSuffix(member, "alg")+"enc"] = doc.strs(t, encList)[0]
						}
					case "token_endpoint_auth_signing_alg":
						// The algorithm must fit the method: HMAC for
						// client_secret_jwt, public-key for private_key_jwt.
						m["token_endpoint_auth_method"] = "private_key_jwt"
						m["jwks_uri"] = "https://app.example/jwks.json"
						if strings.HasPrefix(v, "HS") {
							m["token_endpoint_auth_method"] = "client_secret_jwt"
							delete(m, "jwks_uri")
						}
						want = want && v != "none"
					case "id_token_signed_response_alg":
						m["response_types"] = []string{"code"} // none is allowed without an ID Token from the authorization endpoint
					}
					if strings.HasSuffix(member, "_enc") && !doc.has(t, oidcAlgMembers[member]) {
						continue // the matching alg cannot be registered either
					}
					r := e.post(body(m), "")
					switch {
					case want && r.status != http.StatusCreated:
						t.Errorf("%s=%s is advertised in %s %q but refused: %s", member, v, oidcAlgMembers[member], advertised, r.body)
					case !want && r.status == http.StatusCreated:
						t.Errorf("%s=%s is not advertised in %s %q but accepted", member, v, oidcAlgMembers[member], advertised)
					case !want:
						wantError(t, r, http.StatusBadRequest, "invalid_client_metadata")
					}
				}
			}
		})
	}
}

// TestOIDCAlgorithmRules proves the rules on algorithm members beyond the
// advertised lists: an *_enc needs its *_alg; an *_alg alone gets the
// default enc A128CBC-HS256 when it is supported (returned and stored) and
// is refused otherwise; token_endpoint_auth_signing_alg none is refused and
// the algorithm must fit the authentication method; an unsigned ID Token
// only for clients that get no ID Token from the authorization endpoint.
func TestOIDCAlgorithmRules(t *testing.T) {
	e := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) {
		c.Metadata = oidcServer()
		c.Metadata.(*clientreg.ServerMetadata).TokenEndpointAuthSigningAlgValuesSupported = []string{"HS256", "ES256", "RS256"}
	}))
	c := e.register(body(obj{"id_token_encrypted_response_alg": "ECDH-ES"}))
	if got := c.res.mustStr(t, "id_token_encrypted_response_enc"); got != "A128CBC-HS256" {
		t.Errorf("id_token_encrypted_response_enc = %q, want the default A128CBC-HS256", got)
	}
	if got := e.stored(c.ID).Metadata.IDTokenEncryptedResponseEnc; got != "A128CBC-HS256" {
		t.Errorf("stored id_token_encrypted_response_enc = %q", got)
	}
	e.register(body(obj{"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256"}))
	e.register(body(obj{"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256", "jwks": jwkSet(testKeys().rsaPub)}))
	e.register(body(obj{"id_token_signed_response_alg": "none"}))

	cases := []struct {
		m   obj
		ptr string
	}{
		{obj{"id_token_encrypted_response_enc": "A256GCM"}, "/id_token_encrypted_response_enc"},
		{obj{"request_object_encryption_enc": "A128CBC-HS256"}, "/request_object_encryption_enc"},
		// The UserInfo enc list lacks A128CBC-HS256: no default.
		{obj{"userinfo_encrypted_response_alg": "RSA-OAEP-256"}, "/userinfo_encrypted_response_alg"},
		{obj{"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "none"}, "/token_endpoint_auth_signing_alg"},
		{obj{"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "ES256"}, "/token_endpoint_auth_signing_alg"},
		{obj{"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "HS256", "jwks": jwkSet(testKeys().ecPub)}, "/token_endpoint_auth_signing_alg"},
		{obj{"id_token_signed_response_alg": "none", "grant_types": []string{"authorization_code", "implicit"}, "response_types": []string{"code id_token"}}, "/id_token_signed_response_alg"},
	}
	for _, tc := range cases {
		t.Run(js(tc.m), func(t *testing.T) {
			before := e.store.created()
			desc := wantError(t, e.post(body(tc.m), ""), http.StatusBadRequest, "invalid_client_metadata")
			if !strings.HasPrefix(desc, tc.ptr+": ") {
				t.Errorf("description %q does not start with %s", desc, tc.ptr)
			}
			e.wantNothingStored(before)
		})
	}
	// The server cannot advertise none for client authentication (RFC 8414
	// §2), since it would advertise what it refuses.
	_, err := clientreg.New(clientreg.Config{Issuer: "https://as.example", Store: e.store, SecretKey: testKey,
		Metadata: &clientreg.ServerMetadata{TokenEndpointAuthSigningAlgValuesSupported: []string{"RS256", "none"}}})
	if err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("New with none in TokenEndpointAuthSigningAlgValuesSupported: err = %v, want an error naming none", err)
	}
}

// TestOIDCOtherMembers proves the rules of default_max_age,
// default_acr_values, initiate_login_uri, request_uris and
// post_logout_redirect_uris.
func TestOIDCOtherMembers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		noRequestURI := false
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.Metadata = oidcServer() }))
		closed := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{RequestURIParameterSupported: &noRequestURI}
			c.RedirectPreset = clientreg.PresetWeb
		}))
		if got := string(closed.metadata().members(t)["request_uri_parameter_supported"]); got != "false" {
			t.Errorf("request_uri_parameter_supported = %s, want false", got)
		}
		for _, m := range []obj{
			{"default_max_age": 0},
			{"default_max_age": int64(1) << 40},
			{"request_uris": []string{"https://app.example/r1", "https://app.example/r2#hash"}},
			{"post_logout_redirect_uris": []string{"cursor://anysphere.cursor-retrieval/logout", "http://[::1]:9/bye"}},
			{"initiate_login_uri": "https://app.example/start"},
		} {
			c := e.register(body(m))
			for name, v := range m {
				if !equalJSON(t, c.res.members(t)[name], []byte(js(v))) {
					t.Errorf("%s = %s, want %s", name, c.res.members(t)[name], js(v))
				}
			}
		}
		cases := []struct {
			e   *testEnv
			m   obj
			ptr string
		}{
			{e, obj{"default_max_age": 1.5}, "/default_max_age"},
			{e, obj{"default_max_age": -3600}, "/default_max_age"},
			{e, obj{"default_acr_values": []string{"loa-2", "loa-3"}}, "/default_acr_values/1"},
			{e, obj{"default_acr_values": []string{""}}, "/default_acr_values/0"},
			{e, obj{"initiate_login_uri": "http://127.0.0.1/start"}, "/initiate_login_uri"},
			{e, obj{"initiate_login_uri": "/start"}, "/initiate_login_uri"},
			{e, obj{"sector_identifier_uri": "http://127.0.0.1/sector.json"}, "/sector_identifier_uri"},
			{e, obj{"request_uris": []string{"https://app.example/r", "ftp://app.example/r"}}, "/request_uris/1"},
			{e, obj{"post_logout_redirect_uris": []string{"https://app.example/bye", "http://app.example/bye"}}, "/post_logout_redirect_uris/1"},
			{e, obj{"post_logout_redirect_uris": []string{"https://app.example/bye#x"}}, "/post_logout_redirect_uris/0"},
			{closed, obj{"request_uris": []string{"https://app.example/r"}}, "/request_uris"},
			// The redirect preset in force applies to post-logout URIs.
			{closed, obj{"post_logout_redirect_uris": []string{"cursor://anysphere.cursor-retrieval/logout"}}, "/post_logout_redirect_uris/0"},
		}
		for _, tc := range cases {
			t.Run(js(tc.m), func(t *testing.T) {
				before := tc.e.store.created()
				desc := wantError(t, tc.e.post(body(tc.m), ""), http.StatusBadRequest, "invalid_client_metadata")
				if !strings.HasPrefix(desc, tc.ptr+": ") {
					t.Errorf("description %q does not start with %s", desc, tc.ptr)
				}
				tc.e.wantNothingStored(before)
			})
		}
	})
}

// sectorServer serves sector identifier documents over TLS on loopback:
// path -> body; any other path is 404. It counts the requests.
func sectorServer(t *testing.T, docs map[string]string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		d, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, d)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestOIDCSectorIdentifier proves OpenID Connect Core 1.0 §8.1 and
// Registration §2: the sector_identifier_uri document, fetched through the
// guarded fetcher, must be a JSON array of strings listing every redirect
// URI; a failed fetch is invalid_client_metadata, never a 5xx; a pairwise
// client with redirect URIs on several hosts must register one; nothing is
// fetched for a request refused for another reason.
func TestOIDCSectorIdentifier(t *testing.T) {
	const a, b2 = "https://a.example/cb", "https://b.example/cb"
	srv, hits := sectorServer(t, map[string]string{
		"/both.json":    js([]string{a, b2, "https://c.example/cb"}),
		"/only-a.json":  js([]string{a}),
		"/object.json":  `{"redirect_uris":["https://a.example/cb"]}`,
		"/numbers.json": `[1,2]`,
		"/garbage.json": `not json`,
	})
	e := newEnv(t, sqliteBackend, withConfig(func(c *clientreg.Config) {
		c.Metadata = oidcServer()
		c.Fetch = clientreg.FetchPolicy{AllowPrivateNetworks: true, Transport: srv.Client().Transport}
	}))
	both := srv.URL + "/both.json"
	c := e.register(body(obj{"redirect_uris": []string{a, b2}, "subject_type": "pairwise", "sector_identifier_uri": both}))
	if got := c.res.mustStr(t, "sector_identifier_uri"); got != both {
		t.Errorf("sector_identifier_uri = %q, want %q", got, both)
	}
	if got := e.mustGet(c, c.Token).mustStr(t, "sector_identifier_uri"); got != both {
		t.Errorf("read sector_identifier_uri = %q, want %q", got, both)
	}
	e.register(body(obj{"redirect_uris": []string{a, "https://a.example/other"}, "subject_type": "pairwise"})) // one host
	e.register(body(obj{"redirect_uris": []string{a, b2}, "subject_type": "public"}))                          // not pairwise

	cases := []struct {
		name string
		m    obj
		in   string // a text the description must contain
	}{
		{"a redirect URI missing from the document", obj{"redirect_uris": []string{a, b2}, "sector_identifier_uri": srv.URL + "/only-a.json"}, "'https://b.example/cb'"},
		{"a JSON object", obj{"sector_identifier_uri": srv.URL + "/object.json"}, "JSON array"},
		{"an array of numbers", obj{"sector_identifier_uri": srv.URL + "/numbers.json"}, "JSON array of strings"},
		{"not JSON", obj{"sector_identifier_uri": srv.URL + "/garbage.json"}, "JSON array"},
		{"404", obj{"sector_identifier_uri": srv.URL + "/missing.json"}, "could not be fetched"},
		{"pairwise, two hosts, no document", obj{"redirect_uris": []string{a, b2}, "subject_type": "pairwise"}, "a.example, b.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.store.created()
			desc := wantError(t, e.post(body(tc.m), ""), http.StatusBadRequest, "invalid_client_metadata")
			if !strings.HasPrefix(desc, "/sector_identifier_uri: ") || !strings.Contains(desc, tc.in) {
				t.Errorf("description %q: want /sector_identifier_uri and %q", desc, tc.in)
			}
			e.wantNothingStored(before)
		})
	}

	// Refused for another reason: no fetch.
	n := hits.Load()
	wantError(t, e.post(body(obj{"client_name": 5, "sector_identifier_uri": both}), ""), http.StatusBadRequest, "invalid_client_metadata")
	wantError(t, e.post(body(obj{"scope": "a  b", "sector_identifier_uri": both}), ""), http.StatusBadRequest, "invalid_client_metadata")
	if got := hits.Load(); got != n {
		t.Errorf("%d fetches for requests refused before the sector identifier check", got-n)
	}

	// The production fetch policy refuses loopback: invalid_client_metadata,
	// and the server never connects.
	guarded := newEnv(t, memoryBackend, withConfig(func(c *clientreg.Config) { c.Metadata = oidcServer() }))
	n = hits.Load()
	desc := wantError(t, guarded.post(body(obj{"redirect_uris": []string{a}, "sector_identifier_uri": both}), ""), http.StatusBadRequest, "invalid_client_metadata")
	if !strings.HasPrefix(desc, "/sector_identifier_uri: ") {
		t.Errorf("description %q does not start with /sector_identifier_uri", desc)
	}
	if got := hits.Load(); got != n {
		t.Errorf("the guarded fetcher connected to loopback")
	}
}

// TestOIDCAuthSigningAlgEnforced proves that the token endpoint rejects a
// client assertion not signed with the registered
// token_endpoint_auth_signing_alg (OpenID Connect Registration 1.0 §2).
func TestOIDCAuthSigningAlgEnforced(t *testing.T) {
	e := newOAuthEnv(t, nil)
	key, jwks := ecKey(t)
	for _, tc := range []struct {
		alg string
		ok  bool
	}{{"ES256", true}, {"ES384", false}, {"", true}} {
		req := map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}
		if tc.alg != "" {
			req["token_endpoint_auth_signing_alg"] = tc.alg
		}
		reg := e.jsonReq("POST", e.iss+"/register", "", req)
		if reg.status != http.StatusCreated {
			t.Fatalf("register with %q: %d %s", tc.alg, reg.status, reg.body)
		}
		// e.assertion signs with ES256.
		r := e.token(clientCreds{id: reg.str("client_id"), method: "private_key_jwt", key: key, kid: "k1"}, "")
		switch {
		case tc.ok && r.status != http.StatusOK:
			t.Errorf("registered alg %q: an ES256 assertion is refused: %d %s", tc.alg, r.status, r.body)
		case !tc.ok:
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		}
	}
}
