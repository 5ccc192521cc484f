package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// ListClients returns at most q.Limit clients that q selects, in the
// order of their IDs (see store.ClientAdminStore).
func (s *Store) ListClients(ctx context.Context, q store.ClientQuery) ([]*store.Client, error) {
	if err := s.usable(ctx, "list clients"); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		return nil, fmt.Errorf("memory: list clients: limit %d is not positive", q.Limit)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sel []*store.Client
	for id, c := range s.clients {
		if id > q.AfterID && q.Selects(c) {
			sel = append(sel, c)
		}
	}
	slices.SortFunc(sel, func(a, b *store.Client) int { return strings.Compare(a.ID, b.ID) })
	if len(sel) > q.Limit {
		sel = sel[:q.Limit]
	}
	out := make([]*store.Client, len(sel))
	for i, c := range sel {
		out[i] = c.Clone()
	}
	return out, nil
}

// SetClientDisabled disables client id at disabledAt, removing what it
// holds, or enables it when disabledAt is zero (see
// store.ClientAdminStore).
func (s *Store) SetClientDisabled(ctx context.Context, id string, disabledAt time.Time) error {
	if err := s.usable(ctx, "set client disabled"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("memory: set client disabled: %w", store.ErrNotFound)
	}
	if disabledAt.IsZero() {
		c.DisabledAt = time.Time{}
		return nil
	}
	if c.DisabledAt.IsZero() {
		c.DisabledAt = disabledAt.UTC()
	}
	s.revokeClientTokensLocked(id)
	// A request the user has not answered yet dies with the disabling, so
	// that enabling the client again does not revive it.
	if o := s.owned[id]; o != nil {
		for h := range o.pending {
			s.deletePending(h)
		}
	}
	return nil
}

// RevokeClientTokens removes every access token, grant and authorization
// code of client id (see store.ClientAdminStore).
func (s *Store) RevokeClientTokens(ctx context.Context, id string) (int64, error) {
	if err := s.usable(ctx, "revoke client tokens"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return 0, fmt.Errorf("memory: revoke client tokens: %w", store.ErrNotFound)
	}
	return s.revokeClientTokensLocked(id), nil
}

// revokeClientTokensLocked removes the access tokens, grants and codes of
// client id and returns how many access tokens and grants it removed. The
// caller holds s.mu for writing.
func (s *Store) revokeClientTokensLocked(id string) int64 {
	var n int64
	// The access tokens first, those of the grants among them: deleteGrant
	// would delete a grant's tokens uncounted.
	for h := range s.clientTokens[id] {
		if s.deleteAccessToken(h) {
			n++
		}
	}
	if o := s.owned[id]; o != nil {
		for h := range o.codes {
			delete(s.codes, h)
			delete(o.codes, h)
		}
		for gid := range o.grants {
			s.deleteGrant(gid)
			n++
		}
	}
	return n
}

// ListInitialTokens returns every initial access token, in the order of
// their CreatedAt, then Hash.
func (s *Store) ListInitialTokens(ctx context.Context) ([]*store.InitialToken, error) {
	if err := s.usable(ctx, "list initial tokens"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*store.InitialToken, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, cloneToken(t))
	}
	slices.SortFunc(out, func(a, b *store.InitialToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.Hash, b.Hash))
	})
	return out, nil
}

// DeleteInitialToken removes the initial access token with the given
// hash, or returns store.ErrNotFound.
func (s *Store) DeleteInitialToken(ctx context.Context, hash []byte) error {
	if err := s.usable(ctx, "delete initial token"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[string(hash)]; !ok {
		return fmt.Errorf("memory: delete initial token: %w", store.ErrNotFound)
	}
	delete(s.tokens, string(hash))
	return nil
}
