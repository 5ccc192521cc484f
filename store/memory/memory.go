// Package memory implements clientreg.Store in memory, for tests and for
// single-process servers that may lose their registrations on restart.
//
// Every value is deep-copied on the way in and on the way out, so callers
// never share a slice, a map or a hash with the store.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/clientreg/clientreg"
)

var _ clientreg.Store = (*Store)(nil)

// Store is an in-memory clientreg.Store. It is safe for concurrent use.
// Create one with New; the zero value is not usable.
type Store struct {
	mu      sync.RWMutex
	clients map[string]*clientreg.Client // by ID
	// byToken maps the TokenHash and the non-nil PreviousTokenHash of every
	// client to its ID.
	byToken map[string]string
	tokens  map[string]*clientreg.InitialToken // by Hash
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
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		clients: make(map[string]*clientreg.Client),
		byToken: make(map[string]string),
		tokens:  make(map[string]*clientreg.InitialToken),

		policyCount: make(map[string]int64),

		accessTokens: make(map[string]accessToken),
		clientTokens: make(map[string]map[string]struct{}),
		assertionIDs: make(map[string]map[string]time.Time),
	}
}

// CreateClient stores a copy of c under the conditions of opts (see
// clientreg.ClientStore): it returns clientreg.ErrNotFound when
// opts.InitialTokenHash names no token usable at opts.Now,
// clientreg.ErrLimitReached when opts.MaxClients clients with c.Policy are
// stored, and clientreg.ErrAlreadyExists when c.ID is taken or when c's
// TokenHash or PreviousTokenHash is already the TokenHash or
// PreviousTokenHash of another client. Every check runs under the store's
// lock before anything is written, so a refusal writes nothing.
func (s *Store) CreateClient(ctx context.Context, c *clientreg.Client, opts clientreg.CreateOptions) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: create client: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var tok *clientreg.InitialToken
	if opts.InitialTokenHash != nil {
		t, ok := s.tokens[string(opts.InitialTokenHash)]
		if !ok || !t.Usable(opts.Now) {
			return fmt.Errorf("memory: create client: initial token: %w", clientreg.ErrNotFound)
		}
		tok = t
	}
	if opts.MaxClients > 0 && s.policyCount[c.Policy] >= opts.MaxClients {
		return fmt.Errorf("memory: create client: policy %q: %w", c.Policy, clientreg.ErrLimitReached)
	}
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("memory: create client: %w", clientreg.ErrAlreadyExists)
	}
	for _, h := range tokenHashes(c) {
		if _, ok := s.byToken[h]; ok {
			return fmt.Errorf("memory: create client: token hash: %w", clientreg.ErrAlreadyExists)
		}
	}
	if tok != nil {
		tok.Uses++
	}
	s.put(c)
	return nil
}

// GetClient returns a copy of the client with the given ID, or
// clientreg.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*clientreg.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get client: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("memory: get client: %w", clientreg.ErrNotFound)
	}
	return c.Clone(), nil
}

// GetClientByTokenHash returns a copy of the client whose TokenHash or
// PreviousTokenHash equals hash, or clientreg.ErrNotFound.
func (s *Store) GetClientByTokenHash(ctx context.Context, hash []byte) (*clientreg.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get client by token: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byToken[string(hash)]
	if !ok || hash == nil {
		return nil, fmt.Errorf("memory: get client by token: %w", clientreg.ErrNotFound)
	}
	return s.clients[id].Clone(), nil
}

// UpdateClient replaces the stored client c.ID with a copy of c if its stored
// Revision equals c.Revision, and then sets c.Revision to the new revision.
// It returns clientreg.ErrNotFound when there is no such client,
// clientreg.ErrConflict when the revision differs and
// clientreg.ErrAlreadyExists when a token hash of c belongs to another
// client, in that order of precedence; on error nothing is written.
func (s *Store) UpdateClient(ctx context.Context, c *clientreg.Client) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: update client: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[c.ID]
	if !ok {
		return fmt.Errorf("memory: update client: %w", clientreg.ErrNotFound)
	}
	if old.Revision != c.Revision {
		return fmt.Errorf("memory: update client: revision %d, stored %d: %w", c.Revision, old.Revision, clientreg.ErrConflict)
	}
	for _, h := range tokenHashes(c) {
		if id, ok := s.byToken[h]; ok && id != c.ID {
			return fmt.Errorf("memory: update client: token hash: %w", clientreg.ErrAlreadyExists)
		}
	}
	s.remove(old)
	s.put(c)
	s.clients[c.ID].Revision++
	c.Revision++
	return nil
}

