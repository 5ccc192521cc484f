// Package store is the storage contract of clientreg: the records a server
// keeps (Client, InitialToken, AccessToken, the authorization records and
// SigningKey), the interfaces a backend implements (ClientStore,
// InitialTokenStore, AccessTokenStore, AuthorizationStore, SigningKeyStore,
// and Store, which holds them all with Ping and Close) and the sentinel
// errors it returns.
//
// The package holds plain data and interfaces and imports nothing of the
// server, so a backend depends on it alone: store/memory, store/sqlite and
// store/postgres implement Store, and store/storetest is the conformance
// suite every implementation must pass. The clientreg package is the only
// one that interprets what a Store keeps: it encodes a client's metadata
// into Client.Metadata before it writes a client and decodes it after it
// reads one.
package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Storage errors. Backends return them (possibly wrapped with %w) and callers
// match them with errors.Is.
var (
	// ErrNotFound reports that no record matches the lookup.
	ErrNotFound = errors.New("clientreg: not found")
	// ErrAlreadyExists reports that a record with the same identity (a
	// client ID, a token hash, a signing key's ID or generation) is already
	// stored.
	ErrAlreadyExists = errors.New("clientreg: already exists")
	// ErrConflict reports that an update lost a race: the stored revision is
	// no longer the one the update was based on. Nothing was written.
	ErrConflict = errors.New("clientreg: conflicting update")
	// ErrUnavailable reports that the storage backend cannot be reached
	// (a closed store, a connection refused, a timeout). The clientreg
	// handler answers it with 503 temporarily_unavailable. After a write it
	// can mean that the outcome of the write is unknown.
	ErrUnavailable = errors.New("clientreg: storage unavailable")
	// ErrLimitReached reports that CreateClient refused a client because
	// CreateOptions.MaxClients clients with the same Policy are stored.
	// Nothing was written.
	ErrLimitReached = errors.New("clientreg: client limit reached")
)

// Client is a registered client as it is stored. Credentials are kept only as
// keyed hashes (see clientreg.Config.SecretKey), so a copy of the store hands
// out no working credential.
//
// Times are in UTC. Backends preserve them with at least microsecond
// precision; a zero time means "not set" and round-trips as zero.
type Client struct {
	// ID is the client_id, issued by the server.
	ID string
	// IssuedAt is when the client was registered (client_id_issued_at).
	IssuedAt time.Time
	// UpdatedAt is when the record was last written.
	UpdatedAt time.Time
	// Revision counts writes: 1 after CreateClient, incremented by every
	// successful UpdateClient. It is the compare-and-swap guard of updates.
	Revision int64

	// Metadata is the client's registered metadata, defaults applied, in
	// its stored form: the JSON document that clientreg.Metadata.MarshalJSON
	// writes and clientreg.Metadata.UnmarshalJSON reads back. The clientreg
	// package encodes it before it writes a client and decodes it after it
	// reads one; a store never parses it. A store keeps it byte for byte,
	// whatever the bytes, and returns it in a slice the caller owns. It is
	// never empty: clientreg always stores a JSON object.
	Metadata []byte
	// Policy is the name of the registration policy in force when the
	// client registered ("" for none). It keeps applying to the client's
	// updates, and CreateOptions.MaxClients counts clients by it.
	Policy string
	// Origin says how the client was registered: OriginAnonymous,
	// OriginInitialToken, OriginOperator, OriginMetadataDocument, or "" for a client stored before
	// origins were recorded. The lifecycle (PurgeClients) selects clients
	// by it. Set by CreateClient; UpdateClient keeps the stored one.
	Origin string
	// DisabledAt is when the operator disabled the client
	// (ClientAdminStore.SetClientDisabled); zero when it is enabled. A
	// disabled client cannot authenticate, gets no token, and is
	// refused at every endpoint until it is enabled again. Set by
	// CreateClient (normally zero) and SetClientDisabled; UpdateClient
	// keeps the stored one.
	DisabledAt time.Time
	// LastUsedAt is when the client was last used (a token issued to it,
	// an authorization completed for it), recorded coarsely by TouchClient;
	// zero when it has never been used. Set by CreateClient and
	// TouchClient; UpdateClient keeps the stored one.
	LastUsedAt time.Time

	// SecretHash is the keyed hash of the client secret; nil when the
	// client's authentication method uses no shared secret.
	SecretHash []byte
	// SecretExpiresAt is when the secret expires; zero means never.
	SecretExpiresAt time.Time
	// SecretCiphertext is the secret encrypted under a key derived from
	// clientreg.Config.SecretKey (AES-256-GCM). It is set only for methods
	// that need the plaintext to verify the client (client_secret_jwt); nil
	// otherwise.
	SecretCiphertext []byte
	// PreviousSecretHash is the keyed hash of the secret that a rotation
	// replaced. It keeps working until PreviousSecretExpiresAt (the overlap
	// window), so that deployments can roll the new secret out. Nil when
	// there is none.
	PreviousSecretHash []byte
	// PreviousSecretCiphertext is the encrypted previous secret, for
	// client_secret_jwt; nil otherwise.
	PreviousSecretCiphertext []byte
	// PreviousSecretExpiresAt ends the overlap of PreviousSecretHash.
	PreviousSecretExpiresAt time.Time

	// TokenHash is the keyed hash of the current registration access token.
	// It is never empty.
	TokenHash []byte
	// SiblingTokenHashes are the keyed hashes of further current
	// registration access tokens, each as valid as TokenHash: an update made
	// with the previous token within its grace window (a retry after a lost
	// response, or one of several concurrent updates) adds its new token
	// here instead of replacing TokenHash, so that no token a response
	// carried is invalidated by an older one. The first use of any current
	// token makes it the only one (TokenHash, with no siblings and no
	// previous token). Nil when there are none, which is the normal state;
	// an empty list reads back as nil. The clientreg handler bounds the
	// list; a store keeps it, in order, whatever its length. The token
	// hashes of one client differ from each other.
	SiblingTokenHashes [][]byte
	// PreviousTokenHash is the keyed hash of the registration access token
	// that a rotation replaced. It stays valid until PreviousTokenExpiresAt or
	// until a current token is first used, whichever comes first, so that a
	// lost response never locks a client out; within that grace it may read
	// and update the client but not delete it. Nil when there is none.
	PreviousTokenHash []byte
	// PreviousTokenExpiresAt ends the grace window of PreviousTokenHash.
	PreviousTokenExpiresAt time.Time

	// RevokeAccessTokens is an instruction to UpdateClient, not a stored
	// field: when non-nil, UpdateClient deletes the client's access tokens
	// that it selects in the same transaction as the update, so that a
	// change that ends their grounds (a rotated secret, a narrowed scope, a
	// grant or authentication method given up) ends them with it, and no
	// reader ever sees the new registration beside such a token.
	// CreateClient ignores it; GetClient and GetClientByTokenHash return it
	// nil.
	RevokeAccessTokens *AccessTokenRevocation
}

