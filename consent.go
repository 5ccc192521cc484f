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

// Remembered consent (docs/behaviour.md §8): the application may skip its
// consent page when the same user approved the same client for at least
// the scopes and resources asked, within the time it chose.

// ConsentRemembered reports whether subject approved req's client, within
// the time given to RememberConsent, for every scope and resource req
// asks for.
func (h *Handler) ConsentRemembered(ctx context.Context, subject string, req *AuthorizationRequest) (bool, error) {
	if subject == "" || req == nil {
		return false, nil
	}
	c, err := h.authz.GetConsent(ctx, subject, req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	if !h.now().Before(c.ExpiresAt) {
		return false, nil
	}
	approved := strings.Fields(c.Scope)
	for _, s := range req.Scopes {
		if !slices.Contains(approved, s) {
			return false, nil
		}
	}
	for _, r := range req.Resources {
		if !slices.Contains(c.Resources, r) {
			return false, nil
		}
	}
	return true, nil
}

// RememberConsent records that subject approved req's client for scopes
// (nil: all of req.Scopes) and req's resources, for ttl, replacing what
// was remembered for the same user and client. A ttl of 0 or less
// remembers nothing and forgets what was remembered.
//
// Its audit event is consent.granted (or, for a ttl that forgets a
// remembered consent, consent.revoked), with the user as the actor and the
// request ID of ctx: pass the request's context, from a page behind the
// handler or RequestIDHandler.
func (h *Handler) RememberConsent(ctx context.Context, subject string, req *AuthorizationRequest, scopes []string, ttl time.Duration) error {
	if subject == "" || req == nil {
		return ErrInvalidRequest.WithDescription("consent needs a subject and a request")
	}
	if ttl <= 0 {
		if err := h.forgetConsent(ctx, subject, req.ClientID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("forget consent: %w", err)
		}
		return nil
	}
	if scopes == nil {
		scopes = req.Scopes
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	err := h.authz.PutConsent(ctx, &store.Consent{
		Subject:   subject,
		ClientID:  req.ClientID,
		Scope:     strings.Join(scopes, " "),
		Resources: slices.Clone(req.Resources),
		GrantedAt: now,
		ExpiresAt: now.Add(ttl),
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidRequest.WithDescription("the client was deleted")
	}
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditConsentGranted, Actor: AuditActor{Kind: ActorUser, ID: subject}, ClientID: req.ClientID, Subject: subject})
	return nil
}

// RevokeConsent forgets what RememberConsent remembered for subject and
// client clientID, so that the user's next authorization of the client
// asks again (docs/behaviour.md §8). It does not revoke the grants and
// tokens the user already gave the client. It returns ErrConsentNotFound
// when nothing is remembered (or it has expired and been removed), and
// ErrInvalidRequest for an empty subject or client ID. Its audit event is
// consent.revoked, with the user as the actor.
func (h *Handler) RevokeConsent(ctx context.Context, subject, clientID string) error {
	if subject == "" || clientID == "" {
		return ErrInvalidRequest.WithDescription("revoking consent needs a subject and a client_id")
	}
	err := h.forgetConsent(ctx, subject, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrConsentNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke consent: %w", err)
	}
	return nil
}

// forgetConsent deletes the consent of subject for clientID and emits
// consent.revoked when there was one; store.ErrNotFound when not.
func (h *Handler) forgetConsent(ctx context.Context, subject, clientID string) error {
	if err := h.authz.DeleteConsent(ctx, subject, clientID); err != nil {
		return err
	}
	h.emit(ctx, AuditEvent{Kind: AuditConsentRevoked, Actor: AuditActor{Kind: ActorUser, ID: subject}, ClientID: clientID, Subject: subject})
	return nil
}
