// Package memory implements store.Store in memory, for tests and for
// single-process servers that may lose their registrations on restart.
//
// Every value is deep-copied on the way in and on the way out, so callers
// never share a slice, a map or a hash with the store.
package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientreg/clientreg/store"
)

var (
	_ store.Store           = (*Store)(nil)
	_ store.SigningKeyStore = (*Store)(nil)
)

// Store is an in-memory store.Store. It is safe for concurrent use.
// Create one with New; the zero value is not usable.
type Store struct {
	// closed is set by Close; every later call fails with
	// store.ErrUnavailable.
	closed atomic.Bool

	mu      sync.RWMutex
	clients map[string]*store.Client // by ID
	// byToken maps the TokenHash, the SiblingTokenHashes and the non-nil
	// PreviousTokenHash of every client to its ID.
	byToken map[string]string
	tokens  map[string]*store.InitialToken // by Hash
	// policyCount counts the stored clients by Policy, for
	// CreateOptions.MaxClients.
	policyCount map[string]int64

	accessTokens map[string]accessToken // by Hash
	// clientTokens holds the hashes of every client's access tokens, by
	// client ID, for DeleteClient.
	clientTokens map[string]map[string]struct{}
	// assertionIDs holds the expiry of every recorded assertion jti, by
	// client ID and jti.
	assertionIDs map[string]map[string]time.Time

	// The records of store.AuthorizationStore (see authz.go).
	authz
	// The records of store.SigningKeyStore (see keys.go).
	signingKeys
	// idempotency holds the records of store.IdempotencyStore (see
	// idempotency.go).
	idempotency idempotencyRecords
	// sessions are the store.SessionStore records, by Hash.
	sessions map[string]*store.Session
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		clients: make(map[string]*store.Client),
		byToken: make(map[string]string),
		tokens:  make(map[string]*store.InitialToken),

		policyCount: make(map[string]int64),

		accessTokens: make(map[string]accessToken),
		clientTokens: make(map[string]map[string]struct{}),
		assertionIDs: make(map[string]map[string]time.Time),

		authz:       newAuthz(),
		signingKeys: newSigningKeys(),
		idempotency: make(idempotencyRecords),
		sessions:    make(map[string]*store.Session),
	}
}

// usable returns the error of a call of operation op that must not run: the
// store is closed (store.ErrUnavailable) or ctx is done (its error).
func (s *Store) usable(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("memory: %s: %w: store is closed", op, store.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	return nil
}

// Ping returns nil while the store is open, and an error wrapping
// store.ErrUnavailable once it is closed or when ctx is done.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.usable(ctx, "ping"); err != nil {
		if s.closed.Load() {
			return err
		}
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Close closes the store: every later call fails with an error wrapping
// store.ErrUnavailable. The records stay in memory until the Store is no
// longer referenced; nothing can read them. Close always returns nil, also
// when called again.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// CreateClient stores a copy of c under the conditions of opts (see
// store.ClientStore): it returns store.ErrNotFound when
// opts.InitialTokenHash names no token usable at opts.Now,
// store.ErrLimitReached when opts.MaxClients clients with c.Policy are
// stored, and store.ErrAlreadyExists when c.ID is taken or when c's
// TokenHash, SiblingTokenHashes or PreviousTokenHash is already any token
// hash of another client. Every check runs under the store's
// lock before anything is written, so a refusal writes nothing.
func (s *Store) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	if err := s.usable(ctx, "create client"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var tok *store.InitialToken
	if opts.InitialTokenHash != nil {
		t, ok := s.tokens[string(opts.InitialTokenHash)]
		if !ok || !t.Usable(opts.Now) {
			return fmt.Errorf("memory: create client: initial token: %w", store.ErrNotFound)
		}
		tok = t
	}
	if opts.MaxClients > 0 && s.policyCount[c.Policy] >= opts.MaxClients {
		return fmt.Errorf("memory: create client: policy %q: %w", c.Policy, store.ErrLimitReached)
	}
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("memory: create client: %w", store.ErrAlreadyExists)
	}
	for _, h := range tokenHashes(c) {
		if _, ok := s.byToken[h]; ok {
			return fmt.Errorf("memory: create client: token hash: %w", store.ErrAlreadyExists)
		}
	}
	if tok != nil {
		tok.Uses++
	}
	s.put(c)
	return nil
}

// GetClient returns a copy of the client with the given ID, or
// store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if err := s.usable(ctx, "get client"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("memory: get client: %w", store.ErrNotFound)
	}
	return c.Clone(), nil
}

