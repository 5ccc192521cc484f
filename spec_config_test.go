package clientreg_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// docs/behaviour.md §5: the client configuration endpoint (RFC 7592 §2).

// updateBody is a PUT body for client c: the registration body plus its
// client_id.
func updateBody(c *registered, extra obj) string {
	m := obj{"client_id": c.ID}
	for k, v := range extra {
		m[k] = v
	}
	return body(m)
}

// TestConfigurationNoToken proves that a configuration request without
// Bearer credentials is 401 with a bare Bearer challenge, for every method.
func TestConfigurationNoToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		c := e.register(body(nil))
		for _, auth := range []string{"", "Basic " + c.Token} {
			wantBareChallenge(t, e.do(http.MethodGet, c.URI, nil, "", auth))
			wantBareChallenge(t, e.do(http.MethodPut, c.URI, strings.NewReader(updateBody(c, nil)), jsonType, auth))
			wantBareChallenge(t, e.do(http.MethodDelete, c.URI, nil, "", auth))
		}
		e.mustGet(c, c.Token)
	})
}

// TestConfigurationAuthFailuresAreIdentical proves that every token failure
// (wrong token, another client's token, the token of a deleted client, an
// unknown client id with another client's valid token, a malformed token)
// gets one identical 401 invalid_token, so no response reveals whether a
// client exists; and that presenting B's token at A's URI neither revokes it
// nor touches A.
func TestConfigurationAuthFailuresAreIdentical(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		a := e.register(body(obj{"client_name": "A"}))
		bc := e.register(body(obj{"client_name": "B"}))
		gone := e.register(body(nil))
		if r := e.del(gone.URI, gone.Token); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: status %d", r.status)
		}
		unknownURI := e.registrationEndpoint() + "/AAAAAAAAAAAAAAAAAAAAAA"
		cases := []struct{ name, uri, auth string }{
			{"wrong token", a.URI, "Bearer " + strings.Repeat("x", 43)},
			{"another client's token", a.URI, "Bearer " + bc.Token},
			{"deleted client's token", gone.URI, "Bearer " + gone.Token},
			{"deleted client, another client's token", gone.URI, "Bearer " + bc.Token},
			{"unknown client, another client's token", unknownURI, "Bearer " + bc.Token},
			{"unknown client, wrong token", unknownURI, "Bearer " + strings.Repeat("x", 43)},
			{"malformed token", a.URI, "Bearer a b"},
			{"empty token", a.URI, "Bearer "},
			{"lower-case scheme, another client's token", a.URI, "bearer " + bc.Token},
			{"A's token with a suffix", a.URI, "Bearer " + a.Token + "A"},
			{"A's token truncated", a.URI, "Bearer " + a.Token[:len(a.Token)-1]},
		}
		aBefore := e.mustGet(a, a.Token).body
		var first *response
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			for _, tc := range cases {
				t.Run(method+" "+tc.name, func(t *testing.T) {
					var bodyR *strings.Reader
					ct := ""
					if method == http.MethodPut {
						bodyR, ct = strings.NewReader(updateBody(a, nil)), jsonType
					}
					var r *response
					if bodyR != nil {
						r = e.do(method, tc.uri, bodyR, ct, tc.auth)
					} else {
						r = e.do(method, tc.uri, nil, ct, tc.auth)
					}
					wantInvalidToken(t, r)
					if first == nil {
						first = r
						return
					}
					if r.status != first.status || !bytes.Equal(r.body, first.body) ||
						!slices.Equal(r.header.Values("WWW-Authenticate"), first.header.Values("WWW-Authenticate")) ||
						r.header.Get("Content-Type") != first.header.Get("Content-Type") {
						t.Errorf("response differs from the first failure: %d %q %s vs %d %q %s", r.status, r.header.Values("WWW-Authenticate"), r.body,
							first.status, first.header.Values("WWW-Authenticate"), first.body)
					}
				})
			}
		}
		// Nothing was revoked or changed.
		if got := e.mustGet(a, a.Token).body; !bytes.Equal(got, aBefore) {
			t.Errorf("A changed:\n%s\n%s", aBefore, got)
		}
		e.mustGet(bc, bc.Token)
		if r := e.put(bc.URI, bc.Token, updateBody(bc, obj{"client_name": "B2"})); r.status != http.StatusOK {
			t.Errorf("B's token no longer works for B: %d %s", r.status, r.body)
		}
	})
}

