package clientreg_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// rotateSecret registers a client_credentials client with method, rotates
// its secret over HTTP and returns the old and the new credentials, the
// client's configuration URI and its current registration access token.
func rotateSecret(t *testing.T, e *testEnv, method string) (old, cur clientCreds, uri, rat string) {
	t.Helper()
	meta := map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": method, "scope": "read"}
	reg := e.jsonReq("POST", e.iss+"/register", "", meta)
	if reg.status != 201 {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	old = clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: method}
	uri = reg.str("registration_client_uri")
	meta["client_id"] = old.id
	up := e.jsonReq("PUT", uri+"?rotate_secret=true", reg.str("registration_access_token"), meta)
	if up.status != 200 || up.str("client_secret") == "" || up.str("client_secret") == old.secret {
		t.Fatalf("rotate secret: %d %s", up.status, up.body)
	}
	cur = old
	cur.secret = up.str("client_secret")
	return old, cur, uri, up.str("registration_access_token")
}

// A rotated-out secret keeps working during the overlap at the token
// endpoint only: it cannot recover a registration access token (which would
// let it take the client over), introspect or revoke. docs/behaviour.md §5,
// §9. (issue 12, finding 1)
func TestRotatedOutSecretOnlyGetsAccessTokens(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post", "client_secret_jwt"} {
		t.Run(method, func(t *testing.T) {
			e := newOAuthEnv(t, nil)
			old, cur, uri, rat := rotateSecret(t, e, method)
			recovery := strings.TrimPrefix(uri, e.iss) + "/" + "registration_access_token"
			oldRec, curRec := old, cur
			oldRec.aud, curRec.aud = uri+"/registration_access_token", uri+"/registration_access_token"

			// Recovery with the old secret: refused, and nothing changes.
			wantOAuthError(t, e.form(recovery, oldRec, nil), 401, "invalid_client")
			if g := e.jsonReq("GET", uri, rat, nil); g.status != 200 {
				t.Fatalf("the owner's token after a refused recovery: %d %s", g.status, g.body)
			}

			// The token endpoint accepts the old secret during the overlap.
			tok := e.token(old, "")
			if tok.status != 200 {
				t.Fatalf("token with the old secret within the overlap: %d %s", tok.status, tok.body)
			}
			at := tok.str("access_token")

			// Introspection and revocation accept only the current secret.
			oldIn, oldRev := old, old
			oldIn.aud, oldRev.aud = e.iss+"/introspect", e.iss+"/revoke"
			wantOAuthError(t, e.introspect(oldIn, at), 401, "invalid_client")
			wantOAuthError(t, e.form("/revoke", oldRev, url.Values{"token": {at}}), 401, "invalid_client")
			curIn := cur
			curIn.aud = e.iss + "/introspect"
			if in := e.introspect(curIn, at); in.status != 200 || in.m["active"] != true {
				t.Fatalf("a refused revocation revoked the token: %d %s", in.status, in.body)
			}

			// The current secret recovers.
			if r := e.form(recovery, curRec, nil); r.status != 200 || r.str("registration_access_token") == "" {
				t.Fatalf("recovery with the current secret: %d %s", r.status, r.body)
			}
		})
	}
}

// With the overlap off (--secret-overlap 0), the old secret stops at once,
// at the token endpoint too.
func TestSecretOverlapOffEvictsAtOnce(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) { c.SecretOverlap = clientreg.Off })
	old, cur, _, _ := rotateSecret(t, e, "client_secret_basic")
	wantOAuthError(t, e.token(old, ""), 401, "invalid_client")
	if r := e.token(cur, ""); r.status != 200 {
		t.Fatalf("token with the new secret: %d %s", r.status, r.body)
	}
}