// AccessTokenRevocation selects, for Client.RevokeAccessTokens, the access
// tokens of the client being updated that UpdateClient deletes. The zero
// value selects the tokens of an empty scope set, that is every token whose
// Scope is not empty.
type AccessTokenRevocation struct {
	// All selects every access token of the client.
	All bool
	// Scope, unless All is set, is the scope the client keeps: the tokens
	// whose Scope (space-separated scope tokens) has a token not in Scope
	// are selected; the others stay.
	Scope []string
}

// Clone returns a deep copy of c, so that a caller may change the copy
// without touching c. Clone of nil is nil.
func (c *Client) Clone() *Client {
	if c == nil {
		return nil
	}
	d := *c
	d.Metadata = cloneBytes(c.Metadata)
	d.SecretHash = cloneBytes(c.SecretHash)
	d.SecretCiphertext = cloneBytes(c.SecretCiphertext)
	d.PreviousSecretHash = cloneBytes(c.PreviousSecretHash)
	d.PreviousSecretCiphertext = cloneBytes(c.PreviousSecretCiphertext)
	d.TokenHash = cloneBytes(c.TokenHash)
	if c.SiblingTokenHashes != nil {
		d.SiblingTokenHashes = make([][]byte, len(c.SiblingTokenHashes))
		for i, h := range c.SiblingTokenHashes {
			d.SiblingTokenHashes[i] = cloneBytes(h)
		}
	}
	d.PreviousTokenHash = cloneBytes(c.PreviousTokenHash)
	if c.RevokeAccessTokens != nil {
		r := *c.RevokeAccessTokens
		r.Scope = append([]string(nil), r.Scope...)
		d.RevokeAccessTokens = &r
	}
	return &d
}

// InitialToken is an initial access token (RFC 7591 §3) as it is stored: only
// its keyed hash, its limits and how often it has been used.
type InitialToken struct {
	// Hash is the keyed hash of the token; it is the token's identity.
	Hash []byte
	// CreatedAt is when the token was created.
	CreatedAt time.Time
	// ExpiresAt ends the token's validity; zero means never.
	ExpiresAt time.Time
	// MaxUses is how many registrations the token allows; 0 means no limit.
	MaxUses int64
	// Uses is how many registrations the token has been used for.
	Uses int64
	// Policy is the name of the registration policy that registrations
	// with this token are subject to ("" for none).
	Policy string
}

