package store

import (
	"context"
	"time"
)

// The origins of a Client (Client.Origin).
const (
	// OriginAnonymous: registered at the registration endpoint without an
	// initial access token.
	OriginAnonymous = "anonymous"
	// OriginInitialToken: registered at the registration endpoint with an
	// initial access token.
	OriginInitialToken = "initial_token"
	// OriginOperator: registered by the operator (clientreg's
	// Handler.Register), never through the registration endpoint.
	OriginOperator = "operator"
	// OriginMetadataDocument: described by a Client ID Metadata Document,
	// its ID the document's URL; the record is created on first use and
	// follows the document.
	OriginMetadataDocument = "metadata_document"
)

// ClientPurge selects the clients that PurgeClients removes: clients whose
// Origin is one of Origins, that are not disabled (DisabledAt zero: the
// operator's decision stays until the operator undoes it, and a disabled
// Client ID Metadata Document client must not be made again, enabled, at
// its next use), that hold no grant live at Now (ExpiresAt, and
// IdleExpiresAt when set, not before Now), and that are either never used
// (LastUsedAt zero) and issued before UnusedBefore, or last used before
// IdleBefore. A zero UnusedBefore or IdleBefore selects nobody by that
// rule.
type ClientPurge struct {
	// Origins are the origins that expire; none selects nobody.
	Origins []string
	// UnusedBefore selects never-used clients with IssuedAt before it.
	UnusedBefore time.Time
	// IdleBefore selects clients with a LastUsedAt before it.
	IdleBefore time.Time
	// Now is the time against which grants are live.
	Now time.Time
	// Limit bounds how many clients one call selects; it must be positive.
	Limit int
	// DryRun returns the selected clients without removing any.
	DryRun bool
}

// ClientLifecycleStore records the use of clients and removes the ones
// that expired. Its methods follow the rules of ClientStore.
type ClientLifecycleStore interface {
	// TouchClient sets the LastUsedAt of client id to at when the stored
	// one is zero or before staleBefore, so that a busy client costs one
	// write per granularity, not one per use; otherwise, or when no such
	// client exists, it writes nothing and returns nil. It changes neither
	// the Revision nor UpdatedAt.
	TouchClient(ctx context.Context, id string, at, staleBefore time.Time) error
	// PurgeClients removes at most q.Limit clients that q selects, each as
	// DeleteClient removes it (with everything the client owns), in the
	// order of their IssuedAt, and returns them as they were stored
	// (without their SiblingTokenHashes). With q.DryRun it returns them and
	// removes nothing. Several callers at once, through any number of
	// stores sharing the database, each remove different clients: none is
	// returned by two of them.
	PurgeClients(ctx context.Context, q ClientPurge) ([]*Client, error)
}

// Selects reports whether q selects c, a client without a grant live at
// q.Now (the store checks grants itself).
func (q *ClientPurge) Selects(c *Client) bool {
	origin := false
	for _, o := range q.Origins {
		origin = origin || o == c.Origin
	}
	if !origin || !c.DisabledAt.IsZero() {
		return false
	}
	if c.LastUsedAt.IsZero() {
		return !q.UnusedBefore.IsZero() && c.IssuedAt.Before(q.UnusedBefore)
	}
	return !q.IdleBefore.IsZero() && c.LastUsedAt.Before(q.IdleBefore)
}
