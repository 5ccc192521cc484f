package clientreg_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
)

// A policy's host list governs every URI the user agent is sent to or the
// server fetches a request from on the client's behalf: redirect_uris,
// post_logout_redirect_uris, request_uris and initiate_login_uri. Its
// scheme list governs the two redirect lists.
func TestPolicyHostsGovernRedirectLikeURIs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		schemes := clientreg.Policy{Name: "schemes", AllowedRedirectSchemes: []string{"https", "http"}}
		e := newEnv(t, b, withPolicies(partnerPolicy, schemes))
		tok, open := e.iat("partner", 0), e.iat("", 0)
		base := func(extra obj) string {
			m := obj{"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://app.partner.example/cb"}}
			for k, v := range extra {
				m[k] = v
			}
			return body(m)
		}
		// Within the policy: accepted.
		c := e.registerWith(base(obj{
			"post_logout_redirect_uris": []string{"https://app.partner.example/out", "http://127.0.0.1:8080/out"},
			"request_uris":              []string{"https://req.partner.example/r/1"},
			"initiate_login_uri":        "https://app.partner.example/login",
		}), bearer(tok))

		bad := []struct {
			name  string
			extra obj
			code  string
			ptr   string
		}{
			{"post-logout URI to any host", obj{"post_logout_redirect_uris": []string{"https://app.partner.example/out", "https://evil.example/out"}}, "invalid_client_metadata", "/post_logout_redirect_uris/1: "},
			{"request URI on any host", obj{"request_uris": []string{"https://evil.example/r"}}, "invalid_client_metadata", "/request_uris/0: "},
			{"initiate_login_uri on any host", obj{"initiate_login_uri": "https://evil.example/login"}, "invalid_client_metadata", "/initiate_login_uri: "},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				before := e.store.created()
				desc := wantError(t, e.post(base(tc.extra), bearer(tok)), http.StatusBadRequest, tc.code)
				if !strings.HasPrefix(desc, tc.ptr) || !strings.Contains(desc, "registration policy") {
					t.Errorf("description %q does not start with %q and name the policy rule", desc, tc.ptr)
				}
				e.wantNothingStored(before)
				if r := e.post(base(tc.extra), bearer(open)); r.status != http.StatusCreated {
					t.Errorf("without a policy: status %d: %s", r.status, r.body)
				}
			})
		}

		// The rule travels with the client to its updates.
		put := obj{"client_id": c.ID, "token_endpoint_auth_method": "none", "redirect_uris": []string{"https://app.partner.example/cb"},
			"post_logout_redirect_uris": []string{"https://evil.example/out"}}
		desc := wantError(t, e.put(c.URI, c.Token, js(map[string]any(put))), http.StatusBadRequest, "invalid_client_metadata")
		if !strings.HasPrefix(desc, "/post_logout_redirect_uris/0: ") {
			t.Errorf("PUT: description %q", desc)
		}

		// The scheme list governs post_logout_redirect_uris too.
		stok := e.iat("schemes", 0)
		desc = wantError(t, e.post(body(obj{"post_logout_redirect_uris": []string{"cursor://app/out"}}), bearer(stok)), http.StatusBadRequest, "invalid_client_metadata")
		if !strings.HasPrefix(desc, "/post_logout_redirect_uris/0: ") || !strings.Contains(desc, "scheme") {
			t.Errorf("scheme: description %q", desc)
		}
		e.registerWith(body(obj{"post_logout_redirect_uris": []string{"cursor://app/out"}}), bearer(open))
	})
}

// Policy hosts are matched as parsed DNS names, label by label, and IP
// literals never match a DNS pattern.
func TestPolicyHostMatching(t *testing.T) {
	ipPolicy := clientreg.Policy{Name: "ip", AllowedRedirectHosts: []string{"203.0.113.7", "[2001:db8::1]", "App.Exact.Example."}}
	e := newEnv(t, memoryBackend, withPolicies(partnerPolicy, ipPolicy))
	tok, iptok := e.iat("partner", 0), e.iat("ip", 0)
	cases := []struct {
		uri string
		tok string
		ok  bool
	}{
		{"https://app.partner.example/cb", tok, true},
		{"https://a.b.partner.example/cb", tok, true}, // any depth below the pattern's domain
		{"https://APP.Partner.EXAMPLE/cb", tok, true}, // DNS names compare case-insensitively
		{"https://app.partner.example./cb", tok, true},
		{"https://app.partner.example:8443/cb", tok, true},
		{"https://partner.example/cb", tok, false}, // not a subdomain
		{"https://evilpartner.example/cb", tok, false},
		{"https://app.partner.example.evil.example/cb", tok, false},
		{"https://app.partner.example../cb", tok, false}, // an empty label is no DNS name
		{"https://.partner.example/cb", tok, false},
		{"https://[fe80::1%25.partner.example]/cb", tok, false}, // an IPv6 zone is no DNS label
		{"https://[::ffff:203.0.113.7]/cb", tok, false},
		{"https://203.0.113.7/cb", tok, false},

		{"https://203.0.113.7/cb", iptok, true},
		{"https://[2001:db8::1]/cb", iptok, true},
		{"https://[2001:db8:0:0::1]/cb", iptok, true}, // the same address
		{"https://app.exact.example/cb", iptok, true},
		{"https://x.app.exact.example/cb", iptok, false},
		{"https://[::ffff:203.0.113.7]/cb", iptok, false}, // a mapped address is another literal
		{"https://203.0.113.70/cb", iptok, false},
		{"https://[2001:db8::1%25eth0]/cb", iptok, false},
	}
	for _, tc := range cases {
		r := e.post(body(obj{"token_endpoint_auth_method": "none", "redirect_uris": []string{tc.uri}}), bearer(tc.tok))
		if tc.ok {
			if r.status != http.StatusCreated {
				t.Errorf("%s: status %d, want 201: %s", tc.uri, r.status, r.body)
			}
			continue
		}
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", tc.uri, r.status, r.body)
			continue
		}
		if code, desc := checkErrorBody(t, r); code != "invalid_redirect_uri" || !strings.HasPrefix(desc, "/redirect_uris/0: ") {
			t.Errorf("%s: %s %q", tc.uri, code, desc)
		}
	}
}

// New refuses host patterns that are not a DNS name, "*." and a DNS name,
// an IP literal or "loopback".
func TestPolicyHostPatternConfig(t *testing.T) {
	for _, p := range []string{"*", "*.", "*example.com", "a.*.example", "bücher.example", "a..example", "[fe80::1%eth0]", "[203.0.113.7]", "*.203.0.113.7"} {
		_, err := clientreg.New(clientreg.Config{Issuer: "https://as.example", Store: memoryBackend.open(t), SecretKey: testKey,
			Policies: []clientreg.Policy{{Name: "a", AllowedRedirectHosts: []string{p}}}})
		if err == nil {
			t.Errorf("New accepted the host pattern %q", p)
		}
	}
}