// Usable reports whether t may be used for one more registration at now:
// it has not expired at now and is not used up.
func (t *InitialToken) Usable(now time.Time) bool {
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return false
	}
	return t.MaxUses == 0 || t.Uses < t.MaxUses
}

// CreateOptions are the conditions that CreateClient checks in the same
// transaction as it stores the client, so that a refused condition stores
// nothing and a failed store spends nothing. The zero value stores the
// client unconditionally.
type CreateOptions struct {
	// InitialTokenHash, when non-nil, is the hash of the initial access
	// token the registration uses: CreateClient records one use of it, as
	// UseInitialToken does, and returns ErrNotFound without storing the
	// client when the token does not exist, has expired at Now or is used
	// up.
	InitialTokenHash []byte
	// Now is the time against which the initial access token's expiry is
	// checked.
	Now time.Time
	// MaxClients, when positive, is how many clients whose Policy equals
	// the new client's the store may hold: CreateClient returns
	// ErrLimitReached and stores nothing when it already holds that many.
	// The limit is exact under any concurrency, across every process that
	// shares the store.
	MaxClients int64
}

// ClientStore stores registered clients.
//
// Every method is safe for concurrent use, takes the request's context first
// and passes it to the backend. Implementations must not retain or modify the
// *Client they are given (except c.Revision after a successful UpdateClient),
// and must return a value the caller owns.
//
// Every field round-trips exactly: byte slices byte for byte, nil hashes
// and ciphertexts stay nil, empty ones stay empty, strings stay byte-exact,
// and times as Client describes. Client.Metadata is opaque to the store.
type ClientStore interface {
	// CreateClient stores a new client whose Revision the caller set to 1,
	// under the conditions of opts, all in one transaction:
	//
	//   - when opts.InitialTokenHash is non-nil, it records one use of that
	//     initial access token, as UseInitialToken does at opts.Now, and
	//     returns ErrNotFound when the token does not exist, has expired or
	//     is used up;
	//   - when opts.MaxClients is positive, it returns ErrLimitReached when
	//     the store already holds opts.MaxClients clients whose Policy
	//     equals c.Policy;
	//   - it returns ErrAlreadyExists when the ID or a token hash is taken:
	//     when any of c's TokenHash, SiblingTokenHashes and
	//     PreviousTokenHash is any of those of another client.
	//
	// On any error nothing is written: no client is stored and no use of the
	// initial access token is spent. Under any concurrency, across every
	// process sharing the store, a token with MaxUses N admits exactly N
	// clients and a policy never holds more than MaxClients clients.
	CreateClient(ctx context.Context, c *Client, opts CreateOptions) error
	// GetClient returns the client with the given ID, or ErrNotFound (also
	// for an ID that no client can have, such as one the backend cannot
	// store).
	GetClient(ctx context.Context, id string) (*Client, error)
	// GetClientByTokenHash returns the client whose TokenHash, one of whose
	// SiblingTokenHashes, or whose PreviousTokenHash equals hash, or
	// ErrNotFound. Expiry of the previous token is the caller's concern.
	GetClientByTokenHash(ctx context.Context, hash []byte) (*Client, error)
	// UpdateClient replaces the stored client c.ID if and only if its stored
	// Revision equals c.Revision; it then stores c with Revision+1 and sets
	// c.Revision to the new value. Otherwise it writes nothing and returns,
	// checked in this order, ErrNotFound when no such client exists,
	// ErrConflict when the stored revision differs, and ErrAlreadyExists when
	// a token hash is taken by another client (any of c's TokenHash,
	// SiblingTokenHashes and PreviousTokenHash is any of another client's).
	// The stored SiblingTokenHashes become c's: siblings c does not list are
	// no longer found by GetClientByTokenHash. When c.RevokeAccessTokens is
	// non-nil, the access tokens it selects are deleted in the same
	// transaction, and only if the update is made.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient removes the client and, with it, its secret, its
	// registration access tokens, its access tokens and its assertion
	// records. It returns ErrNotFound when no such client exists.
	DeleteClient(ctx context.Context, id string) error
}

// InitialTokenStore stores initial access tokens. Its methods follow the
// rules of ClientStore: safe for concurrent use, context first, values
// owned by the caller on the way in and on the way out.
type InitialTokenStore interface {
	// CreateInitialToken stores a new token, or returns ErrAlreadyExists.
	CreateInitialToken(ctx context.Context, t *InitialToken) error
	// GetInitialToken returns the token with the given hash, or ErrNotFound.
	GetInitialToken(ctx context.Context, hash []byte) (*InitialToken, error)
	// UseInitialToken atomically records one use of the token with the given
	// hash, if it is usable at now (see InitialToken.Usable), and returns the
	// token as updated. It returns ErrNotFound when the token does not exist,
	// has expired or is used up. Under any concurrency, across every process
	// sharing the store, a token with MaxUses N succeeds exactly N times.
	UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*InitialToken, error)
}

