package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// TouchClient sets the LastUsedAt of client id to at when the stored one is
// zero or before staleBefore (see store.ClientLifecycleStore).
func (s *Store) TouchClient(ctx context.Context, id string, at, staleBefore time.Time) error {
	if err := s.usable(ctx, "touch client"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok && (c.LastUsedAt.IsZero() || c.LastUsedAt.Before(staleBefore)) {
		c.LastUsedAt = at.UTC()
	}
	return nil
}

// PurgeClients removes at most q.Limit clients that q selects, oldest
// first, and returns them (see store.ClientLifecycleStore). The selection
// and the removal run under the store's lock.
func (s *Store) PurgeClients(ctx context.Context, q store.ClientPurge) ([]*store.Client, error) {
	if err := s.usable(ctx, "purge clients"); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, fmt.Errorf("memory: purge clients: limit %d is not positive", q.Limit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var sel []*store.Client
	for id, c := range s.clients {
		if q.Selects(c) && !s.hasLiveGrant(id, q.Now) {
			sel = append(sel, c)
		}
	}
	slices.SortFunc(sel, func(a, b *store.Client) int {
		return cmp.Or(a.IssuedAt.Compare(b.IssuedAt), strings.Compare(a.ID, b.ID))
	})
	if len(sel) > q.Limit {
		sel = sel[:q.Limit]
	}
	out := make([]*store.Client, len(sel))
	for i, c := range sel {
		out[i] = c.Clone()
		out[i].SiblingTokenHashes = nil
		if !q.DryRun {
			s.deleteClientLocked(c)
		}
	}
	return out, nil
}

// hasLiveGrant reports whether client id holds a grant live at now. The
// caller holds s.mu.
func (s *Store) hasLiveGrant(id string, now time.Time) bool {
	o := s.owned[id]
	if o == nil {
		return false
	}
	for gid := range o.grants {
		if g := s.grants[gid]; g != nil && !expired(g.ExpiresAt, now) && !expired(g.IdleExpiresAt, now) {
			return true
		}
	}
	return false
}
