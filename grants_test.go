package clientreg_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// The authorization_code and refresh_token grants through HTTP
// (docs/behaviour.md §8, §9).

// approveFlow runs the authorization request params of c through the
// application's approval for subject and returns the code.
func (e *authzEnv) approveFlow(c regClient, params url.Values, subject string) string {
	e.t.Helper()
	if p := e.authorize(params); p.status != http.StatusOK {
		e.t.Fatalf("authorize: %d %v %s", p.status, p.location, p.body)
	}
	r := e.app(e.browser, "/app/approve", url.Values{"id": {e.lastRequest().ID}, "sub": {subject}})
	if r.status != http.StatusSeeOther || r.location == nil || r.location.Query().Get("code") == "" {
		e.t.Fatalf("approve: %d %v %s", r.status, r.location, r.body)
	}
	return r.location.Query().Get("code")
}

// code runs a whole authorization for c with the resources given and
// returns the code and its verifier.
func (e *authzEnv) code(c regClient, resources ...string) (code, verifier string) {
	e.t.Helper()
	verifier, challenge := pkce()
	params := authzParams(c, challenge)
	params["resource"] = resources
	return e.approveFlow(c, params, "ada"), verifier
}

func (e *authzEnv) exchange(c regClient, code, verifier string, extra url.Values) *response {
	e.t.Helper()
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {c.redirect}}
	for k, vs := range extra {
		v[k] = vs
	}
	return e.form("/token", c.creds, v)
}

func (e *authzEnv) refreshWith(c regClient, rt string, extra url.Values) *response {
	e.t.Helper()
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, vs := range extra {
		v[k] = vs
	}
	return e.form("/token", c.creds, v)
}

// resourceServer registers a confidential client that may introspect
// every token (Config.MayIntrospect is set by newGrantEnv).
func (e *authzEnv) resourceServer() clientCreds {
	e.t.Helper()
	r := e.jsonReq(http.MethodPost, e.iss+"/register", "", map[string]any{"client_name": "rs", "grant_types": []string{"client_credentials"}})
	if r.status != http.StatusCreated {
		e.t.Fatalf("register rs: %d %s", r.status, r.body)
	}
	return clientCreds{id: r.str("client_id"), secret: r.str("client_secret"), method: "client_secret_basic"}
}

func newGrantEnv(t *testing.T, b backend, mutate func(*clientreg.Config)) *authzEnv {
	return newAuthzEnv(t, b, func(c *clientreg.Config) {
		c.MayIntrospect = func(*clientreg.Client, *store.AccessToken) bool { return true }
		if mutate != nil {
			mutate(c)
		}
	})
}

func wantActive(t *testing.T, e *authzEnv, rs clientCreds, token string, active bool) *response {
	t.Helper()
	r := e.introspect(rs, token)
	if r.status != 200 || r.m["active"] != active {
		t.Fatalf("introspect: %d %s, want active=%v", r.status, r.body, active)
	}
	return r
}

// The code exchange, and what the token carries: subject, scope and the
// resources as audience.
func TestCodeExchange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		rs := e.resourceServer()
		pub := e.registerPublic(nil)
		code, verifier := e.code(pub, "https://mcp.example/a")
		r := e.exchange(pub, code, verifier, nil)
		if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == "" || r.str("token_type") != "Bearer" || r.str("scope") != "read write" {
			t.Fatalf("exchange: %d %s", r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
		}
		in := wantActive(t, e, rs, r.str("access_token"), true)
		if in.str("sub") != "ada" || in.str("aud") != "https://mcp.example/a" || in.str("client_id") != pub.creds.id || in.str("scope") != "read write" || in.str("iss") != e.iss {
			t.Fatalf("introspection: %s", in.body)
		}
		// Several resources: aud is an array.
		code, verifier = e.code(pub, "https://mcp.example/a", "https://mcp.example/b")
		r = e.exchange(pub, code, verifier, nil)
		in = wantActive(t, e, rs, r.str("access_token"), true)
		if aud, _ := in.m["aud"].([]any); len(aud) != 2 || aud[0] != "https://mcp.example/a" || aud[1] != "https://mcp.example/b" {
			t.Fatalf("aud = %v", in.m["aud"])
		}
		// A client_credentials token has no sub; its audience is the
		// resources it asked for (RFC 8707 section 2), checked as at the
		// authorization endpoint.
		ccAud := e.form("/token", rs, url.Values{"grant_type": {"client_credentials"}, "resource": {"https://mcp.example/a"}})
		if in := wantActive(t, e, rs, ccAud.str("access_token"), true); in.str("aud") != "https://mcp.example/a" {
			t.Fatalf("client_credentials with a resource: %s", in.body)
		}
		wantOAuthError(t, e.form("/token", rs, url.Values{"grant_type": {"client_credentials"}, "resource": {"mcp"}}), 400, "invalid_target")
		cc := e.token(rs, "")
		in = wantActive(t, e, rs, cc.str("access_token"), true)
		if _, ok := in.m["sub"]; ok {
			t.Errorf("client_credentials token with sub: %s", in.body)
		}
		if _, ok := in.m["aud"]; ok {
			t.Errorf("client_credentials token with aud: %s", in.body)
		}
		// A client that did not register refresh_token gets none.
		noRefresh := e.registerPublic(map[string]any{"grant_types": []string{"authorization_code"}})
		code, verifier = e.code(noRefresh)
		if r := e.exchange(noRefresh, code, verifier, nil); r.status != 200 || r.str("refresh_token") != "" {
			t.Fatalf("exchange without the refresh grant: %d %s", r.status, r.body)
		}
	})
}