// AccessToken is an access token issued at the token endpoint, as it is
// stored: only its keyed hash, the client it was issued to, its scope and
// its lifetime.
type AccessToken struct {
	// Hash is the keyed hash of the token; it is the token's identity.
	Hash []byte
	// ClientID is the client the token was issued to.
	ClientID string
	// Scope is the space-separated scope granted; empty for none.
	Scope string
	// IssuedAt is when the token was issued.
	IssuedAt time.Time
	// ExpiresAt is when the token expires; never zero.
	ExpiresAt time.Time
	// GrantID is the Grant the token was issued from (authorization_code
	// and refresh_token grants); "" for tokens of the client_credentials
	// grant. DeleteGrant deletes the grant's tokens.
	GrantID string
	// Subject is the user the token acts for; "" for the client itself.
	Subject string
	// Resources are the resource indicators the token is for (RFC 8707):
	// its audience. Nil for none.
	Resources []string
}

// AccessTokenStore stores access tokens and the JWT IDs of client
// assertions already used (RFC 7523 §3 replay protection). Tokens belong to
// their client: DeleteClient deletes them too. Its methods follow the rules
// of ClientStore.
type AccessTokenStore interface {
	// CreateAccessToken stores a new token. It returns ErrNotFound when the
	// client does not exist or is disabled (ClientAdminStore.
	// SetClientDisabled), or the grant its GrantID names does not exist (so
	// no token outlives a concurrent delete or disable), and
	// ErrAlreadyExists when the hash is taken.
	CreateAccessToken(ctx context.Context, t *AccessToken) error
	// GetAccessToken returns the token with the given hash, or ErrNotFound.
	// Expiry is the caller's concern.
	GetAccessToken(ctx context.Context, hash []byte) (*AccessToken, error)
	// DeleteAccessToken removes the token with the given hash, or returns
	// ErrNotFound.
	DeleteAccessToken(ctx context.Context, hash []byte) error
	// UseAssertionID records that client clientID used the assertion jti,
	// valid until expiresAt. It returns ErrAlreadyExists when the same
	// client recorded the same jti before and that record has not expired at
	// now; an expired record is replaced. Under any concurrency, across
	// every process sharing the store, exactly one of several simultaneous
	// uses of one jti succeeds.
	UseAssertionID(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error
	// DeleteExpired removes access tokens and assertion records that expired
	// before now and the pending authorization requests and authorization codes (used or not)
	// whose ExpiresAt is before now, the grants whose ExpiresAt or
	// IdleExpiresAt (when not zero) is before now, with their refresh
	// tokens and access tokens, the consents whose ExpiresAt (when not
	// zero) is before now, the signing keys whose ExpiresAt is before
	// now, the idempotency records whose ExpiresAt is before now, and the
	// sessions (SessionStore) whose IdleExpiresAt or ExpiresAt is before
	// now. It returns how many records it removed,
	// counting each expired record once: the unexpired access tokens and
	// the refresh tokens that go with an expired grant are not counted.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
}

// Store is everything the clientreg handler keeps: clients, initial access
// tokens, access tokens, the records of the authorization server, the
// keys that sign JWT access tokens and the records of idempotency keys, with
// the life cycle of the store itself. The
// packages under store/ implement it, and store/storetest is the
// conformance suite every implementation must pass.
//
// A method called with a context that is already done returns an error
// (wrapping the context's error) and writes nothing.
type Store interface {
	ClientStore
	InitialTokenStore
	AccessTokenStore
	AuthorizationStore
	SigningKeyStore
	IdempotencyStore
	ClientLifecycleStore
	ClientAdminStore
	SessionStore
	// Ping reports whether the store can serve requests: nil when it can,
	// an error wrapping ErrUnavailable when it cannot (a closed store, a
	// database that cannot be reached). It need not write. The server's
	// readiness check (/readyz) calls it, and checks writes itself, at most
	// every few seconds, with UseAssertionID for the client ID "" (which no
	// client has) and a record that expires at once.
	Ping(ctx context.Context) error
	// Close releases the store's resources. Every later call of another
	// method returns an error wrapping ErrUnavailable; a second Close
	// returns nil.
	Close() error
}

// Selects reports whether r selects an access token of scope scope.
func (r *AccessTokenRevocation) Selects(scope string) bool {
	if r.All {
		return true
	}
	for _, s := range strings.Fields(scope) {
		if !slices.Contains(r.Scope, s) {
			return true
		}
	}
	return false
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