// DeleteClient removes the client with the given ID, its access tokens and
// its assertion records, or returns clientreg.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: delete client: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("memory: delete client: %w", clientreg.ErrNotFound)
	}
	s.remove(c)
	for h := range s.clientTokens[id] {
		delete(s.accessTokens, h)
	}
	delete(s.clientTokens, id)
	delete(s.assertionIDs, id)
	return nil
}

// CreateInitialToken stores a copy of t, or returns
// clientreg.ErrAlreadyExists when a token with the same Hash exists.
func (s *Store) CreateInitialToken(ctx context.Context, t *clientreg.InitialToken) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: create initial token: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[string(t.Hash)]; ok {
		return fmt.Errorf("memory: create initial token: %w", clientreg.ErrAlreadyExists)
	}
	c := cloneToken(t)
	c.CreatedAt = c.CreatedAt.UTC()
	c.ExpiresAt = c.ExpiresAt.UTC()
	s.tokens[string(t.Hash)] = c
	return nil
}

// GetInitialToken returns a copy of the token with the given hash, or
// clientreg.ErrNotFound.
func (s *Store) GetInitialToken(ctx context.Context, hash []byte) (*clientreg.InitialToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: get initial token: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[string(hash)]
	if !ok {
		return nil, fmt.Errorf("memory: get initial token: %w", clientreg.ErrNotFound)
	}
	return cloneToken(t), nil
}

// UseInitialToken records one use of the token with the given hash if it is
// usable at now, and returns a copy of the updated token. It returns
// clientreg.ErrNotFound when the token does not exist, has expired or is
// used up.
func (s *Store) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*clientreg.InitialToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: use initial token: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[string(hash)]
	if !ok || !t.Usable(now) {
		return nil, fmt.Errorf("memory: use initial token: %w", clientreg.ErrNotFound)
	}
	t.Uses++
	return cloneToken(t), nil
}

// put stores a copy of c, times in UTC, and indexes its token hashes.
// The caller holds s.mu for writing.
func (s *Store) put(c *clientreg.Client) {
	d := c.Clone()
	d.IssuedAt = d.IssuedAt.UTC()
	d.UpdatedAt = d.UpdatedAt.UTC()
	d.SecretExpiresAt = d.SecretExpiresAt.UTC()
	d.PreviousSecretExpiresAt = d.PreviousSecretExpiresAt.UTC()
	d.PreviousTokenExpiresAt = d.PreviousTokenExpiresAt.UTC()
	s.clients[d.ID] = d
	s.policyCount[d.Policy]++
	for _, h := range tokenHashes(d) {
		s.byToken[h] = d.ID
	}
}

// remove deletes c and its token hashes. The caller holds s.mu for writing.
func (s *Store) remove(c *clientreg.Client) {
	for _, h := range tokenHashes(c) {
		delete(s.byToken, h)
	}
	delete(s.clients, c.ID)
	if s.policyCount[c.Policy]--; s.policyCount[c.Policy] == 0 {
		delete(s.policyCount, c.Policy)
	}
}

// tokenHashes returns the registration access token hashes of c as map keys.
func tokenHashes(c *clientreg.Client) []string {
	hs := []string{string(c.TokenHash)}
	if c.PreviousTokenHash != nil {
		hs = append(hs, string(c.PreviousTokenHash))
	}
	return hs
}

func cloneToken(t *clientreg.InitialToken) *clientreg.InitialToken {
	c := *t
	if t.Hash != nil {
		c.Hash = append([]byte{}, t.Hash...)
	}
	return &c
}
