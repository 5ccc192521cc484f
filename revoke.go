package clientreg

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/clientreg/clientreg/store"
)

// Token revocation (RFC 7009), served when Config.ServeTokenEndpoints is
// set. A client revokes its own access and refresh tokens; a token that is
// unknown, expired or another client's is answered like a revoked one
// (200), as §2.2 requires, and left alone. Revoking a refresh token
// revokes its grant: every refresh token of the family and every access
// token issued from it (§2.1: "the authorization server SHOULD also
// invalidate all access tokens based on the same authorization grant").
// token_type_hint is not needed: both kinds are looked up.

// Revoke revokes token if it is an access token or a refresh token of the
// authenticated client caller. It reports whether a token was revoked; the
// HTTP endpoint answers 200 either way.
func (h *Handler) Revoke(ctx context.Context, caller *Client, token string) (bool, error) {
	hash := h.keys.hash(purposeAccessToken, token)
	t, err := h.store.GetAccessToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return h.revokeRefresh(ctx, caller, token)
	}
	if err != nil {
		return false, fmt.Errorf("look up access token: %w", err)
	}
	if t.ClientID != caller.ID {
		return false, nil
	}
	switch err := h.store.DeleteAccessToken(ctx, hash); {
	case err == nil:
		h.emit(ctx, AuditEvent{Kind: AuditAccessTokenRevoked, Actor: AuditActor{Kind: ActorClient, ID: caller.ID}, ClientID: t.ClientID,
			Subject: t.Subject, GrantID: t.GrantID, Reason: "revocation"})
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("revoke access token: %w", err)
	}
	return true, nil
}

func (h *Handler) serveRevocation(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	ctx := r.Context()
	ac, err := h.authenticateAt(r, h.revocationEP, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		h.writeError(w, r, ErrInvalidRequest.WithDescription("token is required"))
		return
	}
	if _, err := h.Revoke(ctx, ac.Client, token); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// revokeRefresh revokes the grant of token if it is a refresh token of
// caller (current, previous or retired: any of them names the family).
func (h *Handler) revokeRefresh(ctx context.Context, caller *Client, token string) (bool, error) {
	g, err := h.authz.GetGrantByRefreshHash(ctx, h.keys.hash(purposeRefreshToken, token))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up refresh token: %w", err)
	}
	if g.ClientID != caller.ID {
		return false, nil
	}
	switch err := h.authz.DeleteGrant(ctx, g.ID); {
	case err == nil:
		h.emit(ctx, AuditEvent{Kind: AuditGrantRevoked, Actor: AuditActor{Kind: ActorClient, ID: caller.ID}, ClientID: g.ClientID,
			Subject: g.Subject, GrantID: g.ID, Reason: "revocation"})
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("revoke grant: %w", err)
	}
	return true, nil
}
