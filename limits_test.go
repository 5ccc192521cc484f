package clientreg_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

func want429(t *testing.T, r *response) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.str("error") != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s (Retry-After %q), want 429 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
}

func TestRegistrationRateLimits(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{RegistrationBurst: 3, RegistrationsPerMinute: 60,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	body := map[string]any{"grant_types": []string{"client_credentials"}}
	// Per client address (named by the trusted proxy).
	for i := range 3 {
		if r := e.registerFrom("203.0.113.7", body); r.status != 201 {
			t.Fatalf("registration %d: %d %s", i, r.status, r.body)
		}
	}
	want429(t, e.registerFrom("203.0.113.7", body))
	if r := e.registerFrom("203.0.113.8", body); r.status != 201 {
		t.Fatalf("another address is limited too: %d", r.status)
	}
	e.clock.Add(time.Second) // one more token at 1/s
	if r := e.registerFrom("203.0.113.7", body); r.status != 201 {
		t.Fatalf("after the refill: %d %s", r.status, r.body)
	}
	// Per software_id, whatever the address.
	sw := map[string]any{"grant_types": []string{"client_credentials"}, "software_id": "bot"}
	for i := range 3 {
		if r := e.registerFrom("198.51.100."+string(rune('1'+i)), sw); r.status != 201 {
			t.Fatalf("software_id registration %d: %d", i, r.status)
		}
	}
	want429(t, e.registerFrom("198.51.100.9", sw))
}

// X-Forwarded-For counts only when the connection comes from a trusted
// proxy: otherwise every request is the connection's address.
func TestForwardedForNeedsTrustedProxy(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{RegistrationBurst: 2, RegistrationsPerMinute: 1}
	})
	body := map[string]any{"grant_types": []string{"client_credentials"}}
	e.registerFrom("203.0.113.1", body)
	e.registerFrom("203.0.113.2", body)
	want429(t, e.registerFrom("203.0.113.3", body))
}

// Failed registration access token attempts are limited per client ID: past
// the burst a wrong token gets 429 until the bucket refills. The right token
// is always served (it used to wait too, which let anyone lock a client out:
// see TestFailedAuthDoesNotLockOutValidToken).
func TestFailedAuthLimit(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{FailedAuthBurst: 5, FailedAuthPerMinute: 60}
	})
	reg := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"grant_types": []string{"client_credentials"}})
	uri, rat := reg.str("registration_client_uri"), reg.str("registration_access_token")
	for range 5 {
		if r := e.jsonReq("GET", uri, "wrong-token", nil); r.status != 401 {
			t.Fatalf("wrong token: %d", r.status)
		}
	}
	want429(t, e.jsonReq("GET", uri, "wrong-token", nil))
	if r := e.jsonReq("GET", uri, rat, nil); r.status != 200 {
		t.Fatalf("the right token past the failure limit: %d %s", r.status, r.body)
	}
	want429(t, e.jsonReq("GET", uri, "wrong-token", nil))
	e.clock.Add(2 * time.Second)
	if r := e.jsonReq("GET", uri, rat, nil); r.status != 200 {
		t.Fatalf("after the refill: %d %s", r.status, r.body)
	}
}

func TestRequestLimits(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{MaxRedirectURIs: 2, MaxContacts: 1, MaxMemberLength: 20}
	})
	for name, body := range map[string]map[string]any{
		"redirect_uris": {"redirect_uris": []string{"https://a.example/1", "https://a.example/2", "https://a.example/3"}},
		"contacts":      {"grant_types": []string{"client_credentials"}, "contacts": []string{"a@x", "b@x"}},
		"client_name":   {"grant_types": []string{"client_credentials"}, "client_name": strings.Repeat("n", 21)},
		"tagged":        {"grant_types": []string{"client_credentials"}, "client_name#fr": strings.Repeat("n", 21)},
	} {
		r := e.jsonReq("POST", e.iss+"/register", "", body)
		if r.status != 400 || r.str("error") != "invalid_client_metadata" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := e.jsonReq("POST", e.iss+"/register", "", map[string]any{"redirect_uris": []string{"https://a.example/1"}, "client_name": strings.Repeat("n", 20)}); r.status != 201 {
		t.Errorf("at the limits: %d %s", r.status, r.body)
	}
}

