package cli

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// waitLog waits until the server's log (buffered for up to
// logFlushInterval) has want.
func (s *server) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log lacks %s:\n%s", want, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// oidcServer starts serve --login oidc against idp (issuer given, for the
// tests of an unreachable provider).
func oidcServer(t *testing.T, issuer string, extra ...string) *server {
	t.Helper()
	args := append([]string{"--db", dbIn(t), "--login", "oidc", "--upstream-issuer", issuer,
		"--upstream-client-id", "clientreg-test", "--rate-limits=false"}, extra...)
	return startServer(t, map[string]string{"CLIENTREG_UPSTREAM_CLIENT_SECRET": "s3cret"}, args...)
}

// upstreamSignIn starts an authorization of client in b, signs in at the
// test IdP as name and returns the page clientreg shows after the callback
// (the consent page, or a refusal) and its URL.
func upstreamSignIn(t *testing.T, b *browser, s *server, idp *testIdP, client, name string) (response, string) {
	t.Helper()
	_, challenge := pkce("o")
	form, u := b.follow(authorizeURL(s.issuer, client, challenge, "st"))
	if !strings.HasPrefix(u, idp.issuer+"/authorize?") {
		t.Fatalf("sent to %s, want the upstream's authorization endpoint; page %d:\n%s", u, form.status, form.body)
	}
	for _, p := range []string{"code_challenge_method=S256", "nonce=", "state=", "redirect_uri=" + url.QueryEscape(s.issuer+oidcCallbackPath)} {
		if !strings.Contains(u, p) {
			t.Errorf("the upstream authorization request lacks %s: %s", p, u)
		}
	}
	_, fields := consentForm(t, form)
	fields.Set("idp_user", name)
	r := b.do(http.MethodPost, idp.issuer+"/authorize", fields, nil)
	return b.follow(location(t, idp.issuer, r))
}

// The flow through an upstream provider: the redirect URI in the start
// log, the consent page after the upstream sign-in, a code, tokens, the
// subject ISSUER|SUB, and the session that spares a second upstream trip.
func TestOIDCLoginFlow(t *testing.T) {
	idp := newTestIdP(t)
	s := oidcServer(t, idp.issuer)
	if !strings.Contains(s.stderr.String(), "redirect_uri="+s.issuer+oidcCallbackPath) {
		t.Errorf("the start log does not name the redirect URI to register:\n%s", s.stderr)
	}
	client := publicClient(t, s.issuer, "OIDC Flow")
	b := newBrowser(t, "")
	consent, _ := upstreamSignIn(t, b, s, idp, client, "alice")
	wantStatus(t, "consent page", consent, http.StatusOK)
	if !strings.Contains(string(consent.body), "Signed in as <strong>alice</strong>") {
		t.Errorf("the consent page does not show the upstream's name:\n%s", consent.body)
	}
	action, fields := consentForm(t, consent)
	fields.Set("decision", "approve")
	q := wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	if q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("redirect %v", q)
	}
	s.waitLog(t, "subject="+idp.issuer+"|sub-alice")
	// Signed in, approved: straight back, no upstream round trip.
	_, challenge := pkce("p")
	wantRedirect(t, b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st2"), nil, nil))

	// The callback opened in another browser (no login state cookie) or
	// replayed is refused with a page.
	cb := s.issuer + oidcCallbackPath + "?" + url.Values{"code": {"x"}, "state": {strings.Repeat("A", 22)}}.Encode()
	r := newBrowser(t, "").do(http.MethodGet, cb, nil, nil)
	wantStatus(t, "callback without its login state", r, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "started in this browser") {
		t.Errorf("callback refusal:\n%s", r.body)
	}
}

// Who may sign in: --allow-subject and --allow-email-domain (verified
// addresses only); everyone else gets a page saying so.
func TestOIDCLoginRefusals(t *testing.T) {
	idp := newTestIdP(t)
	idp.claims = func(name string) map[string]any {
		switch name {
		case "carol":
			return map[string]any{"sub": "sub-carol", "email": "carol@Allowed.Example", "email_verified": true, "name": "Carol"}
		case "dave":
			return map[string]any{"sub": "sub-dave", "email": "dave@allowed.example", "email_verified": false, "name": "Dave"}
		}
		return map[string]any{"sub": "sub-" + name, "email": name + "@example.com", "email_verified": true, "name": name}
	}
	s := oidcServer(t, idp.issuer, "--allow-email-domain", "allowed.example", "--allow-subject", "sub-bob",
		"--allow-subject", idp.issuer+"|sub-erin")
	client := publicClient(t, s.issuer, "Refusals")
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"alice", false}, {"bob", true}, {"carol", true}, {"dave", false}, {"erin", true}} {
		page, _ := upstreamSignIn(t, newBrowser(t, ""), s, idp, client, tc.name)
		if tc.ok {
			wantStatus(t, tc.name+" allowed", page, http.StatusOK)
			continue
		}
		wantStatus(t, tc.name+" refused", page, http.StatusForbidden)
		if !strings.Contains(string(page.body), "may not use this server") {
			t.Errorf("%s: the refusal does not say why:\n%s", tc.name, page.body)
		}
	}
}

