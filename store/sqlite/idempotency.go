package sqlite

// The records of store.IdempotencyStore (migration 0009). Their writes run
// through the writer goroutine like every other (see write), so the check
// that a key is free and the insert are one statement that no other write
// interleaves with, in this process or, under the database's write lock,
// in any other.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"
)

var _ store.IdempotencyStore = (*Store)(nil)

func init() {
	writeQueries = append(writeQueries, queryReserveIdempotencyKey, queryCompleteIdempotencyKey,
		queryReleaseIdempotencyKey, queryDeleteExpiredIdempotencyKeys)
}

// ReserveIdempotencyKey stores the pending reservation r (see
// store.IdempotencyStore), or returns store.ErrAlreadyExists when a record
// of r.KeyHash has not expired at r.CreatedAt (expires_at > created_at).
// The check and the write are one upsert whose update applies only to an
// expired record.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, r *store.IdempotencyRecord) error {
	return s.write(ctx, "reserve idempotency key", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryReserveIdempotencyKey, r.KeyHash, r.RequestHash, string(r.State),
			r.ResponseCiphertext, r.CreatedAt.UnixMicro(), r.ExpiresAt.UnixMicro())
		if err != nil {
			return err
		}
		return wantRow(res, "idempotency key", store.ErrAlreadyExists)
	})
}

// CompleteIdempotencyKey turns the pending reservation of keyHash made at
// createdAt into a done record, or returns store.ErrNotFound.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time, response []byte, expiresAt time.Time) error {
	return s.write(ctx, "complete idempotency key", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryCompleteIdempotencyKey, response, expiresAt.UnixMicro(), keyHash, createdAt.UnixMicro())
		if err != nil {
			return err
		}
		return wantRow(res, "pending idempotency key", store.ErrNotFound)
	})
}

// ReleaseIdempotencyKey deletes the pending reservation of keyHash made at
// createdAt, or returns store.ErrNotFound.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time) error {
	return s.write(ctx, "release idempotency key", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryReleaseIdempotencyKey, keyHash, createdAt.UnixMicro())
		if err != nil {
			return err
		}
		return wantRow(res, "pending idempotency key", store.ErrNotFound)
	})
}

// GetIdempotencyKey returns the record of keyHash, or store.ErrNotFound.
func (s *Store) GetIdempotencyKey(ctx context.Context, keyHash []byte) (*store.IdempotencyRecord, error) {
	var (
		r                store.IdempotencyRecord
		state            string
		created, expires int64
	)
	err := s.readRow(ctx, `SELECT key_hash, request_hash, state, response_ciphertext, created_at, expires_at
FROM idempotency_keys WHERE key_hash = ?`, keyHash).Scan(&r.KeyHash, &r.RequestHash, &state, &r.ResponseCiphertext, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get idempotency key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, s.mapErr(ctx, "get idempotency key", err)
	}
	r.State = store.IdempotencyState(state)
	r.CreatedAt, r.ExpiresAt = fromMicro(created), fromMicro(expires)
	return &r, nil
}

// The write statements of idempotency keys, prepared on the writer at Open.
const (
	queryReserveIdempotencyKey = `INSERT INTO idempotency_keys (key_hash, request_hash, state, response_ciphertext, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key_hash) DO UPDATE SET request_hash = excluded.request_hash, state = excluded.state,
	response_ciphertext = excluded.response_ciphertext, created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= excluded.created_at`
	queryCompleteIdempotencyKey = `UPDATE idempotency_keys SET state = 'done', response_ciphertext = ?, expires_at = ?
WHERE key_hash = ? AND created_at = ? AND state = 'pending'`
	queryReleaseIdempotencyKey        = `DELETE FROM idempotency_keys WHERE key_hash = ? AND created_at = ? AND state = 'pending'`
	queryDeleteExpiredIdempotencyKeys = `DELETE FROM idempotency_keys WHERE expires_at < ?`
)
