package clientreg

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// The authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6) and refresh_token
// (RFC 6749 §6, RFC 9700 §4.14) grants of the token endpoint, served when
// the Store keeps authorization state (store.AuthorizationStore) and the
// token endpoint is on (docs/behaviour.md §9).
//
// Redeeming a code creates a Grant: the subject, scope and resources the
// user granted, and the refresh tokens of that grant (the family of RFC
// 9700 §4.14.2). Every access token issued from it carries its ID, so
// that revoking the grant (reuse of a code or of a refresh token, RFC 7009
// revocation of a refresh token, deletion of the client) revokes them all.

const (
	// maxRefreshSiblings bounds the refresh tokens that retries of one
	// previous token may issue within the grace window.
	maxRefreshSiblings = 4
	// maxRetiredRefresh bounds the retired refresh tokens a grant keeps to
	// recognize reuse.
	maxRetiredRefresh = 16
	// grantUpdateAttempts bounds the compare-and-swap retries of a refresh.
	grantUpdateAttempts = 4
)

// exchangeCode is grant_type=authorization_code for the authenticated
// client ac.
func (h *Handler) exchangeCode(ctx context.Context, ac *AuthenticatedClient, form url.Values) (*TokenResponse, error) {
	code, verifier := form.Get("code"), form.Get("code_verifier")
	if code == "" {
		return nil, ErrInvalidRequest.WithDescription("code is required")
	}
	if verifier == "" {
		return nil, ErrInvalidRequest.WithDescription("code_verifier is required (PKCE, RFC 7636 section 4.5)")
	}
	hash := h.keys.hash(purposeAuthorizationCode, code)
	ac2, err := h.authz.GetCode(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidGrant.WithDescription("the authorization code is invalid, expired or already used")
	}
	if err != nil {
		return nil, fmt.Errorf("load authorization code: %w", err)
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	bad := func() error {
		return ErrInvalidGrant.WithDescription("the authorization code is invalid, expired or already used")
	}
	switch {
	case ac2.ClientID != ac.Client.ID:
		// RFC 6749 §4.1.3: "ensure that the authorization code was issued
		// to the authenticated confidential client, or if the client is
		// public, ensure that the code was issued to client_id".
		return nil, bad()
	case !ac2.UsedAt.IsZero():
		// RFC 6749 §4.1.2: "If an authorization code is used more than
		// once, the authorization server MUST deny the request and SHOULD
		// revoke (when possible) all tokens previously issued based on
		// that authorization code."
		h.revokeGrant(ctx, ac2.GrantID, ac2.ClientID, ac2.Subject, "code_reuse")
		return nil, bad()
	case !now.Before(ac2.ExpiresAt):
		return nil, bad()
	}
	// RFC 6749 §4.1.3: redirect_uri must be present, and identical, if it
	// was included in the authorization request.
	if got, sent := form.Get("redirect_uri"), form.Has("redirect_uri"); (ac2.RedirectURIGiven || sent) && got != ac2.RedirectURI {
		return nil, ErrInvalidGrant.WithDescription("redirect_uri does not match the one of the authorization request")
	}
	if !VerifyPKCE(verifier, ac2.CodeChallenge, ac2.CodeChallengeMethod) {
		return nil, ErrInvalidGrant.WithDescription("code_verifier does not match the code_challenge (RFC 7636 section 4.6)")
	}
	c := ac.Client
	if !slices.Contains(c.Metadata.GrantTypes, grantAuthorizationCode) {
		return nil, ErrUnauthorizedClient.WithDescription("the client is not registered for the authorization_code grant")
	}
	// The client's registration may have narrowed since the request.
	scope := intersectScope(ac2.Scope, c.Metadata.Scope)
	g := &store.Grant{
		ID:        ac2.GrantID,
		ClientID:  c.ID,
		Subject:   ac2.Subject,
		Scope:     scope,
		Resources: slices.Clone(ac2.Resources),
		Claims:    ac2.Claims,
		CreatedAt: now,
		UpdatedAt: now,
		Revision:  1,
	}
	var refresh string
	if h.issuesRefresh(c) {
		if refresh, err = h.cfg.NewSecret(ctx); err != nil {
			return nil, fmt.Errorf("generate refresh token: %w", err)
		}
		g.RefreshHashes = [][]byte{h.keys.hash(purposeRefreshToken, refresh)}
		g.ExpiresAt = now.Add(h.cfg.RefreshTokenLifetime)
		if h.cfg.RefreshTokenIdleLifetime != Off {
			g.IdleExpiresAt = now.Add(h.cfg.RefreshTokenIdleLifetime)
		}
	}
	access, at, err := h.newAccessToken(ctx, c.ID, g, scope, g.Resources, now)
	if err != nil {
		return nil, err
	}
	switch err := h.authz.RedeemCode(ctx, hash, now, g, at); {
	case errors.Is(err, store.ErrUsed):
		// A concurrent redemption won: this is a second use.
		h.revokeGrant(ctx, ac2.GrantID, ac2.ClientID, ac2.Subject, "code_reuse")
		return nil, bad()
	case errors.Is(err, store.ErrNotFound):
		return nil, bad() // the client or the code went meanwhile
	case err != nil:
		return nil, fmt.Errorf("redeem authorization code: %w", err)
	}
	return h.tokenResponse(access, scope, refresh), nil
}

// issuesRefresh reports whether a grant of c gets refresh tokens: when they
// are not Off and c registered the refresh_token grant, which it needs to
// use them.
func (h *Handler) issuesRefresh(c *Client) bool {
	return h.cfg.RefreshTokenLifetime != Off && slices.Contains(c.Metadata.GrantTypes, grantRefreshToken)
}

// refresh is grant_type=refresh_token for the authenticated client ac.
func (h *Handler) refresh(ctx context.Context, ac *AuthenticatedClient, form url.Values) (*TokenResponse, error) {
	presented := form.Get("refresh_token")
	if presented == "" {
		return nil, ErrInvalidRequest.WithDescription("refresh_token is required")
	}
	c := ac.Client
	if !slices.Contains(c.Metadata.GrantTypes, grantRefreshToken) {
		return nil, ErrUnauthorizedClient.WithDescription("the client is not registered for the refresh_token grant")
	}
	hash := h.keys.hash(purposeRefreshToken, presented)
	bad := func() error {
		return ErrInvalidGrant.WithDescription("the refresh token is invalid, expired or revoked")
	}
	for attempt := 0; ; attempt++ {
		g, err := h.authz.GetGrantByRefreshHash(ctx, hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil, bad()
		}
		if err != nil {
			return nil, fmt.Errorf("load grant: %w", err)
		}
		if g.ClientID != c.ID {
			// RFC 6749 §6: bound to the client it was issued to.
			return nil, bad()
		}
		now := h.now().UTC().Truncate(time.Microsecond)
		if expired(g.ExpiresAt, now) || expired(g.IdleExpiresAt, now) {
			h.revokeGrant(ctx, g.ID, g.ClientID, g.Subject, "expired")
			return nil, bad()
		}
		current := containsHash(g.RefreshHashes, hash)
		previous := !current && g.PreviousRefreshHash != nil && hashEqual(g.PreviousRefreshHash, hash) && now.Before(g.PreviousRefreshExpiresAt)
		if !current && !previous {
			// A retired token, or the previous one after its grace or
			// after its successor was used: RFC 9700 §4.14.2, the
			// family is revoked.
			h.log.InfoContext(ctx, "refresh token reuse: grant revoked", "client_id", c.ID, "grant", g.ID)
			h.metrics.refreshReuse()
			h.revokeGrant(ctx, g.ID, g.ClientID, g.Subject, "refresh_token_reuse")
			return nil, bad()
		}
		scope, resources, err := h.refreshScope(c, g, form)
		if err != nil {
			return nil, err
		}
		var refresh string
		rotate := h.cfg.RefreshRotation == RotateRefreshAlways || c.Metadata.TokenEndpointAuthMethod == "none"
		if rotate {
			if refresh, err = h.cfg.NewSecret(ctx); err != nil {
				return nil, fmt.Errorf("generate refresh token: %w", err)
			}
			next := h.keys.hash(purposeRefreshToken, refresh)
			if current {
				// The successor of the previous token is used: the
				// previous stops, and so do the siblings that retries
				// issued; the presented one becomes the previous.
				retire := slices.DeleteFunc(slices.Clone(g.RefreshHashes), func(b []byte) bool { return hashEqual(b, hash) })
				if g.PreviousRefreshHash != nil {
					retire = append(retire, g.PreviousRefreshHash)
				}
				g.PreviousRefreshHash, g.PreviousRefreshExpiresAt = nil, time.Time{}
				if h.cfg.RefreshTokenGrace != Off {
					g.PreviousRefreshHash, g.PreviousRefreshExpiresAt = hash, now.Add(h.cfg.RefreshTokenGrace)
				} else {
					retire = append(retire, hash)
				}
				g.RetiredRefreshHashes = appendRetired(g.RetiredRefreshHashes, retire...)
				g.RefreshHashes = [][]byte{next}
			} else {
				// A retry with the previous token (the client lost the
				// answer): a sibling, until one of them is used.
				for len(g.RefreshHashes) >= maxRefreshSiblings {
					g.RetiredRefreshHashes = appendRetired(g.RetiredRefreshHashes, g.RefreshHashes[0])
					g.RefreshHashes = g.RefreshHashes[1:]
				}
				g.RefreshHashes = append(g.RefreshHashes, next)
			}
		}
		if h.cfg.RefreshTokenIdleLifetime != Off {
			g.IdleExpiresAt = now.Add(h.cfg.RefreshTokenIdleLifetime)
			if !g.ExpiresAt.IsZero() && g.IdleExpiresAt.After(g.ExpiresAt) {
				g.IdleExpiresAt = g.ExpiresAt
			}
		}
		g.UpdatedAt = now
		access, at, err := h.newAccessToken(ctx, c.ID, g, scope, resources, now)
		if err != nil {
			return nil, err
		}
		switch err := h.authz.UpdateGrant(ctx, g, at); {
		case err == nil:
			return h.tokenResponse(access, scope, refresh), nil
		case errors.Is(err, store.ErrConflict) && attempt+1 < grantUpdateAttempts:
			continue // a concurrent refresh: look again
		case errors.Is(err, store.ErrNotFound):
			return nil, bad() // revoked meanwhile
		default:
			return nil, fmt.Errorf("update grant: %w", err)
		}
	}
}

// refreshScope is the scope and audience of the access token a refresh
// issues: the grant's, narrowed by the request's scope (RFC 6749 §6: "MUST
// NOT include any scope not originally granted") and resource (RFC 8707
// §2.2), and by the client's registration as it is now.
func (h *Handler) refreshScope(c *Client, g *store.Grant, form url.Values) (string, []string, error) {
	granted := intersectScope(g.Scope, c.Metadata.Scope)
	scope := granted
	if raw := form.Get("scope"); raw != "" {
		have := strings.Fields(granted)
		var out []string
		for _, s := range strings.Split(raw, " ") {
			if !validScopeToken(s) {
				return "", nil, ErrInvalidScope.WithDescription("scope must be scope tokens separated by single spaces (RFC 6749 section 3.3)")
			}
			if !slices.Contains(have, s) {
				return "", nil, ErrInvalidScope.WithDescription("scope %s was not granted (RFC 6749 section 6)", quote(s))
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		scope = strings.Join(out, " ")
	}
	resources, err := narrowResources(g.Resources, form)
	return scope, resources, err
}

// narrowResources returns the resource values of a token request, each one
// of the granted, or all granted when there are none (RFC 8707 §2.2).
func narrowResources(granted []string, form url.Values) ([]string, error) {
	req := form["resource"]
	if len(req) == 0 {
		return slices.Clone(granted), nil
	}
	var out []string
	for _, r := range req {
		if !slices.Contains(granted, r) {
			return nil, ErrInvalidTarget.WithDescription("resource %s was not granted (RFC 8707 section 2.2)", quote(r))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// newAccessToken draws an access token of grant g and returns it with its
// stored form.
func (h *Handler) newAccessToken(ctx context.Context, clientID string, g *store.Grant, scope string, resources []string, now time.Time) (string, *store.AccessToken, error) {
	t := &store.AccessToken{
		ClientID:  clientID,
		Scope:     scope,
		IssuedAt:  now,
		ExpiresAt: now.Add(h.cfg.AccessTokenLifetime),
		GrantID:   g.ID,
		Subject:   g.Subject,
		Resources: slices.Clone(resources),
	}
	token, err := h.newAccessTokenValue(ctx, t)
	if err != nil {
		return "", nil, err
	}
	return token, t, nil
}

func (h *Handler) tokenResponse(access, scope, refresh string) *TokenResponse {
	return &TokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(h.cfg.AccessTokenLifetime / time.Second),
		Scope:        scope,
		RefreshToken: refresh,
	}
}

// revokeGrant deletes grant id of clientID and subject with its refresh
// and access tokens, and emits its grant.revoked event (the system's, for
// reason) when it was there. It runs on the way to an invalid_grant
// answer, so a failure is logged, not returned.
func (h *Handler) revokeGrant(ctx context.Context, id, clientID, subject, reason string) {
	if id == "" {
		return
	}
	switch err := h.authz.DeleteGrant(ctx, id); {
	case err == nil:
		h.emit(ctx, AuditEvent{Kind: AuditGrantRevoked, Actor: AuditActor{Kind: ActorSystem}, ClientID: clientID, Subject: subject, GrantID: id, Reason: reason})
	case !errors.Is(err, store.ErrNotFound):
		h.log.ErrorContext(ctx, "revoke grant", "grant", id, "err", err)
	}
}

// intersectScope returns the tokens of a that are in b, in a's order.
func intersectScope(a, b string) string {
	have := strings.Fields(b)
	var out []string
	for _, s := range strings.Fields(a) {
		if slices.Contains(have, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

func expired(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

func containsHash(list [][]byte, h []byte) bool {
	return slices.ContainsFunc(list, func(b []byte) bool { return hashEqual(b, h) })
}

// hashEqual compares two keyed hashes; they are not secret (the values
// they hash are), so the comparison need not be constant-time, but it is.
func hashEqual(a, b []byte) bool { return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1 }

func appendRetired(list [][]byte, add ...[]byte) [][]byte {
	list = append(list, add...)
	if n := len(list) - maxRetiredRefresh; n > 0 {
		list = list[n:]
	}
	return list
}
