package clientreg_test

import (
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// A change of registration that ends the grounds of a client's access
// tokens ends the tokens, in the same write: rotating the secret (the
// deployment gets new tokens with the old secret during the overlap),
// narrowing the scope (tokens with a scope the client no longer has),
// removing client_credentials and switching to none. docs/behaviour.md §9.
// (issue 12, finding 6)
func TestClientChangesRevokeAccessTokens(t *testing.T) {
	for _, tc := range []struct {
		name   string
		query  string
		change map[string]any
		// wideStays: the token of scope "read" survives the change.
		readStays bool
	}{
		{name: "rotate_secret", query: "?rotate_secret=true"},
		{name: "narrow scope", change: map[string]any{"scope": "read"}, readStays: true},
		{name: "remove client_credentials", change: map[string]any{"grant_types": []string{"authorization_code"}, "response_types": []string{"code"}, "redirect_uris": []string{"https://app.test/cb"}}},
		{name: "switch to none", change: map[string]any{"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code"}, "response_types": []string{"code"}, "redirect_uris": []string{"https://app.test/cb"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b backend) {
				rsID := ""
				e := newOAuthEnv(t, func(c *clientreg.Config) {
					c.Store = b.open(t)
					withCodeFlow(c) // the changes switch to the authorization code grant
					c.MayIntrospect = func(caller *clientreg.Client, tok *store.AccessToken) bool {
						return caller.ID == rsID || caller.ID == tok.ClientID
					}
				})
				rs := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
				rsID = rs.str("client_id")
				rsCreds := clientCreds{id: rsID, secret: rs.str("client_secret"), method: "client_secret_basic"}

				meta := map[string]any{"grant_types": []string{"client_credentials"}, "scope": "read write"}
				reg := e.jsonReq("POST", e.iss+"/register", "", meta)
				c := clientCreds{id: reg.str("client_id"), secret: reg.str("client_secret"), method: "client_secret_basic"}
				wide, narrow := e.token(c, "read write").str("access_token"), e.token(c, "read").str("access_token")
				for _, at := range []string{wide, narrow} {
					if in := e.introspect(c, at); in.m["active"] != true {
						t.Fatalf("introspect before the change: %s", in.body)
					}
				}

				put := map[string]any{"client_id": c.id}
				for k, v := range meta {
					put[k] = v
				}
				for k, v := range tc.change {
					put[k] = v
				}
				up := e.jsonReq("PUT", reg.str("registration_client_uri")+tc.query, reg.str("registration_access_token"), put)
				if up.status != 200 {
					t.Fatalf("update: %d %s", up.status, up.body)
				}
				if s := up.str("client_secret"); s != "" {
					c.secret = s
				}
				introspector := c
				if tc.name == "switch to none" {
					introspector = rsCreds // a public client cannot introspect
				}
				if in := e.introspect(introspector, wide); in.status != 200 || in.m["active"] != false {
					t.Errorf("token of scope \"read write\" after the change: %d %s", in.status, in.body)
				}
				in := e.introspect(introspector, narrow)
				if in.status != 200 || in.m["active"] != tc.readStays {
					t.Errorf("token of scope \"read\" after the change: %d %s, want active %v", in.status, in.body, tc.readStays)
				}
				if tc.name == "rotate_secret" {
					// The old secret still gets new tokens during the overlap.
					old := c
					old.secret = reg.str("client_secret")
					if r := e.token(old, ""); r.status != 200 {
						t.Errorf("token with the old secret within the overlap: %d %s", r.status, r.body)
					} else if in := e.introspect(c, r.str("access_token")); in.m["active"] != true {
						t.Errorf("token issued after the rotation: %s", in.body)
					}
				}
			})
		})
	}
}
