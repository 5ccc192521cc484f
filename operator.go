package clientreg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// The operator's methods (docs/behaviour.md §11, "Disabled clients"): list
// and show clients, delete, disable and enable them, revoke everything a
// client holds, list and revoke initial access tokens. They read and write
// the Store alone (a client ID metadata document is never fetched here)
// and serve the clientreg command's clients and iat subcommands; each
// change emits its AuditEvent, with the actor ActorOperator named by
// WithOperator, after the store has made it.

// ErrClientNotFound is the error of an operator method given the ID of no
// stored client. The errors returned wrap it and store.ErrNotFound.
var ErrClientNotFound = errors.New("clientreg: no such client")

// ErrInitialTokenNotFound is the error of RevokeInitialToken given an ID
// that names no stored initial access token. The errors returned wrap it
// and store.ErrNotFound.
var ErrInitialTokenNotFound = errors.New("clientreg: no such initial access token")

// DynamicOrigins are the origins (store.Client.Origin) of the dynamically
// registered clients: those that registered themselves at the registration
// endpoint, with or without an initial access token, and those a Client ID
// Metadata Document describes. The others were registered by the operator
// (store.OriginOperator), or were stored before origins were recorded and
// have none.
var DynamicOrigins = []string{store.OriginAnonymous, store.OriginInitialToken, store.OriginMetadataDocument}

// DefaultClientListLimit is how many clients one ListClients call returns
// at most when ClientFilter.Limit is 0; MaxClientListLimit bounds the
// Limit.
const (
	DefaultClientListLimit = 100
	MaxClientListLimit     = 1000
)

// ClientFilter selects the clients ListClients returns. Every field
// narrows the selection; the zero value selects every client, 100 at a
// time.
type ClientFilter struct {
	// Policies, when not nil, are the registration policies selected
	// (Client.Policy); "" in it selects the clients of no policy.
	Policies []string
	// Origins, when not nil, are the origins selected (Client.Origin);
	// DynamicOrigins selects the dynamically registered clients.
	Origins []string
	// IssuedAfter, when not zero, selects the clients registered at or
	// after it; IssuedBefore, when not zero, those registered before it.
	IssuedAfter  time.Time
	IssuedBefore time.Time
	// NeverUsed selects only the clients never used (no token issued to
	// them, no authorization code issued for them; Client.LastUsedAt zero).
	NeverUsed bool
	// After is the cursor: only clients whose ID sorts after it (byte
	// order) are listed; "" starts at the first. Pass the cursor a call
	// returned to get the next page.
	After string
	// Limit bounds how many clients one call returns: 1 to
	// MaxClientListLimit, 0 for DefaultClientListLimit.
	Limit int
}

// ListClients returns, in the byte order of their IDs, at most f.Limit
// stored clients that f selects, their metadata decoded, and the cursor of
// the next page: the ID to pass as the next call's f.After, "" when there
// is none. It changes nothing and emits no event.
func (h *Handler) ListClients(ctx context.Context, f ClientFilter) ([]*Client, string, error) {
	switch {
	case f.Limit < 0 || f.Limit > MaxClientListLimit:
		return nil, "", fmt.Errorf("clientreg: ClientFilter.Limit must be 0 to %d", MaxClientListLimit)
	case f.Limit == 0:
		f.Limit = DefaultClientListLimit
	}
	// One more than asked tells whether a next page exists.
	scs, err := h.store.ListClients(ctx, store.ClientQuery{
		Policies: f.Policies, Origins: f.Origins,
		IssuedAfter: f.IssuedAfter, IssuedBefore: f.IssuedBefore,
		NeverUsed: f.NeverUsed, AfterID: f.After, Limit: f.Limit + 1,
	})
	if err != nil {
		return nil, "", fmt.Errorf("clientreg: list clients: %w", err)
	}
	next := ""
	if len(scs) > f.Limit {
		scs = scs[:f.Limit]
		next = scs[len(scs)-1].ID
	}
	out := make([]*Client, 0, len(scs))
	for _, sc := range scs {
		c, err := decodeClient(sc)
		if err != nil {
			return nil, "", fmt.Errorf("clientreg: list clients: %w", err)
		}
		out = append(out, c)
	}
	return out, next, nil
}

