package clientreg_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/postgres/pgtest"
)

// JWT access tokens (RFC 9068; docs/behaviour.md §9, §13): what an offline
// verifier sees through the published JWKS, what introspection,
// revocation and VerifyAccessToken make of them, key rotation on the
// injected clock, and instances sharing their keys through the store.

func withJWT(alg string) func(*clientreg.Config) {
	return func(c *clientreg.Config) {
		c.AccessTokenFormat = clientreg.TokenFormatJWT
		c.AccessTokenSigningAlg = alg
	}
}

// jwks fetches the env's JWKS through HTTP, checking how it is served.
func (e *testEnv) jwks() jose.JSONWebKeySet {
	e.t.Helper()
	r := e.get(e.iss+clientreg.JWKSPath, "")
	if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "*" ||
		r.header.Get("Cache-Control") != "public, max-age=300" || r.header.Get("Content-Type") != "application/jwk-set+json" {
		e.t.Fatalf("GET jwks: %d %v %s", r.status, r.header, r.body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		e.t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.KeyID == "" || k.Algorithm == "" {
			e.t.Errorf("published key %+v: want a public signing key with kid and alg", k)
		}
	}
	return set
}

// atClaims are the claims of RFC 9068 §2.2 as an offline verifier reads them.
type atClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// offlineVerify verifies tok with set as a resource server in another
// process would (RFC 9068 §4): typ, alg, kid, signature, iss and exp at now.
func offlineVerify(t *testing.T, set jose.JSONWebKeySet, iss, tok string, now time.Time) (*atClaims, string, error) {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return nil, "", err
	}
	h := parsed.Headers[0]
	if h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Errorf("typ = %v, want at+jwt", h.ExtraHeaders[jose.HeaderType])
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		return nil, h.KeyID, errors.New("kid not published")
	}
	if keys[0].Algorithm != h.Algorithm {
		t.Errorf("alg %s, key's %s", h.Algorithm, keys[0].Algorithm)
	}
	var c atClaims
	if err := parsed.Claims(keys[0].Key, &c); err != nil {
		return nil, h.KeyID, err
	}
	return &c, h.KeyID, c.ValidateWithLeeway(jwt.Expected{Issuer: iss, Time: now}, 0)
}

func TestJWTAccessTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, withJWT(""))
		ctx := t.Context()
		res := e.mcpResource()
		if m := e.get(e.iss+"/.well-known/oauth-authorization-server", ""); m.str("jwks_uri") != e.iss+"/jwks.json" {
			t.Fatalf("jwks_uri = %q", m.str("jwks_uri"))
		}
		rs := e.resourceServer()
		pub := e.registerPublic(nil)
		lifetime := clientreg.DefaultAccessTokenLifetime

		// One token of each grant.
		cc := e.form("/token", rs, url.Values{"grant_type": {"client_credentials"}, "resource": {res}})
		if cc.status != 200 {
			t.Fatalf("client_credentials: %d %s", cc.status, cc.body)
		}
		code, verifier := e.code(pub, res)
		ex := e.exchange(pub, code, verifier, nil)
		if ex.status != 200 {
			t.Fatalf("exchange: %d %s", ex.status, ex.body)
		}
		rf := e.refreshWith(pub, ex.mustStr(t, "refresh_token"), nil)
		if rf.status != 200 {
			t.Fatalf("refresh: %d %s", rf.status, rf.body)
		}
		set := e.jwks()
		if len(set.Keys) != 1 || set.Keys[0].Algorithm != "RS256" {
			t.Fatalf("JWKS %+v: want one RS256 key", set.Keys)
		}
		jtis := map[string]bool{}
		for _, tc := range []struct {
			name, tok, sub, clientID, scope string
		}{
			{"client_credentials", cc.mustStr(t, "access_token"), rs.id, rs.id, ""},
			{"authorization_code", ex.mustStr(t, "access_token"), "ada", pub.creds.id, "read write"},
			{"refresh_token", rf.mustStr(t, "access_token"), "ada", pub.creds.id, "read write"},
		} {
			c, kid, err := offlineVerify(t, set, e.iss, tc.tok, e.clock.Now())
			if err != nil {
				t.Fatalf("%s: offline verification: %v", tc.name, err)
			}
			if kid != set.Keys[0].KeyID || c.Subject != tc.sub || c.ClientID != tc.clientID || c.Scope != tc.scope ||
				!slices.Equal(c.Audience, jwt.Audience{res}) || c.ID == "" || jtis[c.ID] ||
				c.Expiry.Time().Sub(c.IssuedAt.Time()) != lifetime {
				t.Errorf("%s: claims %+v", tc.name, c)
			}
			jtis[c.ID] = true
			info, err := e.h.VerifyAccessToken(ctx, tc.tok, res)
			if err != nil || info.ClientID != tc.clientID || !slices.Equal(info.Audience, []string{res}) {
				t.Errorf("%s: VerifyAccessToken = %+v, %v", tc.name, info, err)
			}
			wantActive(t, e.authzEnv(), rs, tc.tok, true)
		}

		// Another resource; tampering; a token without an audience.
		tok := ex.mustStr(t, "access_token")
		if _, err := e.h.VerifyAccessToken(ctx, tok, res+"/other"); !errors.Is(err, clientreg.ErrWrongAudience) {
			t.Errorf("another resource: %v, want ErrWrongAudience", err)
		}
		parts := strings.Split(tok, ".")
		for _, bad := range []string{parts[0] + "." + parts[1] + "x." + parts[2], parts[0] + ".." + parts[2], "a.b.c", tok[:len(tok)-2]} {
			if _, err := e.h.VerifyAccessToken(ctx, bad, res); !errors.Is(err, clientreg.ErrTokenUnknown) {
				t.Errorf("tampered %q: %v, want ErrTokenUnknown", bad, err)
			}
		}
		bare := e.token(rs, "")
		c, _, err := offlineVerify(t, set, e.iss, bare.mustStr(t, "access_token"), e.clock.Now())
		if err != nil || !slices.Equal(c.Audience, jwt.Audience{e.iss}) {
			t.Errorf("no resource: aud %v, %v; want the issuer (RFC 9068 §3)", c, err)
		}
		for _, r := range []string{res, e.iss} {
			if _, err := e.h.VerifyAccessToken(ctx, bare.mustStr(t, "access_token"), r); !errors.Is(err, clientreg.ErrWrongAudience) {
				t.Errorf("no resource, presented to %s: %v, want ErrWrongAudience", r, err)
			}
		}

		// Revoked: inactive, ErrTokenRevoked; offline it still verifies.
		if rv := e.form("/revoke", pub.creds, url.Values{"token": {tok}}); rv.status != 200 {
			t.Fatalf("revoke: %d %s", rv.status, rv.body)
		}
		wantActive(t, e.authzEnv(), rs, tok, false)
		if _, err := e.h.VerifyAccessToken(ctx, tok, res); !errors.Is(err, clientreg.ErrTokenRevoked) {
			t.Errorf("revoked: %v, want ErrTokenRevoked", err)
		}
		if _, _, err := offlineVerify(t, set, e.iss, tok, e.clock.Now()); err != nil {
			t.Errorf("revoked, offline: %v (revocation is invisible offline)", err)
		}

		// Expired, at the instant of its expiry.
		e.clock.Add(lifetime)
		if _, err := e.h.VerifyAccessToken(ctx, cc.mustStr(t, "access_token"), res); !errors.Is(err, clientreg.ErrTokenExpired) {
			t.Errorf("expired: %v, want ErrTokenExpired", err)
		}
		wantActive(t, e.authzEnv(), rs, cc.mustStr(t, "access_token"), false)
	})
}

// authzEnv returns e itself; wantActive takes an *authzEnv.
func (e *authzEnv) authzEnv() *authzEnv { return e }

