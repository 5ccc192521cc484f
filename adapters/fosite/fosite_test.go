package fositeclients_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
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
	fositeclients "github.com/clientreg/clientreg/adapters/fosite"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
	"golang.org/x/oauth2"
)

// redirectURI is the redirect URI every test client registers; nothing
// listens there: the test reads the code from the Location header.
const redirectURI = "http://127.0.0.1/callback"

// state is the state of every authorization request (fosite wants 8
// characters at least).
const state = "state-0123456789"

// clock is clientreg's clock (Config.Now), which the tests move to end a
// secret's overlap or lifetime. fosite keeps the real time.
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

// env is one server: clientreg's registration endpoint at /register and a
// fosite provider over the same clients at /oauth2/auth and /oauth2/token.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	st       *memory.Store
	h        *clientreg.Handler
	clock    *clock
	provider fosite.OAuth2Provider
	// browser follows no redirect, so that the test reads Location.
	browser *http.Client
}

func newEnv(t *testing.T, mutate func(*clientreg.Config)) *env {
	t.Helper()
	e := &env{t: t, st: memory.New(), clock: &clock{now: time.Now()}}
	e.srv = httptest.NewUnstartedServer(nil)
	issuer := "http://" + e.srv.Listener.Addr().String()
	cfg := clientreg.Config{
		Issuer:    issuer,
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
	e.provider = newProvider(h, e.st, issuer+"/oauth2/token")

	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/oauth2/auth", e.authorize)
	mux.HandleFunc("/oauth2/token", e.token)
	e.srv.Config.Handler = mux
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.browser = e.srv.Client()
	e.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e
}

// authorize is the provider's authorization endpoint: alice is signed in
// and consents to every scope requested.
func (e *env) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := e.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		e.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	resp, err := e.provider.NewAuthorizeResponse(ctx, ar, &fosite.DefaultSession{Subject: "alice"})
	if err != nil {
		e.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	e.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// token is the provider's token endpoint.
func (e *env) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := e.provider.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
	if err != nil {
		e.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := e.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		e.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	e.provider.WriteAccessResponse(ctx, w, ar, resp)
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

// rotate rotates c's secret (RFC 7592 update with ?rotate_secret=true)
// and returns the new one.
func (e *env) rotate(c *registered) string {
	e.t.Helper()
	meta := map[string]any{"client_id": c.ID}
	for k, v := range c.meta {
		meta[k] = v
	}
	status, body := e.jsonRequest(http.MethodPut, c.URI+"?rotate_secret=true", c.Token, meta)
	var info map[string]any
	if status != http.StatusOK || json.Unmarshal(body, &info) != nil {
		e.t.Fatalf("rotate secret: %d %s", status, body)
	}
	c.Token, _ = info["registration_access_token"].(string)
	secret, _ := info["client_secret"].(string)
	if secret == "" || secret == c.Secret {
		e.t.Fatalf("rotate secret: no new secret: %s", body)
	}
	return secret
}

// codeClient is the metadata of a client of the code flow.
func codeClient(method string) map[string]any {
	return map[string]any{
		"redirect_uris":              []string{redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": method,
		"scope":                      "read write",
	}
}

// config is the x/oauth2 configuration of client id with secret, sent as
// style says.
func (e *env) config(id, secret string, style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.srv.URL + "/oauth2/auth",
			TokenURL:  e.srv.URL + "/oauth2/token",
			AuthStyle: style,
		},
		RedirectURL: redirectURI,
		Scopes:      []string{"read"},
	}
}

// ctx carries the test server's HTTP client for x/oauth2.
func (e *env) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.srv.Client())
}