// Client returns the stored client id, its metadata decoded, disabled or
// not. Unlike LookupClient it reads the Store only: for the URL of a
// client ID metadata document it returns the record made at the client's
// last use and fetches nothing. An unknown id is ErrClientNotFound.
func (h *Handler) Client(ctx context.Context, id string) (*Client, error) {
	c, err := getClient(ctx, h.store, id)
	if err != nil {
		return nil, clientErr("read client", id, err)
	}
	return c, nil
}

// DeleteClient removes client id with everything it holds (its secret,
// registration access token, access tokens, grants, codes, pending
// requests and consents), as RFC 7592 §2.3's delete does, on the
// operator's behalf, and emits AuditClientDeleted. An unknown id is
// ErrClientNotFound. A client ID metadata document's client is made again
// at its next use: to keep it out, disable it instead.
func (h *Handler) DeleteClient(ctx context.Context, id string) error {
	if err := h.store.DeleteClient(ctx, id); err != nil {
		return clientErr("delete client", id, err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditClientDeleted, Actor: operatorActor(ctx), ClientID: id})
	return nil
}

// DisableClient disables client id (docs/behaviour.md §11): in one store
// transaction every access token, grant (with its refresh tokens) and
// authorization code of the client is removed, and from then on the
// client cannot authenticate at any endpoint, is refused at the
// authorization endpoint and the client configuration endpoint, gets no
// token and is never removed by PurgeClients, until EnableClient. It
// emits AuditClientDisabled, also when the client was already disabled
// (its Client.DisabledAt then stays the earlier time). An unknown id is
// ErrClientNotFound.
func (h *Handler) DisableClient(ctx context.Context, id string) error {
	if err := h.store.SetClientDisabled(ctx, id, h.now().UTC().Truncate(time.Microsecond)); err != nil {
		return clientErr("disable client", id, err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditClientDisabled, Actor: operatorActor(ctx), ClientID: id})
	return nil
}

// EnableClient enables the disabled client id again: its credentials
// (secret, keys, registration access token) work again; the tokens that
// disabling removed do not come back. It emits AuditClientEnabled, also
// when the client was not disabled. An unknown id is ErrClientNotFound.
func (h *Handler) EnableClient(ctx context.Context, id string) error {
	if err := h.store.SetClientDisabled(ctx, id, time.Time{}); err != nil {
		return clientErr("enable client", id, err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditClientEnabled, Actor: operatorActor(ctx), ClientID: id})
	return nil
}

// RevokeClientTokens revokes, in one store transaction, every access token
// and every grant (refresh token family) of client id and its unredeemed
// authorization codes, and returns how many access tokens (those issued
// from its grants included) and grants it revoked. The client itself keeps
// working: it authenticates and gets new
// tokens as before. It emits AuditClientTokensRevoked with the count. An
// unknown id is ErrClientNotFound.
func (h *Handler) RevokeClientTokens(ctx context.Context, id string) (int64, error) {
	n, err := h.store.RevokeClientTokens(ctx, id)
	if err != nil {
		return 0, clientErr("revoke client tokens", id, err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditClientTokensRevoked, Actor: operatorActor(ctx), ClientID: id, Count: n})
	return n, nil
}

// clientErr wraps a store error of operation op on client id: a missing
// client becomes ErrClientNotFound (and store.ErrNotFound).
func clientErr(op, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &notFoundError{msg: fmt.Sprintf("clientreg: %s: no client %q", op, id), sentinel: ErrClientNotFound}
	}
	return fmt.Errorf("clientreg: %s %q: %w", op, id, err)
}

// notFoundError is the error of an operator method given an unknown ID: it
// matches its sentinel and store.ErrNotFound.
type notFoundError struct {
	msg      string
	sentinel error
}

func (e *notFoundError) Error() string   { return e.msg }
func (e *notFoundError) Unwrap() []error { return []error{e.sentinel, store.ErrNotFound} }

