package clientreg

import (
	"context"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"
)

// The lifecycle of registered clients (docs/behaviour.md §11): each
// client's last use is recorded coarsely, and PurgeClients removes the
// dynamically registered clients that were never used (ClientUnusedTTL) or
// not used for long (ClientIdleTTL) and hold no live grant.

// LastUsedGranularity is how coarsely a client's last use is recorded: at
// most one write per client per LastUsedGranularity, however busy the
// client is.
const LastUsedGranularity = time.Hour

// DefaultPurgeBatch is how many clients one PurgeClients call removes at
// most when PurgeOptions.Limit is 0.
const DefaultPurgeBatch = 100

// noteUse records that c was used now, unless its recorded last use is
// recent: a busy client costs no write per request. A failure is logged,
// never answered: the use itself succeeded.
func (h *Handler) noteUse(ctx context.Context, c *Client) {
	now := h.now().UTC().Truncate(time.Microsecond)
	if !c.LastUsedAt.IsZero() && now.Sub(c.LastUsedAt) < LastUsedGranularity {
		return
	}
	h.touch(ctx, c.ID, now)
}

// touch records the use of client id at now, when its recorded last use
// is older than LastUsedGranularity (the store checks).
func (h *Handler) touch(ctx context.Context, id string, now time.Time) {
	if err := h.store.TouchClient(context.WithoutCancel(ctx), id, now, now.Add(-LastUsedGranularity)); err != nil {
		h.log.WarnContext(ctx, "recording a client's use failed", "client_id", id, "err", err)
	}
}

// PurgeOptions are the options of PurgeClients.
type PurgeOptions struct {
	// DryRun returns the clients that would be removed and removes none.
	DryRun bool
	// Limit bounds how many clients one call removes; 0 means
	// DefaultPurgeBatch.
	Limit int
}

// PurgedClient is a client that PurgeClients removed (or, on a dry run,
// would remove).
type PurgedClient struct {
	// ID is the client_id.
	ID string
	// Name is the client_name, "" when it has none.
	Name string
	// Origin is how the client was registered (store.OriginAnonymous,
	// store.OriginInitialToken or store.OriginMetadataDocument).
	Origin string
	// IssuedAt is when it registered.
	IssuedAt time.Time
	// LastUsedAt is when it was last used; zero when never.
	LastUsedAt time.Time
	// Reason is "unused" (never used within ClientUnusedTTL) or "idle"
	// (not used within ClientIdleTTL).
	Reason string
}

// purgeQuery is the selection of the clients that have expired at now.
func (h *Handler) purgeQuery(now time.Time, limit int) store.ClientPurge {
	// A document client's record is made again at its next use.
	q := store.ClientPurge{Origins: []string{store.OriginAnonymous, store.OriginMetadataDocument}, Now: now, Limit: limit}
	if h.cfg.ExpireInitialTokenClients {
		q.Origins = append(q.Origins, store.OriginInitialToken)
	}
	if h.cfg.ClientUnusedTTL != Off {
		q.UnusedBefore = now.Add(-h.cfg.ClientUnusedTTL)
	}
	if h.cfg.ClientIdleTTL != Off {
		q.IdleBefore = now.Add(-h.cfg.ClientIdleTTL)
	}
	return q
}

// PurgeClients removes one batch of the dynamically registered clients
// that have expired: never used within Config.ClientUnusedTTL of their
// registration, or not used within Config.ClientIdleTTL, and holding no
// live grant (refresh token). Clients registered by the operator
// (Register) never expire, nor, unless Config.ExpireInitialTokenClients,
// those registered with an initial access token, nor disabled clients
// (DisableClient). A removed client is gone with everything it owns: its
// tokens stop working and the token endpoint answers it 401
// invalid_client.
//
// Call it repeatedly until it returns fewer than the limit; several
// instances may call it at once (each client is removed by one of them).
// With opts.DryRun it returns the batch that would go and removes nothing.
//
// Each removed client is an audit event (client.purged) whose actor is the
// operator when ctx names one (WithOperator), the system otherwise.
func (h *Handler) PurgeClients(ctx context.Context, opts PurgeOptions) ([]PurgedClient, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("clientreg: PurgeOptions.Limit must not be negative")
	}
	if opts.Limit == 0 {
		opts.Limit = DefaultPurgeBatch
	}
	q := h.purgeQuery(h.now().UTC().Truncate(time.Microsecond), opts.Limit)
	if q.UnusedBefore.IsZero() && q.IdleBefore.IsZero() {
		return nil, nil
	}
	q.DryRun = opts.DryRun
	cs, err := h.store.PurgeClients(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("clientreg: purge clients: %w", err)
	}
	out := make([]PurgedClient, 0, len(cs))
	actor := operatorOrSystem(ctx)
	for _, sc := range cs {
		p := PurgedClient{ID: sc.ID, Origin: sc.Origin, IssuedAt: sc.IssuedAt, LastUsedAt: sc.LastUsedAt, Reason: "idle"}
		if sc.LastUsedAt.IsZero() {
			p.Reason = "unused"
		}
		if c, err := decodeClient(sc); err == nil {
			p.Name = c.Metadata.ClientName
		}
		out = append(out, p)
		if !opts.DryRun {
			h.emit(ctx, AuditEvent{Kind: AuditClientPurged, Actor: actor, ClientID: sc.ID, Policy: sc.Policy, Reason: p.Reason})
		}
	}
	return out, nil
}