// TestConfigurationRead proves GET: 200 with the current information and
// the presented token, no client_secret (kept only as a hash) but
// client_secret_expires_at; no-store headers; the scheme name is
// case-insensitive.
func TestConfigurationRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		c := e.register(body(obj{"client_name": "Reader"}))
		for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
			r := e.do(http.MethodGet, c.URI, nil, "", scheme+" "+c.Token)
			if r.status != http.StatusOK {
				t.Fatalf("%s: status %d: %s", scheme, r.status, r.body)
			}
			wantNoStore(t, r)
			if r.has(t, "client_secret") {
				t.Errorf("read response carries client_secret: %s", r.body)
			}
			if got := r.num(t, "client_secret_expires_at"); got != 0 {
				t.Errorf("client_secret_expires_at = %d, want 0", got)
			}
			if got := r.mustStr(t, "registration_access_token"); got != c.Token {
				t.Errorf("registration_access_token = %q, want the presented token", got)
			}
			if got := r.mustStr(t, "registration_client_uri"); got != c.URI {
				t.Errorf("registration_client_uri = %q, want %q", got, c.URI)
			}
			if got := r.mustStr(t, "client_name"); got != "Reader" {
				t.Errorf("client_name = %q", got)
			}
		}
	})
}

// TestConfigurationUpdateRules proves the RFC 7592 §2.2 request rules and
// that any failing update changes nothing (the client reads back
// byte-identical, its token is not rotated, no write reaches the Store).
func TestConfigurationUpdateRules(t *testing.T) {
	type tc struct {
		name   string
		body   func(c *registered) string
		ct     string
		status int
		code   string
	}
	cases := []tc{
		{"client_id missing", func(c *registered) string { return body(obj{"client_name": "new"}) }, "", 400, "invalid_request"},
		{"client_id different", func(c *registered) string { return body(obj{"client_id": "other", "client_name": "new"}) }, "", 400, "invalid_request"},
		{"client_id with a suffix", func(c *registered) string { return body(obj{"client_id": c.ID + "x"}) }, "", 400, "invalid_request"},
		{"client_id in upper case", func(c *registered) string { return body(obj{"client_id": strings.ToUpper(c.ID)}) }, "", 400, "invalid_request"},
		{"client_id empty", func(c *registered) string { return body(obj{"client_id": ""}) }, "", 400, "invalid_request"},
		{"client_id not a string", func(c *registered) string { return body(obj{"client_id": 1}) }, "", 400, "invalid_request"},
		{"client_id null", func(c *registered) string { return strings.Replace(body(nil), "{", `{"client_id":null,`, 1) }, "", 400, "invalid_request"},
		{"registration_access_token", func(c *registered) string { return updateBody(c, obj{"registration_access_token": c.Token}) }, "", 400, "invalid_request"},
		{"registration_client_uri", func(c *registered) string { return updateBody(c, obj{"registration_client_uri": c.URI}) }, "", 400, "invalid_request"},
		{"client_secret_expires_at", func(c *registered) string { return updateBody(c, obj{"client_secret_expires_at": 0}) }, "", 400, "invalid_request"},
		{"client_id_issued_at", func(c *registered) string {
			return updateBody(c, obj{"client_id_issued_at": c.IssuedAt})
		}, "", 400, "invalid_request"},
		{"client_secret different", func(c *registered) string { return updateBody(c, obj{"client_secret": c.Secret + "x"}) }, "", 400, "invalid_request"},
		{"client_secret not a string", func(c *registered) string { return updateBody(c, obj{"client_secret": 5}) }, "", 400, "invalid_request"},
		{"invalid redirect URI", func(c *registered) string {
			return updateBody(c, obj{"redirect_uris": []string{"http://evil.example/cb"}, "client_name": "new"})
		}, "", 400, "invalid_redirect_uri"},
		{"redirect_uris removed", func(c *registered) string { return updateBody(c, obj{"redirect_uris": nil}) }, "", 400, "invalid_redirect_uri"},
		{"wrong member type", func(c *registered) string { return updateBody(c, obj{"client_name": 5}) }, "", 400, "invalid_client_metadata"},
		{"unsupported grant", func(c *registered) string { return updateBody(c, obj{"grant_types": []string{"password"}}) }, "", 400, "invalid_client_metadata"},
		{"inconsistent types", func(c *registered) string { return updateBody(c, obj{"response_types": []string{"token"}}) }, "", 400, "invalid_client_metadata"},
		{"private key", func(c *registered) string { return updateBody(c, obj{"jwks": jwkSet(testKeys().ecPriv)}) }, "", 400, "invalid_client_metadata"},
		{"bad scope", func(c *registered) string { return updateBody(c, obj{"scope": "a  b"}) }, "", 400, "invalid_client_metadata"},
		{"bad language tag", func(c *registered) string { return updateBody(c, obj{"client_name#not_a_tag": "x"}) }, "", 400, "invalid_client_metadata"},
		{"software statement", func(c *registered) string { return updateBody(c, obj{"software_statement": "garbage"}) }, "", 400, "invalid_software_statement"},
		{"malformed JSON", func(c *registered) string { return `{"client_id":` + js(c.ID) }, "", 400, "invalid_request"},
		{"duplicate client_id", func(c *registered) string {
			return `{"client_id":` + js(c.ID) + `,"client_id":` + js(c.ID) + `,"redirect_uris":["https://app.example/cb"]}`
		}, "", 400, "invalid_request"},
		{"array body", func(c *registered) string { return "[" + updateBody(c, nil) + "]" }, "", 400, "invalid_request"},
		{"text/plain", func(c *registered) string { return updateBody(c, nil) }, "text/plain", 415, "invalid_request"},
		{"form", func(c *registered) string { return updateBody(c, nil) }, "application/x-www-form-urlencoded", 415, "invalid_request"},
		{"too large", func(c *registered) string { return updateBody(c, obj{"client_name": strings.Repeat("a", 64<<10)}) }, "", 413, "invalid_request"},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := e.register(body(obj{"client_name": "old", "scope": "openid"}))
				before := e.mustGet(c, c.Token).body
				rec := e.stored(c.ID)
				_, updates, _ := e.store.writes()
				ct := tc.ct
				if ct == "" {
					ct = jsonType
				}
				r := e.do(http.MethodPut, c.URI, strings.NewReader(tc.body(c)), ct, bearer(c.Token))
				wantError(t, r, tc.status, tc.code)
				if _, u, _ := e.store.writes(); u != updates {
					t.Errorf("a failed update wrote to the store")
				}
				if got := e.mustGet(c, c.Token).body; !bytes.Equal(got, before) {
					t.Errorf("client changed by a failed update:\n%s\n%s", before, got)
				}
				if got := e.stored(c.ID); got.Revision != rec.Revision || !bytes.Equal(got.TokenHash, rec.TokenHash) || got.PreviousTokenHash != nil {
					t.Errorf("stored record changed: revision %d -> %d", rec.Revision, got.Revision)
				}
			})
		}
		// The current secret may be sent back; the PUT then succeeds.
		c := e.register(body(nil))
		if r := e.put(c.URI, c.Token, updateBody(c, obj{"client_secret": c.Secret})); r.status != http.StatusOK {
			t.Errorf("PUT with the current client_secret: status %d: %s", r.status, r.body)
		} else if r.has(t, "client_secret") {
			t.Errorf("PUT echoed a secret the client already has: %s", r.body)
		}
	})
}