// The states of an initial access token (InitialTokenInfo.State).
const (
	// InitialTokenUsable: it may be used for a registration.
	InitialTokenUsable = "usable"
	// InitialTokenExpired: its ExpiresAt has passed.
	InitialTokenExpired = "expired"
	// InitialTokenUsedUp: it was used for its MaxUses registrations.
	InitialTokenUsedUp = "used_up"
)

// InitialTokenInfo describes a stored initial access token without
// anything that could be used as it: it is named by its InitialTokenID.
type InitialTokenInfo struct {
	// ID is the token's InitialTokenID, which RevokeInitialToken takes.
	ID string
	// CreatedAt is when it was created; ExpiresAt when it expires, zero
	// for never.
	CreatedAt time.Time
	ExpiresAt time.Time
	// Uses is how many registrations it was used for; MaxUses how many it
	// allows, 0 for no limit.
	Uses    int64
	MaxUses int64
	// Policy is the registration policy of the registrations made with
	// it, "" for none.
	Policy string
	// State is InitialTokenUsable, InitialTokenExpired or
	// InitialTokenUsedUp, at the time of the listing (an expired token
	// that is also used up is expired).
	State string
}

// ListInitialTokens returns every stored initial access token (expired
// and used-up ones too, until the store removes them), in the order of
// their creation. It changes nothing and emits no event.
func (h *Handler) ListInitialTokens(ctx context.Context) ([]InitialTokenInfo, error) {
	ts, err := h.store.ListInitialTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("clientreg: list initial access tokens: %w", err)
	}
	now := h.now()
	out := make([]InitialTokenInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, initialTokenInfo(t, now))
	}
	return out, nil
}

func initialTokenInfo(t *store.InitialToken, now time.Time) InitialTokenInfo {
	info := InitialTokenInfo{ID: InitialTokenID(t), CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		Uses: t.Uses, MaxUses: t.MaxUses, Policy: t.Policy, State: InitialTokenUsable}
	switch {
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		info.State = InitialTokenExpired
	case t.MaxUses != 0 && t.Uses >= t.MaxUses:
		info.State = InitialTokenUsedUp
	}
	return info
}

// RevokeInitialToken removes the initial access token whose InitialTokenID
// is id (as ListInitialTokens and the audit events name it; hexadecimal,
// either case): registrations with it fail from then on (401
// invalid_token); the clients registered with it stay. It emits
// AuditInitialTokenRevoked. An id that names no stored token is
// ErrInitialTokenNotFound.
func (h *Handler) RevokeInitialToken(ctx context.Context, id string) error {
	id = strings.ToLower(id)
	notFound := &notFoundError{msg: fmt.Sprintf("clientreg: revoke initial access token: no token %q", id), sentinel: ErrInitialTokenNotFound}
	if !validInitialTokenID(id) {
		return notFound
	}
	ts, err := h.store.ListInitialTokens(ctx)
	if err != nil {
		return fmt.Errorf("clientreg: revoke initial access token: %w", err)
	}
	var hash []byte
	for _, t := range ts {
		if InitialTokenID(t) == id {
			hash = t.Hash
			break
		}
	}
	if hash == nil {
		return notFound
	}
	if err := h.store.DeleteInitialToken(ctx, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound // revoked meanwhile
		}
		return fmt.Errorf("clientreg: revoke initial access token %q: %w", id, err)
	}
	h.emit(ctx, AuditEvent{Kind: AuditInitialTokenRevoked, Actor: operatorActor(ctx), InitialTokenID: id})
	return nil
}

// validInitialTokenID reports whether id has the form of an InitialTokenID:
// 16 lower-case hexadecimal digits.
func validInitialTokenID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// errDisabled is what the handler's client lookup (clientByID, so
// LookupClient and client authentication) returns for a disabled client:
// it wraps store.ErrNotFound, so that every endpoint answers a disabled
// client exactly as an unknown one (docs/behaviour.md §11).
var errDisabled = &disabledError{}

type disabledError struct{}

func (*disabledError) Error() string { return "the client is disabled" }
func (*disabledError) Unwrap() error { return store.ErrNotFound }
