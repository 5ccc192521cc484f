package store

import (
	"context"
	"time"
)

// ClientQuery selects the clients that ListClients returns. Every field
// narrows the selection; the zero value (with a Limit) selects every
// client.
type ClientQuery struct {
	// Policies, when not nil, are the registration policies (Client.Policy)
	// selected; "" in it selects the clients of no policy.
	Policies []string
	// Origins, when not nil, are the origins (Client.Origin) selected.
	Origins []string
	// IssuedAfter, when not zero, selects clients whose IssuedAt is not
	// before it; IssuedBefore, when not zero, clients whose IssuedAt is
	// before it.
	IssuedAfter  time.Time
	IssuedBefore time.Time
	// NeverUsed selects only clients never used (LastUsedAt zero).
	NeverUsed bool
	// AfterID is the cursor of a listing: only clients whose ID sorts after
	// it (byte order) are selected. "" starts at the first.
	AfterID string
	// Limit bounds how many clients one call returns; it must be positive.
	Limit int
}

// Selects reports whether q selects c, not considering AfterID and Limit.
func (q *ClientQuery) Selects(c *Client) bool {
	if q.Policies != nil && !containsString(q.Policies, c.Policy) {
		return false
	}
	if q.Origins != nil && !containsString(q.Origins, c.Origin) {
		return false
	}
	if !q.IssuedAfter.IsZero() && c.IssuedAt.Before(q.IssuedAfter) {
		return false
	}
	if !q.IssuedBefore.IsZero() && !c.IssuedAt.Before(q.IssuedBefore) {
		return false
	}
	return !q.NeverUsed || c.LastUsedAt.IsZero()
}

// ClientAdminStore is what an operator's tools need beyond the endpoints:
// listing clients, disabling them, revoking everything a client holds, and
// listing and revoking initial access tokens. Its methods follow the rules
// of ClientStore.
type ClientAdminStore interface {
	// ListClients returns at most q.Limit clients that q selects, in the
	// byte order of their IDs, each as GetClient returns it. A caller pages
	// through every client by passing the last ID returned as the next
	// call's q.AfterID until fewer than q.Limit come back.
	ListClients(ctx context.Context, q ClientQuery) ([]*Client, error)
	// SetClientDisabled disables client id when disabledAt is not zero and
	// enables it when it is zero. Disabling, in the same transaction,
	// removes everything the client holds as RevokeClientTokens does and
	// its pending authorization requests, and
	// sets the client's DisabledAt to disabledAt unless it is already
	// disabled (then the earlier time stays). Enabling clears DisabledAt.
	// Neither changes Revision or UpdatedAt. It returns ErrNotFound when
	// no such client exists.
	SetClientDisabled(ctx context.Context, id string, disabledAt time.Time) error
	// RevokeClientTokens removes, in one transaction, every access token,
	// every grant (with its refresh tokens) and every authorization code
	// of client id, and returns how many access tokens and grants it
	// removed. It returns ErrNotFound when no such client exists.
	RevokeClientTokens(ctx context.Context, id string) (int64, error)
	// ListInitialTokens returns every initial access token stored (used
	// up and expired ones too), in the order of their CreatedAt, then
	// their Hash.
	ListInitialTokens(ctx context.Context) ([]*InitialToken, error)
	// DeleteInitialToken removes the initial access token with the given
	// hash, or returns ErrNotFound. Clients registered with it stay.
	DeleteInitialToken(ctx context.Context, hash []byte) error
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
