package gooauth2clients_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	gooauth2clients "github.com/clientreg/clientreg/adapters/gooauth2"
	"github.com/clientreg/clientreg/store/memory"
	goauth "github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/manage"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// clock is clientreg's clock (Config.Now), which the tests move to end a
// secret's overlap or lifetime. go-oauth2 keeps the real time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one server: clientreg's registration endpoint at /register and
// go-oauth2's token endpoint at /token over the same clients.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	st      *memory.Store
	h       *clientreg.Handler
	clock   *clock
	clients *gooauth2clients.ClientStore
	manager *manage.Manager
}

func newEnv(t *testing.T, mutate func(*clientreg.Config)) *env {
	t.Helper()
	e := &env{t: t, st: memory.New(), clock: &clock{now: time.Now()}}
	e.srv = httptest.NewUnstartedServer(nil)
	cfg := clientreg.Config{
		Issuer:    "http://" + e.srv.Listener.Addr().String(),
		Store:     e.st,
		SecretKey: []byte("0123456789abcdef0123456789abcdef"),
		Now:       e.clock.Now,
		Metadata:  &clientreg.ServerMetadata{ScopesSupported: []string{"read", "write"}},
		Limits:    clientreg.Limits{Disabled: true},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := clientreg.New(cfg)
	if err != nil {
		t.Fatalf("clientreg.New: %v", err)
	}
	e.h = h
	e.clients = gooauth2clients.NewClientStore(h)
	srv, manager := newServer(e.clients)
	e.manager = manager

	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleTokenRequest(w, r); err != nil {
			t.Errorf("HandleTokenRequest: %v", err)
		}
	})
	e.srv.Config.Handler = mux
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// registered is a client registered through clientreg's endpoint.
type registered struct {
	ID, Secret string
	// Token and URI are the registration access token and the client
	// configuration endpoint (RFC 7592).
	Token, URI string
	meta       map[string]any
}

// register registers meta over HTTP (RFC 7591) and fails the test unless
// the answer is 201.
func (e *env) register(meta map[string]any) *registered {
	e.t.Helper()
	status, body := e.jsonRequest(http.MethodPost, e.srv.URL+"/register", "", meta)
	if status != http.StatusCreated {
		e.t.Fatalf("register: %d %s", status, body)
	}
	var info map[string]any
	if err := json.Unmarshal(body, &info); err != nil {
		e.t.Fatal(err)
	}
	str := func(k string) string { s, _ := info[k].(string); return s }
	return &registered{ID: str("client_id"), Secret: str("client_secret"),
		Token: str("registration_access_token"), URI: str("registration_client_uri"), meta: meta}
}

func (e *env) jsonRequest(method, u, token string, v any) (int, []byte) {
	e.t.Helper()
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, b
}

// m2m is the metadata of a client_credentials client.
func m2m(method string) map[string]any {
	return map[string]any{
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": method,
		"scope":                      "read write",
	}
}

// style is how x/oauth2 sends the credentials of a client of method.
func style(method string) oauth2.AuthStyle {
	if method == "client_secret_post" {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// token runs the client_credentials grant with x/oauth2.
func (e *env) token(id, secret string, st oauth2.AuthStyle, scopes ...string) (*oauth2.Token, error) {
	conf := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.srv.URL + "/token", Scopes: scopes, AuthStyle: st}
	return conf.Token(context.WithValue(context.Background(), oauth2.HTTPClient, e.srv.Client()))
}

// post sends a token request with the form vals and the Authorization
// header auth (none when ""), and returns the status and the error code.
func (e *env) post(vals url.Values, auth string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/token", strings.NewReader(vals.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, body.Error
}

// wantTokenError checks that err is the token endpoint's error code.
func wantTokenError(t *testing.T, what string, tok *oauth2.Token, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Errorf("%s: token %v, error %v; want %s", what, tok, err, code)
	}
}

// wantToken checks that access is an access token of go-oauth2's, for
// clientID with scope.
func (e *env) wantToken(what string, tok *oauth2.Token, err error, clientID, scope string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	ti, err := e.manager.LoadAccessToken(context.Background(), tok.AccessToken)
	if err != nil {
		e.t.Fatalf("%s: LoadAccessToken: %v", what, err)
	}
	if ti.GetClientID() != clientID || ti.GetScope() != scope {
		e.t.Errorf("%s: token of %s with scope %q; want %s, %q", what, ti.GetClientID(), ti.GetScope(), clientID, scope)
	}
}

