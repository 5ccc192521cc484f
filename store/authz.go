package store

import (
	"context"
	"errors"
	"time"
)

// ErrUsed reports that a single-use record (an authorization code) was
// already used. RedeemCode returns it, with nothing written, so that the
// caller can revoke what the first use issued (RFC 6749 §4.1.2).
var ErrUsed = errors.New("clientreg: already used")

// PendingAuthorization is an authorization request (RFC 6749 §4.1.1) that
// the authorization endpoint has validated and that waits for the
// application to sign the user in and ask for consent. It is kept
// server-side, with a short lifetime, so that it survives the application's
// own redirects (to an identity provider, say), and it is bound to the
// browser that started it.
type PendingAuthorization struct {
	// Hash is the keyed hash of the request's handle, the random value the
	// application uses to resume the request; it is the record's identity.
	Hash []byte
	// BrowserHash is the keyed hash of the browser binding secret (a
	// cookie): only the browser that started the request may complete it.
	BrowserHash []byte
	// ClientID is the client that asked.
	ClientID string
	// RedirectURI is the redirect URI the request named or, when it named
	// none, the client's only one.
	RedirectURI string
	// RedirectURIGiven reports whether the request carried redirect_uri, in
	// which case the token request must carry the same (RFC 6749 §4.1.3).
	RedirectURIGiven bool
	// Scope is the space-separated scope requested (after defaults).
	Scope string
	// Resources are the RFC 8707 resource indicators requested; nil for
	// none.
	Resources []string
	// State is the client's state parameter, returned with the code.
	State string
	// CodeChallenge and CodeChallengeMethod are the PKCE challenge (RFC
	// 7636 §4.3).
	CodeChallenge       string
	CodeChallengeMethod string
	// CreatedAt is when the request was made; ExpiresAt ends it (never
	// zero).
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PendingAuthorizationStore keeps pending authorization requests. They
// belong to their client: DeleteClient deletes them too.
type PendingAuthorizationStore interface {
	// CreatePendingAuthorization stores a new request. It returns
	// ErrNotFound when the client does not exist and ErrAlreadyExists when
	// the hash is taken.
	CreatePendingAuthorization(ctx context.Context, p *PendingAuthorization) error
	// GetPendingAuthorization returns the request with the given hash, or
	// ErrNotFound. Expiry is the caller's concern.
	GetPendingAuthorization(ctx context.Context, hash []byte) (*PendingAuthorization, error)
	// TakePendingAuthorization removes the request with the given hash and
	// returns it, or returns ErrNotFound: under any concurrency, exactly
	// one of several takes of one request succeeds, so a request is resumed
	// at most once.
	TakePendingAuthorization(ctx context.Context, hash []byte) (*PendingAuthorization, error)
}

// AuthorizationCode is an authorization code (RFC 6749 §4.1.2) as it is
// stored: its keyed hash and everything it is bound to.
type AuthorizationCode struct {
	// Hash is the keyed hash of the code; it is the code's identity.
	Hash []byte
	// GrantID is the identity of the Grant that redeeming the code creates,
	// drawn when the code is issued, so that a second use can revoke what
	// the first issued.
	GrantID string
	// ClientID, RedirectURI and RedirectURIGiven are the client and the
	// redirect URI the code was issued for (see PendingAuthorization).
	ClientID         string
	RedirectURI      string
	RedirectURIGiven bool
	// CodeChallenge and CodeChallengeMethod are the PKCE challenge.
	CodeChallenge       string
	CodeChallengeMethod string
	// Subject identifies the user who authorized the client.
	Subject string
	// Scope is the space-separated scope granted.
	Scope string
	// Resources are the resource indicators granted (the audience of the
	// tokens); nil for none.
	Resources []string
	// Claims is an opaque document the application attached to the grant
	// (the clientreg package stores JSON); nil for none.
	Claims []byte
	// IssuedAt is when the code was issued; ExpiresAt ends it (never zero).
	IssuedAt  time.Time
	ExpiresAt time.Time
	// UsedAt is when the code was redeemed; zero until then.
	UsedAt time.Time
}

// CodeStore keeps authorization codes. They belong to their client:
// DeleteClient deletes them too.
type CodeStore interface {
	// CreateCode stores a new code. It returns ErrNotFound when the client
	// does not exist and ErrAlreadyExists when the hash is taken.
	CreateCode(ctx context.Context, c *AuthorizationCode) error
	// GetCode returns the code with the given hash, used or not, or
	// ErrNotFound. Expiry is the caller's concern.
	GetCode(ctx context.Context, hash []byte) (*AuthorizationCode, error)
	// RedeemCode uses the code with the given hash, all in one
	// transaction: it sets its UsedAt to now, creates the grant g (whose ID
	// is the code's GrantID and whose Revision the caller set to 1) and
	// stores the access token at (whose GrantID is g.ID), when not nil. It
	// returns ErrUsed when the code was used already, ErrNotFound when the
	// code or the client does not exist (or, with at, the client is
	// disabled: see AccessTokenStore.CreateAccessToken), and
	// ErrAlreadyExists when the grant's ID, one of its refresh token hashes
	// or the access token's hash is taken; on any error nothing is written.
	// Under any concurrency, exactly one of several redemptions of one code
	// succeeds.
	RedeemCode(ctx context.Context, hash []byte, now time.Time, g *Grant, at *AccessToken) error
}

// Grant is what a user granted a client through the authorization
// endpoint: the subject, scope and resources, and the refresh tokens of
// that grant (a family in RFC 9700 §4.14.2's terms). Access tokens issued
// from the grant carry its ID, so that revoking the grant revokes them.
//
// A Grant is updated only by compare-and-swap on Revision, like a Client:
// refresh token rotation, retries within the grace window and reuse
// detection are the caller's logic over these fields.
type Grant struct {
	// ID identifies the grant (the code's GrantID).
	ID string
	// ClientID is the client the grant is for; Subject the user.
	ClientID string
	Subject  string
	// Scope is the space-separated scope the user granted; a refresh may
	// narrow the scope of the tokens it issues, never widen it.
	Scope string
	// Resources are the resource indicators granted; nil for none.
	Resources []string
	// Claims is the application's opaque document (see AuthorizationCode).
	Claims []byte
	// CreatedAt is when the grant was created, UpdatedAt when it was last
	// written.
	CreatedAt time.Time
	UpdatedAt time.Time
	// ExpiresAt ends the grant and every refresh token of it (the absolute
	// lifetime); IdleExpiresAt ends it unless a refresh comes first (the
	// idle lifetime, moved at every refresh). Zero means no limit.
	ExpiresAt     time.Time
	IdleExpiresAt time.Time
	// Revision counts writes: 1 after creation, incremented by every
	// successful UpdateGrant.
	Revision int64

	// RefreshHashes are the keyed hashes of the refresh tokens that work:
	// normally one, more while retries within the grace window have issued
	// siblings that none has used yet. Empty for a grant without refresh
	// tokens.
	RefreshHashes [][]byte
	// PreviousRefreshHash is the refresh token that the last rotation
	// replaced; it keeps working until PreviousRefreshExpiresAt or until a
	// token of RefreshHashes is first used. Nil when there is none.
	PreviousRefreshHash      []byte
	PreviousRefreshExpiresAt time.Time
	// RetiredRefreshHashes are refresh tokens that no longer work, kept
	// (the most recent few) so that presenting one is recognized as reuse
	// and revokes the grant.
	RetiredRefreshHashes [][]byte
}

// GrantStore keeps grants. A grant belongs to its client: DeleteClient
// deletes it, and with it its access tokens.
type GrantStore interface {
	// GetGrant returns the grant with the given ID, or ErrNotFound.
	GetGrant(ctx context.Context, id string) (*Grant, error)
	// GetGrantByRefreshHash returns the grant whose RefreshHashes,
	// PreviousRefreshHash or RetiredRefreshHashes hold hash, or
	// ErrNotFound. Which one, and expiry, are the caller's concern.
	GetGrantByRefreshHash(ctx context.Context, hash []byte) (*Grant, error)
	// UpdateGrant replaces the stored grant g.ID if and only if its stored
	// Revision equals g.Revision, and stores the access token at (when not
	// nil) in the same transaction; it then sets g.Revision to the new
	// value. Otherwise it writes nothing and returns, checked in this
	// order, ErrNotFound when no such grant exists, ErrConflict when the
	// stored revision differs, and ErrAlreadyExists when a refresh token
	// hash is taken by another grant or the access token hash is taken;
	// with at, ErrNotFound too when its client is disabled (see
	// AccessTokenStore.CreateAccessToken).
	// The grant keeps its ClientID: a grant never moves to another client.
	// Refresh token hashes that g no longer holds no longer find it.
	UpdateGrant(ctx context.Context, g *Grant, at *AccessToken) error
	// DeleteGrant removes the grant, its refresh tokens and every access
	// token whose GrantID is id. It returns ErrNotFound when no such grant
	// exists.
	DeleteGrant(ctx context.Context, id string) error
}

// Consent records that a user approved a client for a scope and resources,
// so that the next authorization within them need not ask again.
type Consent struct {
	// Subject is the user, ClientID the client; together they identify the
	// record.
	Subject  string
	ClientID string
	// Scope is the space-separated scope approved; Resources the resource
	// indicators approved (nil for none).
	Scope     string
	Resources []string
	// GrantedAt is when the user approved; ExpiresAt ends the record (zero
	// means never).
	GrantedAt time.Time
	ExpiresAt time.Time
}

// ConsentStore keeps remembered consent. A consent belongs to its client:
// DeleteClient deletes it.
type ConsentStore interface {
	// PutConsent stores c, replacing any record for the same subject and
	// client. It returns ErrNotFound when the client does not exist.
	PutConsent(ctx context.Context, c *Consent) error
	// GetConsent returns the record of subject for clientID, or
	// ErrNotFound. Expiry is the caller's concern.
	GetConsent(ctx context.Context, subject, clientID string) (*Consent, error)
	// DeleteConsent removes the record, or returns ErrNotFound.
	DeleteConsent(ctx context.Context, subject, clientID string) error
}

// AuthorizationStore is what the authorization endpoint and the
// authorization_code and refresh_token grants keep.
type AuthorizationStore interface {
	PendingAuthorizationStore
	CodeStore
	GrantStore
	ConsentStore
}
