package clientreg_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// docs/behaviour.md §4: the client information response (RFC 7591 §3.2.1, RFC 7592 §3).

var urlSafe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// TestRegistrationResponse proves the members of a registration response:
// 201 JSON with no-store headers; a URL-safe client_id of at least 128 bits;
// client_id_issued_at from the clock; a secret with client_secret_expires_at
// 0; an absolute registration_client_uri (registration endpoint + "/" +
// client_id) and a registration_access_token.
func TestRegistrationResponse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.clock.Add(1234 * time.Millisecond)
		r := e.post(body(nil), "")
		if r.status != http.StatusCreated {
			t.Fatalf("status %d, want 201: %s", r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, jsonType) {
			t.Errorf("Content-Type = %q", ct)
		}
		wantNoStore(t, r)
		id := r.mustStr(t, "client_id")
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) < 16 || !urlSafe.MatchString(id) {
			t.Errorf("client_id %q is not URL-safe with at least 128 bits (%d bytes, %v)", id, len(raw), err)
		}
		if got, want := r.num(t, "client_id_issued_at"), e.clock.Now().Unix(); got != want {
			t.Errorf("client_id_issued_at = %d, want %d", got, want)
		}
		if r.mustStr(t, "client_secret") == "" {
			t.Errorf("empty client_secret")
		}
		if got := r.num(t, "client_secret_expires_at"); got != 0 {
			t.Errorf("client_secret_expires_at = %d, want 0", got)
		}
		if r.mustStr(t, "registration_access_token") == "" {
			t.Errorf("empty registration_access_token")
		}
		uri := r.mustStr(t, "registration_client_uri")
		if want := e.registrationEndpoint() + "/" + id; uri != want {
			t.Errorf("registration_client_uri = %q, want %q", uri, want)
		}
		if u, err := url.Parse(uri); err != nil || !u.IsAbs() || u.Host == "" {
			t.Errorf("registration_client_uri %q is not absolute", uri)
		}
		// Every registration gets its own identifiers and credentials.
		seen := map[string]bool{}
		for range 20 {
			c := e.register(body(nil))
			for _, v := range []string{c.ID, c.Secret, c.Token} {
				if seen[v] {
					t.Fatalf("value %q issued twice", v)
				}
				seen[v] = true
			}
		}
	})
}

// TestClientSecretIssuance proves that a client_secret (with
// client_secret_expires_at) is issued exactly for the secret-based
// authentication methods, and never for none, private_key_jwt or the TLS
// methods.
func TestClientSecretIssuance(t *testing.T) {
	cases := []struct {
		method string
		secret bool
	}{
		{"client_secret_basic", true},
		{"client_secret_post", true},
		{"client_secret_jwt", true},
		{"none", false},
		{"private_key_jwt", false},
		{"tls_client_auth", false},
		{"self_signed_tls_client_auth", false},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{TokenEndpointAuthMethodsSupported: []string{
				"client_secret_basic", "client_secret_post", "client_secret_jwt", "none", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}}
		}))
		for _, tc := range cases {
			t.Run(tc.method, func(t *testing.T) {
				c := e.register(body(obj{"token_endpoint_auth_method": tc.method, "jwks_uri": "https://app.example/jwks"}))
				for _, r := range []*response{c.res, e.mustGet(c, c.Token)} {
					if got := r.has(t, "client_secret_expires_at"); got != tc.secret {
						t.Errorf("client_secret_expires_at present = %v, want %v: %s", got, tc.secret, r.body)
					}
				}
				if got := c.res.has(t, "client_secret"); got != tc.secret {
					t.Errorf("client_secret present = %v, want %v", got, tc.secret)
				}
				if got := e.stored(c.ID).SecretHash != nil; got != tc.secret {
					t.Errorf("stored secret hash present = %v, want %v", got, tc.secret)
				}
			})
		}
	})
}

// TestSecretLifetime proves client_secret_expires_at = time of issue +
// Config.SecretLifetime, for registration and for a secret issued by an
// update.
func TestSecretLifetime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.SecretLifetime = 24 * time.Hour }))
		c := e.register(body(nil))
		if got, want := c.res.num(t, "client_secret_expires_at"), e.clock.Now().Add(24*time.Hour).Unix(); got != want {
			t.Errorf("client_secret_expires_at = %d, want %d", got, want)
		}
		if got, want := e.mustGet(c, c.Token).num(t, "client_secret_expires_at"), e.clock.Now().Add(24*time.Hour).Unix(); got != want {
			t.Errorf("read: client_secret_expires_at = %d, want %d", got, want)
		}
		pub := e.register(body(obj{"token_endpoint_auth_method": "none"}))
		e.clock.Add(time.Hour)
		r := e.put(pub.URI, pub.Token, body(obj{"client_id": pub.ID, "token_endpoint_auth_method": "client_secret_post"}))
		if r.status != http.StatusOK {
			t.Fatalf("PUT: status %d: %s", r.status, r.body)
		}
		if got, want := r.num(t, "client_secret_expires_at"), e.clock.Now().Add(24*time.Hour).Unix(); got != want {
			t.Errorf("update: client_secret_expires_at = %d, want %d", got, want)
		}
	})
}