// TestConfigurationUpdateFullReplace proves that PUT replaces the metadata:
// omitted members are removed or reset to their defaults, and the response
// is the new state.
func TestConfigurationUpdateFullReplace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.DefaultScopes = []string{"openid"} }))
		c := e.register(body(obj{
			"client_name": "Old", "client_name#fr": "Vieux", "logo_uri": "https://app.example/logo.png", "contacts": []string{"a@app.example"},
			"grant_types": []string{"authorization_code", "refresh_token"}, "scope": "openid profile", "token_endpoint_auth_method": "client_secret_post",
		}))
		r := e.put(c.URI, c.Token, updateBody(c, obj{"redirect_uris": []string{"https://app.example/new"}}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT: status %d: %s", r.status, r.body)
		}
		read := e.mustGet(c, r.mustStr(t, "registration_access_token"))
		for _, x := range []*response{r, read} {
			for _, gone := range []string{"client_name", "client_name#fr", "logo_uri", "contacts"} {
				if x.has(t, gone) {
					t.Errorf("omitted member %s kept: %s", gone, x.body)
				}
			}
			if got := x.strs(t, "grant_types"); !slices.Equal(got, []string{"authorization_code"}) {
				t.Errorf("grant_types = %q, want the default", got)
			}
			if got := x.mustStr(t, "scope"); got != "openid" {
				t.Errorf("scope = %q, want the default scope", got)
			}
			if got := x.mustStr(t, "token_endpoint_auth_method"); got != "client_secret_basic" {
				t.Errorf("token_endpoint_auth_method = %q, want the default", got)
			}
			if got := x.strs(t, "redirect_uris"); !slices.Equal(got, []string{"https://app.example/new"}) {
				t.Errorf("redirect_uris = %q", got)
			}
			if x.mustStr(t, "client_id") != c.ID || x.num(t, "client_id_issued_at") != c.res.num(t, "client_id_issued_at") {
				t.Errorf("client_id or client_id_issued_at changed: %s", x.body)
			}
		}
	})
}

