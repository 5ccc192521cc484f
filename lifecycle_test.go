package clientreg_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
)

// The lifecycle of registered clients (docs/behaviour.md §11).

const day = 24 * time.Hour

const ccBody = `{"client_name":"cc","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","scope":"read"}`

func purge(t *testing.T, e *testEnv, dryRun bool) []clientreg.PurgedClient {
	t.Helper()
	gone, err := e.h.PurgeClients(context.Background(), clientreg.PurgeOptions{DryRun: dryRun})
	if err != nil {
		t.Fatalf("PurgeClients: %v", err)
	}
	return gone
}

func purgedIDs(cs []clientreg.PurgedClient) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID+":"+c.Reason)
	}
	slices.Sort(ids)
	return ids
}

func creds(c *registered) clientCreds {
	return clientCreds{id: c.ID, secret: c.Secret, method: "client_secret_basic"}
}

func TestPurgeNeverUsed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, oauthConfig)
		c := e.register(ccBody)
		e.clock.Add(clientreg.DefaultClientUnusedTTL - time.Second)
		if gone := purge(t, e, false); len(gone) != 0 {
			t.Fatalf("purged before the unused TTL: %v", purgedIDs(gone))
		}
		e.clock.Add(2 * time.Second)
		dry := purge(t, e, true)
		if got := purgedIDs(dry); !slices.Equal(got, []string{c.ID + ":unused"}) || dry[0].Name != "cc" {
			t.Fatalf("dry run = %v", dry)
		}
		e.stored(c.ID) // a dry run removes nothing
		if got := purgedIDs(purge(t, e, false)); !slices.Equal(got, []string{c.ID + ":unused"}) {
			t.Fatalf("purge = %v", got)
		}
		// A removed client gets 401 invalid_client, so it registers again.
		wantOAuthError(t, e.token(creds(c), "read"), http.StatusUnauthorized, "invalid_client")
		wantInvalidToken(t, e.get(c.URI, c.Token))
	})
}

func TestPurgeIdle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, oauthConfig)
		c := e.register(ccBody)
		if r := e.token(creds(c), "read"); r.status != http.StatusOK {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		used := e.clock.Now()
		if got := e.stored(c.ID).LastUsedAt; !got.Equal(used) {
			t.Fatalf("LastUsedAt = %v, want %v", got, used)
		}
		// Coarse: a use within the granularity writes nothing.
		e.clock.Add(30 * time.Minute)
		e.token(creds(c), "read")
		if got := e.stored(c.ID).LastUsedAt; !got.Equal(used) {
			t.Fatalf("LastUsedAt moved within the granularity: %v", got)
		}
		e.clock.Add(clientreg.LastUsedGranularity)
		e.token(creds(c), "read")
		used = e.clock.Now()
		if got := e.stored(c.ID).LastUsedAt; !got.Equal(used) {
			t.Fatalf("LastUsedAt = %v after the granularity, want %v", got, used)
		}
		// Used, so the unused TTL does not apply; the idle one does.
		e.clock.Add(clientreg.DefaultClientIdleTTL - time.Second)
		if gone := purge(t, e, false); len(gone) != 0 {
			t.Fatalf("purged before the idle TTL: %v", purgedIDs(gone))
		}
		e.clock.Add(2 * time.Second)
		if got := purgedIDs(purge(t, e, false)); !slices.Equal(got, []string{c.ID + ":idle"}) {
			t.Fatalf("purge = %v", got)
		}
		wantOAuthError(t, e.token(creds(c), "read"), http.StatusUnauthorized, "invalid_client")
	})
}

// A client holding a live refresh token (a grant) is kept, however long
// unused; once the grant has expired, the client goes.
func TestPurgeKeepsLiveGrant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newAuthzEnv(t, b, func(c *clientreg.Config) {
			c.ClientIdleTTL = 2 * day
			c.RefreshTokenIdleLifetime = clientreg.Off
			c.RefreshTokenLifetime = 10 * day
		})
		c := e.registerPublic(nil)
		code, verifier := e.code(c)
		if r := e.exchange(c, code, verifier, nil); r.status != http.StatusOK || r.str("refresh_token") == "" {
			t.Fatalf("exchange: %d %s", r.status, r.body)
		}
		e.clock.Add(5 * day)
		if gone := purge(t, e.testEnv, false); len(gone) != 0 {
			t.Fatalf("a client with a live grant was purged: %v", purgedIDs(gone))
		}
		e.clock.Add(6 * day)
		if got := purgedIDs(purge(t, e.testEnv, false)); !slices.Equal(got, []string{c.creds.id + ":idle"}) {
			t.Fatalf("after the grant expired: %v", got)
		}
	})
}

// Clients registered with an initial access token are exempt unless
// ExpireInitialTokenClients; the operator's (Register) always; the TTLs
// can be Off.
func TestPurgeExemptions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, expireTokens := range []bool{false, true} {
			e := newEnv(t, b, oauthConfig, withConfig(func(c *clientreg.Config) { c.ExpireInitialTokenClients = expireTokens }))
			anon := e.register(ccBody)
			withToken := e.registerWith(ccBody, bearer(e.initialToken(clientreg.InitialTokenOptions{})))
			info, err := e.h.Register(context.Background(), "", clientreg.Metadata{ClientName: "op", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic"})
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]string{anon.ID: store.OriginAnonymous, withToken.ID: store.OriginInitialToken, info.ClientID: store.OriginOperator} {
				if got := e.stored(id).Origin; got != want {
					t.Errorf("client %s: Origin %q, want %q", id, got, want)
				}
			}
			e.clock.Add(365 * day)
			want := []string{anon.ID + ":unused"}
			if expireTokens {
				want = append(want, withToken.ID+":unused")
				slices.Sort(want)
			}
			if got := purgedIDs(purge(t, e, false)); !slices.Equal(got, want) {
				t.Fatalf("ExpireInitialTokenClients %v: purged %v, want %v", expireTokens, got, want)
			}
			e.stored(info.ClientID)
		}
		e := newEnv(t, b, oauthConfig, withConfig(func(c *clientreg.Config) { c.ClientUnusedTTL, c.ClientIdleTTL = clientreg.Off, clientreg.Off }))
		e.register(ccBody)
		e.clock.Add(365 * day)
		if gone := purge(t, e, false); len(gone) != 0 {
			t.Fatalf("purged with the TTLs Off: %v", purgedIDs(gone))
		}
	})
}
