package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// testIdP is a small OpenID provider on loopback for the tests of --login
// oidc: discovery, an authorization endpoint with a sign-in form (a user
// name, no password), a token endpoint that checks the client secret and
// PKCE and issues RS256 ID tokens, and a JWKS. Its users' claims come from
// claims; the fields below make it misbehave.
type testIdP struct {
	t      *testing.T
	srv    *httptest.Server
	issuer string
	key    *rsa.PrivateKey
	signer jose.Signer

	clientID, secret string

	mu    sync.Mutex
	codes map[string]idpCode
	stop  chan struct{} // closed at the end of the test
	// claims returns the ID token's claims for the user name typed at the
	// form (beyond iss, aud, exp, iat, nonce); the default is sub
	// "sub-NAME" and a verified NAME@example.com.
	claims func(name string) map[string]any
	// authorizeError, when set, is sent back instead of a code.
	authorizeError string
	// tokenHang makes the token endpoint wait until the request is gone.
	tokenHang bool
	// tokenError, when set, is the token endpoint's OAuth error.
	tokenError string
	// wrongNonce signs ID tokens with another nonce.
	wrongNonce bool
}

type idpCode struct {
	redirectURI, challenge, nonce, name string
}

var idpFormPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><h1>Test IdP</h1>
<form method="post" action="/authorize">
{{range $k, $v := .}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label for="idp-user">User</label> <input id="idp-user" name="idp_user" type="text">
<button id="idp-submit" type="submit">Sign in at the IdP</button>
</form></body></html>`))

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	p := &testIdP{t: t, key: key, signer: signer, clientID: "clientreg-test", secret: "s3cret", codes: map[string]idpCode{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /authorize", p.authorizeForm)
	mux.HandleFunc("POST /authorize", p.authorizeAnswer)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /jwks", p.jwks)
	p.srv = httptest.NewServer(mux)
	p.stop = make(chan struct{})
	t.Cleanup(p.srv.Close)
	t.Cleanup(func() { close(p.stop) }) // runs first
	p.issuer = p.srv.URL
	return p
}

func (p *testIdP) set(f func(p *testIdP)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *testIdP) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"jwks_uri":                              p.issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *testIdP) authorizeForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" {
		http.Error(w, "bad authorization request: "+q.Encode(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	authErr := p.authorizeError
	p.mu.Unlock()
	if authErr != "" {
		to, _ := url.Parse(q.Get("redirect_uri"))
		to.RawQuery = url.Values{"error": {authErr}, "error_description": {"the user <b>cancelled</b>"}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, to.String(), http.StatusFound)
		return
	}
	fields := map[string]string{}
	for _, k := range []string{"redirect_uri", "state", "nonce", "code_challenge"} {
		fields[k] = q.Get(k)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = idpFormPage.Execute(w, fields)
}

func (p *testIdP) authorizeAnswer(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	var b [16]byte
	_, _ = rand.Read(b[:])
	code := base64.RawURLEncoding.EncodeToString(b[:])
	p.mu.Lock()
	p.codes[code] = idpCode{redirectURI: r.PostForm.Get("redirect_uri"), challenge: r.PostForm.Get("code_challenge"),
		nonce: r.PostForm.Get("nonce"), name: r.PostForm.Get("idp_user")}
	p.mu.Unlock()
	to, _ := url.Parse(r.PostForm.Get("redirect_uri"))
	to.RawQuery = url.Values{"code": {code}, "state": {r.PostForm.Get("state")}}.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func (p *testIdP) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	hang, tokErr, wrongNonce, claimsOf := p.tokenHang, p.tokenError, p.wrongNonce, p.claims
	p.mu.Unlock()
	if hang {
		_ = r.ParseForm() // so that the server notices the client leave
		select {
		case <-r.Context().Done():
		case <-p.stop:
		}
		return
	}
	if tokErr != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": tokErr})
		return
	}
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.clientID || secret != p.secret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	c, found := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !found || c.redirectURI != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	claims := map[string]any{"sub": "sub-" + c.name, "email": c.name + "@example.com", "email_verified": true, "name": c.name}
	if claimsOf != nil {
		claims = claimsOf(c.name)
	}
	nonce := c.nonce
	if wrongNonce {
		nonce = "not-the-nonce"
	}
	now := time.Now()
	idt, err := jwt.Signed(p.signer).Claims(jwt.Claims{Issuer: p.issuer, Audience: jwt.Audience{p.clientID},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute))}).
		Claims(map[string]any{"nonce": nonce}).Claims(claims).Serialize()
	if err != nil {
		p.t.Error(err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": "upstream-at", "token_type": "Bearer", "expires_in": 300, "id_token": idt})
}

func (p *testIdP) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}
