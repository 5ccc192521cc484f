package clientreg_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
)

// The authorization endpoint through HTTP (docs/behaviour.md §8): a browser
// with a cookie jar that does not follow redirects, and an application
// mounted beside the handler that completes or denies pending requests as
// a login and consent page would.

// withCodeFlow turns the authorization endpoint on, with an Authorizer
// that answers every request with a login page and never completes.
func withCodeFlow(c *clientreg.Config) {
	c.Authorizer = clientreg.AuthorizerFunc(func(w http.ResponseWriter, _ *http.Request, _ *clientreg.AuthorizationRequest) {
		w.WriteHeader(http.StatusOK)
	})
}

// authzEnv is a handler with the token and authorization endpoints, and an
// application at /app/ that completes (/app/approve?id=&sub=&scope=) or
// denies (/app/deny?id=) pending requests for the browser that calls it.
type authzEnv struct {
	*testEnv
	browser *http.Client

	mu   sync.Mutex
	last *clientreg.AuthorizationRequest
}

func newAuthzEnv(t *testing.T, b backend, mutate func(*clientreg.Config)) *authzEnv {
	t.Helper()
	e := &authzEnv{}
	// newEnv over b, so that e.store (the spyStore) is the handler's.
	e.testEnv = newEnv(t, b, oauthConfig, func(c *clientreg.Config) {
		c.Authorizer = clientreg.AuthorizerFunc(func(w http.ResponseWriter, _ *http.Request, req *clientreg.AuthorizationRequest) {
			e.mu.Lock()
			e.last = req
			e.mu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<p>login</p>")
		})
		if mutate != nil {
			mutate(c)
		}
	})
	h := e.h
	app := http.NewServeMux()
	app.Handle("/", h)
	app.HandleFunc("/app/approve", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var scopes []string
		if q.Has("scope") {
			scopes = strings.Fields(q.Get("scope"))
			if scopes == nil {
				scopes = []string{}
			}
		}
		to, err := h.CompleteAuthorization(w, r, q.Get("id"), clientreg.Approval{Subject: q.Get("sub"), Scopes: scopes, Claims: map[string]any{"name": "Ada"}})
		if err != nil {
			h.ErrorPage(w, r, err)
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
	app.HandleFunc("/app/deny", func(w http.ResponseWriter, r *http.Request) {
		to, err := h.DenyAuthorization(w, r, r.URL.Query().Get("id"), "the user said no")
		if err != nil {
			h.ErrorPage(w, r, err)
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
	app.HandleFunc("/app/pending", func(w http.ResponseWriter, r *http.Request) {
		req, err := h.PendingAuthorization(r, r.URL.Query().Get("id"))
		if err != nil {
			h.ErrorPage(w, r, err)
			return
		}
		io.WriteString(w, req.ClientID)
	})
	e.srv.Config.Handler = app
	e.browser = e.newBrowser()
	return e
}

// newBrowser returns a user agent with its own cookie jar, which does not
// follow redirects.
func (e *authzEnv) newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// page is a response of the browser.
type page struct {
	status   int
	header   http.Header
	body     string
	location *url.URL
}

func (e *authzEnv) visit(browser *http.Client, req *http.Request) page {
	e.t.Helper()
	res, err := browser.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	p := page{status: res.StatusCode, header: res.Header, body: string(b)}
	if loc := res.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			e.t.Fatalf("Location %q: %v", loc, err)
		}
		p.location = u
	}
	return p
}

// authorize sends the browser to the authorization endpoint with params.
func (e *authzEnv) authorize(params url.Values) page {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.iss+"/authorize?"+params.Encode(), nil)
	return e.visit(e.browser, req)
}

func (e *authzEnv) app(browser *http.Client, path string, q url.Values) page {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.iss+path+"?"+q.Encode(), nil)
	return e.visit(browser, req)
}

func (e *authzEnv) lastRequest() *clientreg.AuthorizationRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// regClient is a client registered for the code flow.
type regClient struct {
	creds    clientCreds
	redirect string
	uri      string // registration_client_uri
	token    string // registration access token
}

// registerPublic registers a public client (none) of the code and refresh
// grants with the scopes read and write and one loopback redirect URI.
func (e *authzEnv) registerPublic(extra map[string]any) regClient {
	e.t.Helper()
	m := map[string]any{
		"client_name": "Test App", "redirect_uris": []string{"http://127.0.0.1/cb"},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
		"scope": "read write",
	}
	for k, v := range extra {
		m[k] = v
	}
	r := e.jsonReq(http.MethodPost, e.iss+"/register", "", m)
	if r.status != http.StatusCreated {
		e.t.Fatalf("register: %d %s", r.status, r.body)
	}
	uris, _ := m["redirect_uris"].([]string)
	c := regClient{creds: clientCreds{id: r.str("client_id"), secret: r.str("client_secret"), method: r.str("token_endpoint_auth_method")},
		uri: r.str("registration_client_uri"), token: r.str("registration_access_token")}
	if len(uris) > 0 {
		c.redirect = uris[0]
	}
	return c
}

// pkce returns a fresh verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomID() + randomID() + randomID() + "-._~"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authzParams are valid authorization request parameters for c.
func authzParams(c regClient, challenge string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {c.creds.id}, "redirect_uri": {c.redirect},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st-1"},
	}
}

