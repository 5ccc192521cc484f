package memory

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"
)

// idempotencyRecords are the records of store.IdempotencyStore, by
// KeyHash, times in UTC.
type idempotencyRecords map[string]*store.IdempotencyRecord

// ReserveIdempotencyKey stores a copy of the pending reservation r, or
// returns store.ErrAlreadyExists when a record of r.KeyHash has not expired
// at r.CreatedAt; an expired one is replaced. The check runs under the
// store's lock.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord) error {
	if err := s.usable(ctx, "reserve idempotency key"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.idempotency[string(r.KeyHash)]; ok && !old.Expired(r.CreatedAt) {
		return fmt.Errorf("memory: reserve idempotency key: %w", store.ErrAlreadyExists)
	}
	c := r.Clone()
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	s.idempotency[string(r.KeyHash)] = c
	return nil
}

// pendingReservation returns the pending record of keyHash made at
// createdAt, or nil. The caller holds s.mu.
func (s *Store) pendingReservation(keyHash []byte, createdAt time.Time) *store.IdempotencyRecord {
	r, ok := s.idempotency[string(keyHash)]
	if !ok || r.State != store.IdempotencyPending || !r.CreatedAt.Equal(createdAt) || !bytes.Equal(r.KeyHash, keyHash) {
		return nil
	}
	return r
}

// CompleteIdempotencyKey turns the pending reservation of keyHash made at
// createdAt into a done record, or returns store.ErrNotFound.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time, response []byte, expiresAt time.Time) error {
	if err := s.usable(ctx, "complete idempotency key"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.pendingReservation(keyHash, createdAt)
	if r == nil {
		return fmt.Errorf("memory: complete idempotency key: %w", store.ErrNotFound)
	}
	r.State = store.IdempotencyDone
	r.ResponseCiphertext = bytes.Clone(response)
	r.ExpiresAt = expiresAt.UTC()
	return nil
}

// ReleaseIdempotencyKey deletes the pending reservation of keyHash made at
// createdAt, or returns store.ErrNotFound.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time) error {
	if err := s.usable(ctx, "release idempotency key"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pendingReservation(keyHash, createdAt) == nil {
		return fmt.Errorf("memory: release idempotency key: %w", store.ErrNotFound)
	}
	delete(s.idempotency, string(keyHash))
	return nil
}

// GetIdempotencyKey returns a copy of the record of keyHash, or
// store.ErrNotFound.
func (s *Store) GetIdempotencyKey(ctx context.Context, keyHash []byte) (*store.IdempotencyRecord, error) {
	if err := s.usable(ctx, "get idempotency key"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.idempotency[string(keyHash)]
	if !ok {
		return nil, fmt.Errorf("memory: get idempotency key: %w", store.ErrNotFound)
	}
	return r.Clone(), nil
}

// deleteExpiredIdempotency removes the records whose ExpiresAt is before
// now and returns how many. The caller holds s.mu for writing.
func (s *Store) deleteExpiredIdempotency(now time.Time) int64 {
	var n int64
	for k, r := range s.idempotency {
		if r.ExpiresAt.Before(now) {
			delete(s.idempotency, k)
			n++
		}
	}
	return n
}
