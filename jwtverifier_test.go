package clientreg_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/resource"
)

// resource.JWTVerifier (docs/behaviour.md §13) against a server issuing
// JWT access tokens, through HTTP: discovery of the jwks_uri, offline
// verification, the typed refusals on the injected clock, a refetch of the
// JWKS after a key rotation (at most once per JWKSRefetchInterval), and
// revocation unseen.
func TestJWTVerifier(t *testing.T) {
	const (
		rotation = time.Hour
		lead     = 10 * time.Minute
	)
	e := newGrantEnv(t, memoryBackend, func(c *clientreg.Config) {
		withJWT("ES256")(c)
		c.SigningKeyRotation = rotation
		c.SigningKeyPublishLead = lead
	})
	ctx := t.Context()
	counter := &countingTransport{next: e.srv.Client().Transport}
	v, err := resource.NewJWTVerifier(resource.JWTVerifierConfig{
		Issuer: e.iss, Client: &http.Client{Transport: counter}, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := e.registerPublic(nil)
	res := e.mcpResource()
	tok := e.accessToken(pub, res)

	info, err := v.VerifyAccessToken(ctx, tok, res)
	if err != nil {
		t.Fatalf("a fresh token: %v", err)
	}
	if info.Subject != "ada" || info.ClientID != pub.creds.id || info.Issuer != e.iss ||
		!slices.Equal(info.Audience, []string{res}) || !info.ExpiresAt.Equal(e.clock.Now().Add(clientreg.DefaultAccessTokenLifetime).Truncate(time.Second)) {
		t.Errorf("token info %+v", info)
	}
	if n := counter.n.Load(); n != 2 {
		t.Errorf("first verification: %d requests, want 2 (metadata, JWKS)", n)
	}
	for range 3 {
		if _, err := v.VerifyAccessToken(ctx, tok, res); err != nil {
			t.Fatal(err)
		}
	}
	if n := counter.n.Load(); n != 2 {
		t.Errorf("the JWKS is not cached: %d requests", n)
	}

	// Refusals.
	if _, err := v.VerifyAccessToken(ctx, tok, "https://other.example/mcp"); !errors.Is(err, clientreg.ErrWrongAudience) {
		t.Errorf("another resource: %v, want ErrWrongAudience", err)
	}
	if _, err := v.VerifyAccessToken(ctx, e.accessToken(pub, "https://other.example/mcp"), res); !errors.Is(err, clientreg.ErrWrongAudience) {
		t.Errorf("a token for another resource: %v, want ErrWrongAudience", err)
	}
	parts := strings.Split(tok, ".")
	otherKid := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"made-up","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2]
	noTyp := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"x"}`)) + "." + parts[1] + "." + parts[2]
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory"}`)) + "." + parts[2]
	for name, bad := range map[string]string{"opaque": "not-a-jwt", "unknown kid": otherKid, "no typ": noTyp, "tampered": tampered} {
		if _, err := v.VerifyAccessToken(ctx, bad, res); !errors.Is(err, clientreg.ErrTokenUnknown) {
			t.Errorf("%s: %v, want ErrTokenUnknown", name, err)
		}
	}
	if n := counter.n.Load(); n != 2 {
		t.Errorf("an unknown kid within JWKSRefetchInterval of the fetch refetched: %d requests", n)
	}
	withURL, _ := resource.NewJWTVerifier(resource.JWTVerifierConfig{
		Issuer: e.iss, JWKSURL: e.iss + clientreg.JWKSPath, Client: e.srv.Client(), Now: e.clock.Now,
	})
	if _, err := withURL.VerifyAccessToken(ctx, tok, res); err != nil {
		t.Errorf("with JWKSURL given: %v", err)
	}

	// Revocation is invisible offline.
	if rv := e.form("/revoke", pub.creds, url.Values{"token": {tok}}); rv.status != 200 {
		t.Fatalf("revoke: %d", rv.status)
	}
	if _, err := v.VerifyAccessToken(ctx, tok, res); err != nil {
		t.Errorf("a revoked token offline: %v, want accepted until its exp", err)
	}

	// The middleware with the offline verifier.
	e.withResource(v)
	tok2 := e.accessToken(pub, res)
	if r := e.call("/mcp", tok2); r.status != 200 || string(r.body) != "ada via "+pub.creds.id {
		t.Fatalf("through the middleware: %d %s", r.status, r.body)
	}

	// Expiry, on the clock, with JWTLeeway.
	e.clock.Add(clientreg.DefaultAccessTokenLifetime)
	if _, err := v.VerifyAccessToken(ctx, tok2, res); err != nil {
		t.Errorf("at exp, within the leeway: %v", err)
	}
	e.clock.Add(resource.JWTLeeway + time.Second)
	if _, err := v.VerifyAccessToken(ctx, tok2, res); !errors.Is(err, clientreg.ErrTokenExpired) {
		t.Errorf("past exp and the leeway: %v, want ErrTokenExpired", err)
	}

	// A key rotation: the successor's first token makes one refetch.
	e.accessToken(pub, res) // due: the successor is made, published, not yet signing
	e.clock.Add(lead)
	tok3 := e.accessToken(pub, res)
	before := counter.n.Load()
	if _, err := v.VerifyAccessToken(ctx, tok3, res); err != nil {
		t.Fatalf("a token of the new key: %v", err)
	}
	if n := counter.n.Load() - before; n != 1 {
		t.Errorf("after the rotation: %d requests, want 1 (the JWKS)", n)
	}
	if _, err := v.VerifyAccessToken(ctx, otherKid, res); !errors.Is(err, clientreg.ErrTokenUnknown) || counter.n.Load()-before != 1 {
		t.Errorf("an unknown kid right after a refetch: %v, %d requests", err, counter.n.Load()-before)
	}
	e.clock.Add(resource.JWKSRefetchInterval)
	if _, err := v.VerifyAccessToken(ctx, otherKid, res); !errors.Is(err, clientreg.ErrTokenUnknown) || counter.n.Load()-before != 2 {
		t.Errorf("an unknown kid a minute later: %v, %d requests, want one more", err, counter.n.Load()-before)
	}

	// A server without JWT access tokens: a failure, not a verdict.
	opaque := newGrantEnv(t, memoryBackend, nil)
	ov, _ := resource.NewJWTVerifier(resource.JWTVerifierConfig{Issuer: opaque.iss, Client: opaque.srv.Client()})
	if _, err := ov.VerifyAccessToken(ctx, tok3, res); err == nil || refused(err) {
		t.Errorf("no jwks_uri: %v, want a failure that is no refusal", err)
	}
	if _, err := resource.NewJWTVerifier(resource.JWTVerifierConfig{Issuer: "not a url"}); err == nil {
		t.Error("a bad Issuer accepted")
	}
}