// wantPage asserts an error page: never a redirect, HTML, not cached, not
// framed.
func wantPage(t *testing.T, p page, status int) {
	t.Helper()
	if p.status != status || p.location != nil {
		t.Fatalf("got %d (Location %v) %s, want the %d error page", p.status, p.location, p.body, status)
	}
	if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type = %q", p.header.Get("Content-Type"))
	}
	if !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", p.header.Get("Content-Security-Policy"))
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", p.header.Get("Cache-Control"))
	}
}

// wantRedirectError asserts a 303 to redirect with error code, the state
// and iss (RFC 9207).
func wantRedirectError(t *testing.T, e *authzEnv, p page, redirect, code string) url.Values {
	t.Helper()
	if p.status != http.StatusSeeOther || p.location == nil {
		t.Fatalf("got %d %s, want a 303 redirect with error %s", p.status, p.body, code)
	}
	q := p.location.Query()
	base := *p.location
	base.RawQuery = ""
	if base.String() != redirect {
		t.Fatalf("redirected to %s, want %s", base.String(), redirect)
	}
	if q.Get("error") != code || q.Get("state") != "st-1" || q.Get("iss") != e.iss {
		t.Fatalf("redirect query %v, want error=%s state=st-1 iss=%s", q, code, e.iss)
	}
	if q.Has("code") {
		t.Fatalf("an error redirect carries a code: %v", q)
	}
	return q
}

