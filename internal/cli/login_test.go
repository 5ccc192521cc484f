package cli

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is the user's browser behind the sign-in proxy: it keeps cookies,
// follows no redirect, and sends the proxy's header when user is set.
type browser struct {
	t      *testing.T
	c      *http.Client
	header string
	user   string
}

func newBrowser(t *testing.T, user string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, header: "X-Forwarded-User", user: user, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(method, u string, form url.Values, extra http.Header) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.user != "" {
		req.Header.Set(b.header, b.user)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// pkce returns a code verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// publicClient registers a public client with the authorization code and
// refresh token grants and returns its client_id.
func publicClient(t *testing.T, issuer, name string) string {
	t.Helper()
	body := `{"client_name":"` + name + `","redirect_uris":["http://127.0.0.1:9000/cb"],` +
		`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	r := do(t, http.MethodPost, issuer+"/register", "", body)
	wantStatus(t, "register", r, http.StatusCreated)
	return r.need(t, "client_id")
}

// authorizeURL is an authorization request for client with PKCE.
func authorizeURL(issuer, client, challenge, state string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {client},
		"redirect_uri":          {"http://127.0.0.1:9000/cb"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"state":                 {state},
		"resource":              {"https://mcp.example.com/mcp"},
	}
	return issuer + "/authorize?" + q.Encode()
}

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenRE     = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// consentForm reads the consent page's form fields.
func consentForm(t *testing.T, r response) (action string, fields url.Values) {
	t.Helper()
	page := string(r.body)
	m := formActionRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no consent form in the page (%d):\n%s", r.status, page)
	}
	// The first form only (the consent page may have a sign-out form).
	page = page[strings.Index(page, m[0]):]
	if end := strings.Index(page, "</form>"); end >= 0 {
		page = page[:end]
	}
	fields = url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(page, -1) {
		fields.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return html.UnescapeString(m[1]), fields
}

// wantRedirect checks r is a 303 to the client's redirect URI and returns
// its query.
func wantRedirect(t *testing.T, r response) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303; body:\n%s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != "http://127.0.0.1:9000/cb" {
		t.Fatalf("redirect to %q, want the client's redirect URI", r.header.Get("Location"))
	}
	return loc.Query()
}

// loginServer starts serve with --login header behind a proxy on loopback.
func loginServer(t *testing.T, extra ...string) *server {
	t.Helper()
	args := append([]string{"--db", dbIn(t), "--login", "header", "--trusted-proxy", "127.0.0.1/32", "--rate-limits=false"}, extra...)
	return startServer(t, nil, args...)
}

// The whole flow through the server: consent page, approval, code
// exchange, refresh, and remembered consent the second time.
func TestHeaderLoginFlow(t *testing.T) {
	s := loginServer(t)
	meta := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "").json(t)
	if meta["authorization_endpoint"] != s.issuer+"/authorize" {
		t.Fatalf("authorization_endpoint = %v", meta["authorization_endpoint"])
	}
	client := publicClient(t, s.issuer, "Flow <Test>")
	b := newBrowser(t, "alice@example.com")
	verifier, challenge := pkce("a")
	page := b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st1"), nil, nil)
	wantStatus(t, "consent page", page, http.StatusOK)
	for _, h := range []string{"Content-Security-Policy", "Cache-Control"} {
		if page.header.Get(h) == "" {
			t.Errorf("the consent page has no %s header", h)
		}
	}
	if !strings.Contains(page.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP %q lacks frame-ancestors 'none'", page.header.Get("Content-Security-Policy"))
	}
	body := string(page.body)
	for _, want := range []string{"Flow &lt;Test&gt;", "127.0.0.1:9000", "https://mcp.example.com/mcp", "Unverified application", "alice@example.com",
		`<button type="submit" name="decision" value="approve"`, `<button type="submit" name="decision" value="deny"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the consent page lacks %q", want)
		}
	}
	action, fields := consentForm(t, page)
	fields.Set("decision", "approve")
	q := wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	if q.Get("state") != "st1" || q.Get("iss") != s.issuer || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {"http://127.0.0.1:9000/cb"},
		"client_id": {client}, "code_verifier": {verifier}}
	r := postForm(t, s.issuer+"/token", form)
	wantStatus(t, "code exchange", r, http.StatusOK)
	refresh := r.need(t, "refresh_token")
	r = postForm(t, s.issuer+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {client}})
	wantStatus(t, "refresh", r, http.StatusOK)
	if r.need(t, "refresh_token") == refresh {
		t.Error("the refresh token of a public client did not rotate")
	}

	// The approval is remembered: the next authorization skips the page.
	_, challenge = pkce("b")
	wantRedirect(t, b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st2"), nil, nil))
	// Another user is asked.
	other := newBrowser(t, "bob@example.com")
	wantStatus(t, "another user's consent page", other.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st3"), nil, nil), http.StatusOK)
}

// postForm posts a form, as a client does at the token endpoint.
func postForm(t *testing.T, u string, form url.Values) response {
	t.Helper()
	res, err := httpClient.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// A denial goes back to the client as access_denied, with state and iss.
func TestHeaderLoginDeny(t *testing.T) {
	s := loginServer(t, "--consent-ttl", "0")
	client := publicClient(t, s.issuer, "Deny")
	b := newBrowser(t, "alice")
	_, challenge := pkce("c")
	action, fields := consentForm(t, b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st"), nil, nil))
	fields.Set("decision", "deny")
	q := wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	if q.Get("error") != "access_denied" || q.Get("state") != "st" || q.Get("iss") != s.issuer || q.Has("code") {
		t.Fatalf("denial redirect %v", q)
	}
	// With --consent-ttl 0 the page is shown every time, even after an
	// approval.
	_, challenge = pkce("d")
	action, fields = consentForm(t, b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st"), nil, nil))
	fields.Set("decision", "approve")
	wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	_, challenge = pkce("e")
	wantStatus(t, "consent asked again", b.do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st"), nil, nil), http.StatusOK)
}

// Sign-in refusals: no header, a header from an address that is not the
// proxy, a forged or replayed form, another browser, another user.
func TestHeaderLoginRefusals(t *testing.T) {
	s := loginServer(t)
	client := publicClient(t, s.issuer, "Refusals")
	_, challenge := pkce("f")
	u := authorizeURL(s.issuer, client, challenge, "st")

	anon := newBrowser(t, "")
	r := anon.do(http.MethodGet, u, nil, nil)
	wantStatus(t, "no login header", r, http.StatusForbidden)
	if !strings.Contains(string(r.body), "Sign-in required") || r.header.Get("Location") != "" {
		t.Errorf("no login header: want the sign-in page, got %s", r.body)
	}

	b := newBrowser(t, "alice")
	page := b.do(http.MethodGet, u, nil, nil)
	action, fields := consentForm(t, page)
	fields.Set("decision", "approve")

	forged := url.Values{"request": {fields.Get("request")}, "csrf": {"AAAA"}, "decision": {"approve"}}
	wantStatus(t, "forged anti-forgery token", b.do(http.MethodPost, s.issuer+action, forged, nil), http.StatusForbidden)
	wantStatus(t, "another origin", b.do(http.MethodPost, s.issuer+action, fields, http.Header{"Origin": {"https://evil.example"}}), http.StatusForbidden)
	mallory := newBrowser(t, "mallory")
	wantStatus(t, "another user", mallory.do(http.MethodPost, s.issuer+action, fields, nil), http.StatusForbidden)
	// The same user in another browser (no binding cookie) cannot answer.
	otherBrowser := newBrowser(t, "alice")
	if r := otherBrowser.do(http.MethodPost, s.issuer+action, fields, nil); r.status == http.StatusSeeOther {
		t.Fatalf("another browser answered the request: %s", r.header.Get("Location"))
	}

	wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
	// Resumable once.
	r = b.do(http.MethodPost, s.issuer+action, fields, nil)
	if r.status == http.StatusSeeOther {
		t.Fatal("a pending request was answered twice")
	}
}

// Only the proxy's address is believed.
func TestHeaderLoginOnlyFromProxy(t *testing.T) {
	s := startServer(t, nil, "--db", dbIn(t), "--login", "header", "--trusted-proxy", "127.0.0.2/32")
	client := publicClient(t, s.issuer, "Proxy")
	_, challenge := pkce("g")
	r := newBrowser(t, "alice").do(http.MethodGet, authorizeURL(s.issuer, client, challenge, "st"), nil, nil)
	wantStatus(t, "login header from outside the proxy", r, http.StatusForbidden)
	if !strings.Contains(string(r.body), "did not come through") {
		t.Errorf("the refusal does not say why: %s", r.body)
	}
}

// With --login none there is no authorization endpoint, and the metadata
// does not advertise one. (Without --login, a loopback server has the
// development sign-in: see TestDevLoginDefault.)
func TestNoLoginNoAuthorizationEndpoint(t *testing.T) {
	s := startServer(t, nil, "--db", dbIn(t), "--login", "none")
	var meta map[string]any
	r := do(t, http.MethodGet, s.issuer+"/.well-known/oauth-authorization-server", "", "")
	if err := json.Unmarshal(r.body, &meta); err != nil {
		t.Fatal(err)
	}
	if _, ok := meta["authorization_endpoint"]; ok {
		t.Errorf("authorization_endpoint advertised without --login: %v", meta["authorization_endpoint"])
	}
	if r := do(t, http.MethodGet, s.issuer+"/authorize?client_id=x", "", ""); r.status != http.StatusNotFound {
		t.Errorf("/authorize without --login: %d", r.status)
	}
	if !strings.Contains(s.stderr.String(), "no --login") {
		t.Errorf("the start log does not say the authorization endpoint is off:\n%s", s.stderr)
	}
	code, _, stderr := run(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", dbIn(t), "--login", "header")
	if code != 2 || !strings.Contains(stderr, "--trusted-proxy") {
		t.Errorf("--login header without --trusted-proxy: exit %d, %s", code, stderr)
	}
}

// codeFlowCredentials runs the authorization code flow of a new public
// client (registered with the initial access token iat, when not "")
// through the consent page, then a refresh, and returns every credential
// it saw (the pending request's handle, the browser's cookies, the
// anti-forgery token, the code, the access and refresh tokens) with the
// client's id.
func codeFlowCredentials(t *testing.T, issuer, iat string) (string, map[string]string) {
	t.Helper()
	body := `{"client_name":"flow","redirect_uris":["http://127.0.0.1:9000/cb"],` +
		`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	r := do(t, http.MethodPost, issuer+"/register", iat, body)
	wantStatus(t, "register a public client", r, http.StatusCreated)
	client := r.need(t, "client_id")
	creds := map[string]string{"public client's registration access token": r.need(t, "registration_access_token")}
	b := newBrowser(t, "carol@example.com")
	verifier, challenge := pkce("h")
	page := b.do(http.MethodGet, authorizeURL(issuer, client, challenge, "st"), nil, nil)
	action, fields := consentForm(t, page)
	creds["pending request"], creds["anti-forgery token"] = fields.Get("request"), fields.Get("csrf")
	u, _ := url.Parse(issuer)
	for _, ck := range b.c.Jar.Cookies(u) {
		creds["cookie "+ck.Name] = ck.Value
	}
	fields.Set("decision", "approve")
	q := wantRedirect(t, b.do(http.MethodPost, issuer+action, fields, nil))
	creds["code"], creds["code verifier"] = q.Get("code"), verifier
	r = postForm(t, issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {"http://127.0.0.1:9000/cb"}, "client_id": {client}, "code_verifier": {verifier}})
	wantStatus(t, "code exchange", r, http.StatusOK)
	creds["access token 1"], creds["refresh token 1"] = r.need(t, "access_token"), r.need(t, "refresh_token")
	r = postForm(t, issuer+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {creds["refresh token 1"]}, "client_id": {client}})
	wantStatus(t, "refresh", r, http.StatusOK)
	creds["access token 2"], creds["refresh token 2"] = r.need(t, "access_token"), r.need(t, "refresh_token")
	return client, creds
}