// authorizeURL sends the browser to authURL and returns the status and
// the Location it is sent to (nil when none).
func (e *env) authorizeURL(authURL string) (int, *url.URL) {
	e.t.Helper()
	res, err := e.browser.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if errors.Is(err, http.ErrNoLocation) {
		return res.StatusCode, nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, loc
}

// code runs the authorization request of conf with PKCE S256 and returns
// the code and the verifier.
func (e *env) code(conf *oauth2.Config) (code, verifier string) {
	e.t.Helper()
	verifier = oauth2.GenerateVerifier()
	_, loc := e.authorizeURL(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if loc == nil || !strings.HasPrefix(loc.String(), redirectURI+"?") {
		e.t.Fatalf("authorization: not redirected to the client: %v", loc)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("code") == "" {
		e.t.Fatalf("authorization: %s", loc)
	}
	return q.Get("code"), verifier
}

// wantTokenError checks that err is the token endpoint's error code.
func wantTokenError(t *testing.T, what string, tok *oauth2.Token, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Errorf("%s: token %v, error %v; want %s", what, tok, err, code)
	}
}

// wantRedirectError runs conf's authorization request with opts and
// checks that the client is sent the error code.
func (e *env) wantRedirectError(what string, conf *oauth2.Config, code string, opts ...oauth2.AuthCodeOption) {
	e.t.Helper()
	_, loc := e.authorizeURL(conf.AuthCodeURL(state, opts...))
	if loc == nil || !strings.HasPrefix(loc.String(), redirectURI+"?") || loc.Query().Get("error") != code || loc.Query().Get("code") != "" {
		e.t.Errorf("%s: redirected to %v, want error %s", what, loc, code)
	}
}

// wantErrorPage runs an authorization request and checks that it is
// refused with code on the provider's own page: never redirected.
func (e *env) wantErrorPage(what, authURL, code string) {
	e.t.Helper()
	res, err := e.browser.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode < 400 || res.Header.Get("Location") != "" || !strings.Contains(string(body), code) {
		e.t.Errorf("%s: %d Location %q %s; want an error page with %s", what, res.StatusCode, res.Header.Get("Location"), body, code)
	}
}

// introspect checks that access is an active access token of clientID
// with scope.
func (e *env) introspect(access, clientID, scope string) {
	e.t.Helper()
	_, ar, err := e.provider.IntrospectToken(context.Background(), access, fosite.AccessToken, new(fosite.DefaultSession))
	if err != nil {
		e.t.Fatalf("introspect: %v", err)
	}
	if ar.GetClient().GetID() != clientID || strings.Join(ar.GetGrantedScopes(), " ") != scope ||
		ar.GetSession().GetSubject() != "alice" {
		e.t.Errorf("introspect: client %s scopes %v subject %q; want %s, %s, alice",
			ar.GetClient().GetID(), ar.GetGrantedScopes(), ar.GetSession().GetSubject(), clientID, scope)
	}
}

// A client registered over HTTP gets a code with PKCE S256 at fosite's
// authorization endpoint, exchanges it authenticating with the secret
// clientreg issued (with the method it registered), and refreshes.
func TestAuthorizationCodeWithPKCE(t *testing.T) {
	for _, tc := range []struct {
		method string
		style  oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_post", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.method, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.register(codeClient(tc.method))
			conf := e.config(c.ID, c.Secret, tc.style)
			code, verifier := e.code(conf)
			tok, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" {
				t.Fatalf("token response: %+v", tok)
			}
			e.introspect(tok.AccessToken, c.ID, "read")

			// The refresh token grant, authenticated the same way.
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := conf.TokenSource(e.ctx(), tok).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.AccessToken == "" || fresh.AccessToken == tok.AccessToken {
				t.Fatalf("refresh: %+v", fresh)
			}
			e.introspect(fresh.AccessToken, c.ID, "read")

			// The code is single use (and fosite revokes what it gave).
			_, err = conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
			wantTokenError(t, "the code again", nil, err, "invalid_grant")
		})
	}
}

// The token endpoint takes only the client's secret, with the method it
// registered: not a wrong secret, not another method, not the secret of
// another client.
func TestTokenEndpointAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	c := e.register(codeClient("client_secret_basic"))
	other := e.register(codeClient("client_secret_basic"))
	for _, tc := range []struct {
		what string
		conf *oauth2.Config
	}{
		{"wrong secret", e.config(c.ID, c.Secret+"x", oauth2.AuthStyleInHeader)},
		{"another client's secret", e.config(c.ID, other.Secret, oauth2.AuthStyleInHeader)},
		{"client_secret_post for a client_secret_basic client", e.config(c.ID, c.Secret, oauth2.AuthStyleInParams)},
		{"no secret", e.config(c.ID, "", oauth2.AuthStyleInParams)},
	} {
		code, verifier := e.code(e.config(c.ID, c.Secret, oauth2.AuthStyleInHeader))
		tok, err := tc.conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
		wantTokenError(t, tc.what, tok, err, "invalid_client")
	}
}