// Every validation rule of docs/behaviour.md §8, in order: the errors
// before the redirect URI is verified are pages, the later ones redirects.
func TestAuthorizeValidation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newAuthzEnv(t, b, func(c *clientreg.Config) {
			c.Resources = clientreg.ResourcePolicy{AllowedPrefixes: []string{"https://mcp.example/"}, Allowed: []string{"https://api.example"}}
		})
		pub := e.registerPublic(nil)
		two := e.registerPublic(map[string]any{"redirect_uris": []string{"https://app.example/cb", "https://app.example/other?x=1"}})
		cc := e.registerPublic(map[string]any{"token_endpoint_auth_method": "client_secret_basic", "grant_types": []string{"client_credentials"}, "redirect_uris": []string{"https://svc.example/cb"}})
		_, challenge := pkce()
		with := func(c regClient, f func(v url.Values)) url.Values {
			v := authzParams(c, challenge)
			f(v)
			return v
		}
		pages := []struct {
			name   string
			params url.Values
		}{
			{"no client_id", with(pub, func(v url.Values) { v.Del("client_id") })},
			{"unknown client", with(pub, func(v url.Values) { v.Set("client_id", "nobody") })},
			{"unregistered redirect_uri", with(pub, func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") })},
			{"other loopback path", with(pub, func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:5000/other") })},
			{"localhost for 127.0.0.1", with(pub, func(v url.Values) { v.Set("redirect_uri", "http://localhost/cb") })},
			{"https port differs", with(two, func(v url.Values) { v.Set("redirect_uri", "https://app.example:8443/cb") })},
			{"trailing slash", with(two, func(v url.Values) { v.Set("redirect_uri", "https://app.example/cb/") })},
			{"query differs", with(two, func(v url.Values) { v.Set("redirect_uri", "https://app.example/other?x=2") })},
			{"omitted with two registered", with(two, func(v url.Values) { v.Del("redirect_uri") })},
			{"bad redirect before bad response_type", with(pub, func(v url.Values) {
				v.Set("redirect_uri", "https://evil.example/cb")
				v.Set("response_type", "token")
			})},
			{"repeated client_id", with(pub, func(v url.Values) { v.Add("client_id", pub.creds.id) })},
		}
		for _, tc := range pages {
			t.Run(tc.name, func(t *testing.T) {
				wantPage(t, e.authorize(tc.params), http.StatusBadRequest)
			})
		}
		if e.lastRequest() != nil {
			t.Fatal("the Authorizer was called for a refused request")
		}

		redirects := []struct {
			name     string
			c        regClient
			params   url.Values
			redirect string
			code     string
		}{
			{"no response_type", pub, with(pub, func(v url.Values) { v.Del("response_type") }), pub.redirect, "invalid_request"},
			{"response_type token", pub, with(pub, func(v url.Values) { v.Set("response_type", "token") }), pub.redirect, "unsupported_response_type"},
			{"response_type before PKCE", pub, with(pub, func(v url.Values) {
				v.Set("response_type", "code id_token")
				v.Del("code_challenge")
			}), pub.redirect, "unsupported_response_type"},
			{"no code_challenge", pub, with(pub, func(v url.Values) { v.Del("code_challenge") }), pub.redirect, "invalid_request"},
			{"no code_challenge_method", pub, with(pub, func(v url.Values) { v.Del("code_challenge_method") }), pub.redirect, "invalid_request"},
			{"plain", pub, with(pub, func(v url.Values) { v.Set("code_challenge_method", "plain") }), pub.redirect, "invalid_request"},
			{"malformed challenge", pub, with(pub, func(v url.Values) { v.Set("code_challenge", "short") }), pub.redirect, "invalid_request"},
			{"scope not registered", pub, with(pub, func(v url.Values) { v.Set("scope", "read admin") }), pub.redirect, "invalid_scope"},
			{"scope before resource", pub, with(pub, func(v url.Values) {
				v.Set("scope", "admin")
				v.Set("resource", "relative/path")
			}), pub.redirect, "invalid_scope"},
			{"relative resource", pub, with(pub, func(v url.Values) { v.Set("resource", "/mcp") }), pub.redirect, "invalid_target"},
			{"resource with fragment", pub, with(pub, func(v url.Values) { v.Set("resource", "https://mcp.example/a#x") }), pub.redirect, "invalid_target"},
			{"resource not allowed", pub, with(pub, func(v url.Values) { v.Set("resource", "https://mcp.example.evil/") }), pub.redirect, "invalid_target"},
			{"resource prefix with dot segment", pub, with(pub, func(v url.Values) { v.Set("resource", "https://mcp.example/a/../../x") }), pub.redirect, "invalid_target"},
			{"second resource not allowed", pub, with(pub, func(v url.Values) {
				v.Add("resource", "https://api.example")
				v.Add("resource", "https://other.example")
			}), pub.redirect, "invalid_target"},
			{"client without authorization_code", cc, with(cc, func(v url.Values) {}), cc.redirect, "unauthorized_client"},
			{"omitted redirect_uri, one registered", pub, with(pub, func(v url.Values) {
				v.Del("redirect_uri")
				v.Set("response_type", "token")
			}), pub.redirect, "unsupported_response_type"},
			{"loopback any port", pub, with(pub, func(v url.Values) {
				v.Set("redirect_uri", "http://127.0.0.1:53117/cb")
				v.Set("response_type", "token")
			}), "http://127.0.0.1:53117/cb", "unsupported_response_type"},
			{"repeated state", pub, with(pub, func(v url.Values) { v.Set("scope", "read"); v["code_challenge"] = []string{challenge, challenge} }), pub.redirect, "invalid_request"},
		}
		for _, tc := range redirects {
			t.Run(tc.name, func(t *testing.T) {
				p := e.authorize(tc.params)
				if tc.name == "repeated state" {
					// A repeated parameter other than client_id and
					// redirect_uri is found before either is checked:
					// a page.
					wantPage(t, p, http.StatusBadRequest)
					return
				}
				q := wantRedirectError(t, e, p, tc.redirect, tc.code)
				if q.Get("error_description") == "" {
					t.Errorf("no error_description: %v", q)
				}
			})
		}
		if e.lastRequest() != nil {
			t.Fatal("the Authorizer was called for a refused request")
		}

		// Valid: GET, with two allowed resources, and POST.
		v := with(pub, func(v url.Values) {
			v.Set("scope", "read")
			v.Add("resource", "https://mcp.example/server")
			v.Add("resource", "https://api.example")
		})
		if p := e.authorize(v); p.status != http.StatusOK || p.body != "<p>login</p>" {
			t.Fatalf("valid request: %d %s", p.status, p.body)
		}
		req := e.lastRequest()
		if req == nil || req.ClientID != pub.creds.id || req.ClientName != "Test App" || req.RedirectURI != pub.redirect ||
			req.RedirectHost != "127.0.0.1" || !slices.Equal(req.Scopes, []string{"read"}) ||
			!slices.Equal(req.Resources, []string{"https://mcp.example/server", "https://api.example"}) ||
			req.State != "st-1" || !req.DynamicallyRegistered || len(req.ID) < 43 || !req.ExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)) {
			t.Fatalf("AuthorizationRequest = %+v", req)
		}
		post, _ := http.NewRequest(http.MethodPost, e.iss+"/authorize", strings.NewReader(with(pub, func(url.Values) {}).Encode()))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if p := e.visit(e.browser, post); p.status != http.StatusOK {
			t.Fatalf("POST: %d %s", p.status, p.body)
		}
		if got := e.lastRequest(); got.ID == req.ID || !slices.Equal(got.Scopes, []string{"read", "write"}) {
			t.Fatalf("POST request %+v: the omitted scope is the registered one, and every request has its own ID", got)
		}
		// Other methods: 405.
		put, _ := http.NewRequest(http.MethodPut, e.iss+"/authorize", nil)
		if p := e.visit(e.browser, put); p.status != http.StatusMethodNotAllowed {
			t.Fatalf("PUT: %d", p.status)
		}
	})
}

