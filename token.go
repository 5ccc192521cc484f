package clientreg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// The token endpoint (RFC 6749 §3.2) for the client_credentials grant
// (§4.4), served when Config.ServeTokenEndpoints is set. Access tokens are
// opaque by default (JWTs with Config.AccessTokenFormat, stored the same
// way; jwt.go): 256 random bits, stored only as a keyed hash with their client,
// scope and expiry, so that deleting a client, revoking a token or changing
// a client's registration takes effect at once, on every instance sharing
// the store, with no key distribution and no revocation lists.

// TokenResponse is a successful access token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
	// RefreshToken is the refresh token (RFC 6749 §6) of the
	// authorization_code and refresh_token grants; "" when none is issued
	// (the client did not register the refresh_token grant, refresh tokens
	// are Off, or the refresh did not rotate).
	RefreshToken string `json:"refresh_token,omitempty"`
}

// IssueClientCredentialsToken issues an access token to the authenticated
// client c for the client_credentials grant. requestedScope is the scope
// parameter ("" asks for the client's whole registered scope); asking for
// anything outside the client's registered scope is ErrInvalidScope.
func (h *Handler) IssueClientCredentialsToken(ctx context.Context, c *Client, requestedScope string) (*TokenResponse, error) {
	return h.issueClientCredentials(ctx, c, requestedScope, slices.Clone(h.cfg.Resources.Default))
}

// issueClientCredentials is IssueClientCredentialsToken for a token whose
// audience is resources (RFC 8707, already checked against the policy).
func (h *Handler) issueClientCredentials(ctx context.Context, c *Client, requestedScope string, resources []string) (*TokenResponse, error) {
	if !slices.Contains(c.Metadata.GrantTypes, grantClientCredentials) {
		return nil, ErrUnauthorizedClient.WithDescription("the client is not registered for the client_credentials grant")
	}
	if c.Metadata.TokenEndpointAuthMethod == "none" {
		return nil, ErrUnauthorizedClient.WithDescription("client_credentials needs a confidential client (RFC 6749 section 4.4)")
	}
	scope := c.Metadata.Scope
	if requestedScope != "" {
		registered := strings.Fields(c.Metadata.Scope)
		var granted []string
		for _, s := range strings.Split(requestedScope, " ") {
			if !validScopeToken(s) {
				return nil, ErrInvalidScope.WithDescription("scope must be scope tokens separated by single spaces")
			}
			if !slices.Contains(registered, s) {
				return nil, ErrInvalidScope.WithDescription("scope %s is not registered for this client", quote(s))
			}
			if !slices.Contains(granted, s) {
				granted = append(granted, s)
			}
		}
		scope = strings.Join(granted, " ")
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	t := &store.AccessToken{
		ClientID:  c.ID,
		Scope:     scope,
		IssuedAt:  now,
		ExpiresAt: now.Add(h.cfg.AccessTokenLifetime),
		Resources: resources,
	}
	token, err := h.newAccessTokenValue(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := h.store.CreateAccessToken(ctx, t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrInvalidClient // deleted meanwhile
		}
		return nil, fmt.Errorf("save access token: %w", err)
	}
	return &TokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(h.cfg.AccessTokenLifetime / time.Second), Scope: scope}, nil
}

func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	ctx := r.Context()
	ac, err := h.authenticateAt(r, h.tokenEndpoint, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var res *TokenResponse
	gt := r.PostForm.Get("grant_type")
	switch {
	case gt == "":
		err = ErrInvalidRequest.WithDescription("grant_type is required")
	case gt == grantClientCredentials:
		// RFC 8707 §2: resource names the audience of this grant's
		// tokens too.
		var resources []string
		if resources, err = h.cfg.Resources.checkResources(r.PostForm["resource"]); err == nil {
			res, err = h.issueClientCredentials(ctx, ac.Client, r.PostForm.Get("scope"), resources)
		}
	case gt == grantAuthorizationCode && h.codeGrant:
		res, err = h.exchangeCode(ctx, ac, r.PostForm)
	case gt == grantRefreshToken && h.codeGrant && h.cfg.RefreshTokenLifetime != Off:
		res, err = h.refresh(ctx, ac, r.PostForm)
	default:
		err = ErrUnsupportedGrantType.WithDescription("grant_type %s is not supported by this token endpoint", quote(gt))
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.metrics.tokenIssued(gt)
	h.noteUse(ctx, ac.Client)
	writeJSON(w, http.StatusOK, res)
}