// A confidential client authenticates with its registered method at the
// code exchange; the redirect URI, the verifier, the client and the
// lifetime are checked.
func TestCodeExchangeRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		conf := e.registerPublic(map[string]any{"token_endpoint_auth_method": "client_secret_basic", "redirect_uris": []string{"https://app.example/cb", "https://app.example/cb2"}})
		pub := e.registerPublic(nil)

		code, verifier := e.code(conf)
		asPublic := conf
		asPublic.creds = clientCreds{id: conf.creds.id, method: "none"}
		wantOAuthError(t, e.exchange(asPublic, code, verifier, nil), 401, "invalid_client")
		wantOAuthError(t, e.exchange(conf, code, verifier, url.Values{"redirect_uri": {"https://app.example/cb2"}}), 400, "invalid_grant")
		wantOAuthError(t, e.exchange(conf, code, verifier, url.Values{"redirect_uri": nil}), 400, "invalid_grant")
		_, other := pkce()
		wantOAuthError(t, e.exchange(conf, code, other, nil), 400, "invalid_grant")
		wantOAuthError(t, e.exchange(conf, code, "", nil), 400, "invalid_request")
		wantOAuthError(t, e.exchange(pub, code, verifier, nil), 400, "invalid_grant") // another client's code
		if r := e.exchange(conf, code, verifier, nil); r.status != 200 {
			t.Fatalf("the refusals consumed the code: %d %s", r.status, r.body)
		}

		// The redirect URI omitted at the authorization endpoint (one
		// registered) may be omitted at the token endpoint too.
		verifier, challenge := pkce()
		params := authzParams(pub, challenge)
		params.Del("redirect_uri")
		code = e.approveFlow(pub, params, "ada")
		if r := e.exchange(pub, code, verifier, url.Values{"redirect_uri": nil}); r.status != 200 {
			t.Fatalf("exchange without redirect_uri: %d %s", r.status, r.body)
		}

		// Expired after CodeLifetime.
		code, verifier = e.code(pub)
		e.clock.Add(clientreg.DefaultCodeLifetime)
		wantOAuthError(t, e.exchange(pub, code, verifier, nil), 400, "invalid_grant")
		wantOAuthError(t, e.exchange(pub, "made-up", verifier, nil), 400, "invalid_grant")
	})
}

// RFC 6749 §4.1.2: a code used twice fails and revokes what the first use
// issued.
func TestCodeReuseRevokesGrant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		rs := e.resourceServer()
		pub := e.registerPublic(nil)
		code, verifier := e.code(pub)
		first := e.exchange(pub, code, verifier, nil)
		if first.status != 200 {
			t.Fatalf("exchange: %d %s", first.status, first.body)
		}
		wantOAuthError(t, e.exchange(pub, code, verifier, nil), 400, "invalid_grant")
		wantActive(t, e, rs, first.str("access_token"), false)
		wantOAuthError(t, e.refreshWith(pub, first.str("refresh_token"), nil), 400, "invalid_grant")
	})
}