// TestConfigurationUpdateAuthMethodSwitch proves that switching away from a
// secret-based method removes the secret, and switching to one issues a new
// secret in the PUT response (never chosen by the client).
func TestConfigurationUpdateAuthMethodSwitch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		c := e.register(body(nil)) // client_secret_basic
		r := e.put(c.URI, c.Token, updateBody(c, obj{"token_endpoint_auth_method": "none"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT none: %d %s", r.status, r.body)
		}
		tok := r.mustStr(t, "registration_access_token")
		for _, x := range []*response{r, e.mustGet(c, tok)} {
			if x.has(t, "client_secret") || x.has(t, "client_secret_expires_at") {
				t.Errorf("public client still has a secret: %s", x.body)
			}
		}
		if e.stored(c.ID).SecretHash != nil {
			t.Errorf("secret hash kept for a public client")
		}
		// The old secret is gone: presenting it is a mismatch.
		wantError(t, e.put(c.URI, tok, updateBody(c, obj{"client_secret": c.Secret})), http.StatusBadRequest, "invalid_request")

		r = e.put(c.URI, tok, updateBody(c, obj{"token_endpoint_auth_method": "client_secret_post"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT client_secret_post: %d %s", r.status, r.body)
		}
		secret := r.mustStr(t, "client_secret")
		if secret == "" || secret == c.Secret {
			t.Errorf("new secret %q, want a fresh one", secret)
		}
		if got := r.num(t, "client_secret_expires_at"); got != 0 {
			t.Errorf("client_secret_expires_at = %d, want 0", got)
		}
		tok = r.mustStr(t, "registration_access_token")
		read := e.mustGet(c, tok)
		if read.has(t, "client_secret") || !read.has(t, "client_secret_expires_at") {
			t.Errorf("read after the switch: %s", read.body)
		}
		// The new secret is the current one; switching between secret
		// methods keeps it.
		r = e.put(c.URI, tok, updateBody(c, obj{"client_secret": secret, "token_endpoint_auth_method": "client_secret_basic"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT with the new secret: %d %s", r.status, r.body)
		}
		if r.has(t, "client_secret") || !r.has(t, "client_secret_expires_at") {
			t.Errorf("switching between secret methods changed the secret: %s", r.body)
		}
		tok = r.mustStr(t, "registration_access_token")
		if r := e.put(c.URI, tok, updateBody(c, obj{"client_secret": secret})); r.status != http.StatusOK {
			t.Errorf("secret no longer current after a basic/post switch: %d %s", r.status, r.body)
		}
	})
}

// TestConfigurationDelete proves DELETE: 204 with an empty body, after
// which the token no longer works for GET, PUT or DELETE and the record is
// gone.
func TestConfigurationDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		c := e.register(body(nil))
		other := e.register(body(nil))
		r := e.del(c.URI, c.Token)
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("DELETE: status %d, body %q; want 204 and no body", r.status, r.body)
		}
		wantInvalidToken(t, e.get(c.URI, c.Token))
		wantInvalidToken(t, e.put(c.URI, c.Token, updateBody(c, nil)))
		wantInvalidToken(t, e.del(c.URI, c.Token))
		if _, err := e.store.Store.GetClient(context.Background(), c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted client still stored: %v", err)
		}
		e.mustGet(other, other.Token)
	})
}