// A client registered over HTTP gets a token with go-oauth2's
// client_credentials grant, with the secret clientreg issued sent as it
// registered: HTTP Basic or the form body.
func TestClientCredentials(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.register(m2m(method))
			tok, err := e.token(c.ID, c.Secret, style(method), "read")
			e.wantToken("scope read", tok, err, c.ID, "read")
			tok, err = e.token(c.ID, c.Secret, style(method))
			e.wantToken("no scope: the registered scope", tok, err, c.ID, "read write")
		})
	}
}

// Every other credential is invalid_client: a wrong secret, another
// client's, the other method, an unknown client, one sent in the query
// string, a client assertion; two methods at once are invalid_request.
func TestClientAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	basic := e.register(m2m("client_secret_basic"))
	post := e.register(m2m("client_secret_post"))
	tok, err := e.token(basic.ID, basic.Secret+"x", oauth2.AuthStyleInHeader)
	wantTokenError(t, "wrong secret", tok, err, "invalid_client")
	tok, err = e.token(basic.ID, post.Secret, oauth2.AuthStyleInHeader)
	wantTokenError(t, "another client's secret", tok, err, "invalid_client")
	tok, err = e.token(basic.ID, basic.Secret, oauth2.AuthStyleInParams)
	wantTokenError(t, "client_secret_post for a client_secret_basic client", tok, err, "invalid_client")
	tok, err = e.token(post.ID, post.Secret, oauth2.AuthStyleInHeader)
	wantTokenError(t, "client_secret_basic for a client_secret_post client", tok, err, "invalid_client")
	tok, err = e.token("no-such-client", basic.Secret, oauth2.AuthStyleInHeader)
	wantTokenError(t, "unknown client", tok, err, "invalid_client")
	tok, err = e.token(basic.ID, "", oauth2.AuthStyleInParams)
	wantTokenError(t, "no secret", tok, err, "invalid_client")

	grant := url.Values{"grant_type": {"client_credentials"}}
	basicAuth := func(id, secret string) string {
		req, _ := http.NewRequest(http.MethodPost, "/", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return req.Header.Get("Authorization")
	}
	both := url.Values{"grant_type": {"client_credentials"}, "client_id": {basic.ID}, "client_secret": {basic.Secret}}
	if status, code := e.post(both, basicAuth(basic.ID, basic.Secret)); code != "invalid_request" {
		t.Errorf("Basic and client_secret in the body: %d %s, want invalid_request", status, code)
	}
	assertion := url.Values{"grant_type": {"client_credentials"}, "client_id": {basic.ID},
		"client_assertion_type": {clientreg.AssertionTypeJWTBearer}, "client_assertion": {"e30.e30.c2ln"}}
	if status, code := e.post(assertion, ""); status != 401 || code != "invalid_client" {
		t.Errorf("a client assertion: %d %s, want 401 invalid_client", status, code)
	}
	// RFC 6749 §2.3.1: credentials never in the request URI.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/token?"+url.Values{"client_id": {post.ID}, "client_secret": {post.Secret}}.Encode(),
		strings.NewReader(grant.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("credentials in the query string: %d, want 401", res.StatusCode)
	}
	// The right credentials, for comparison.
	if status, code := e.post(grant, basicAuth(basic.ID, basic.Secret)); status != 200 {
		t.Errorf("the client's own credentials: %d %s", status, code)
	}
}

// go-oauth2 serves a client only the grant types and the scope it
// registered.
func TestGrantTypesAndScope(t *testing.T) {
	e := newEnv(t, nil)
	code := e.register(map[string]any{
		"redirect_uris": []string{"http://127.0.0.1/cb"}, "grant_types": []string{"authorization_code"},
		"token_endpoint_auth_method": "client_secret_basic", "scope": "read"})
	tok, err := e.token(code.ID, code.Secret, oauth2.AuthStyleInHeader)
	wantTokenError(t, "client_credentials for a client of authorization_code", tok, err, "unauthorized_client")

	c := e.register(m2m("client_secret_basic"))
	tok, err = e.token(c.ID, c.Secret, oauth2.AuthStyleInHeader, "read", "admin")
	wantTokenError(t, "an unregistered scope", tok, err, "invalid_scope")
	post := e.register(m2m("client_secret_post"))
	req := url.Values{"grant_type": {"client_credentials"}, "client_id": {post.ID}, "client_secret": {post.Secret}, "scope": {"read  write"}}
	if status, code := e.post(req, ""); code != "invalid_scope" {
		t.Errorf("scope with an empty token: %d %s, want invalid_scope", status, code)
	}
	tok, err = e.token(c.ID, c.Secret, oauth2.AuthStyleInHeader, "write", "read")
	e.wantToken("registered scopes", tok, err, c.ID, "write read")
}