// Rotation, the grace of the previous token, and reuse revoking the family
// (RFC 9700 §4.14.2).
func TestRefreshRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		rs := e.resourceServer()
		pub := e.registerPublic(nil)
		code, verifier := e.code(pub, "https://mcp.example/a")
		r0 := e.exchange(pub, code, verifier, nil)
		rt0 := r0.str("refresh_token")

		r1 := e.refreshWith(pub, rt0, nil)
		rt1 := r1.str("refresh_token")
		if r1.status != 200 || rt1 == "" || rt1 == rt0 || r1.str("scope") != "read write" {
			t.Fatalf("refresh: %d %s", r1.status, r1.body)
		}
		if in := wantActive(t, e, rs, r1.str("access_token"), true); in.str("aud") != "https://mcp.example/a" || in.str("sub") != "ada" {
			t.Fatalf("the refresh kept neither audience nor subject: %s", in.body)
		}
		// The client lost the answer and retries with rt0 within the
		// grace: a sibling.
		r1b := e.refreshWith(pub, rt0, nil)
		rt1b := r1b.str("refresh_token")
		if r1b.status != 200 || rt1b == "" || rt1b == rt1 {
			t.Fatalf("retry within the grace: %d %s", r1b.status, r1b.body)
		}
		// The successor is used: rt0 and the unused sibling stop.
		r2 := e.refreshWith(pub, rt1, nil)
		rt2 := r2.str("refresh_token")
		if r2.status != 200 {
			t.Fatalf("refresh with the successor: %d %s", r2.status, r2.body)
		}
		// Presenting rt0 now is reuse: the whole family is revoked.
		wantOAuthError(t, e.refreshWith(pub, rt0, nil), 400, "invalid_grant")
		wantOAuthError(t, e.refreshWith(pub, rt2, nil), 400, "invalid_grant")
		for _, at := range []string{r0.str("access_token"), r1.str("access_token"), r2.str("access_token")} {
			wantActive(t, e, rs, at, false)
		}

		// A retired sibling is reuse too.
		code, verifier = e.code(pub)
		a := e.exchange(pub, code, verifier, nil)
		a1 := e.refreshWith(pub, a.str("refresh_token"), nil)
		a1b := e.refreshWith(pub, a.str("refresh_token"), nil)
		if e.refreshWith(pub, a1.str("refresh_token"), nil).status != 200 {
			t.Fatal("refresh with a1")
		}
		wantOAuthError(t, e.refreshWith(pub, a1b.str("refresh_token"), nil), 400, "invalid_grant")

		// The previous token after the grace, its successor unused:
		// reuse.
		code, verifier = e.code(pub)
		g := e.exchange(pub, code, verifier, nil)
		g1 := e.refreshWith(pub, g.str("refresh_token"), nil)
		e.clock.Add(clientreg.DefaultRefreshTokenGrace)
		wantOAuthError(t, e.refreshWith(pub, g.str("refresh_token"), nil), 400, "invalid_grant")
		wantOAuthError(t, e.refreshWith(pub, g1.str("refresh_token"), nil), 400, "invalid_grant")
	})
}

// No grace: the previous token stops at once.
func TestRefreshWithoutGrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, func(c *clientreg.Config) { c.RefreshTokenGrace = clientreg.Off })
		pub := e.registerPublic(nil)
		code, verifier := e.code(pub)
		rt0 := e.exchange(pub, code, verifier, nil).str("refresh_token")
		rt1 := e.refreshWith(pub, rt0, nil).str("refresh_token")
		wantOAuthError(t, e.refreshWith(pub, rt0, nil), 400, "invalid_grant")
		wantOAuthError(t, e.refreshWith(pub, rt1, nil), 400, "invalid_grant")
	})
}

// RotateRefreshPublicOnly: a confidential client keeps its refresh token;
// a public client still rotates.
func TestRefreshRotationPublicOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, func(c *clientreg.Config) { c.RefreshRotation = clientreg.RotateRefreshPublicOnly })
		conf := e.registerPublic(map[string]any{"token_endpoint_auth_method": "client_secret_post", "redirect_uris": []string{"https://app.example/cb"}})
		code, verifier := e.code(conf)
		rt := e.exchange(conf, code, verifier, nil).str("refresh_token")
		for range 3 {
			r := e.refreshWith(conf, rt, nil)
			if r.status != 200 || r.str("refresh_token") != "" || r.str("access_token") == "" {
				t.Fatalf("refresh without rotation: %d %s", r.status, r.body)
			}
		}
		pub := e.registerPublic(nil)
		code, verifier = e.code(pub)
		prt := e.exchange(pub, code, verifier, nil).str("refresh_token")
		if r := e.refreshWith(pub, prt, nil); r.status != 200 || r.str("refresh_token") == "" || r.str("refresh_token") == prt {
			t.Fatalf("a public client must rotate: %d %s", r.status, r.body)
		}
	})
}

