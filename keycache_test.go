package clientreg_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// jwksServer is an in-process TLS server on loopback that serves a JWK Set
// (or fails, or waits for release) and counts its requests.
type jwksServer struct {
	*httptest.Server
	hits    atomic.Int64
	fail    atomic.Bool
	release chan struct{} // when not nil, each request waits for it
	jwks    map[string]any
}

func newJWKSServer(t *testing.T, jwks map[string]any, release chan struct{}) *jwksServer {
	s := &jwksServer{jwks: jwks, release: release}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.release != nil {
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		if s.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(s.jwks)
	}))
	t.Cleanup(s.Close)
	return s
}

// keyEnv registers a private_key_jwt client whose keys are at the jwks
// server's jwks_uri.
func keyEnv(t *testing.T, js *jwksServer) (*testEnv, clientCreds) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Fetch = clientreg.FetchPolicy{AllowPrivateNetworks: true, Transport: js.Client().Transport}
	})
	key, _ := ecKey(t)
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": js.URL + "/jwks"})
	if reg.status != 201 {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	return e, clientCreds{id: reg.str("client_id"), method: "private_key_jwt", key: key, kid: "k1"}
}

// A jwks_uri that fails is fetched once per failure TTL, not once per
// (unauthenticated) token request naming its client; after the TTL it is
// fetched again, and a success is cached as before.
func TestJWKSFailureIsCached(t *testing.T) {
	key, jwks := ecKey(t)
	js := newJWKSServer(t, jwks, nil)
	js.fail.Store(true)
	e, c := keyEnv(t, js)
	c.key = key
	for i := range 10 {
		wantOAuthError(t, e.token(c, ""), 401, "invalid_client")
		if n := js.hits.Load(); n != 1 {
			t.Fatalf("after %d failing token requests: %d fetches, want 1", i+1, n)
		}
	}
	js.fail.Store(false)
	e.clock.Add(20 * time.Second)
	wantOAuthError(t, e.token(c, ""), 401, "invalid_client") // still within the failure TTL
	if n := js.hits.Load(); n != 1 {
		t.Fatalf("within the failure TTL: %d fetches, want 1", n)
	}
	e.clock.Add(time.Minute)
	if r := e.token(c, ""); r.status != 200 {
		t.Fatalf("after the failure TTL: %d %s", r.status, r.body)
	}
	if n := js.hits.Load(); n != 2 {
		t.Fatalf("after the failure TTL: %d fetches, want 2", n)
	}
	for range 5 {
		if r := e.token(c, ""); r.status != 200 {
			t.Fatalf("cached keys: %d %s", r.status, r.body)
		}
	}
	// Bad signatures ask for a refresh, at most once per refresh interval,
	// and a failed refresh is remembered too.
	other, _ := ecKey(t)
	bad := c
	bad.key = other
	e.clock.Add(time.Minute)
	js.fail.Store(true)
	for range 5 {
		wantOAuthError(t, e.token(bad, ""), 401, "invalid_client")
	}
	if n := js.hits.Load(); n != 3 {
		t.Fatalf("refreshes for bad signatures: %d fetches, want 3", n)
	}
	if r := e.token(c, ""); r.status != 200 {
		t.Fatalf("the keys that were fetched keep working when a refresh fails: %d %s", r.status, r.body)
	}
}

// Concurrent token requests for one jwks_uri share one fetch.
func TestJWKSFetchIsCoalesced(t *testing.T) {
	for _, failing := range []bool{false, true} {
		name := "success"
		if failing {
			name = "failure"
		}
		t.Run(name, func(t *testing.T) {
			key, jwks := ecKey(t)
			release := make(chan struct{})
			js := newJWKSServer(t, jwks, release)
			js.fail.Store(failing)
			e, c := keyEnv(t, js)
			c.key = key
			const n = 8
			bodies := make([]string, n)
			for i := range bodies {
				v := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientreg.AssertionTypeJWTBearer},
					"client_assertion": {e.assertion(c, e.iss+"/token", e.clock.Now().Add(time.Minute), randomID())}}
				bodies[i] = v.Encode()
			}
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, e.iss+"/token", strings.NewReader(bodies[i]))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					res, err := e.client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					statuses[i] = res.StatusCode
				})
			}
			// Let every request reach the handler while the fetch waits.
			deadline := time.Now().Add(5 * time.Second)
			for js.hits.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			close(release)
			wg.Wait()
			want := http.StatusOK
			if failing {
				want = http.StatusUnauthorized
			}
			for i, s := range statuses {
				if s != want {
					t.Errorf("request %d: %d, want %d", i, s, want)
				}
			}
			if got := js.hits.Load(); got != 1 {
				t.Fatalf("%d concurrent token requests made %d fetches, want 1", n, got)
			}
		})
	}
}
