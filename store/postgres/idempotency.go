package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
)

var _ store.IdempotencyStore = (*Store)(nil)

// ReserveIdempotencyKey stores the pending reservation r (see
// store.IdempotencyStore), or returns store.ErrAlreadyExists when a record
// of r.KeyHash has not expired at r.CreatedAt.
//
// The check and the write are one INSERT ... ON CONFLICT (key_hash) DO
// UPDATE whose update applies only to an expired record. Concurrent
// reservations of one key, from any process, wait for each other's commit
// and then evaluate the condition on the row as committed, so exactly one
// of them succeeds.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord) error {
	const op = "reserve idempotency key"
	tag, err := s.pool.Exec(ctx, `INSERT INTO idempotency_keys (key_hash, request_hash, state, response_ciphertext, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (key_hash) DO UPDATE SET request_hash = EXCLUDED.request_hash, state = EXCLUDED.state,
	response_ciphertext = EXCLUDED.response_ciphertext, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE idempotency_keys.expires_at <= EXCLUDED.created_at`,
		r.KeyHash, r.RequestHash, string(r.State), r.ResponseCiphertext, r.CreatedAt, r.ExpiresAt)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrAlreadyExists)
	}
	return nil
}

// CompleteIdempotencyKey turns the pending reservation of keyHash made at
// createdAt into a done record, or returns store.ErrNotFound.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time, response []byte, expiresAt time.Time) error {
	const op = "complete idempotency key"
	tag, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET state = 'done', response_ciphertext = $1, expires_at = $2
WHERE key_hash = $3 AND created_at = $4 AND state = 'pending'`, response, expiresAt, keyHash, createdAt)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// ReleaseIdempotencyKey deletes the pending reservation of keyHash made at
// createdAt, or returns store.ErrNotFound.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time) error {
	const op = "release idempotency key"
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key_hash = $1 AND created_at = $2 AND state = 'pending'`, keyHash, createdAt)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// GetIdempotencyKey returns the record of keyHash, or store.ErrNotFound.
func (s *Store) GetIdempotencyKey(ctx context.Context, keyHash []byte) (*store.IdempotencyRecord, error) {
	const op = "get idempotency key"
	var (
		r     store.IdempotencyRecord
		state string
	)
	err := s.pool.QueryRow(ctx, `SELECT key_hash, request_hash, state, response_ciphertext, created_at, expires_at
FROM idempotency_keys WHERE key_hash = $1`, keyHash).Scan(&r.KeyHash, &r.RequestHash, &state, &r.ResponseCiphertext, &r.CreatedAt, &r.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	r.State = store.IdempotencyState(state)
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return &r, nil
}
