// Package mcpauth turns a clientreg verifier into the Go MCP SDK's
// auth.TokenVerifier, for MCP servers built with
// github.com/modelcontextprotocol/go-sdk that accept clientreg's access
// tokens: auth.RequireBearerToken then guards the streamable HTTP handler,
// and tool handlers find the token in req.Extra.TokenInfo.
//
//	verify := mcpauth.TokenVerifier(h, "https://mcp.example/mcp") // h: *clientreg.Handler, or a *resource.Introspector
//	mux.Handle("/mcp", auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{
//		ResourceMetadataURL: rs.MetadataURL(), // rs: a *resource.Server for the same resource
//	})(mcpHandler))
//
// The package is the module github.com/clientreg/clientreg/adapters/mcp,
// so that the core module does not depend on the SDK; examples/mcp-server
// is a whole server.
package mcpauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/resource"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

// extraKey is the key of auth.TokenInfo.Extra under which TokenVerifier
// keeps the *clientreg.TokenInfo.
const extraKey = "clientreg"

// TokenVerifier returns an auth.TokenVerifier that verifies tokens with v
// for resourceURI (the resource identifier the tokens' audience must
// contain). A refused token (unknown, expired, revoked, another audience)
// is an error wrapping auth.ErrInvalidToken, which RequireBearerToken
// answers with 401 and its challenge; a failure of v (the store, the
// network) is returned as is, which RequireBearerToken answers with 500.
//
// The auth.TokenInfo has the token's Scopes and Expiration; UserID is the
// token's subject, or "client:" and the client ID for a token acting for
// its client (the SDK binds sessions to it); Extra holds "client_id",
// "sub" and "aud", and the whole *clientreg.TokenInfo (see Info).
func TokenVerifier(v resource.Verifier, resourceURI string) auth.TokenVerifier {
	return func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		t, err := v.VerifyAccessToken(ctx, token, resourceURI)
		if err != nil {
			if refused(err) {
				return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
			}
			return nil, err
		}
		user := t.Subject
		if user == "" {
			user = "client:" + t.ClientID
		}
		return &auth.TokenInfo{
			Scopes:     t.Scopes,
			Expiration: t.ExpiresAt,
			UserID:     user,
			Extra: map[string]any{
				"client_id": t.ClientID,
				"sub":       t.Subject,
				"aud":       t.Audience,
				extraKey:    t,
			},
		}, nil
	}
}

// Info returns the *clientreg.TokenInfo that TokenVerifier put in ti, or
// nil (ti is nil or came from another verifier). In a tool handler:
// mcpauth.Info(req.Extra.TokenInfo).
func Info(ti *auth.TokenInfo) *clientreg.TokenInfo {
	if ti == nil {
		return nil
	}
	t, _ := ti.Extra[extraKey].(*clientreg.TokenInfo)
	return t
}

func refused(err error) bool {
	return errors.Is(err, clientreg.ErrTokenUnknown) || errors.Is(err, clientreg.ErrTokenExpired) ||
		errors.Is(err, clientreg.ErrTokenRevoked) || errors.Is(err, clientreg.ErrWrongAudience)
}
