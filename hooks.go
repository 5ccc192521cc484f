package clientreg

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/clientreg/clientreg/store"
)

// The extension points of the handler. Each is a small interface (or a
// function type) with a working default that New installs when the Config
// field is nil; they mirror the hooks of Authlib's RFC 7591 and RFC 7592
// endpoints. Saving, updating and deleting clients is the Store's job.

// Principal is what an authenticated registration access token grants: the
// client it is bound to. Custom TokenAuthenticator implementations return
// one with ClientID set.
type Principal struct {
	// ClientID is the client the token was issued to.
	ClientID string
	// Token is the registration access token as presented. The handler
	// echoes it in read responses (RFC 7592 §3) and never logs it.
	Token string

	client         *store.Client // loaded by the default authenticator, reused by the default finder
	retirePrevious bool          // a current token was used while it has siblings or a rotated one is still valid
	previous       bool          // the token is the rotated-out one, within its grace window
}

// TokenAuthenticator authenticates a registration access token (RFC 7592
// §2, RFC 6750). It returns ErrInvalidToken (possibly described) for a token
// that is unknown, expired or revoked.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (*Principal, error)
}

// TokenAuthenticatorFunc adapts a function to a TokenAuthenticator.
type TokenAuthenticatorFunc func(ctx context.Context, token string) (*Principal, error)

// AuthenticateToken calls f.
func (f TokenAuthenticatorFunc) AuthenticateToken(ctx context.Context, token string) (*Principal, error) {
	return f(ctx, token)
}

// ClientFinder finds the client that a configuration request addresses. It
// returns the record as a Store keeps it, so that an implementation can hand
// on what a store.Store returns (the default is the Config.Store's
// GetClient), and store.ErrNotFound when there is no such client. The
// handler decodes the record's metadata (a record that does not decode is a
// server error) and hands the decoded Client to the PermissionChecker.
type ClientFinder interface {
	FindClient(ctx context.Context, p *Principal, clientID string) (*store.Client, error)
}

// ClientFinderFunc adapts a function to a ClientFinder.
type ClientFinderFunc func(ctx context.Context, p *Principal, clientID string) (*store.Client, error)

// FindClient calls f.
func (f ClientFinderFunc) FindClient(ctx context.Context, p *Principal, clientID string) (*store.Client, error) {
	return f(ctx, p, clientID)
}

// Operation is a client configuration operation (RFC 7592 §2).
type Operation string

// The operations of the client configuration endpoint.
const (
	OpRead   Operation = "read"
	OpUpdate Operation = "update"
	OpDelete Operation = "delete"
)

// PermissionChecker decides whether p may perform op on c, the client the
// ClientFinder found, with its metadata decoded. It returns nil to allow;
// ErrInvalidToken when the token must not be acknowledged for this client at
// all (the answer is then indistinguishable from a wrong token); or
// ErrAccessDenied (403) when a policy forbids the operation.
type PermissionChecker interface {
	CheckPermission(ctx context.Context, p *Principal, c *Client, op Operation) error
}

// PermissionCheckerFunc adapts a function to a PermissionChecker.
type PermissionCheckerFunc func(ctx context.Context, p *Principal, c *Client, op Operation) error

// CheckPermission calls f.
func (f PermissionCheckerFunc) CheckPermission(ctx context.Context, p *Principal, c *Client, op Operation) error {
	return f(ctx, p, c, op)
}

// OwnClientOnly is the default PermissionChecker: a registration access
// token may read, update and delete exactly the client it was issued to.
type OwnClientOnly struct{}

// CheckPermission implements PermissionChecker.
func (OwnClientOnly) CheckPermission(_ context.Context, p *Principal, c *Client, _ Operation) error {
	if !hmac.Equal([]byte(p.ClientID), []byte(c.ID)) {
		return ErrInvalidToken
	}
	return nil
}

// TokenRevoker revokes a registration access token. The handler calls it when
// a valid token names a client that no longer exists (RFC 7592 §2.1) and
// after a client is deleted (RFC 7592 §2.3).
type TokenRevoker interface {
	RevokeToken(ctx context.Context, p *Principal) error
}

// TokenRevokerFunc adapts a function to a TokenRevoker.
type TokenRevokerFunc func(ctx context.Context, p *Principal) error

// RevokeToken calls f.
func (f TokenRevokerFunc) RevokeToken(ctx context.Context, p *Principal) error { return f(ctx, p) }

// InitialTokenVerifier verifies initial access tokens (RFC 7591 §3) when
// Config.RequireInitialToken is set. CheckInitialToken is called before the
// request is validated, must not use the token up, and returns the name of
// the registration policy the token is subject to ("" for none);
// UseInitialToken is called once the request is valid, immediately before
// the client is saved, and must use up one registration atomically. Both
// return ErrInvalidToken for a token that is unknown, expired or used up.
//
// The default verifier, backed by the Store, does better than a separate
// use: the Store records the use in the transaction that stores the client
// (CreateOptions.InitialTokenHash), so a registration that fails spends
// nothing.
type InitialTokenVerifier interface {
	CheckInitialToken(ctx context.Context, token string) (policy string, err error)
	UseInitialToken(ctx context.Context, token string) error
}