// Idle and absolute lifetimes.
func TestRefreshExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, func(c *clientreg.Config) {
			c.RefreshTokenLifetime = 10 * time.Hour
			c.RefreshTokenIdleLifetime = 3 * time.Hour
		})
		pub := e.registerPublic(nil)
		// Idle: unused for the idle lifetime.
		code, verifier := e.code(pub)
		rt := e.exchange(pub, code, verifier, nil).str("refresh_token")
		e.clock.Add(3 * time.Hour)
		wantOAuthError(t, e.refreshWith(pub, rt, nil), 400, "invalid_grant")
		// Refreshed within the idle lifetime every time, the grant still
		// ends at the absolute lifetime.
		code, verifier = e.code(pub)
		rt = e.exchange(pub, code, verifier, nil).str("refresh_token")
		for i := range 4 {
			e.clock.Add(2*time.Hour + 30*time.Minute)
			r := e.refreshWith(pub, rt, nil)
			if i < 3 {
				if r.status != 200 {
					t.Fatalf("refresh %d: %d %s", i, r.status, r.body)
				}
				rt = r.str("refresh_token")
				continue
			}
			wantOAuthError(t, r, 400, "invalid_grant") // 10h passed
		}
	})
}

// A refresh may narrow the scope and the audience, never widen them.
func TestRefreshNarrowing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		rs := e.resourceServer()
		pub := e.registerPublic(nil)
		code, verifier := e.code(pub, "https://mcp.example/a", "https://mcp.example/b")
		rt := e.exchange(pub, code, verifier, nil).str("refresh_token")
		wantOAuthError(t, e.refreshWith(pub, rt, url.Values{"scope": {"read admin"}}), 400, "invalid_scope")
		wantOAuthError(t, e.refreshWith(pub, rt, url.Values{"resource": {"https://mcp.example/c"}}), 400, "invalid_target")
		r := e.refreshWith(pub, rt, url.Values{"scope": {"read"}, "resource": {"https://mcp.example/b"}})
		if r.status != 200 || r.str("scope") != "read" {
			t.Fatalf("narrowed refresh: %d %s", r.status, r.body)
		}
		if in := wantActive(t, e, rs, r.str("access_token"), true); in.str("aud") != "https://mcp.example/b" || in.str("scope") != "read" {
			t.Fatalf("narrowed token: %s", in.body)
		}
		// The grant keeps its scope and audience: the next refresh without
		// parameters gets all of them again.
		r = e.refreshWith(pub, r.str("refresh_token"), nil)
		if in := wantActive(t, e, rs, r.str("access_token"), true); in.str("scope") != "read write" || len(in.m["aud"].([]any)) != 2 {
			t.Fatalf("the grant was narrowed: %s", in.body)
		}
		// Narrowing the client's registered scope narrows its refreshes.
		upd := e.jsonReq(http.MethodPut, pub.uri, pub.token, map[string]any{
			"client_id": pub.creds.id, "client_name": "Test App", "redirect_uris": []string{pub.redirect},
			"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"}, "scope": "read",
		})
		if upd.status != 200 {
			t.Fatalf("update: %d %s", upd.status, upd.body)
		}
		if r = e.refreshWith(pub, r.str("refresh_token"), nil); r.status != 200 || r.str("scope") != "read" {
			t.Fatalf("refresh after the client's scope narrowed: %d %s", r.status, r.body)
		}
	})
}

// Revoking a refresh token revokes its grant; deleting the client removes
// its grants.
func TestRefreshRevocation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		rs := e.resourceServer()
		pub := e.registerPublic(nil)
		code, verifier := e.code(pub)
		r := e.exchange(pub, code, verifier, nil)
		// Another client's revocation does nothing (200 all the same).
		if rv := e.form("/revoke", rs, url.Values{"token": {r.str("refresh_token")}}); rv.status != 200 {
			t.Fatalf("foreign revoke: %d", rv.status)
		}
		wantActive(t, e, rs, r.str("access_token"), true)
		if rv := e.form("/revoke", pub.creds, url.Values{"token": {r.str("refresh_token")}, "token_type_hint": {"refresh_token"}}); rv.status != 200 {
			t.Fatalf("revoke: %d %s", rv.status, rv.body)
		}
		wantActive(t, e, rs, r.str("access_token"), false)
		wantOAuthError(t, e.refreshWith(pub, r.str("refresh_token"), nil), 400, "invalid_grant")

		code, verifier = e.code(pub)
		r = e.exchange(pub, code, verifier, nil)
		if d := e.jsonReq(http.MethodDelete, pub.uri, pub.token, nil); d.status != 204 {
			t.Fatalf("delete: %d", d.status)
		}
		wantActive(t, e, rs, r.str("access_token"), false)
		wantOAuthError(t, e.refreshWith(pub, r.str("refresh_token"), nil), 401, "invalid_client")
	})
}

