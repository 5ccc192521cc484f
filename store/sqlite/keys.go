package sqlite

// The records of store.SigningKeyStore (migration 0007). Their writes run
// through the writer goroutine like every other (see write), so the check
// that a generation is free and the insert are one operation that no other
// write interleaves with, in this process or, under the database's write
// lock, in any other.

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"
)

var _ store.SigningKeyStore = (*Store)(nil)

func init() {
	writeQueries = append(writeQueries, queryInsertSigningKey, queryDeleteSigningKey, queryDeleteExpiredSigningKeys)
}

// CreateSigningKey stores k (see store.SigningKeyStore). It returns the
// error of k.Validate, and store.ErrAlreadyExists when k.ID is another
// stored key's or a key of k.Generation is stored that has not expired at
// k.CreatedAt (expires_at > created_at); such an expired key is replaced.
//
// The check and the write are one statement, an upsert on generation whose
// update applies only to an expired key; a taken ID fails the primary key.
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	const op = "create signing key"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := k.Validate(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryInsertSigningKey,
			k.ID, k.Generation, k.Algorithm, k.PrivateKeyCiphertext, k.PublicJWK,
			k.CreatedAt.UnixMicro(), k.ActivateAt.UnixMicro(), k.RetireAt.UnixMicro(), k.ExpiresAt.UnixMicro())
		if err != nil {
			return err
		}
		return wantRow(res, fmt.Sprintf("generation %d", k.Generation), store.ErrAlreadyExists)
	})
}

// ListSigningKeys returns the keys that have not expired at now
// (expires_at > now), ordered by ActivateAt, then ID.
func (s *Store) ListSigningKeys(ctx context.Context, now time.Time) ([]*store.SigningKey, error) {
	const op = "list signing keys"
	rows, err := s.reader.QueryContext(ctx, `SELECT id, generation, algorithm, private_key_ciphertext, public_jwk,
	created_at, activate_at, retire_at, expires_at
FROM signing_keys WHERE expires_at > ? ORDER BY activate_at, id`, now.UnixMicro())
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	defer rows.Close()
	var ks []*store.SigningKey
	for rows.Next() {
		var (
			k                                  store.SigningKey
			created, activate, retire, expires int64
		)
		if err := rows.Scan(&k.ID, &k.Generation, &k.Algorithm, &k.PrivateKeyCiphertext, &k.PublicJWK,
			&created, &activate, &retire, &expires); err != nil {
			return nil, s.mapErr(ctx, op, err)
		}
		k.CreatedAt, k.ActivateAt, k.RetireAt, k.ExpiresAt = fromMicro(created), fromMicro(activate), fromMicro(retire), fromMicro(expires)
		ks = append(ks, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return ks, nil
}

// DeleteSigningKey removes the key with the given ID, or returns
// store.ErrNotFound.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	return s.write(ctx, "delete signing key", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryDeleteSigningKey, id)
		if err != nil {
			return err
		}
		return wantRow(res, fmt.Sprintf("signing key %q", id), store.ErrNotFound)
	})
}

// The write statements of signing keys, prepared on the writer at Open.
const (
	queryInsertSigningKey = `INSERT INTO signing_keys (id, generation, algorithm, private_key_ciphertext, public_jwk,
	created_at, activate_at, retire_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (generation) DO UPDATE SET id = excluded.id, algorithm = excluded.algorithm,
	private_key_ciphertext = excluded.private_key_ciphertext, public_jwk = excluded.public_jwk,
	created_at = excluded.created_at, activate_at = excluded.activate_at,
	retire_at = excluded.retire_at, expires_at = excluded.expires_at
WHERE signing_keys.expires_at <= excluded.created_at`
	queryDeleteSigningKey         = `DELETE FROM signing_keys WHERE id = ?`
	queryDeleteExpiredSigningKeys = `DELETE FROM signing_keys WHERE expires_at < ?`
)