// StoreBackedInitialTokens is an optional interface of an
// InitialTokenVerifier. A verifier whose tokens are the Store's own initial
// access tokens, kept under the handler's keyed hash as the default verifier
// keeps them (a wrapper that adds logging or a policy of its own, say),
// implements it and returns true. Register then does not call
// UseInitialToken: it passes the token's hash to Store.CreateClient in
// CreateOptions.InitialTokenHash, and the Store records the use in the
// transaction that stores the client, so that a registration that fails
// spends nothing. The default verifier implements it.
type StoreBackedInitialTokens interface {
	InitialTokensInStore() bool
}

// SoftwareStatementVerifier verifies a software statement (RFC 7591 §2.3)
// and returns the client metadata it asserts, which takes precedence over the
// members of the request. It returns ErrInvalidSoftwareStatement or
// ErrUnapprovedSoftwareStatement (described) when the statement must be
// refused.
type SoftwareStatementVerifier interface {
	VerifySoftwareStatement(ctx context.Context, statement string) (*Metadata, error)
}

// SoftwareStatementVerifierFunc adapts a function to a
// SoftwareStatementVerifier.
type SoftwareStatementVerifierFunc func(ctx context.Context, statement string) (*Metadata, error)

// VerifySoftwareStatement calls f.
func (f SoftwareStatementVerifierFunc) VerifySoftwareStatement(ctx context.Context, statement string) (*Metadata, error) {
	return f(ctx, statement)
}

// NoTrustedIssuers is the default SoftwareStatementVerifier: it trusts no
// issuer, so it refuses every statement, as unapproved when it is a
// well-formed compact JWS and as invalid otherwise.
type NoTrustedIssuers struct{}

// VerifySoftwareStatement implements SoftwareStatementVerifier.
func (NoTrustedIssuers) VerifySoftwareStatement(_ context.Context, statement string) (*Metadata, error) {
	if !looksLikeCompactJWS(statement) {
		return nil, ErrInvalidSoftwareStatement.WithDescription("/software_statement: not a compact JWS")
	}
	return nil, ErrUnapprovedSoftwareStatement.WithDescription("/software_statement: this server trusts no software statement issuer")
}

// IDGenerator returns a new client ID. It must be unique and unguessable
// enough for the deployment; the default is 128 random bits, base64url.
type IDGenerator func(ctx context.Context) (string, error)

// SecretGenerator returns a new client secret or token. The default is 256
// random bits, base64url.
type SecretGenerator func(ctx context.Context) (string, error)

// storeAuth is the default TokenAuthenticator, ClientFinder and
// InitialTokenVerifier, backed by the Store and the keyed token hash.
type storeAuth struct {
	h *Handler
}

func (a storeAuth) AuthenticateToken(ctx context.Context, token string) (*Principal, error) {
	h := a.h
	hash := h.keys.hash(purposeRegistrationToken, token)
	c, err := h.store.GetClientByTokenHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up registration access token: %w", err)
	}
	retire, previous := false, false
	switch {
	case isCurrentToken(c, hash):
		// A current token is in use: it becomes the only one, and a
		// rotated one retires now. The handler writes that with the
		// operation's own write where there is one (see Handler.authorize),
		// so a request costs one write at most.
		retire = c.PreviousTokenHash != nil || len(c.SiblingTokenHashes) > 0
	case hmac.Equal(c.PreviousTokenHash, hash):
		if !h.now().Before(c.PreviousTokenExpiresAt) {
			return nil, ErrInvalidToken
		}
		previous = true
	default:
		return nil, ErrInvalidToken
	}
	return &Principal{ClientID: c.ID, Token: token, client: c, retirePrevious: retire, previous: previous}, nil
}

// isCurrentToken reports whether hash is c's TokenHash or one of its
// SiblingTokenHashes. Every comparison is made, in constant time.
func isCurrentToken(c *store.Client, hash []byte) bool {
	found := hmac.Equal(c.TokenHash, hash)
	for _, s := range c.SiblingTokenHashes {
		found = hmac.Equal(s, hash) || found
	}
	return found
}

func (a storeAuth) FindClient(ctx context.Context, p *Principal, clientID string) (*store.Client, error) {
	if p.client != nil && p.client.ID == clientID {
		return p.client, nil
	}
	return a.h.store.GetClient(ctx, clientID)
}

// RevokeToken is a no-op for the default store: a registration access token
// lives in its client's record, so it is gone with the client.
func (a storeAuth) RevokeToken(context.Context, *Principal) error { return nil }

func (a storeAuth) CheckInitialToken(ctx context.Context, token string) (string, error) {
	t, err := a.h.store.GetInitialToken(ctx, a.h.keys.hash(purposeInitialToken, token))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrInvalidToken
	}
	if err != nil {
		return "", fmt.Errorf("look up initial access token: %w", err)
	}
	if !t.Usable(a.h.now()) {
		return "", ErrInvalidToken
	}
	return t.Policy, nil
}

// InitialTokensInStore implements StoreBackedInitialTokens: the default
// verifier's tokens are the Store's.
func (a storeAuth) InitialTokensInStore() bool { return true }

func (a storeAuth) UseInitialToken(ctx context.Context, token string) error {
	_, err := a.h.store.UseInitialToken(ctx, a.h.keys.hash(purposeInitialToken, token), a.h.now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return fmt.Errorf("use initial access token: %w", err)
	}
	return nil
}