// fullBody registers every kind of member.
func fullBody() string {
	return body(obj{
		"redirect_uris":              []string{"https://app.example/cb", "http://127.0.0.1:8080/cb"},
		"token_endpoint_auth_method": "client_secret_post",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"client_name":                "Full <Client> & Co",
		"client_name#fr":             "Client complet",
		"client_uri":                 "https://app.example/",
		"logo_uri":                   "https://app.example/logo.png",
		"logo_uri#ja-Jpan-JP":        "https://app.example/logo-ja.png",
		"scope":                      "openid profile",
		"contacts":                   []string{"ops@app.example"},
		"tos_uri":                    "https://app.example/tos",
		"policy_uri":                 "https://app.example/policy",
		"jwks":                       jwkSet(testKeys().ecPub),
		"software_id":                "4NRB1-0XZABZI9E6-5SM3R",
		"software_version":           "2.1",
		"x_tenant":                   "t-9",
	})
}

// TestResponseBuiltFromStore proves that the registration, read and update
// responses carry every registered member (defaults included) and agree
// with each other and with the record in the Store.
func TestResponseBuiltFromStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) { c.Extensions = []clientreg.Extension{{Name: "x_tenant"}} }))
		c := e.register(fullBody())
		read := e.mustGet(c, c.Token)
		wantNoStore(t, read)
		// The read response is the registration response minus the secret,
		// which is kept only as a hash.
		sameMembers(t, "register vs read", without(t, c.res, "client_secret"), read.members(t))

		// The metadata members equal the stored record's metadata.
		stored, err := json.Marshal(e.stored(c.ID).Metadata)
		if err != nil {
			t.Fatal(err)
		}
		var storedMembers map[string]json.RawMessage
		if err := json.Unmarshal(stored, &storedMembers); err != nil {
			t.Fatal(err)
		}
		sameMembers(t, "read vs store", without(t, read, "client_id", "client_id_issued_at", "client_secret_expires_at",
			"registration_access_token", "registration_client_uri"), storedMembers)

		// An update response agrees with the next read.
		upd := e.put(c.URI, c.Token, strings.Replace(fullBody(), "{", `{"client_id":`+js(c.ID)+",", 1))
		if upd.status != http.StatusOK {
			t.Fatalf("PUT: status %d: %s", upd.status, upd.body)
		}
		wantNoStore(t, upd)
		newToken := upd.mustStr(t, "registration_access_token")
		sameMembers(t, "update vs read", upd.members(t), e.mustGet(c, newToken).members(t))
		sameMembers(t, "update vs register", without(t, upd, "registration_access_token"), without(t, c.res, "client_secret", "registration_access_token"))
	})
}

// TestInjectedGenerators proves that Config.NewClientID and Config.NewSecret
// are the source of client ids, secrets and tokens, and that
// registration_client_uri escapes an id that needs it and still addresses
// the client.
func TestInjectedGenerators(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		n := 0
		e := newEnv(t, b, withConfig(func(c *clientreg.Config) {
			c.NewClientID = func(context.Context) (string, error) { return "tenant a/client é", nil }
			c.NewSecret = func(context.Context) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				n++
				return fmt.Sprintf("secret-%02d-%s", n, strings.Repeat("x", 40)), nil
			}
		}))
		c := e.register(body(nil))
		if c.ID != "tenant a/client é" {
			t.Errorf("client_id = %q, want the injected one", c.ID)
		}
		if !strings.HasPrefix(c.Token, "secret-") || !strings.HasPrefix(c.Secret, "secret-") || c.Token == c.Secret {
			t.Errorf("token %q and secret %q do not come from NewSecret", c.Token, c.Secret)
		}
		if want := e.registrationEndpoint() + "/" + url.PathEscape(c.ID); c.URI != want {
			t.Errorf("registration_client_uri = %q, want %q", c.URI, want)
		}
		if got := e.mustGet(c, c.Token).mustStr(t, "client_id"); got != c.ID {
			t.Errorf("client_id read back = %q", got)
		}
		if r := e.put(c.URI, c.Token, updateBody(c, nil)); r.status != http.StatusOK {
			t.Errorf("PUT at the escaped URI: %d %s", r.status, r.body)
		}
		before := e.stored(c.ID)
		// A second client with the same generated id is refused (a broken
		// generator is the server's fault), never overwrites the first.
		r := e.post(body(obj{"client_name": "intruder"}), "")
		if r.status == http.StatusCreated {
			t.Fatalf("colliding client id registered: %s", r.body)
		}
		checkErrorBody(t, r)
		if after := e.stored(c.ID); after.Revision != before.Revision || after.Metadata.ClientName != "" {
			t.Errorf("the first client was overwritten: %+v", after)
		}
	})
}
