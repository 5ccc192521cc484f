package clientreg_test

import (
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// In-process verification (docs/behaviour.md §13): tokens from the code
// flow and the client_credentials grant, verified with VerifyAccessToken.

// mcpResource is the resource of the env's MCP server.
func (e *authzEnv) mcpResource() string { return e.iss + "/mcp" }

// accessToken runs the code flow for pub with the resources given and
// returns the access token.
func (e *authzEnv) accessToken(pub regClient, resources ...string) string {
	e.t.Helper()
	code, verifier := e.code(pub, resources...)
	r := e.exchange(pub, code, verifier, nil)
	if r.status != 200 {
		e.t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	return r.mustStr(e.t, "access_token")
}

func TestVerifyAccessToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newGrantEnv(t, b, nil)
		ctx := t.Context()
		res := e.mcpResource()
		pub := e.registerPublic(nil)
		tok := e.accessToken(pub, res, "https://other.example/")
		before := e.store.called("GetAccessToken")
		info, err := e.h.VerifyAccessToken(ctx, tok, res)
		if err != nil {
			t.Fatal(err)
		}
		if n := e.store.called("GetAccessToken") - before; n != 1 {
			t.Errorf("one verification read the store %d times, want 1", n)
		}
		now := e.clock.Now()
		if info.ClientID != pub.creds.id || info.Subject != "ada" || !slices.Equal(info.Scopes, []string{"read", "write"}) ||
			!slices.Equal(info.Audience, []string{res, "https://other.example/"}) || info.Issuer != e.iss ||
			!info.ExpiresAt.Equal(now.Add(clientreg.DefaultAccessTokenLifetime).Truncate(time.Microsecond)) || info.IssuedAt.After(now) {
			t.Errorf("TokenInfo = %+v", info)
		}
		if !info.HasScopes("read") || info.HasScopes("read", "admin") {
			t.Error("HasScopes")
		}

		// Another resource; a token without an audience; unknown tokens.
		if _, err := e.h.VerifyAccessToken(ctx, tok, res+"/"); !errors.Is(err, clientreg.ErrWrongAudience) {
			t.Errorf("another resource: %v, want ErrWrongAudience", err)
		}
		if _, err := e.h.VerifyAccessToken(ctx, e.accessToken(pub), res); !errors.Is(err, clientreg.ErrWrongAudience) {
			t.Errorf("no audience: %v, want ErrWrongAudience", err)
		}
		for _, bad := range []string{"", "nope", tok + "x"} {
			if _, err := e.h.VerifyAccessToken(ctx, bad, res); !errors.Is(err, clientreg.ErrTokenUnknown) {
				t.Errorf("token %q: %v, want ErrTokenUnknown", bad, err)
			}
		}
		if _, err := e.h.VerifyAccessToken(ctx, tok, ""); err == nil || errors.Is(err, clientreg.ErrWrongAudience) {
			t.Errorf("no resource: %v, want a usage error", err)
		}

		// Revoked (RFC 7009): the record is gone, so the token is unknown.
		tok2 := e.accessToken(pub, res)
		if rv := e.form("/revoke", pub.creds, url.Values{"token": {tok2}}); rv.status != 200 {
			t.Fatalf("revoke: %d %s", rv.status, rv.body)
		}
		if _, err := e.h.VerifyAccessToken(ctx, tok2, res); !errors.Is(err, clientreg.ErrTokenUnknown) {
			t.Errorf("revoked: %v, want ErrTokenUnknown", err)
		}

		// Expired, at the instant of its expiry.
		e.clock.Add(clientreg.DefaultAccessTokenLifetime)
		if _, err := e.h.VerifyAccessToken(ctx, tok, res); !errors.Is(err, clientreg.ErrTokenExpired) {
			t.Errorf("expired: %v, want ErrTokenExpired", err)
		}

		// The store failing is not a verdict on the token.
		e.store.set("GetAccessToken", faultOutage)
		if _, err := e.h.VerifyAccessToken(ctx, tok, res); err == nil || refused(err) {
			t.Errorf("store outage: %v, want an error that is no refusal", err)
		}
	})
}

// refused reports whether err is one of the refusals of VerifyAccessToken.
func refused(err error) bool {
	for _, s := range []error{clientreg.ErrTokenUnknown, clientreg.ErrTokenExpired, clientreg.ErrTokenRevoked, clientreg.ErrWrongAudience} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Config.Resources.Default is the audience of tokens whose request named
// no resource, client_credentials ones included.
func TestVerifyDefaultAudience(t *testing.T) {
	e := newGrantEnv(t, memoryBackend, func(c *clientreg.Config) { c.Resources.Default = []string{"https://mcp.example/mcp"} })
	rs := e.resourceServer()
	r := e.token(rs, "")
	info, err := e.h.VerifyAccessToken(t.Context(), r.mustStr(t, "access_token"), "https://mcp.example/mcp")
	if err != nil {
		t.Fatal(err)
	}
	if info.Subject != "" || info.ClientID != rs.id {
		t.Errorf("TokenInfo = %+v", info)
	}
	pub := e.registerPublic(nil)
	if _, err := e.h.VerifyAccessToken(t.Context(), e.accessToken(pub), "https://mcp.example/mcp"); err != nil {
		t.Errorf("code flow token with the default audience: %v", err)
	}
}