// With a short rotation on the fake clock: the successor is published a
// lead before it signs, a token signed before the rotation verifies until
// it expires, and the old key is published until its ExpiresAt.
func TestJWTKeyRotation(t *testing.T) {
	const (
		rotation = time.Hour
		lead     = 10 * time.Minute
		lifetime = 30 * time.Minute
	)
	e := newGrantEnv(t, memoryBackend, func(c *clientreg.Config) {
		withJWT("ES256")(c)
		c.SigningKeyRotation = rotation
		c.SigningKeyPublishLead = lead
		c.AccessTokenLifetime = lifetime
		c.Resources.Default = []string{"https://mcp.example/mcp"}
	})
	ctx := t.Context()
	rs := e.resourceServer()
	start := e.clock.Now()
	issue := func() (string, string) {
		t.Helper()
		tok := e.token(rs, "").mustStr(t, "access_token")
		_, kid, err := offlineVerify(t, e.jwks(), e.iss, tok, e.clock.Now())
		if err != nil {
			t.Fatalf("offline verification at issuance: %v", err)
		}
		return tok, kid
	}
	kids := func() []string {
		var out []string
		for _, k := range e.jwks().Keys {
			out = append(out, k.KeyID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }

	tok1, kid1 := issue() // generation 1, signing at once: there was no key
	e.clock.Add(rotation - lead - time.Second)
	if _, kid := issue(); kid != kid1 {
		t.Fatalf("before the rotation is due: signed with %s, want %s", kid, kid1)
	}
	e.clock.Add(time.Second) // due: generation 2 is made, published, not yet used
	tok2, kid := issue()
	if kid != kid1 {
		t.Fatalf("successor signed before its activation")
	}
	keys, err := e.store.ListSigningKeys(ctx, e.clock.Now())
	if err != nil || len(keys) != 2 || keys[1].Generation != 2 || !keys[1].ActivateAt.Equal(keys[1].CreatedAt.Add(lead)) {
		t.Fatalf("keys after the rotation: %v %v", keys, err)
	}
	kid2 := keys[1].ID
	if got := kids(); !slices.Equal(got, sorted(kid1, kid2)) {
		t.Fatalf("JWKS %v, want both keys", got)
	}
	if !keys[0].RetireAt.Equal(keys[0].ActivateAt.Add(2*rotation)) || !keys[0].ExpiresAt.Equal(keys[0].RetireAt.Add(lifetime)) {
		t.Errorf("generation 1: %+v", keys[0])
	}

	e.clock.Add(lead) // the successor signs
	tok3, kid := issue()
	if kid != kid2 {
		t.Fatalf("after the activation: signed with %s, want %s", kid, kid2)
	}
	// tok2, signed with the old key before the rotation, verifies until it
	// expires, online and offline.
	for _, tok := range []string{tok2, tok3} {
		if _, err := e.h.VerifyAccessToken(ctx, tok, "https://mcp.example/mcp"); err != nil {
			t.Errorf("after the rotation: %v", err)
		}
	}
	if _, err := e.h.VerifyAccessToken(ctx, tok1, "https://mcp.example/mcp"); !errors.Is(err, clientreg.ErrTokenExpired) {
		t.Errorf("tok1 past its expiry: %v", err)
	}
	expires2 := start.Add(rotation - lead).Add(lifetime)
	e.clock.Set(expires2.Add(-time.Second))
	if _, _, err := offlineVerify(t, e.jwks(), e.iss, tok2, e.clock.Now()); err != nil {
		t.Errorf("tok2 a second before its expiry, offline: %v", err)
	}
	if _, err := e.h.VerifyAccessToken(ctx, tok2, "https://mcp.example/mcp"); err != nil {
		t.Errorf("tok2 a second before its expiry: %v", err)
	}
	e.clock.Set(expires2)
	if _, err := e.h.VerifyAccessToken(ctx, tok2, "https://mcp.example/mcp"); !errors.Is(err, clientreg.ErrTokenExpired) {
		t.Errorf("tok2 at its expiry: %v", err)
	}

	// The old key stays published until its ExpiresAt, then goes.
	e.clock.Set(keys[0].ExpiresAt.Add(-time.Second))
	if !slices.Contains(kids(), kid1) {
		t.Errorf("generation 1 unpublished before its ExpiresAt")
	}
	e.clock.Set(keys[0].ExpiresAt.Add(clientreg.DefaultAccessTokenLifetime)) // past the handler's key cache too
	if got := kids(); slices.Contains(got, kid1) {
		t.Errorf("JWKS %v still has generation 1 after its ExpiresAt", got)
	}
}

// sharedStores returns two stores over one database, as two instances of
// a deployment have: the same store for memory and SQLite, two stores on
// one schema for PostgreSQL.
func sharedStores(t *testing.T, name string) (store.Store, store.Store) {
	t.Helper()
	switch name {
	case "memory":
		s := memoryBackend.open(t)
		return s, s
	case "sqlite":
		s := sqliteBackend.open(t)
		return s, s
	}
	dsn := pgtest.DSN(t)
	open := func() store.Store {
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

// Two instances sharing a store (PostgreSQL: two stores on one schema),
// with the same SecretKey and issuer, sign with the same keys, verify each
// other's tokens and publish the same JWKS; concurrent first signings on
// both make one key generation.
func TestJWTInstancesShareKeys(t *testing.T) {
	for _, name := range []string{"memory", "sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st1, st2 := sharedStores(t, name)
			clock := newClock()
			newHandler := func(st store.Store) *clientreg.Handler {
				h, err := clientreg.New(clientreg.Config{
					Issuer: "https://as.example", Store: st, SecretKey: testKey, Now: clock.Now,
					ServeTokenEndpoints: true, AccessTokenFormat: clientreg.TokenFormatJWT, AccessTokenSigningAlg: "ES256",
					Resources:             clientreg.ResourcePolicy{Default: []string{"https://mcp.example/mcp"}},
					Limits:                clientreg.Limits{Disabled: true},
					SigningKeyPublishLead: clientreg.Off,
				})
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			h1, h2 := newHandler(st1), newHandler(st2)
			info, err := h1.Register(ctx, "", clientreg.Metadata{ClientName: "svc", GrantTypes: []string{"client_credentials"}})
			if err != nil {
				t.Fatal(err)
			}
			issue := func(h *clientreg.Handler) string {
				c, err := h.LookupClient(ctx, info.ClientID)
				if err != nil {
					t.Error(err)
					return ""
				}
				r, err := h.IssueClientCredentialsToken(ctx, c, "")
				if err != nil {
					t.Error(err)
					return ""
				}
				return r.AccessToken
			}
			// Concurrent first signings on both instances.
			var wg sync.WaitGroup
			toks := make([]string, 8)
			for i := range toks {
				wg.Go(func() { toks[i] = issue([]*clientreg.Handler{h1, h2}[i%2]) })
			}
			wg.Wait()
			keys, err := st1.ListSigningKeys(ctx, clock.Now())
			if err != nil || len(keys) != 1 || keys[0].Generation != 1 {
				t.Fatalf("after concurrent first signings: %d keys, %v; want one of generation 1", len(keys), err)
			}
			for i, tok := range toks {
				for _, h := range []*clientreg.Handler{h1, h2} {
					if _, err := h.VerifyAccessToken(ctx, tok, "https://mcp.example/mcp"); err != nil {
						t.Errorf("token %d: %v", i, err)
					}
				}
			}
			jwks := func(h *clientreg.Handler) string {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://as.example/jwks.json", nil))
				if rec.Code != 200 {
					t.Fatalf("jwks: %d %s", rec.Code, rec.Body)
				}
				return rec.Body.String()
			}
			if j1, j2 := jwks(h1), jwks(h2); j1 != j2 || !strings.Contains(j1, keys[0].ID) {
				t.Errorf("the instances publish different JWKS:\n%s\n%s", j1, j2)
			}

			// A rotation made by one instance: the other verifies the new
			// key's tokens at once (the unknown kid makes it list again,
			// its cache notwithstanding), and both keep verifying the old
			// key's. (The publish lead is Off here, so the new key signs
			// at once.)
			clock.Add(clientreg.DefaultSigningKeyRotation - 30*time.Second)
			old := issue(h1)
			if _, err := h2.VerifyAccessToken(ctx, old, "https://mcp.example/mcp"); err != nil {
				t.Fatal(err)
			}
			clock.Add(30 * time.Second) // due: h1 makes generation 2
			fresh := issue(h1)
			keys, err = st1.ListSigningKeys(ctx, clock.Now())
			if err != nil || len(keys) != 2 || keys[1].Generation != 2 {
				t.Fatalf("after the rotation: %d keys, %v", len(keys), err)
			}
			for _, tok := range []string{old, fresh} {
				for _, h := range []*clientreg.Handler{h2, h1} {
					if _, err := h.VerifyAccessToken(ctx, tok, "https://mcp.example/mcp"); err != nil {
						t.Errorf("after the rotation: %v", err)
					}
				}
			}
			if j1, j2 := jwks(h1), jwks(h2); j1 != j2 {
				t.Errorf("after the rotation, the instances publish different JWKS:\n%s\n%s", j1, j2)
			}
		})
	}
}

// The JWT settings New refuses, and the ones it takes.
func TestJWTConfig(t *testing.T) {
	base := clientreg.Config{Issuer: "https://as.example", SecretKey: testKey, AccessTokenFormat: clientreg.TokenFormatJWT}
	for _, tc := range []struct {
		name   string
		mutate func(*clientreg.Config)
	}{
		{"unknown format", func(c *clientreg.Config) { c.AccessTokenFormat = 7 }},
		{"unknown alg", func(c *clientreg.Config) { c.AccessTokenSigningAlg = "HS256" }},
		{"rotation Off", func(c *clientreg.Config) { c.SigningKeyRotation = clientreg.Off }},
		{"lead not shorter than rotation", func(c *clientreg.Config) { c.SigningKeyRotation = time.Minute }},
		{"jwks_uri of the operator", func(c *clientreg.Config) { c.Metadata = &clientreg.ServerMetadata{JWKSURI: "https://keys.example/"} }},
	} {
		c := base
		tc.mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", tc.name)
		}
	}
	ok := base
	ok.SigningKeyPublishLead = clientreg.Off
	ok.SigningKeyRotation = time.Minute
	if err := ok.Validate(); err != nil {
		t.Errorf("lead Off: %v", err)
	}
	if clientreg.TokenFormatJWT.String() != "jwt" || clientreg.TokenFormatOpaque.String() != "opaque" {
		t.Error("AccessTokenFormat.String")
	}
}
