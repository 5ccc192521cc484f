package clientreg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// In-process verification of access tokens (docs/behaviour.md §13), for a
// resource server in the same process as the Handler, such as a Go MCP
// server that embeds clientreg: no HTTP, no registered introspector, one
// indexed store read per opaque token (the keyed hash is the key). Package
// resource builds the RFC 9728 metadata and the bearer middleware on it.

// Errors of VerifyAccessToken. Each is a plain sentinel matched with
// errors.Is; a resource server answers every one of them with 401
// invalid_token (RFC 6750 §3.1), and any other error (the store failed) is
// its own failure, not the token's.
var (
	// ErrTokenUnknown: the token is not one this server issued, or no
	// longer exists. An opaque token that was revoked (RFC 7009), whose
	// client was deleted, or whose record was removed after it expired is
	// gone from the store, and so is unknown: only a keyed hash was kept,
	// so nothing tells a revoked token from one never issued.
	ErrTokenUnknown = errors.New("clientreg: access token unknown")
	// ErrTokenExpired: the token is known and its lifetime has passed.
	ErrTokenExpired = errors.New("clientreg: access token expired")
	// ErrTokenRevoked: the token is authentic but was revoked. Opaque
	// tokens never report it (see ErrTokenUnknown); a JWT access token
	// (Config.AccessTokenFormat) does, when its signature verifies but
	// its stored record is gone: revoked (RFC 7009), its grant revoked or
	// its client deleted.
	ErrTokenRevoked = errors.New("clientreg: access token revoked")
	// ErrWrongAudience: the token is valid but was not issued for the
	// resource it was presented to (RFC 8707; the MCP authorization
	// specification requires a server to refuse tokens not issued for
	// it). A token without an audience is refused for every resource.
	ErrWrongAudience = errors.New("clientreg: access token not issued for this resource")
)

// TokenInfo is what a verified access token says: who it was issued to, for
// whom and for what.
type TokenInfo struct {
	// ClientID is the client the token was issued to.
	ClientID string
	// Subject is the user the token acts for (the Approval's Subject); ""
	// for client_credentials tokens, which act for the client itself.
	Subject string
	// Scopes are the scopes granted; empty for none.
	Scopes []string
	// Audience is the token's audience, its RFC 8707 resources.
	Audience []string
	// Issuer is the authorization server's issuer identifier.
	Issuer string
	// IssuedAt and ExpiresAt bound the token's lifetime.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// HasScopes reports whether the token was granted every scope in scopes.
func (t *TokenInfo) HasScopes(scopes ...string) bool {
	for _, s := range scopes {
		if !slices.Contains(t.Scopes, s) {
			return false
		}
	}
	return true
}

// VerifyAccessToken verifies an access token presented to resource, the
// absolute URI of the resource server as clients name it in their resource
// parameter (RFC 8707; for an MCP server, its canonical URI such as
// https://mcp.example/mcp), compared by exact string match. It returns the
// token's TokenInfo, or ErrTokenUnknown, ErrTokenExpired or
// ErrWrongAudience (checked in that order), or another error when the
// store fails.
//
// With Config.AccessTokenFormat TokenFormatJWT, a JWT is verified first
// as an offline verifier would (RFC 9068 §4): the signature with a
// published key (the kid's; typ at+jwt, alg RS256 or ES256 as the key's),
// iss, and exp and iat with a minute of leeway; a failure is
// ErrTokenUnknown, or ErrTokenExpired for exp. Then its stored record is
// read as an opaque token's is: when it is gone (revoked, or its client
// deleted) the answer is ErrTokenRevoked, and the record's exact expiry
// and audience apply. Opaque tokens issued before the format changed keep
// verifying. A token has an audience when its request named resources or
// Config.Resources.Default gives one; set Default to the resource server's
// URI when clients may omit the resource parameter.
//
// Scope is not checked here: the caller compares TokenInfo.Scopes (or
// HasScopes) with what the request needs, so that it can answer 403
// insufficient_scope rather than 401.
func (h *Handler) VerifyAccessToken(ctx context.Context, token, resource string) (*TokenInfo, error) {
	if resource == "" {
		return nil, errors.New("clientreg: VerifyAccessToken needs the resource the token is presented to")
	}
	if token == "" {
		return nil, ErrTokenUnknown
	}
	// The record, found by the keyed hash of the whole token, is the
	// proof: a token whose record exists was issued here, JWT or opaque,
	// so its signature needs no check. Only when the record is missing is
	// a JWT's signature checked, to tell a token this server signed and
	// revoked (or that expired and was swept) from one it never issued.
	t, err := h.store.GetAccessToken(ctx, h.keys.hash(purposeAccessToken, token))
	if errors.Is(err, store.ErrNotFound) {
		if h.jwksURI == "" || !isJWT(token) {
			return nil, ErrTokenUnknown
		}
		if err := h.verifyJWT(ctx, token); err != nil {
			return nil, err // ErrTokenUnknown, ErrTokenExpired, or a failure to read the keys
		}
		return nil, ErrTokenRevoked
	}
	if err != nil {
		return nil, fmt.Errorf("clientreg: look up access token: %w", err)
	}
	if !h.now().Before(t.ExpiresAt) {
		return nil, ErrTokenExpired
	}
	if !slices.Contains(t.Resources, resource) {
		return nil, ErrWrongAudience
	}
	return &TokenInfo{
		ClientID:  t.ClientID,
		Subject:   t.Subject,
		Scopes:    strings.Fields(t.Scope),
		Audience:  t.Resources,
		Issuer:    h.issuer,
		IssuedAt:  t.IssuedAt,
		ExpiresAt: t.ExpiresAt,
	}, nil
}

// Issuer returns the issuer identifier (Config.Issuer without a trailing
// slash), for the authorization_servers of a resource server's metadata.
func (h *Handler) Issuer() string { return h.issuer }