// TestConfigurationDeleteDisabled proves that with Config.DisableDelete a
// DELETE is 405 with an Allow header and a JSON body, and deletes nothing.
func TestConfigurationDeleteDisabled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.DisableDelete = true }))
		c := e.register(body(nil))
		r := e.del(c.URI, c.Token)
		wantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
		allow := allowed(r)
		if !slices.Contains(allow, "GET") || !slices.Contains(allow, "PUT") || slices.Contains(allow, "DELETE") {
			t.Errorf("Allow = %q, want GET and PUT without DELETE", allow)
		}
		e.mustGet(c, c.Token)
		if _, _, d := e.store.writes(); d != 0 {
			t.Errorf("%d deletes reached the store", d)
		}
	})
}

func allowed(r *response) []string {
	var out []string
	for _, v := range r.header.Values("Allow") {
		for _, m := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(m))
		}
	}
	return out
}

// TestConfigurationMethodNotAllowed proves that methods other than GET, PUT
// and DELETE on the configuration endpoint, and other than POST on the
// registration endpoint, are 405 with an Allow header and a JSON body.
func TestConfigurationMethodNotAllowed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		c := e.register(body(nil))
		for _, m := range []string{http.MethodPost, http.MethodPatch, "PROPFIND"} {
			r := e.do(m, c.URI, strings.NewReader(updateBody(c, nil)), jsonType, bearer(c.Token))
			wantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
			allow := allowed(r)
			for _, want := range []string{"GET", "PUT", "DELETE"} {
				if !slices.Contains(allow, want) {
					t.Errorf("%s: Allow = %q, want %s in it", m, allow, want)
				}
			}
		}
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			r := e.do(m, e.registrationEndpoint(), strings.NewReader(body(nil)), jsonType, "")
			wantError(t, r, http.StatusMethodNotAllowed, "invalid_request")
			if allow := allowed(r); !slices.Equal(allow, []string{"POST"}) {
				t.Errorf("%s on the registration endpoint: Allow = %q, want POST", m, allow)
			}
		}
		if n := e.store.created(); n != 1 {
			t.Errorf("%d clients stored, want 1", n)
		}
		e.mustGet(c, c.Token)
	})
}

