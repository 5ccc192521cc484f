package clientreg_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// tokenSecretAccepted reports whether secret's ClientSecretHash is one of
// TokenSecretHashes of the client id as the handler reads it now.
func tokenSecretAccepted(t *testing.T, e *testEnv, id, secret string) bool {
	t.Helper()
	c, err := e.h.LookupClient(context.Background(), id)
	if err != nil {
		t.Fatalf("LookupClient: %v", err)
	}
	want := e.h.ClientSecretHash(secret)
	ok := false
	for _, h := range e.h.TokenSecretHashes(c) {
		if hmac.Equal(h, want) {
			ok = true
		}
	}
	return ok
}

// wantSameAsTokenEndpoint checks that TokenSecretHashes accepts c's secret
// exactly when the handler's own token endpoint does.
func wantSameAsTokenEndpoint(t *testing.T, e *testEnv, what string, c clientCreds, want bool) {
	t.Helper()
	got := tokenSecretAccepted(t, e, c.id, c.secret)
	r := e.token(c, "")
	if got != want || (r.status == 200) != want {
		t.Errorf("%s: TokenSecretHashes accepts: %v, token endpoint: %d %s; want both %v", what, got, r.status, r.body, want)
	}
}

// ClientSecretHash is the hash the store keeps, under the purpose of client
// secrets only, and TokenSecretHashes accepts a secret exactly when
// AuthenticateTokenClient (the token endpoint) does: the current secret, the
// previous one within the overlap and not after it, never an expired
// secret. docs/behaviour.md §7.
func TestTokenSecretHashesFollowTheTokenEndpoint(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			e := newOAuthEnv(t, nil)
			old, cur, _, rat := rotateSecret(t, e, method)
			if got := e.stored(cur.id).SecretHash; !bytes.Equal(e.h.ClientSecretHash(cur.secret), got) {
				t.Fatalf("ClientSecretHash of the issued secret is not the stored SecretHash")
			}
			if bytes.Equal(e.h.ClientSecretHash(rat), e.stored(cur.id).TokenHash) {
				t.Fatal("ClientSecretHash of the registration access token equals its stored hash: no purpose in the MAC")
			}
			wrong := cur
			wrong.secret = cur.secret + "x"
			wantSameAsTokenEndpoint(t, e, "current secret", cur, true)
			wantSameAsTokenEndpoint(t, e, "previous secret within the overlap", old, true)
			wantSameAsTokenEndpoint(t, e, "wrong secret", wrong, false)

			e.clock.Add(clientreg.DefaultSecretOverlap + time.Second)
			wantSameAsTokenEndpoint(t, e, "previous secret after the overlap", old, false)
			wantSameAsTokenEndpoint(t, e, "current secret after the overlap", cur, true)
		})
	}
}

func TestTokenSecretHashesRefuseExpiredSecrets(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) { c.SecretLifetime = time.Hour })
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{
		"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "client_secret_basic", "scope": "read"})
	if reg.status != 201 {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	c := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: "client_secret_basic"}
	wantSameAsTokenEndpoint(t, e, "before client_secret_expires_at", c, true)
	e.clock.Add(time.Hour)
	wantSameAsTokenEndpoint(t, e, "at client_secret_expires_at", c, false)
}

// A disabled client, and a client whose method sends no secret, has no
// secret that authenticates it by client_secret_basic or _post.
func TestTokenSecretHashesNoneForDisabledAndOtherMethods(t *testing.T) {
	e := newOAuthEnv(t, nil)
	ctx := context.Background()
	for _, method := range []string{"client_secret_basic", "client_secret_jwt"} {
		reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{
			"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": method})
		if reg.status != 201 || reg.str("client_secret") == "" {
			t.Fatalf("register %s: %d %s", method, reg.status, reg.body)
		}
		id := reg.str("client_id")
		c, err := e.h.LookupClient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if method == "client_secret_jwt" {
			if got := e.h.TokenSecretHashes(c); got != nil {
				t.Errorf("client_secret_jwt: TokenSecretHashes = %d hashes, want none", len(got))
			}
			continue
		}
		if got := e.h.TokenSecretHashes(c); len(got) != 1 {
			t.Fatalf("enabled: TokenSecretHashes = %d hashes, want 1", len(got))
		}
		if err := e.store.SetClientDisabled(ctx, id, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		// LookupClient refuses a disabled client as an unknown one; a
		// caller that has its record anyway (Handler.Client reads the
		// store) still gets no hash.
		if _, err := e.h.LookupClient(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("LookupClient of a disabled client: %v, want store.ErrNotFound", err)
		}
		if c, err = e.h.Client(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := e.h.TokenSecretHashes(c); got != nil {
			t.Errorf("disabled: TokenSecretHashes = %d hashes, want none", len(got))
		}
	}
	_, jwks := ecKey(t)
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{
		"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks})
	if reg.status != 201 {
		t.Fatalf("register private_key_jwt: %d %s", reg.status, reg.body)
	}
	c, err := e.h.LookupClient(ctx, reg.str("client_id"))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.h.TokenSecretHashes(c); got != nil {
		t.Errorf("private_key_jwt: TokenSecretHashes = %d hashes, want none", len(got))
	}

	// A public client, on a registration endpoint for another
	// authorization server (the default grant types).
	e = newEnv(t, memoryBackend)
	reg = e.jsonReq("POST", e.iss+"/register", "", map[string]any{
		"redirect_uris": []string{"http://127.0.0.1/cb"}, "token_endpoint_auth_method": "none"})
	if reg.status != 201 {
		t.Fatalf("register none: %d %s", reg.status, reg.body)
	}
	if c, err = e.h.LookupClient(ctx, reg.str("client_id")); err != nil {
		t.Fatal(err)
	}
	if got := e.h.TokenSecretHashes(c); got != nil {
		t.Errorf("none: TokenSecretHashes = %d hashes, want none", len(got))
	}
}
