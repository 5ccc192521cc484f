package clientreg_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/internal/testutil"
)

// docs/behaviour.md §7: secrets at rest.

// recordText renders a stored record every way a database copy could show
// it.
func recordText(t *testing.T, v any) string {
	t.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(j) + "\n" + fmt.Sprintf("%#v", v) + "\n" + fmt.Sprintf("%+v", v)
}

// wantNotIn asserts that no plaintext credential appears in text, raw or in
// the encodings a store might use (testutil.CredentialForms).
func wantNotIn(t *testing.T, text string, creds ...string) {
	t.Helper()
	for _, c := range creds {
		if c == "" {
			t.Fatalf("empty credential")
		}
		if leak := testutil.FindCredential([]byte(text), map[string]string{"credential " + c: c}); leak != "" {
			t.Errorf("plaintext credential %q found in the stored record: %s", c, leak)
		}
	}
}

// TestSecretsNotStoredInPlaintext proves that after registration and
// updates the Store's records contain neither the client secret nor any
// registration access token in plaintext, nor the initial access token; and
// that secrets and tokens carry at least 256 bits.
func TestSecretsNotStoredInPlaintext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := tokenEnv(t, b)
		iat, rec, err := e.h.CreateInitialToken(context.Background(), clientreg.InitialTokenOptions{MaxUses: 3})
		if err != nil {
			t.Fatal(err)
		}
		wantNotIn(t, recordText(t, rec), iat)
		stored, err := e.store.Store.GetInitialToken(context.Background(), rec.Hash)
		if err != nil {
			t.Fatal(err)
		}
		wantNotIn(t, recordText(t, stored), iat)

		c := e.registerWith(body(nil), "Bearer "+iat)
		for _, v := range []string{c.Secret, c.Token, iat} {
			if raw, err := base64.RawURLEncoding.DecodeString(v); err != nil || len(raw) < 32 {
				t.Errorf("credential %q has fewer than 256 bits", v)
			}
		}
		creds := []string{c.Secret, c.Token, iat}
		wantNotIn(t, recordText(t, e.stored(c.ID)), creds...)

		r := e.put(c.URI, c.Token, updateBody(c, obj{"token_endpoint_auth_method": "none"}))
		t1 := r.mustStr(t, "registration_access_token")
		r = e.put(c.URI, t1, updateBody(c, obj{"token_endpoint_auth_method": "client_secret_post"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		creds = append(creds, t1, r.mustStr(t, "registration_access_token"), r.mustStr(t, "client_secret"))
		st := e.stored(c.ID)
		if st.PreviousTokenHash == nil || st.SecretHash == nil {
			t.Fatalf("expected a previous token and a secret in the record")
		}
		wantNotIn(t, recordText(t, st), creds...)
	})
}

// TestSecretKeyKeysTheHashes proves that the stored hashes depend on
// Config.SecretKey: two handlers with the same randomness (so the same
// plaintext credentials) but different keys store different hashes, and a
// handler with another key over a copy of the store accepts no credential.
func TestSecretKeyKeysTheHashes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		otherKey := bytes.Repeat([]byte{0x42}, 32)
		seeded := func(key []byte) option {
			return withConfig(func(c *clientreg.Config) { c.Rand = detRand(7); c.SecretKey = key })
		}
		e1 := newEnv(t, b, seeded(testKey))
		e2 := newEnv(t, b, seeded(otherKey))
		c1, c2 := e1.register(body(nil)), e2.register(body(nil))
		if c1.ID != c2.ID || c1.Secret != c2.Secret || c1.Token != c2.Token {
			t.Fatalf("Config.Rand did not make the credentials deterministic: %s vs %s", c1.res.body, c2.res.body)
		}
		s1, s2 := e1.stored(c1.ID), e2.stored(c2.ID)
		if bytes.Equal(s1.TokenHash, s2.TokenHash) || bytes.Equal(s1.SecretHash, s2.SecretHash) {
			t.Errorf("the same credentials hash equally under different keys")
		}
		// The registration access token and the client secret never hash
		// alike, even with the same key and the same plaintext.
		if bytes.Equal(s1.TokenHash, s1.SecretHash) {
			t.Errorf("token and secret hashes collide")
		}
		// A handler with another key over the same data accepts nothing.
		e3 := newEnvWithStore(t, e1.store.Store, withConfig(func(c *clientreg.Config) { c.SecretKey = otherKey }))
		wantInvalidToken(t, e3.get(strings.Replace(c1.URI, e1.srv.URL, e3.srv.URL, 1), c1.Token))
	})
}

// TestStoredHashIsNotACredential proves that a copy of the database yields
// no working credential: the stored hashes, in any common encoding, are
// refused as registration access token, client secret and initial access
// token.
func TestStoredHashIsNotACredential(t *testing.T) {
	encodings := func(h []byte) []string {
		return []string{base64.StdEncoding.EncodeToString(h), base64.RawStdEncoding.EncodeToString(h),
			base64.URLEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h), hex.EncodeToString(h)}
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := tokenEnv(t, b)
		iat, rec, err := e.h.CreateInitialToken(context.Background(), clientreg.InitialTokenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := e.registerWith(body(nil), "Bearer "+iat)
		st := e.stored(c.ID)
		for _, h := range [][]byte{st.TokenHash, st.SecretHash, rec.Hash} {
			for _, enc := range encodings(h) {
				wantInvalidToken(t, e.get(c.URI, enc))
				wantInvalidToken(t, e.post(body(nil), "Bearer "+enc))
				wantError(t, e.put(c.URI, c.Token, updateBody(c, obj{"client_secret": enc})), http.StatusBadRequest, "invalid_request")
			}
		}
		// The credentials themselves still work (the checks above refused
		// the hashes, not everything).
		e.mustGet(c, c.Token)
		if r := e.put(c.URI, c.Token, updateBody(c, obj{"client_secret": c.Secret})); r.status != http.StatusOK {
			t.Errorf("the real secret was refused: %d %s", r.status, r.body)
		}
	})
}