// TestTokenRotation proves the default rotation on PUT: the response
// carries a new token; the old one keeps working during the grace window
// until the new one is first used, then gets 401.
func TestTokenRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		c := e.register(body(nil))
		r := e.put(c.URI, c.Token, updateBody(c, obj{"client_name": "v2"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		t1 := r.mustStr(t, "registration_access_token")
		if t1 == c.Token || t1 == "" {
			t.Fatalf("PUT did not rotate the token")
		}
		// A lost response must not lock the client out.
		e.clock.Add(5 * time.Minute)
		if got := e.mustGet(c, c.Token).mustStr(t, "client_name"); got != "v2" {
			t.Errorf("client_name = %q", got)
		}
		// First use of the new token retires the old one.
		e.mustGet(c, t1)
		wantInvalidToken(t, e.get(c.URI, c.Token))
		wantInvalidToken(t, e.put(c.URI, c.Token, updateBody(c, nil)))
		wantInvalidToken(t, e.del(c.URI, c.Token))
		e.mustGet(c, t1)

		// The same holds when the first use of the new token is an update.
		r = e.put(c.URI, t1, updateBody(c, obj{"client_name": "v3"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		t2 := r.mustStr(t, "registration_access_token")
		r = e.put(c.URI, t2, updateBody(c, obj{"client_name": "v4"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		wantInvalidToken(t, e.get(c.URI, t1))
		e.mustGet(c, r.mustStr(t, "registration_access_token"))
	})
}

// TestTokenRotationGraceWindow proves that the old token stops working when
// the grace window (default 10 minutes, configurable, negative = none) ends
// even if the new token was never used.
func TestTokenRotationGraceWindow(t *testing.T) {
	cases := []struct {
		name  string
		grace time.Duration
		ok    time.Duration // the old token still works this long after the PUT
	}{
		{"default", 0, 10 * time.Minute},
		{"one minute", time.Minute, time.Minute},
		{"one hour", time.Hour, time.Hour},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.TokenGrace = tc.grace }))
				c := e.register(body(nil))
				r := e.put(c.URI, c.Token, updateBody(c, nil))
				if r.status != http.StatusOK {
					t.Fatalf("PUT: %d %s", r.status, r.body)
				}
				t1 := r.mustStr(t, "registration_access_token")
				e.clock.Add(tc.ok - time.Second)
				e.mustGet(c, c.Token)
				e.clock.Add(2 * time.Second)
				wantInvalidToken(t, e.get(c.URI, c.Token))
				e.mustGet(c, t1)
			})
		}
		t.Run("retries do not extend the window", func(t *testing.T) {
			e := newEnv(t, b)
			c := e.register(body(nil))
			for range 3 {
				// The client lost each response and retries with the token
				// it holds.
				if r := e.put(c.URI, c.Token, updateBody(c, nil)); r.status != http.StatusOK {
					t.Fatalf("PUT: %d %s", r.status, r.body)
				}
				e.clock.Add(3 * time.Minute)
			}
			e.clock.Add(time.Minute + time.Second) // 10m1s after the first rotation
			wantInvalidToken(t, e.get(c.URI, c.Token))
		})
		t.Run("no grace", func(t *testing.T) {
			e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.TokenGrace = -1 }))
			c := e.register(body(nil))
			r := e.put(c.URI, c.Token, updateBody(c, nil))
			if r.status != http.StatusOK {
				t.Fatalf("PUT: %d %s", r.status, r.body)
			}
			wantInvalidToken(t, e.get(c.URI, c.Token))
			e.mustGet(c, r.mustStr(t, "registration_access_token"))
		})
	})
}

// TestTokenRotationNever proves that with RotateNever the PUT response
// carries the same token, which keeps working.
func TestTokenRotationNever(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.TokenRotation = clientreg.RotateNever }))
		c := e.register(body(nil))
		for i := range 3 {
			r := e.put(c.URI, c.Token, updateBody(c, obj{"client_name": strings.Repeat("v", i+1)}))
			if r.status != http.StatusOK {
				t.Fatalf("PUT: %d %s", r.status, r.body)
			}
			if got := r.mustStr(t, "registration_access_token"); got != c.Token {
				t.Errorf("token rotated to %q with RotateNever", got)
			}
			e.clock.Add(time.Hour)
		}
		e.mustGet(c, c.Token)
	})
}

