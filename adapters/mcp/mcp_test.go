package mcpauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	mcpauth "github.com/clientreg/clientreg/adapters/mcp"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

const res = "https://mcp.example/mcp"

// setup returns a handler whose clock the test moves, and a
// client_credentials token for res.
func setup(t *testing.T) (*clientreg.Handler, *time.Time, string) {
	t.Helper()
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	h, err := clientreg.New(clientreg.Config{
		Issuer: "https://as.example", Store: memory.New(), SecretKey: []byte("0123456789abcdef0123456789abcdef"),
		ServeTokenEndpoints: true, Now: func() time.Time { return now },
		Resources: clientreg.ResourcePolicy{Default: []string{res}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	info, err := h.Register(ctx, "", clientreg.Metadata{ClientName: "svc", GrantTypes: []string{"client_credentials"}, Scope: "tools"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.LookupClient(ctx, info.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.IssueClientCredentialsToken(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	return h, &now, tok.AccessToken
}

func TestTokenVerifier(t *testing.T) {
	h, now, tok := setup(t)
	ctx := t.Context()
	ti, err := mcpauth.TokenVerifier(h, res)(ctx, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := mcpauth.Info(ti)
	if info == nil || strings.Join(ti.Scopes, " ") != "tools" || !ti.Expiration.Equal(info.ExpiresAt) ||
		ti.UserID != "client:"+info.ClientID || ti.Extra["client_id"] != info.ClientID {
		t.Fatalf("TokenInfo %+v (clientreg %+v)", ti, info)
	}
	if mcpauth.Info(nil) != nil || mcpauth.Info(&auth.TokenInfo{}) != nil {
		t.Error("Info of a foreign TokenInfo")
	}
	for name, f := range map[string]func() error{
		"unknown":  func() error { _, err := mcpauth.TokenVerifier(h, res)(ctx, "nope", nil); return err },
		"audience": func() error { _, err := mcpauth.TokenVerifier(h, "https://other.example/")(ctx, tok, nil); return err },
	} {
		if err := f(); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: %v, want auth.ErrInvalidToken", name, err)
		}
	}
	*now = now.Add(clientreg.DefaultAccessTokenLifetime)
	if _, err := mcpauth.TokenVerifier(h, res)(ctx, tok, nil); !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, clientreg.ErrTokenExpired) {
		t.Errorf("expired: %v", err)
	}
}

// Through the SDK's middleware: 401 with the challenge, 403 for a scope,
// and the token in the context.
func TestRequireBearerToken(t *testing.T) {
	h, _, tok := setup(t)
	seen := ""
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = mcpauth.Info(auth.TokenInfoFromContext(r.Context())).ClientID
	})
	for _, tc := range []struct {
		tok    string
		scopes []string
		status int
	}{{tok, nil, 200}, {"", nil, 401}, {"nope", nil, 401}, {tok, []string{"admin"}, 403}} {
		mw := auth.RequireBearerToken(mcpauth.TokenVerifier(h, res), &auth.RequireBearerTokenOptions{
			ResourceMetadataURL: "https://mcp.example/.well-known/oauth-protected-resource/mcp", Scopes: tc.scopes,
		})
		req := httptest.NewRequest(http.MethodPost, res, nil)
		if tc.tok != "" {
			req.Header.Set("Authorization", "Bearer "+tc.tok)
		}
		rec := httptest.NewRecorder()
		mw(next).ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%+v: %d %s", tc, rec.Code, rec.Body)
		}
		if tc.status != 200 && !strings.Contains(rec.Header().Get("WWW-Authenticate"), `resource_metadata="https://mcp.example/`) {
			t.Errorf("%+v: challenge %q", tc, rec.Header().Get("WWW-Authenticate"))
		}
	}
	if seen == "" {
		t.Error("the handler did not see the token")
	}
}
