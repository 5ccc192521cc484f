package clientreg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/memory"
)

// Benchmarks of the authorization code flow, in-process on the memory
// store (the one that keeps authorization state so far):
//
//	go test -run '^$' -bench 'Authorize|CodeExchange|Refresh' -benchmem .

// benchIssuer names the benchmarks' handlers, which are called in process
// (ServeHTTP), never through a listener.
const benchIssuer = "https://bench.clientreg.test"

func benchAuthzHandler(b *testing.B) (*clientreg.Handler, string) {
	b.Helper()
	h, err := clientreg.New(clientreg.Config{
		Issuer:              benchIssuer,
		Store:               memory.New(),
		SecretKey:           bytes.Repeat([]byte{7}, 32),
		ServeTokenEndpoints: true,
		Limits:              clientreg.Limits{Disabled: true},
		Authorizer: clientreg.AuthorizerFunc(func(w http.ResponseWriter, _ *http.Request, _ *clientreg.AuthorizationRequest) {
			w.WriteHeader(http.StatusOK)
		}),
	})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(
		`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"scope":"read write"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var r struct {
		ClientID string `json:"client_id"`
	}
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &r) != nil {
		b.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	return h, r.ClientID
}

func benchToken(b *testing.B, h http.Handler, v url.Values) map[string]any {
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	return m
}

// BenchmarkAuthorize is one authorization request: validation, the browser
// cookie and the pending request stored, the Authorizer called.
func BenchmarkAuthorize(b *testing.B) {
	h, id := benchAuthzHandler(b)
	_, challenge := pkce()
	target := "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1:50123/cb"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"xyz"}, "scope": {"read"},
		"resource": {"https://mcp.example/"},
	}.Encode()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("authorize: %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkCodeExchange is one code exchange at the token endpoint (PKCE
// verified, grant, access and refresh token stored); issuing the code is
// not timed.
func BenchmarkCodeExchange(b *testing.B) {
	h, id := benchAuthzHandler(b)
	verifier, challenge := pkce()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		code, err := h.IssueCode(ctx, clientreg.CodeRequest{ClientID: id, RedirectURI: "http://127.0.0.1/cb", RedirectURIGiven: true,
			CodeChallenge: challenge, CodeChallengeMethod: "S256", Subject: "ada", Scopes: []string{"read"}, Resources: []string{"https://mcp.example/"}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		benchToken(b, h, url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code},
			"code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1/cb"}})
	}
}

// BenchmarkRefresh is one refresh with rotation, each with the token the
// previous one issued.
func BenchmarkRefresh(b *testing.B) {
	h, id := benchAuthzHandler(b)
	verifier, challenge := pkce()
	code, err := h.IssueCode(context.Background(), clientreg.CodeRequest{ClientID: id, RedirectURI: "http://127.0.0.1/cb",
		CodeChallenge: challenge, CodeChallengeMethod: "S256", Subject: "ada", Scopes: []string{"read"}})
	if err != nil {
		b.Fatal(err)
	}
	rt := benchToken(b, h, url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code}, "code_verifier": {verifier}})["refresh_token"].(string)
	for b.Loop() {
		rt = benchToken(b, h, url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {rt}})["refresh_token"].(string)
	}
}