// TestPermissionCheckerForbidden proves that a PermissionChecker returning
// ErrAccessDenied yields 403 with a JSON error, and the operation changes
// nothing.
func TestPermissionCheckerForbidden(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		var ops []clientreg.Operation
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Permissions = clientreg.PermissionCheckerFunc(func(ctx context.Context, p *clientreg.Principal, cl *clientreg.Client, op clientreg.Operation) error {
				mu.Lock()
				ops = append(ops, op)
				mu.Unlock()
				if err := (clientreg.OwnClientOnly{}).CheckPermission(ctx, p, cl, op); err != nil {
					return err
				}
				if op != clientreg.OpRead {
					return clientreg.ErrAccessDenied.WithDescription("this client is managed by the operator")
				}
				return nil
			})
		}))
		c := e.register(body(obj{"client_name": "locked"}))
		before := e.mustGet(c, c.Token).body
		wantError(t, e.put(c.URI, c.Token, updateBody(c, obj{"client_name": "changed"})), http.StatusForbidden, "access_denied")
		wantError(t, e.del(c.URI, c.Token), http.StatusForbidden, "access_denied")
		if got := e.mustGet(c, c.Token).body; !bytes.Equal(got, before) {
			t.Errorf("client changed by a forbidden operation")
		}
		if _, u, d := e.store.writes(); u != 0 || d != 0 {
			t.Errorf("forbidden operations wrote %d updates and %d deletes", u, d)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(ops, clientreg.OpUpdate) || !slices.Contains(ops, clientreg.OpDelete) || !slices.Contains(ops, clientreg.OpRead) {
			t.Errorf("permission checker saw %q", ops)
		}
	})
}

// TestCustomHooks proves that custom TokenAuthenticator, ClientFinder and
// TokenRevoker hooks are called: the revoker when a valid token names a
// client that no longer exists (RFC 7592 §2.1) and after a delete, and not
// when the token names another, existing client.
func TestCustomHooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		var found, revoked []string
		// operatorTokens maps custom tokens to the client they stand for.
		operatorTokens := map[string]string{}
		var e *testEnv
		e = newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Authenticator = clientreg.TokenAuthenticatorFunc(func(ctx context.Context, token string) (*clientreg.Principal, error) {
				mu.Lock()
				id, ok := operatorTokens[token]
				mu.Unlock()
				if !ok {
					return nil, clientreg.ErrInvalidToken
				}
				return &clientreg.Principal{ClientID: id, Token: token}, nil
			})
			c.Finder = clientreg.ClientFinderFunc(func(ctx context.Context, p *clientreg.Principal, id string) (*store.Client, error) {
				mu.Lock()
				found = append(found, id)
				mu.Unlock()
				return e.store.GetClient(ctx, id)
			})
			c.Revoker = clientreg.TokenRevokerFunc(func(ctx context.Context, p *clientreg.Principal) error {
				mu.Lock()
				revoked = append(revoked, p.ClientID)
				mu.Unlock()
				return nil
			})
		}))
		x := e.register(body(obj{"client_name": "X"}))
		y := e.register(body(obj{"client_name": "Y"}))
		mu.Lock()
		operatorTokens["op-x"] = x.ID
		operatorTokens["op-y"] = y.ID
		mu.Unlock()

		// The registration access token is not known to the custom
		// authenticator.
		wantInvalidToken(t, e.get(x.URI, x.Token))
		r := e.mustGet(x, "op-x")
		if got := r.mustStr(t, "registration_access_token"); got != "op-x" {
			t.Errorf("registration_access_token = %q, want the presented token", got)
		}
		if err := e.store.Store.DeleteClient(context.Background(), x.ID); err != nil {
			t.Fatal(err)
		}
		// op-x at Y's URI: Y exists, X's token is simply not Y's.
		wantInvalidToken(t, e.get(y.URI, "op-x"))
		mu.Lock()
		if len(revoked) != 0 {
			t.Errorf("revoker called for a token presented at another client: %q", revoked)
		}
		mu.Unlock()
		// op-x at X's URI: X no longer exists; the token is revoked.
		wantInvalidToken(t, e.get(x.URI, "op-x"))
		mu.Lock()
		if !slices.Equal(revoked, []string{x.ID}) {
			t.Errorf("revoked = %q, want [%s]", revoked, x.ID)
		}
		if !slices.Contains(found, x.ID) || !slices.Contains(found, y.ID) {
			t.Errorf("finder saw %q", found)
		}
		revoked = nil
		mu.Unlock()
		// DELETE revokes the token it used.
		if r := e.del(y.URI, "op-y"); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", r.status, r.body)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(revoked, []string{y.ID}) {
			t.Errorf("revoked after DELETE = %q, want [%s]", revoked, y.ID)
		}
	})
}