// Resources.Default is the audience of requests that name none.
func TestDefaultAudience(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, func(c *clientreg.Config) { c.Resources.Default = []string{"https://mcp.example/"} })
		rs := e.resourceServer()
		pub := e.registerPublic(nil)
		code, verifier := e.code(pub)
		r := e.exchange(pub, code, verifier, nil)
		if in := wantActive(t, e, rs, r.str("access_token"), true); in.str("aud") != "https://mcp.example/" {
			t.Fatalf("aud: %s", in.body)
		}
	})
}

// The building blocks, without the endpoint: an embedding server issues a
// code that the token endpoint redeems.
func TestBuildingBlocks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, func(c *clientreg.Config) {
			c.Authorizer = nil
			c.Metadata = &clientreg.ServerMetadata{AuthorizationEndpoint: "https://as.example/own-authorize"}
		})
		pub := e.registerPublic(nil)
		ctx := t.Context()
		c, err := e.h.LookupClient(ctx, pub.creds.id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.h.LookupClient(ctx, "nobody"); err == nil {
			t.Fatal("LookupClient found nobody")
		}
		if u, err := clientreg.MatchRedirectURI(c, "http://127.0.0.1:4711/cb"); err != nil || u != "http://127.0.0.1:4711/cb" {
			t.Fatalf("MatchRedirectURI loopback port: %q %v", u, err)
		}
		if _, err := clientreg.MatchRedirectURI(c, "http://127.0.0.1:4711/cb/x"); err == nil {
			t.Fatal("MatchRedirectURI accepted another path")
		}
		verifier, challenge := pkce()
		if !clientreg.VerifyPKCE(verifier, challenge, "S256") || clientreg.VerifyPKCE(verifier, challenge, "plain") || clientreg.VerifyPKCE(verifier+"x", challenge, "S256") {
			t.Fatal("VerifyPKCE")
		}
		code, err := e.h.IssueCode(ctx, clientreg.CodeRequest{
			ClientID: c.ID, RedirectURI: pub.redirect, RedirectURIGiven: true,
			CodeChallenge: challenge, CodeChallengeMethod: "S256", Subject: "ada", Scopes: []string{"read"},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := e.exchange(pub, code, verifier, nil)
		if r.status != 200 || r.str("scope") != "read" {
			t.Fatalf("exchange: %d %s", r.status, r.body)
		}
		md := e.jsonReq(http.MethodGet, e.iss+"/.well-known/oauth-authorization-server", "", nil)
		if md.str("authorization_endpoint") != "https://as.example/own-authorize" || !slices.Contains(anyStrings(md.m["grant_types_supported"]), "authorization_code") {
			t.Fatalf("metadata with an external endpoint: %s", md.body)
		}
	})
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// Remembered consent.
func TestConsentRemembered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		pub := e.registerPublic(nil)
		_, challenge := pkce()
		params := authzParams(pub, challenge)
		params.Set("scope", "read")
		e.authorize(params)
		req := e.lastRequest()
		ctx := t.Context()
		if ok, err := e.h.ConsentRemembered(ctx, "ada", req); ok || err != nil {
			t.Fatalf("remembered before: %v %v", ok, err)
		}
		if err := e.h.RememberConsent(ctx, "ada", req, nil, time.Hour); err != nil {
			t.Fatal(err)
		}
		if ok, _ := e.h.ConsentRemembered(ctx, "ada", req); !ok {
			t.Fatal("not remembered")
		}
		if ok, _ := e.h.ConsentRemembered(ctx, "bob", req); ok {
			t.Fatal("remembered for another user")
		}
		wider := *req
		wider.Scopes = []string{"read", "write"}
		if ok, _ := e.h.ConsentRemembered(ctx, "ada", &wider); ok {
			t.Fatal("remembered for a wider scope")
		}
		wider.Scopes, wider.Resources = req.Scopes, []string{"https://mcp.example/"}
		if ok, _ := e.h.ConsentRemembered(ctx, "ada", &wider); ok {
			t.Fatal("remembered for another resource")
		}
		e.clock.Add(time.Hour)
		if ok, _ := e.h.ConsentRemembered(ctx, "ada", req); ok {
			t.Fatal("remembered after its time")
		}
	})
}