// GetClientByTokenHash returns a copy of the client whose TokenHash, one of
// whose SiblingTokenHashes, or whose PreviousTokenHash equals hash, or
// store.ErrNotFound.
func (s *Store) GetClientByTokenHash(ctx context.Context, hash []byte) (*store.Client, error) {
	if err := s.usable(ctx, "get client by token"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byToken[string(hash)]
	if !ok || hash == nil {
		return nil, fmt.Errorf("memory: get client by token: %w", store.ErrNotFound)
	}
	return s.clients[id].Clone(), nil
}

// UpdateClient replaces the stored client c.ID with a copy of c if its stored
// Revision equals c.Revision, and then sets c.Revision to the new revision.
// It returns store.ErrNotFound when there is no such client,
// store.ErrConflict when the revision differs and
// store.ErrAlreadyExists when a token hash of c belongs to another
// client, in that order of precedence; on error nothing is written. On
// success it deletes the access tokens that c.RevokeAccessTokens selects.
func (s *Store) UpdateClient(ctx context.Context, c *store.Client) error {
	if err := s.usable(ctx, "update client"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[c.ID]
	if !ok {
		return fmt.Errorf("memory: update client: %w", store.ErrNotFound)
	}
	if old.Revision != c.Revision {
		return fmt.Errorf("memory: update client: revision %d, stored %d: %w", c.Revision, old.Revision, store.ErrConflict)
	}
	for _, h := range tokenHashes(c) {
		if id, ok := s.byToken[h]; ok && id != c.ID {
			return fmt.Errorf("memory: update client: token hash: %w", store.ErrAlreadyExists)
		}
	}
	s.remove(old)
	s.put(c)
	// The origin, the last use and the disabling are the store's: an
	// update keeps them.
	s.clients[c.ID].Origin, s.clients[c.ID].LastUsedAt, s.clients[c.ID].DisabledAt = old.Origin, old.LastUsedAt, old.DisabledAt
	s.clients[c.ID].Revision++
	c.Revision++
	if r := c.RevokeAccessTokens; r != nil {
		for h := range s.clientTokens[c.ID] {
			if r.Selects(s.accessTokens[h].scope) {
				s.deleteAccessToken(h)
			}
		}
	}
	return nil
}

// DeleteClient removes the client with the given ID, its access tokens, its
// assertion records, and its pending authorization requests, codes, grants
// and consents, or returns store.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := s.usable(ctx, "delete client"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("memory: delete client: %w", store.ErrNotFound)
	}
	s.deleteClientLocked(c)
	return nil
}

// deleteClientLocked removes c with everything it owns. The caller holds
// s.mu for writing.
func (s *Store) deleteClientLocked(c *store.Client) {
	id := c.ID
	s.remove(c)
	s.deleteClientAuthz(id)
	for h := range s.clientTokens[id] {
		delete(s.accessTokens, h)
	}
	delete(s.clientTokens, id)
	delete(s.assertionIDs, id)
}

// CreateInitialToken stores a copy of t, or returns
// store.ErrAlreadyExists when a token with the same Hash exists.
func (s *Store) CreateInitialToken(ctx context.Context, t *store.InitialToken) error {
	if err := s.usable(ctx, "create initial token"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[string(t.Hash)]; ok {
		return fmt.Errorf("memory: create initial token: %w", store.ErrAlreadyExists)
	}
	c := cloneToken(t)
	c.CreatedAt = c.CreatedAt.UTC()
	c.ExpiresAt = c.ExpiresAt.UTC()
	s.tokens[string(t.Hash)] = c
	return nil
}

// GetInitialToken returns a copy of the token with the given hash, or
// store.ErrNotFound.
func (s *Store) GetInitialToken(ctx context.Context, hash []byte) (*store.InitialToken, error) {
	if err := s.usable(ctx, "get initial token"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[string(hash)]
	if !ok {
		return nil, fmt.Errorf("memory: get initial token: %w", store.ErrNotFound)
	}
	return cloneToken(t), nil
}

// UseInitialToken records one use of the token with the given hash if it is
// usable at now, and returns a copy of the updated token. It returns
// store.ErrNotFound when the token does not exist, has expired or is
// used up.
func (s *Store) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*store.InitialToken, error) {
	if err := s.usable(ctx, "use initial token"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[string(hash)]
	if !ok || !t.Usable(now) {
		return nil, fmt.Errorf("memory: use initial token: %w", store.ErrNotFound)
	}
	t.Uses++
	return cloneToken(t), nil
}

// put stores a copy of c, times in UTC, and indexes its token hashes.
// The caller holds s.mu for writing.
func (s *Store) put(c *store.Client) {
	d := c.Clone()
	d.IssuedAt = d.IssuedAt.UTC()
	d.UpdatedAt = d.UpdatedAt.UTC()
	d.SecretExpiresAt = d.SecretExpiresAt.UTC()
	d.PreviousSecretExpiresAt = d.PreviousSecretExpiresAt.UTC()
	d.PreviousTokenExpiresAt = d.PreviousTokenExpiresAt.UTC()
	d.LastUsedAt = d.LastUsedAt.UTC()
	d.DisabledAt = d.DisabledAt.UTC()
	d.RevokeAccessTokens = nil // an instruction, not a field
	if len(d.SiblingTokenHashes) == 0 {
		d.SiblingTokenHashes = nil // an empty list reads back as nil
	}
	s.clients[d.ID] = d
	s.policyCount[d.Policy]++
	for _, h := range tokenHashes(d) {
		s.byToken[h] = d.ID
	}
}

// remove deletes c and its token hashes. The caller holds s.mu for writing.
func (s *Store) remove(c *store.Client) {
	for _, h := range tokenHashes(c) {
		delete(s.byToken, h)
	}
	delete(s.clients, c.ID)
	if s.policyCount[c.Policy]--; s.policyCount[c.Policy] == 0 {
		delete(s.policyCount, c.Policy)
	}
}

// tokenHashes returns the registration access token hashes of c as map keys:
// TokenHash, the SiblingTokenHashes and a non-nil PreviousTokenHash.
func tokenHashes(c *store.Client) []string {
	hs := []string{string(c.TokenHash)}
	for _, h := range c.SiblingTokenHashes {
		hs = append(hs, string(h))
	}
	if c.PreviousTokenHash != nil {
		hs = append(hs, string(c.PreviousTokenHash))
	}
	return hs
}

func cloneToken(t *store.InitialToken) *store.InitialToken {
	c := *t
	if t.Hash != nil {
		c.Hash = append([]byte{}, t.Hash...)
	}
	return &c
}