// After a rotation, the previous secret keeps getting tokens until the
// overlap ends (Config.SecretOverlap), then only the new one does; an
// expired secret gets none (Config.SecretLifetime).
func TestSecretRotationAndExpiry(t *testing.T) {
	e := newEnv(t, func(c *clientreg.Config) {
		c.SecretOverlap = time.Hour
		c.SecretLifetime = 24 * time.Hour
	})
	c := e.register(codeClient("client_secret_basic"))
	newSecret := e.rotate(c)
	exchange := func(secret string) error {
		conf := e.config(c.ID, secret, oauth2.AuthStyleInHeader)
		code, verifier := e.code(conf)
		_, err := conf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
		return err
	}
	if err := exchange(c.Secret); err != nil {
		t.Fatalf("the previous secret within the overlap: %v", err)
	}
	if err := exchange(newSecret); err != nil {
		t.Fatalf("the new secret: %v", err)
	}
	e.clock.Add(time.Hour)
	wantTokenError(t, "the previous secret after the overlap", nil, exchange(c.Secret), "invalid_client")
	if err := exchange(newSecret); err != nil {
		t.Fatalf("the new secret after the overlap: %v", err)
	}
	e.clock.Add(23 * time.Hour)
	wantTokenError(t, "the new secret at client_secret_expires_at", nil, exchange(newSecret), "invalid_client")
}