// The upstream failing: unreachable, an error response at the
// authorization or the token endpoint, a token endpoint that does not
// answer in time, an ID token that fails verification. Each is a page
// that says what happened, never a 500.
func TestOIDCUpstreamFailures(t *testing.T) {
	t.Run("down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := "http://" + ln.Addr().String()
		ln.Close()
		s := oidcServer(t, down, "--upstream-timeout", "2s")
		if !strings.Contains(s.stderr.String(), "the upstream provider's discovery failed") {
			t.Errorf("the start log does not warn of the unreachable upstream:\n%s", s.stderr)
		}
		client := publicClient(t, s.issuer, "Down")
		_, challenge := pkce("q")
		page, _ := newBrowser(t, "").follow(authorizeURL(s.issuer, client, challenge, "st"))
		wantUpstreamPage(t, page, http.StatusBadGateway, "cannot be reached")
	})
	for _, tc := range []struct {
		name   string
		set    func(p *testIdP)
		extra  []string
		status int
		want   string
	}{
		{"authorize error", func(p *testIdP) { p.authorizeError = "access_denied" }, nil, http.StatusForbidden, "the error access_denied"},
		{"token error", func(p *testIdP) { p.tokenError = "invalid_grant" }, nil, http.StatusBadGateway, "the error invalid_grant"},
		{"timeout", func(p *testIdP) { p.tokenHang = true }, []string{"--upstream-timeout", "1s"}, http.StatusGatewayTimeout, "did not answer in time"},
		{"wrong nonce", func(p *testIdP) { p.wrongNonce = true }, nil, http.StatusBadGateway, "could not verify"},
		{"wrong secret", func(p *testIdP) { p.secret = "another" }, nil, http.StatusBadGateway, "did not accept"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newTestIdP(t)
			s := oidcServer(t, idp.issuer, tc.extra...)
			idp.set(tc.set)
			client := publicClient(t, s.issuer, "Failure")
			b := newBrowser(t, "")
			_, challenge := pkce("r")
			first, u := b.follow(authorizeURL(s.issuer, client, challenge, "st"))
			page := first
			if strings.HasPrefix(u, idp.issuer) { // the upstream's form
				_, fields := consentForm(t, first)
				fields.Set("idp_user", "alice")
				page, _ = b.follow(location(t, idp.issuer, b.do(http.MethodPost, idp.issuer+"/authorize", fields, nil)))
			}
			wantUpstreamPage(t, page, tc.status, tc.want)
			if tc.name == "authorize error" && !strings.Contains(string(page.body), "the user &lt;b&gt;cancelled&lt;/b&gt;") {
				t.Errorf("the upstream's description is not shown, escaped:\n%s", page.body)
			}
		})
	}
}

func wantUpstreamPage(t *testing.T, page response, status int, want string) {
	t.Helper()
	if page.status != status || !strings.Contains(string(page.body), want) {
		t.Errorf("status %d, want %d with %q; page:\n%s", page.status, status, want, page.body)
	}
	if !strings.Contains(page.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the page has no CSP")
	}
}

// The flags of --login oidc are checked at start.
func TestOIDCLoginConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--login", "oidc"}, "--upstream-issuer and --upstream-client-id"},
		{[]string{"--login", "oidc", "--upstream-issuer", "http://idp.example.com", "--upstream-client-id", "x"}, "only on a loopback host"},
		{[]string{"--login", "oidc", "--upstream-issuer", "https://idp.example.com", "--upstream-client-id", "x", "--upstream-scopes", "email"}, "lacks openid"},
		{[]string{"--login", "oidc", "--upstream-issuer", "https://idp.example.com", "--upstream-client-id", "x", "--upstream-client-secret-file", "/nonexistent"}, "--upstream-client-secret-file"},
		{[]string{"--login", "oidc", "--upstream-issuer", "https://idp.example.com", "--upstream-client-id", "x", "--allow-email-domain", "a@b"}, "is not a domain"},
	} {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", dbIn(t)}, tc.args...)
		code, _, stderr := run(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q: %s", tc.args, code, tc.want, stderr)
		}
	}
}
