package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
)

var _ store.SigningKeyStore = (*Store)(nil)

// CreateSigningKey stores k (see store.SigningKeyStore). It returns the
// error of k.Validate, and store.ErrAlreadyExists when k.ID is another
// stored key's or a key of k.Generation is stored that has not expired at
// k.CreatedAt (expires_at > created_at); such an expired key is replaced.
//
// The check and the write are one INSERT ... ON CONFLICT (generation) DO
// UPDATE whose update applies only to an expired key; a taken ID is a
// unique violation. Concurrent creations of one generation, from any
// process, wait for each other's commit and then evaluate the condition on
// the row as committed, so exactly one of them succeeds: the others find a
// key that has not expired.
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	const op = "create signing key"
	if err := k.Validate(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (id, generation, algorithm, private_key_ciphertext, public_jwk,
	created_at, activate_at, retire_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (generation) DO UPDATE SET id = EXCLUDED.id, algorithm = EXCLUDED.algorithm,
	private_key_ciphertext = EXCLUDED.private_key_ciphertext, public_jwk = EXCLUDED.public_jwk,
	created_at = EXCLUDED.created_at, activate_at = EXCLUDED.activate_at,
	retire_at = EXCLUDED.retire_at, expires_at = EXCLUDED.expires_at
WHERE signing_keys.expires_at <= EXCLUDED.created_at`,
		k.ID, k.Generation, k.Algorithm, k.PrivateKeyCiphertext, k.PublicJWK,
		k.CreatedAt, k.ActivateAt, k.RetireAt, k.ExpiresAt)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: generation %d: %w", op, k.Generation, store.ErrAlreadyExists)
	}
	return nil
}

// ListSigningKeys returns the keys that have not expired at now
// (expires_at > now), ordered by ActivateAt, then ID (byte-wise: the
// column's collation is "C").
func (s *Store) ListSigningKeys(ctx context.Context, now time.Time) ([]*store.SigningKey, error) {
	const op = "list signing keys"
	rows, err := s.pool.Query(ctx, `SELECT id, generation, algorithm, private_key_ciphertext, public_jwk,
	created_at, activate_at, retire_at, expires_at
FROM signing_keys WHERE expires_at > $1 ORDER BY activate_at, id`, now)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	ks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.SigningKey, error) {
		var k store.SigningKey
		if err := row.Scan(&k.ID, &k.Generation, &k.Algorithm, &k.PrivateKeyCiphertext, &k.PublicJWK,
			&k.CreatedAt, &k.ActivateAt, &k.RetireAt, &k.ExpiresAt); err != nil {
			return nil, err
		}
		k.CreatedAt, k.ActivateAt, k.RetireAt, k.ExpiresAt = k.CreatedAt.UTC(), k.ActivateAt.UTC(), k.RetireAt.UTC(), k.ExpiresAt.UTC()
		return &k, nil
	})
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return ks, nil
}

// DeleteSigningKey removes the key with the given ID, or returns
// store.ErrNotFound.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	const op = "delete signing key"
	if !storableID(id) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, id)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}