// The browser binding cookie, and the pending request that only its
// browser may resume, once, before it expires.
func TestAuthorizePendingBoundToBrowser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newAuthzEnv(t, b, nil)
		pub := e.registerPublic(nil)
		_, challenge := pkce()
		p := e.authorize(authzParams(pub, challenge))
		var cookie *http.Cookie
		for _, c := range (&http.Response{Header: p.header}).Cookies() {
			cookie = c
		}
		if cookie == nil || cookie.Name != "clientreg-browser" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/" || len(cookie.Value) != 43 {
			t.Fatalf("binding cookie = %+v", cookie)
		}
		id := e.lastRequest().ID
		// A second request of the same browser reuses the cookie.
		if p2 := e.authorize(authzParams(pub, challenge)); len(p2.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("the cookie was set again: %v", p2.header.Values("Set-Cookie"))
		}
		// Another browser, holding the handle, gets nothing.
		other := e.newBrowser()
		for _, path := range []string{"/app/pending", "/app/approve", "/app/deny"} {
			wantPage(t, e.app(other, path, url.Values{"id": {id}, "sub": {"mallory"}}), http.StatusNotFound)
		}
		// The right browser looks it up, as often as it likes.
		for range 2 {
			if r := e.app(e.browser, "/app/pending", url.Values{"id": {id}}); r.status != 200 || r.body != pub.creds.id {
				t.Fatalf("pending: %d %s", r.status, r.body)
			}
		}
		// An approval asking for a scope the request did not name is
		// refused and consumes nothing.
		if r := e.app(e.browser, "/app/approve", url.Values{"id": {id}, "sub": {"ada"}, "scope": {"admin"}}); r.status != http.StatusBadRequest {
			t.Fatalf("approve with a scope not requested: %d %s", r.status, r.body)
		}
		r := e.app(e.browser, "/app/approve", url.Values{"id": {id}, "sub": {"ada"}})
		if r.status != http.StatusSeeOther || r.location == nil || r.location.Query().Get("code") == "" ||
			r.location.Query().Get("state") != "st-1" || r.location.Query().Get("iss") != e.iss {
			t.Fatalf("approve: %d %v %s", r.status, r.location, r.body)
		}
		if r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("approve headers: %v", r.header)
		}
		// Resumable once.
		for _, path := range []string{"/app/pending", "/app/approve", "/app/deny"} {
			wantPage(t, e.app(e.browser, path, url.Values{"id": {id}, "sub": {"ada"}}), http.StatusNotFound)
		}
		// Expiry: a fresh request is gone after PendingAuthorizationLifetime.
		e.authorize(authzParams(pub, challenge))
		id = e.lastRequest().ID
		e.clock.Add(10 * time.Minute)
		wantPage(t, e.app(e.browser, "/app/approve", url.Values{"id": {id}, "sub": {"ada"}}), http.StatusNotFound)
	})
}