// The authorization endpoint enforces the registration: redirect_uris
// (an error page, never a redirect), scope, response_types; and PKCE for a
// public client, which then exchanges its code with its client_id alone.
func TestAuthorizationRequestFollowsTheRegistration(t *testing.T) {
	e := newEnv(t, nil)
	c := e.register(codeClient("client_secret_basic"))
	conf := e.config(c.ID, c.Secret, oauth2.AuthStyleInHeader)

	other := *conf
	other.RedirectURL = "http://127.0.0.1/other"
	e.wantErrorPage("an unregistered redirect_uri", other.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "invalid_request")
	other.RedirectURL = redirectURI + "/more"
	e.wantErrorPage("a longer redirect_uri", other.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "invalid_request")

	admin := *conf
	admin.Scopes = []string{"write", "admin"}
	e.wantRedirectError("an unregistered scope", &admin, "invalid_scope", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	m2m := e.register(map[string]any{
		"redirect_uris": []string{redirectURI}, "grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic", "scope": "read"})
	e.wantRedirectError("a client without response_types code", e.config(m2m.ID, m2m.Secret, oauth2.AuthStyleInHeader),
		"unsupported_response_type", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	public := e.register(codeClient("none"))
	pconf := e.config(public.ID, "", oauth2.AuthStyleInParams)
	e.wantRedirectError("a public client without PKCE", pconf, "invalid_request")
	e.wantRedirectError("a public client with PKCE plain", pconf, "invalid_request",
		oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	code, _ := e.code(pconf)
	_, err := pconf.Exchange(e.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantTokenError(t, "a public client with another code_verifier", nil, err, "invalid_grant")
	code, verifier := e.code(pconf)
	tok, err := pconf.Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("public client exchange: %v", err)
	}
	e.introspect(tok.AccessToken, public.ID, "read")
	// A secret is no credential of a public client's: fosite refuses a
	// public client that authenticates.
	code, verifier = e.code(pconf)
	_, err = e.config(public.ID, "anything", oauth2.AuthStyleInHeader).Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	wantTokenError(t, "a public client sending a secret", nil, err, "invalid_client")
}

// A deleted client (RFC 7592) and a disabled client are unknown to
// fosite: no authorization, and the code issued before gets no token.
func TestDeletedAndDisabledClients(t *testing.T) {
	e := newEnv(t, nil)
	deleted := e.register(codeClient("client_secret_basic"))
	disabled := e.register(codeClient("client_secret_basic"))
	dconf := e.config(deleted.ID, deleted.Secret, oauth2.AuthStyleInHeader)
	xconf := e.config(disabled.ID, disabled.Secret, oauth2.AuthStyleInHeader)
	dcode, dverifier := e.code(dconf)
	xcode, xverifier := e.code(xconf)

	if status, body := e.jsonRequest(http.MethodDelete, deleted.URI, deleted.Token, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	if err := e.st.SetClientDisabled(context.Background(), disabled.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what           string
		conf           *oauth2.Config
		code, verifier string
	}{
		{"deleted", dconf, dcode, dverifier},
		{"disabled", xconf, xcode, xverifier},
	} {
		e.wantErrorPage(tc.what+": authorization", tc.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "invalid_client")
		tok, err := tc.conf.Exchange(e.ctx(), tc.code, oauth2.VerifierOption(tc.verifier))
		wantTokenError(t, tc.what+": the code issued before", tok, err, "invalid_client")
	}
}

// A private_key_jwt client authenticates with an assertion that fosite
// verifies with the registered jwks; its jti is recorded in clientreg's
// store, so a replay is refused.
func TestPrivateKeyJWTAssertionIsSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}
	meta := codeClient("private_key_jwt")
	meta["jwks"] = jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}
	meta["token_endpoint_auth_signing_alg"] = "RS256"
	c := e.register(meta)

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{e.srv.URL + "/oauth2/token"},
		Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute)), IssuedAt: jwt.NewNumericDate(time.Now()),
		ID: base64.RawURLEncoding.EncodeToString(jti),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	conf := e.config(c.ID, "", oauth2.AuthStyleInParams)
	withAssertion := []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("client_assertion_type", clientreg.AssertionTypeJWTBearer),
		oauth2.SetAuthURLParam("client_assertion", assertion),
	}
	code, verifier := e.code(conf)
	tok, err := conf.Exchange(e.ctx(), code, append(withAssertion, oauth2.VerifierOption(verifier))...)
	if err != nil {
		t.Fatalf("exchange with the assertion: %v", err)
	}
	e.introspect(tok.AccessToken, c.ID, "read")

	code, verifier = e.code(conf)
	tok, err = conf.Exchange(e.ctx(), code, append(withAssertion, oauth2.VerifierOption(verifier))...)
	wantTokenError(t, "the assertion again", tok, err, "jti_known")
	err = e.st.UseAssertionID(context.Background(), fositeclients.AssertionNamespace, base64.RawURLEncoding.EncodeToString(jti), time.Now().Add(time.Hour), time.Now())
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("the jti is not recorded in the store: UseAssertionID = %v", err)
	}

	// The client's secret-based methods are refused: it has no secret.
	if c.Secret != "" {
		t.Errorf("a private_key_jwt client was issued a secret")
	}
	code, verifier = e.code(conf)
	_, err = e.config(c.ID, "guess", oauth2.AuthStyleInHeader).Exchange(e.ctx(), code, oauth2.VerifierOption(verifier))
	wantTokenError(t, "client_secret_basic for a private_key_jwt client", nil, err, "invalid_client")
}

// The Hasher compares clientreg's keyed hashes: Hash of a secret is what
// clientreg stores for it, Compare accepts that secret only, and never an
// empty hash.
func TestHasher(t *testing.T) {
	e := newEnv(t, nil)
	c := e.register(codeClient("client_secret_basic"))
	sc, err := e.st.GetClient(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	x := fositeclients.NewHasher(e.h)
	ctx := context.Background()
	h, err := x.Hash(ctx, []byte(c.Secret))
	if err != nil || !bytes.Equal(h, sc.SecretHash) {
		t.Fatalf("Hash of the issued secret = %x, %v; want the stored hash %x", h, err, sc.SecretHash)
	}
	if err := x.Compare(ctx, sc.SecretHash, []byte(c.Secret)); err != nil {
		t.Errorf("Compare of the issued secret: %v", err)
	}
	if err := x.Compare(ctx, sc.SecretHash, []byte(c.Secret+"x")); err == nil {
		t.Error("Compare accepts another secret")
	}
	if err := x.Compare(ctx, nil, nil); err == nil {
		t.Error("Compare accepts an empty hash")
	}
	if err := x.Compare(ctx, sc.TokenHash, []byte(c.Token)); err == nil {
		t.Error("Compare accepts the registration access token against its hash: no purpose in the hash")
	}
}
