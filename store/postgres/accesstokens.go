package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CreateAccessToken stores t. It returns store.ErrNotFound when no
// client t.ClientID exists or the client is disabled, and
// store.ErrAlreadyExists when a token with the same Hash exists.
//
// The token is inserted by one INSERT ... SELECT that reads the client row
// FOR KEY SHARE, and only while its disabled_at is NULL. A concurrent
// DeleteClient, which deletes the client row first, therefore either has
// deleted it, and the SELECT, which waits for its commit, finds no client;
// or waits until the token is committed, and then deletes it with its
// client (by the foreign key's cascade and by its own DELETE, whose
// statement sees the commit). Likewise a concurrent SetClientDisabled,
// which locks the client row FOR UPDATE (a lock that conflicts with FOR KEY
// SHARE, as the UPDATE of a column that is not a key would not) before it
// sets disabled_at and then deletes the client's tokens: either the SELECT
// waits for its commit and then, reading the row as committed (READ
// COMMITTED re-checks the condition on the updated row), finds the client
// disabled and inserts nothing; or SetClientDisabled waits until the token
// is committed, and its DELETE, a later statement, sees the token and
// removes it. The hot path keeps its one statement and its lock: FOR KEY
// SHARE does not wait for TouchClient or UpdateClient, which take FOR NO
// KEY UPDATE.
//
// The scope is stored as text, which PostgreSQL refuses to hold NUL or
// invalid UTF-8; a scope (RFC 6749 section 3.3) is printable ASCII.
func (s *Store) CreateAccessToken(ctx context.Context, t *store.AccessToken) error {
	return s.insertAccessToken(ctx, s.pool, t)
}

// insertAccessToken inserts t through q (the pool, or a transaction): a
// client that does not exist or is disabled is store.ErrNotFound (see
// CreateAccessToken). A grant_id naming no grant violates the foreign key
// (which also locks the grant row FOR KEY SHARE, so that a concurrent
// DeleteGrant deletes the token with the grant): store.ErrNotFound.
func (s *Store) insertAccessToken(ctx context.Context, q querier, t *store.AccessToken) error {
	const op = "create access token"
	if !storableID(t.ClientID) || !storableID(t.GrantID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var grant *string // NULL for none
	if t.GrantID != "" {
		grant = &t.GrantID
	}
	tag, err := q.Exec(ctx, `INSERT INTO access_tokens (hash, client_id, scope, issued_at, expires_at, grant_id, subject, resources)
SELECT $1::bytea, id, $3::text, $4::timestamptz, $5::timestamptz, $6::text, $7::text, $8::text[]
FROM clients WHERE id = $2 AND disabled_at IS NULL FOR KEY SHARE`,
		t.Hash, t.ClientID, t.Scope, t.IssuedAt, t.ExpiresAt, grant, t.Subject, t.Resources)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23503" {
		// foreign_key_violation: the grant does not exist (or, not
		// expected since the SELECT locked its row, the client).
		return fmt.Errorf("postgres: %s: client %q or grant %q: %w: %w", op, t.ClientID, t.GrantID, store.ErrNotFound, err)
	}
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: client %q (or it is disabled): %w", op, t.ClientID, store.ErrNotFound)
	}
	return nil
}

// GetAccessToken returns the access token with the given hash, or
// store.ErrNotFound. Expiry is the caller's concern.
func (s *Store) GetAccessToken(ctx context.Context, hash []byte) (*store.AccessToken, error) {
	var (
		t     store.AccessToken
		grant *string
	)
	err := s.pool.QueryRow(ctx,
		`SELECT hash, client_id, scope, issued_at, expires_at, grant_id, subject, resources FROM access_tokens WHERE hash = $1`, hash,
	).Scan(&t.Hash, &t.ClientID, &t.Scope, &t.IssuedAt, &t.ExpiresAt, &grant, &t.Subject, &t.Resources)
	if err != nil {
		return nil, s.mapErr(ctx, "get access token", err) // pgx.ErrNoRows is ErrNotFound
	}
	if grant != nil {
		t.GrantID = *grant
	}
	t.IssuedAt = t.IssuedAt.UTC()
	t.ExpiresAt = t.ExpiresAt.UTC()
	return &t, nil
}

// DeleteAccessToken removes the access token with the given hash, or
// returns store.ErrNotFound.
func (s *Store) DeleteAccessToken(ctx context.Context, hash []byte) error {
	const op = "delete access token"
	tag, err := s.pool.Exec(ctx, `DELETE FROM access_tokens WHERE hash = $1`, hash)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// UseAssertionID records that client clientID used the assertion jti, valid
// until expiresAt. It returns store.ErrAlreadyExists when the client
// recorded the same jti before and that record has not expired at now
// (expires_at > now); an expired record is replaced. JWT IDs compare byte
// for byte.
//
// The check and the write are one INSERT ... ON CONFLICT DO UPDATE whose
// update applies only to an expired record. Concurrent uses of one jti wait
// for each other's commit and then evaluate the condition on the row as
// committed, so exactly one of them succeeds. A client ID that PostgreSQL
// cannot store (NUL, invalid UTF-8) belongs to no client: the call returns
// store.ErrNotFound.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error {
	const op = "use assertion ID"
	if !storableID(clientID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO assertion_ids (client_id, jti, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
WHERE assertion_ids.expires_at <= $4`,
		clientID, []byte(jti), expiresAt, now)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrAlreadyExists)
	}
	return nil
}

// DeleteExpired removes the access tokens, assertion records,
// authorization records, signing keys and idempotency records that expired
// before now (expires_at < now; see store.AccessTokenStore), in one
// transaction, and returns how many it removed.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.inTx(ctx, "delete expired", func(tx pgx.Tx) error {
		total = 0
		for _, q := range append([]string{
			`DELETE FROM access_tokens WHERE expires_at < $1`,
			`DELETE FROM assertion_ids WHERE expires_at < $1`,
			`DELETE FROM signing_keys WHERE expires_at < $1`,
			`DELETE FROM idempotency_keys WHERE expires_at < $1`,
		}, deleteExpiredAuthz...) {
			tag, err := tx.Exec(ctx, q, now)
			if err != nil {
				return err
			}
			total += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