// Denial redirects with access_denied, state and iss.
func TestAuthorizeDeny(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newAuthzEnv(t, b, nil)
		pub := e.registerPublic(nil)
		_, challenge := pkce()
		e.authorize(authzParams(pub, challenge))
		r := e.app(e.browser, "/app/deny", url.Values{"id": {e.lastRequest().ID}})
		q := wantRedirectError(t, e, r, pub.redirect, "access_denied")
		if q.Get("error_description") != "the user said no" {
			t.Fatalf("error_description = %q", q.Get("error_description"))
		}
	})
}

// An https issuer's cookie is Secure and __Host- prefixed.
func TestAuthorizeSecureCookie(t *testing.T) {
	st := memoryBackend.open(t)
	var seen *clientreg.AuthorizationRequest
	h, err := clientreg.New(clientreg.Config{
		Issuer: "https://as.example", Store: st, SecretKey: testKey, ServeTokenEndpoints: true,
		Authorizer: clientreg.AuthorizerFunc(func(w http.ResponseWriter, r *http.Request, req *clientreg.AuthorizationRequest) {
			seen = req
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewRequest(http.MethodPost, "https://as.example/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`))
	reg.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, reg)
	id := between(rec.Body.String(), `"client_id":"`, `"`)
	_, challenge := pkce()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://as.example/authorize?"+url.Values{
		"response_type": {"code"}, "client_id": {id}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode(), nil))
	cookies := rec.Result().Cookies()
	if seen == nil || len(cookies) != 1 || cookies[0].Name != "__Host-clientreg-browser" || !cookies[0].Secure || cookies[0].Path != "/" || cookies[0].Domain != "" {
		t.Fatalf("status %d, cookies %+v, request %+v", rec.Code, cookies, seen)
	}
	// The handle works only with the cookie.
	bare := httptest.NewRequest(http.MethodGet, "https://as.example/app", nil)
	if _, err := h.PendingAuthorization(bare, seen.ID); !errors.Is(err, clientreg.ErrAuthorizationNotFound) {
		t.Fatalf("without the cookie: %v", err)
	}
	bare.AddCookie(cookies[0])
	if _, err := h.PendingAuthorization(bare, seen.ID); err != nil {
		t.Fatalf("with the cookie: %v", err)
	}
}

func between(s, start, end string) string {
	_, after, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(after, end)
	return v
}

// The metadata lists what is served (docs/behaviour.md §1, §8, §9), and a
// registration without grant_types gets a grant the server serves.
func TestAuthorizeHonestMetadata(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newAuthzEnv(t, b, nil)
		md := e.jsonReq(http.MethodGet, e.iss+"/.well-known/oauth-authorization-server", "", nil)
		wantList := func(r *response, name string, want ...string) {
			t.Helper()
			var got []string
			for _, v := range r.m[name].([]any) {
				got = append(got, v.(string))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		if md.str("authorization_endpoint") != e.iss+"/authorize" || md.m["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("metadata: %s", md.body)
		}
		wantList(md, "grant_types_supported", "authorization_code", "refresh_token", "client_credentials")
		wantList(md, "response_types_supported", "code")
		wantList(md, "code_challenge_methods_supported", "S256")
		r := e.jsonReq(http.MethodPost, e.iss+"/register", "", map[string]any{"redirect_uris": []string{"https://app.example/cb"}})
		if r.status != 201 || r.m["grant_types"].([]any)[0] != "authorization_code" {
			t.Errorf("default grant types with an authorization endpoint: %s", r.body)
		}

		// Refresh tokens Off: refresh_token is not served.
		off := newAuthzEnv(t, b, func(c *clientreg.Config) { c.RefreshTokenLifetime = clientreg.Off })
		wantList(off.jsonReq(http.MethodGet, off.iss+"/.well-known/oauth-authorization-server", "", nil), "grant_types_supported", "authorization_code", "client_credentials")
	})
	// The token endpoint without an authorization endpoint.
	e := newOAuthEnv(t, nil)
	md := e.jsonReq(http.MethodGet, e.iss+"/.well-known/oauth-authorization-server", "", nil)
	for _, name := range []string{"authorization_endpoint", "code_challenge_methods_supported", "authorization_response_iss_parameter_supported"} {
		if _, ok := md.m[name]; ok {
			t.Errorf("%s is advertised without an authorization endpoint: %s", name, md.body)
		}
	}
	if g := md.m["grant_types_supported"].([]any); len(g) != 1 || g[0] != "client_credentials" {
		t.Errorf("grant_types_supported = %v", g)
	}
	if g := md.m["response_types_supported"].([]any); len(g) != 0 {
		t.Errorf("response_types_supported = %v", g)
	}
	r := e.jsonReq(http.MethodPost, e.iss+"/register", "", map[string]any{"client_name": "svc"})
	if r.status != 201 || len(r.m["grant_types"].([]any)) != 1 || r.m["grant_types"].([]any)[0] != "client_credentials" {
		t.Fatalf("default grant types without an authorization endpoint: %d %s", r.status, r.body)
	}
	if tok := e.token(clientCreds{id: r.str("client_id"), secret: r.str("client_secret"), method: "client_secret_basic"}, ""); tok.status != 200 {
		t.Fatalf("the default grant is served: %d %s", tok.status, tok.body)
	}
	if p := e.form("/token", clientCreds{id: r.str("client_id"), secret: r.str("client_secret"), method: "client_secret_basic"},
		url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "code_verifier": {"y"}}); p.status != 400 || p.str("error") != "unsupported_grant_type" {
		t.Fatalf("authorization_code without an authorization endpoint: %d %s", p.status, p.body)
	}
	if p, _ := http.Get(e.iss + "/authorize"); p.StatusCode != http.StatusNotFound {
		t.Fatalf("/authorize without an Authorizer: %d", p.StatusCode)
	}
}

// New refuses configurations that could not keep the promises.
func TestAuthorizeConfigErrors(t *testing.T) {
	az := clientreg.AuthorizerFunc(func(http.ResponseWriter, *http.Request, *clientreg.AuthorizationRequest) {})
	base := func() clientreg.Config {
		return clientreg.Config{Issuer: "https://as.example", Store: memoryBackend.open(t), SecretKey: testKey, ServeTokenEndpoints: true, Authorizer: az}
	}
	for name, mutate := range map[string]func(*clientreg.Config){
		"no token endpoint":      func(c *clientreg.Config) { c.ServeTokenEndpoints = false },
		"code lifetime too long": func(c *clientreg.Config) { c.CodeLifetime = 11 * time.Minute },
		"code lifetime off":      func(c *clientreg.Config) { c.CodeLifetime = clientreg.Off },
		"pending off":            func(c *clientreg.Config) { c.PendingAuthorizationLifetime = clientreg.Off },
		"negative grace":         func(c *clientreg.Config) { c.RefreshTokenGrace = -5 },
		"endpoint elsewhere":     func(c *clientreg.Config) { c.AuthorizationEndpoint = "https://other.example/authorize" },
		"endpoint without path":  func(c *clientreg.Config) { c.AuthorizationEndpoint = "https://as.example" },
		"both endpoints": func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{AuthorizationEndpoint: "https://as.example/authz"}
		},
		"bad prefix":       func(c *clientreg.Config) { c.Resources.AllowedPrefixes = []string{"https://mcp.example"} },
		"relative allowed": func(c *clientreg.Config) { c.Resources.Allowed = []string{"/mcp"} },
		"default not allowed": func(c *clientreg.Config) {
			c.Resources = clientreg.ResourcePolicy{Allowed: []string{"https://a.example/"}, Default: []string{"https://b.example/"}}
		},
		"bad origin":       func(c *clientreg.Config) { c.CORS.AllowedOrigins = []string{"https://app.example/path"} },
		"unknown rotation": func(c *clientreg.Config) { c.RefreshRotation = 7 },
		"implicit advertised": func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{GrantTypesSupported: []string{"implicit", "authorization_code"}}
		},
		"password advertised": func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{GrantTypesSupported: []string{"password"}}
		},
		"token response type": func(c *clientreg.Config) {
			c.Metadata = &clientreg.ServerMetadata{ResponseTypesSupported: []string{"code", "token"}}
		},
		"code without endpoint": func(c *clientreg.Config) {
			c.Authorizer = nil
			c.Metadata = &clientreg.ServerMetadata{GrantTypesSupported: []string{"authorization_code"}}
		},
		"refresh when refresh off": func(c *clientreg.Config) {
			c.RefreshTokenLifetime = clientreg.Off
			c.Metadata = &clientreg.ServerMetadata{GrantTypesSupported: []string{"authorization_code", "refresh_token"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			mutate(&c)
			if _, err := clientreg.New(c); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := clientreg.New(base()); err != nil {
		t.Fatalf("the base configuration: %v", err)
	}
	// Validate checks the same, without a store.
	c := base()
	c.Store = nil
	c.CodeLifetime = time.Hour
	if err := c.Validate(); err == nil {
		t.Fatal("Validate accepted a code lifetime of an hour")
	}
}

// The default error page escapes what it shows.
func TestAuthorizeErrorPageEscapes(t *testing.T) {
	rec := httptest.NewRecorder()
	clientreg.DefaultAuthorizationErrorPage(rec, httptest.NewRequest("GET", "/", nil), clientreg.ErrInvalidRequest.WithDescription("<script>x</script>"))
	if rec.Code != 400 || bytes.Contains(rec.Body.Bytes(), []byte("<script>")) || !bytes.Contains(rec.Body.Bytes(), []byte("&lt;script&gt;")) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