// A rate limit set to Off admits everything, while the other limit stays:
// 0 would have meant the default (a burst of 60), Off means no limit.
func TestRateLimitOff(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{RegistrationsPerMinute: clientreg.Off,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	body := map[string]any{"grant_types": []string{"client_credentials"}}
	for i := range 80 {
		if r := e.registerFrom("203.0.113.7", body); r.status != 201 {
			t.Fatalf("registration %d with the registration limit Off: %d %s", i, r.status, r.body)
		}
	}
}

// Per-address limits count an IPv6 client by its /64 (one subscriber's
// allocation, whose addresses it can change at will) and an IPv4 client by
// its address; an IPv4-mapped IPv6 address is the IPv4 address.
func TestPerAddressKeysAggregateIPv6(t *testing.T) {
	body := map[string]any{"grant_types": []string{"client_credentials"}}
	proxy := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	spend := func(t *testing.T, e *testEnv, xff string) {
		t.Helper()
		for i := range 2 {
			if r := e.registerFrom(xff, body); r.status != 201 {
				t.Fatalf("registration %d from %s: %d %s", i, xff, r.status, r.body)
			}
		}
	}
	t.Run("one /64 shares a bucket", func(t *testing.T) {
		e := newOAuthEnv(t, func(c *clientreg.Config) {
			c.Limits = clientreg.Limits{RegistrationBurst: 2, RegistrationsPerMinute: 1, TrustedProxies: proxy}
		})
		spend(t, e, "2001:db8:1:2::1")
		want429(t, e.registerFrom("2001:db8:1:2:ffff:ffff:ffff:fffe", body))
		if r := e.registerFrom("2001:db8:1:3::1", body); r.status != 201 {
			t.Fatalf("another /64 is limited too: %d %s", r.status, r.body)
		}
	})
	t.Run("IPv4-mapped is the IPv4 address", func(t *testing.T) {
		e := newOAuthEnv(t, func(c *clientreg.Config) {
			c.Limits = clientreg.Limits{RegistrationBurst: 2, RegistrationsPerMinute: 1, TrustedProxies: proxy}
		})
		spend(t, e, "::ffff:203.0.113.7")
		want429(t, e.registerFrom("203.0.113.7", body))
		if r := e.registerFrom("203.0.113.8", body); r.status != 201 {
			t.Fatalf("IPv4 is aggregated: %d %s", r.status, r.body)
		}
	})
	t.Run("configured prefix", func(t *testing.T) {
		e := newOAuthEnv(t, func(c *clientreg.Config) {
			c.Limits = clientreg.Limits{RegistrationBurst: 2, RegistrationsPerMinute: 1, TrustedProxies: proxy, IPv6PrefixLength: 48}
		})
		spend(t, e, "2001:db8:1:2::1")
		want429(t, e.registerFrom("2001:db8:1:3::1", body))
		if r := e.registerFrom("2001:db8:2::1", body); r.status != 201 {
			t.Fatalf("another /48 is limited too: %d %s", r.status, r.body)
		}
	})
	t.Run("Off counts exact addresses", func(t *testing.T) {
		e := newOAuthEnv(t, func(c *clientreg.Config) {
			c.Limits = clientreg.Limits{RegistrationBurst: 2, RegistrationsPerMinute: 1, TrustedProxies: proxy, IPv6PrefixLength: clientreg.Off}
		})
		spend(t, e, "2001:db8:1:2::1")
		want429(t, e.registerFrom("2001:db8:1:2::1", body))
		if r := e.registerFrom("2001:db8:1:2::2", body); r.status != 201 {
			t.Fatalf("with Off another address of the /64 is limited: %d %s", r.status, r.body)
		}
	})
}

// IPv6PrefixLength follows the one rule: 0 the default, Off exact
// addresses, 1 to 128 a prefix; anything else is refused.
func TestIPv6PrefixLengthConfig(t *testing.T) {
	for v, ok := range map[int]bool{0: true, clientreg.Off: true, 1: true, 56: true, 128: true, 129: false, -2: false} {
		cfg := clientreg.Config{Issuer: "https://as.test", Limits: clientreg.Limits{IPv6PrefixLength: v}}
		if err := cfg.Validate(); (err == nil) != ok {
			t.Errorf("IPv6PrefixLength %d: Validate = %v", v, err)
		}
	}
}

// The software_id limit counts registrations that would succeed: invalid
// ones naming a victim's software_id, from many addresses, do not starve
// it. Each address is still limited first.
func TestInvalidRegistrationsDoNotSpendSoftwareID(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	bad := map[string]any{"software_id": "com.victim.app", "redirect_uris": []string{"javascript:alert(1)"}}
	for i := range 70 {
		if r := e.registerFrom("203.0.113."+strconv.Itoa(i+1), bad); r.status != 400 {
			t.Fatalf("invalid registration %d: %d %s", i, r.status, r.body)
		}
	}
	good := map[string]any{"software_id": "com.victim.app", "grant_types": []string{"client_credentials"}}
	if r := e.registerFrom("198.51.100.1", good); r.status != 201 {
		t.Fatalf("the real app after 70 invalid registrations naming its software_id: %d %s", r.status, r.body)
	}
	// Dry runs create nothing: they spend the address's bucket, not the
	// software_id's.
	for i := range 70 {
		req, _ := http.NewRequest(http.MethodPost, e.iss+"/register?dry_run=true", strings.NewReader(mustJSON(t, good)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "192.0.2."+strconv.Itoa(i+1))
		if r := e.send(req); r.status != 200 {
			t.Fatalf("dry run %d: %d %s", i, r.status, r.body)
		}
	}
	if r := e.registerFrom("198.51.100.2", good); r.status != 201 {
		t.Fatalf("the real app after 70 dry runs naming its software_id: %d %s", r.status, r.body)
	}
	// The address limit still comes first, for invalid requests too.
	for range 60 {
		e.registerFrom("198.51.100.99", bad)
	}
	want429(t, e.registerFrom("198.51.100.99", good))
}

// A software_id carried in a software statement is the one the limit
// counts: the statement's claims take precedence over the body (RFC 7591
// §2.3), and so does the limit.
func TestSoftwareIDLimitFromStatement(t *testing.T) {
	partner := newStatementIssuer(t, "https://partner.example")
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.TrustedIssuers = []clientreg.TrustedIssuer{{Issuer: partner.iss, Keys: partner.keys()}}
		c.Limits = clientreg.Limits{RegistrationBurst: 3, RegistrationsPerMinute: 60,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	stmt := partner.sign(t, map[string]any{"software_id": "partner-app", "grant_types": []string{"client_credentials"},
		"exp": e.clock.Now().Add(time.Hour).Unix()})
	for i := range 3 {
		// The body's software_id is overridden by the statement's.
		r := e.registerFrom("203.0.113."+strconv.Itoa(i+1), map[string]any{"software_statement": stmt, "software_id": "other-" + strconv.Itoa(i)})
		if r.status != 201 || r.str("software_id") != "partner-app" {
			t.Fatalf("registration %d: %d %s", i, r.status, r.body)
		}
	}
	want429(t, e.registerFrom("203.0.113.9", map[string]any{"software_statement": stmt}))
	// The body's software_id alone, now another software's, is not limited by
	// the statement's.
	if r := e.registerFrom("203.0.113.10", map[string]any{"software_id": "partner-app-2", "grant_types": []string{"client_credentials"}}); r.status != 201 {
		t.Fatalf("another software_id: %d %s", r.status, r.body)
	}
}

// Client IDs are public, so failures that anyone causes must not refuse a
// valid registration access token: 100 junk tokens from one address, then
// one a second, leave the client's own token working for GET and PUT, from
// any address. The attacker's guesses still end in 429, per address and per
// client.
func TestFailedAuthDoesNotLockOutValidToken(t *testing.T) {
	e := newOAuthEnv(t, func(c *clientreg.Config) {
		c.Limits = clientreg.Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	meta := map[string]any{"grant_types": []string{"client_credentials"}}
	reg := e.registerFrom("198.51.100.1", meta)
	uri, rat, id := reg.str("registration_client_uri"), reg.str("registration_access_token"), reg.str("client_id")
	for i := range 100 {
		if r := e.bearerFrom("203.0.113.5", "GET", uri, "junk"+strconv.Itoa(i), nil); r.status != 401 {
			t.Fatalf("junk token %d: %d %s", i, r.status, r.body)
		}
	}
	victim := func(xff string) {
		t.Helper()
		if r := e.bearerFrom(xff, "GET", uri, rat, nil); r.status != 200 {
			t.Fatalf("GET with the valid token from %s: %d %s", xff, r.status, r.body)
		}
		r := e.bearerFrom(xff, "PUT", uri, rat, map[string]any{"client_id": id, "grant_types": []string{"client_credentials"}})
		if r.status != 200 {
			t.Fatalf("PUT with the valid token from %s: %d %s", xff, r.status, r.body)
		}
		rat = r.str("registration_access_token")
	}
	victim("198.51.100.1")
	// Junk requests that keep the client at its limit (the rate is one a
	// second: the first after each refill is 401, the next 429)...
	for range 3 {
		e.clock.Add(time.Second)
		if r := e.bearerFrom("203.0.113.5", "GET", uri, "junk", nil); r.status != 401 {
			t.Fatalf("junk token after the refill: %d %s", r.status, r.body)
		}
		want429(t, e.bearerFrom("203.0.113.5", "GET", uri, "junk", nil))
		victim("198.51.100.1")
	}
	// ...and guessing stays limited: from the attacker's address for any
	// client, and for the attacked client from any address.
	other := e.registerFrom("198.51.100.2", meta)
	want429(t, e.bearerFrom("203.0.113.5", "GET", other.str("registration_client_uri"), "junk", nil))
	want429(t, e.bearerFrom("203.0.113.6", "PUT", uri, "junk", map[string]any{"client_id": id}))
	// A valid token is served even from the attacker's address.
	victim("203.0.113.5")
	if r := e.bearerFrom("203.0.113.5", "GET", other.str("registration_client_uri"), other.str("registration_access_token"), nil); r.status != 200 {
		t.Fatalf("another client's valid token from the limited address: %d %s", r.status, r.body)
	}
}

// Client authentication failures at the token endpoint and at the recovery
// of registration access tokens are limited the same way: past the burst an
// invalid credential gets 429, a valid one is always served.
func TestClientAuthFailureLimit(t *testing.T) {
	newEnv := func(t *testing.T) *testEnv {
		return newOAuthEnv(t, func(c *clientreg.Config) {
			c.Limits = clientreg.Limits{FailedAuthBurst: 5, FailedAuthPerMinute: 60,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		})
	}
	grant := url.Values{"grant_type": {"client_credentials"}}
	t.Run("token endpoint", func(t *testing.T) {
		e := newEnv(t)
		reg := e.registerFrom("198.51.100.1", map[string]any{"grant_types": []string{"client_credentials"}})
		id, secret := reg.str("client_id"), reg.str("client_secret")
		for i := range 5 {
			wantOAuthError(t, e.basicFrom("203.0.113.5", "/token", id, "wrong"+strconv.Itoa(i), grant), 401, "invalid_client")
		}
		want429(t, e.basicFrom("203.0.113.5", "/token", id, "wrong", grant))
		want429(t, e.basicFrom("203.0.113.6", "/token", id, "wrong", grant))                              // the client is over its limit
		want429(t, e.basicFrom("203.0.113.5", "/introspect", "unknown", "x", url.Values{"token": {"t"}})) // the address is
		for _, xff := range []string{"198.51.100.1", "203.0.113.5"} {
			if r := e.basicFrom(xff, "/token", id, secret, grant); r.status != 200 {
				t.Fatalf("valid credentials from %s: %d %s", xff, r.status, r.body)
			}
		}
		e.clock.Add(2 * time.Second)
		wantOAuthError(t, e.basicFrom("203.0.113.5", "/token", id, "wrong", grant), 401, "invalid_client")
	})
	t.Run("registration access token recovery", func(t *testing.T) {
		e := newEnv(t)
		reg := e.registerFrom("198.51.100.1", map[string]any{"grant_types": []string{"client_credentials"}})
		id, secret := reg.str("client_id"), reg.str("client_secret")
		path := strings.TrimPrefix(reg.str("registration_client_uri"), e.iss) + "/registration_access_token"
		for i := range 5 {
			wantOAuthError(t, e.basicFrom("203.0.113.5", path, id, "wrong"+strconv.Itoa(i), nil), 401, "invalid_client")
		}
		want429(t, e.basicFrom("203.0.113.5", path, id, "wrong", nil))
		want429(t, e.basicFrom("203.0.113.6", path, id, "wrong", nil))
		if r := e.basicFrom("203.0.113.6", path, id, secret, nil); r.status != 200 || r.str("registration_access_token") == "" {
			t.Fatalf("recovery with valid credentials: %d %s", r.status, r.body)
		}
	})
}