// After a rotation, the previous secret keeps getting tokens until the
// overlap ends (Config.SecretOverlap), then only the new one does; an
// expired secret gets none (Config.SecretLifetime); a disabled or deleted
// client gets none.
func TestSecretLifecycle(t *testing.T) {
	e := newEnv(t, func(c *clientreg.Config) {
		c.SecretOverlap = time.Hour
		c.SecretLifetime = 24 * time.Hour
	})
	c := e.register(m2m("client_secret_basic"))
	meta := map[string]any{"client_id": c.ID}
	for k, v := range c.meta {
		meta[k] = v
	}
	status, body := e.jsonRequest(http.MethodPut, c.URI+"?rotate_secret=true", c.Token, meta)
	var info map[string]any
	if status != http.StatusOK || json.Unmarshal(body, &info) != nil {
		t.Fatalf("rotate secret: %d %s", status, body)
	}
	newSecret, _ := info["client_secret"].(string)
	c.Token, _ = info["registration_access_token"].(string)

	tok, err := e.token(c.ID, c.Secret, oauth2.AuthStyleInHeader)
	e.wantToken("the previous secret within the overlap", tok, err, c.ID, "read write")
	tok, err = e.token(c.ID, newSecret, oauth2.AuthStyleInHeader)
	e.wantToken("the new secret", tok, err, c.ID, "read write")
	e.clock.Add(time.Hour)
	tok, err = e.token(c.ID, c.Secret, oauth2.AuthStyleInHeader)
	wantTokenError(t, "the previous secret after the overlap", tok, err, "invalid_client")
	tok, err = e.token(c.ID, newSecret, oauth2.AuthStyleInHeader)
	e.wantToken("the new secret after the overlap", tok, err, c.ID, "read write")
	e.clock.Add(23 * time.Hour)
	tok, err = e.token(c.ID, newSecret, oauth2.AuthStyleInHeader)
	wantTokenError(t, "the new secret at client_secret_expires_at", tok, err, "invalid_client")

	disabled := e.register(m2m("client_secret_basic"))
	if err := e.st.SetClientDisabled(context.Background(), disabled.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, err = e.token(disabled.ID, disabled.Secret, oauth2.AuthStyleInHeader)
	wantTokenError(t, "a disabled client", tok, err, "invalid_client")

	deleted := e.register(m2m("client_secret_post"))
	if status, body := e.jsonRequest(http.MethodDelete, deleted.URI, deleted.Token, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	tok, err = e.token(deleted.ID, deleted.Secret, oauth2.AuthStyleInParams)
	wantTokenError(t, "a deleted client", tok, err, "invalid_client")
}

// ClientInfo: no plaintext secret, VerifyPassword with clientreg's keyed
// hash, a public client verifies only without a secret, and a disabled
// client is unknown to GetByID.
func TestClientInfo(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.register(m2m("client_secret_basic"))
	ci, err := e.clients.GetByID(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := ci.(goauth.ClientPasswordVerifier)
	if !ok {
		t.Fatal("the ClientInfo is no ClientPasswordVerifier")
	}
	if ci.GetID() != c.ID || ci.GetSecret() != "" || ci.IsPublic() || ci.GetDomain() != "" {
		t.Errorf("ClientInfo: id %q secret %q public %v domain %q", ci.GetID(), ci.GetSecret(), ci.IsPublic(), ci.GetDomain())
	}
	if !v.VerifyPassword(c.Secret) || v.VerifyPassword(c.Secret+"x") || v.VerifyPassword("") {
		t.Error("VerifyPassword does not accept exactly the client's secret")
	}
	if err := e.st.SetClientDisabled(ctx, c.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.clients.GetByID(ctx, c.ID); err == nil {
		t.Error("GetByID returns a disabled client")
	}

	public := e.register(map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"},
		"grant_types": []string{"authorization_code"}, "token_endpoint_auth_method": "none"})
	ci, err = e.clients.GetByID(ctx, public.ID)
	if err != nil {
		t.Fatal(err)
	}
	v = ci.(goauth.ClientPasswordVerifier)
	if !ci.IsPublic() || ci.GetDomain() != "http://127.0.0.1/cb" || !v.VerifyPassword("") || v.VerifyPassword("x") {
		t.Errorf("public ClientInfo: public %v domain %q", ci.IsPublic(), ci.GetDomain())
	}
}
