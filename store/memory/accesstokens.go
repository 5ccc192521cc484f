package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/clientreg/clientreg/store"
)

// accessToken is a stored access token, without its hash, which is its key.
type accessToken struct {
	clientID, scope     string
	issuedAt, expiresAt time.Time // in UTC
	grantID, subject    string
	resources           []string
}

// CreateAccessToken stores a copy of t. It returns store.ErrNotFound
// when no client t.ClientID, or no grant t.GrantID, exists, or the client
// is disabled, and
// store.ErrAlreadyExists when a token with the same Hash exists.
func (s *Store) CreateAccessToken(ctx context.Context, t *store.AccessToken) error {
	if err := s.usable(ctx, "create access token"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkAccessToken(t, ""); err != nil {
		return fmt.Errorf("memory: create access token: %w", err)
	}
	s.putAccessToken(t)
	return nil
}

// checkAccessToken returns the error of storing t: store.ErrNotFound when
// its client, or its grant (other than newGrant, a grant being created),
// does not exist, store.ErrAlreadyExists when its hash is taken. The caller
// holds s.mu.
func (s *Store) checkAccessToken(t *store.AccessToken, newGrant string) error {
	if c, ok := s.clients[t.ClientID]; !ok || !c.DisabledAt.IsZero() {
		return fmt.Errorf("client %q: %w", t.ClientID, store.ErrNotFound)
	}
	if t.GrantID != "" && t.GrantID != newGrant {
		if _, ok := s.grants[t.GrantID]; !ok {
			return fmt.Errorf("grant %q: %w", t.GrantID, store.ErrNotFound)
		}
	}
	if _, ok := s.accessTokens[string(t.Hash)]; ok {
		return fmt.Errorf("access token: %w", store.ErrAlreadyExists)
	}
	return nil
}

// putAccessToken stores a copy of t, which checkAccessToken accepted, and
// indexes it by client and grant. The caller holds s.mu for writing.
func (s *Store) putAccessToken(t *store.AccessToken) {
	h := string(t.Hash)
	s.accessTokens[h] = accessToken{
		clientID:  t.ClientID,
		scope:     t.Scope,
		issuedAt:  t.IssuedAt.UTC(),
		expiresAt: t.ExpiresAt.UTC(),
		grantID:   t.GrantID,
		subject:   t.Subject,
		resources: slices.Clone(t.Resources),
	}
	addKey(s.clientTokens, t.ClientID, h)
	if t.GrantID != "" {
		addKey(s.grantTokens, t.GrantID, h)
	}
}

// addKey adds k to the set m[id], creating the set when missing.
func addKey(m map[string]map[string]struct{}, id, k string) {
	hs := m[id]
	if hs == nil {
		hs = make(map[string]struct{})
		m[id] = hs
	}
	hs[k] = struct{}{}
}

// GetAccessToken returns a copy of the access token with the given hash, or
// store.ErrNotFound. Expiry is the caller's concern.
func (s *Store) GetAccessToken(ctx context.Context, hash []byte) (*store.AccessToken, error) {
	if err := s.usable(ctx, "get access token"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.accessTokens[string(hash)]
	if !ok {
		return nil, fmt.Errorf("memory: get access token: %w", store.ErrNotFound)
	}
	return &store.AccessToken{
		Hash:      append([]byte{}, hash...),
		ClientID:  t.clientID,
		Scope:     t.scope,
		IssuedAt:  t.issuedAt,
		ExpiresAt: t.expiresAt,
		GrantID:   t.grantID,
		Subject:   t.subject,
		Resources: slices.Clone(t.resources),
	}, nil
}

// DeleteAccessToken removes the access token with the given hash, or
// returns store.ErrNotFound.
func (s *Store) DeleteAccessToken(ctx context.Context, hash []byte) error {
	if err := s.usable(ctx, "delete access token"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deleteAccessToken(string(hash)) {
		return fmt.Errorf("memory: delete access token: %w", store.ErrNotFound)
	}
	return nil
}

// UseAssertionID records that client clientID used the assertion jti, valid
// until expiresAt. It returns store.ErrAlreadyExists when the client
// recorded the same jti before and that record has not expired at now; an
// expired record is replaced.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error {
	if err := s.usable(ctx, "use assertion ID"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.assertionIDs[clientID]
	if exp, ok := ids[jti]; ok && exp.After(now) {
		return fmt.Errorf("memory: use assertion ID: %w", store.ErrAlreadyExists)
	}
	if ids == nil {
		ids = make(map[string]time.Time)
		s.assertionIDs[clientID] = ids
	}
	ids[jti] = expiresAt.UTC()
	return nil
}

// DeleteExpired removes the access tokens, assertion records,
// authorization records, signing keys and idempotency records that
// expired before now (see
// store.AccessTokenStore), and returns how many it removed.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	if err := s.usable(ctx, "delete expired"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for h, t := range s.accessTokens {
		if t.expiresAt.Before(now) {
			s.deleteAccessToken(h)
			n++
		}
	}
	for id, ids := range s.assertionIDs {
		for jti, exp := range ids {
			if exp.Before(now) {
				delete(ids, jti)
				n++
			}
		}
		if len(ids) == 0 {
			delete(s.assertionIDs, id)
		}
	}
	n += s.deleteExpiredAuthz(now)
	n += s.deleteExpiredSigningKeys(now)
	n += s.deleteExpiredIdempotency(now)
	n += s.deleteExpiredSessions(now)
	return n, nil
}

// deleteAccessToken deletes the access token with hash h and reports whether
// it existed. The caller holds s.mu for writing.
func (s *Store) deleteAccessToken(h string) bool {
	t, ok := s.accessTokens[h]
	if !ok {
		return false
	}
	delete(s.accessTokens, h)
	if hs := s.clientTokens[t.clientID]; hs != nil {
		delete(hs, h)
		if len(hs) == 0 {
			delete(s.clientTokens, t.clientID)
		}
	}
	if hs := s.grantTokens[t.grantID]; hs != nil {
		delete(hs, h)
		if len(hs) == 0 {
			delete(s.grantTokens, t.grantID)
		}
	}
	return true
}
