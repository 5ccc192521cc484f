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

// signingKeys are the records of store.SigningKeyStore.
type signingKeys struct {
	keys map[string]*store.SigningKey // by ID, times in UTC
	// generations maps the Generation of every stored key to its ID.
	generations map[int64]string
}

func newSigningKeys() signingKeys {
	return signingKeys{
		keys:        make(map[string]*store.SigningKey),
		generations: make(map[int64]string),
	}
}

// CreateSigningKey stores a copy of k (see store.SigningKeyStore). It
// returns the error of k.Validate, and store.ErrAlreadyExists when k.ID is
// another stored key's or a key of k.Generation is stored that has not
// expired at k.CreatedAt; such an expired key is replaced. The checks run
// under the store's lock before anything is written.
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	if err := s.usable(ctx, "create signing key"); err != nil {
		return err
	}
	if err := k.Validate(); err != nil {
		return fmt.Errorf("memory: create signing key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	replaced := ""
	if id, ok := s.generations[k.Generation]; ok {
		if !s.keys[id].Expired(k.CreatedAt) {
			return fmt.Errorf("memory: create signing key: generation %d: %w", k.Generation, store.ErrAlreadyExists)
		}
		replaced = id
	}
	if _, ok := s.keys[k.ID]; ok && k.ID != replaced {
		return fmt.Errorf("memory: create signing key: ID %q: %w", k.ID, store.ErrAlreadyExists)
	}
	if replaced != "" {
		delete(s.keys, replaced)
	}
	c := k.Clone()
	c.CreatedAt, c.ActivateAt, c.RetireAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ActivateAt.UTC(), c.RetireAt.UTC(), c.ExpiresAt.UTC()
	s.keys[c.ID] = c
	s.generations[c.Generation] = c.ID
	return nil
}

// ListSigningKeys returns copies of the keys that have not expired at now,
// ordered by ActivateAt, then ID.
func (s *Store) ListSigningKeys(ctx context.Context, now time.Time) ([]*store.SigningKey, error) {
	if err := s.usable(ctx, "list signing keys"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ks []*store.SigningKey
	for _, k := range s.keys {
		if !k.Expired(now) {
			ks = append(ks, k.Clone())
		}
	}
	slices.SortFunc(ks, func(a, b *store.SigningKey) int {
		return cmp.Or(a.ActivateAt.Compare(b.ActivateAt), strings.Compare(a.ID, b.ID))
	})
	return ks, nil
}

// DeleteSigningKey removes the key with the given ID, or returns
// store.ErrNotFound.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	if err := s.usable(ctx, "delete signing key"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return fmt.Errorf("memory: delete signing key: %w", store.ErrNotFound)
	}
	delete(s.keys, id)
	delete(s.generations, k.Generation)
	return nil
}

// deleteExpiredSigningKeys removes the keys whose ExpiresAt is before now
// and returns how many. The caller holds s.mu for writing.
func (s *Store) deleteExpiredSigningKeys(now time.Time) int64 {
	var n int64
	for id, k := range s.keys {
		if k.ExpiresAt.Before(now) {
			delete(s.keys, id)
			delete(s.generations, k.Generation)
			n++
		}
	}
	return n
}
