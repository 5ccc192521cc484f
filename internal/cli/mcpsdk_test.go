package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// The Go MCP SDK's OAuth client (auth.AuthorizationCodeHandler) gets a
// token from a real `clientreg serve --login header`: an MCP server (here
// only its 401 and its RFC 9728 metadata) names clientreg; the SDK
// discovers it, registers dynamically, sends the user to the authorization
// endpoint with PKCE and the resource, checks iss (RFC 9207) and exchanges
// the code. The test plays the browser behind the sign-in proxy.
func TestGoMCPSDKGetsAToken(t *testing.T) {
	s := loginServer(t)

	mcp := httptest.NewServer(nil)
	t.Cleanup(mcp.Close)
	resource := mcp.URL + "/mcp"
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"resource":"` + resource + `","authorization_servers":["` + s.issuer + `"]}`))
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+mcp.URL+`/.well-known/oauth-protected-resource/mcp"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	mcp.Config.Handler = mux

	const redirect = "http://127.0.0.1:9000/cb"
	b := newBrowser(t, "gopher@example.com")
	var sawResource, clientID string
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName:              "Go MCP SDK e2e",
				RedirectURIs:            []string{redirect},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				ResponseTypes:           []string{"code"},
				TokenEndpointAuthMethod: "none",
			},
		},
		RedirectURL:         redirect,
		RequestRefreshToken: true,
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			u, err := url.Parse(args.URL)
			if err != nil {
				return nil, err
			}
			sawResource, clientID = u.Query().Get("resource"), u.Query().Get("client_id")
			action, fields := consentForm(t, b.do(http.MethodGet, args.URL, nil, nil))
			fields.Set("decision", "approve")
			q := wantRedirect(t, b.do(http.MethodPost, s.issuer+action, fields, nil))
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, resource, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Authorize(t.Context(), req, res); err != nil {
		t.Fatalf("the SDK's authorization failed: %v", err)
	}
	if sawResource != resource {
		t.Errorf("the SDK asked for resource %q, want %q", sawResource, resource)
	}
	ts, err := h.TokenSource(t.Context())
	if err != nil || ts == nil {
		t.Fatalf("no token source: %v", err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token %+v: want an access token and a refresh token", tok)
	}
	// The refresh token the SDK holds works at the token endpoint.
	r := postForm(t, s.issuer+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {clientID}})
	wantStatus(t, "refresh with the SDK's refresh token", r, http.StatusOK)
}
