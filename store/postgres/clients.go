package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// clientColumns are the columns scanClient reads, in its order.
const clientColumns = `id, issued_at, updated_at, revision, metadata,
	secret_hash, secret_expires_at,
	secret_ciphertext, prev_secret_hash, prev_secret_ciphertext, prev_secret_expires_at,
	token_hash, prev_token_hash, prev_token_expires_at, policy,
	ARRAY(SELECT hash FROM client_token_siblings WHERE client_id = clients.id ORDER BY position),
	origin, last_used_at, disabled_at`

// queryClientByTokenHash finds a client by any of its token hashes; each
// branch searches its own UNIQUE index.
const queryClientByTokenHash = `SELECT ` + clientColumns + ` FROM clients WHERE token_hash = $1
UNION ALL
SELECT ` + clientColumns + ` FROM clients WHERE prev_token_hash = $1
UNION ALL
SELECT ` + clientColumns + ` FROM clients WHERE id = (SELECT client_id FROM client_token_siblings WHERE hash = $1)
LIMIT 1`

// queryTokenHashTaken reports whether a client other than $3 has the token
// hash $1 or $2 in either column or as a sibling. $2 may be NULL, which
// matches nothing.
const queryTokenHashTaken = `SELECT EXISTS (SELECT 1 FROM clients
WHERE (token_hash IN ($1::bytea, $2::bytea) OR prev_token_hash IN ($1::bytea, $2::bytea))
	AND id <> $3)
OR EXISTS (SELECT 1 FROM client_token_siblings WHERE hash IN ($1::bytea, $2::bytea) AND client_id <> $3)`

// querySiblingsTaken reports whether a client other than $2 has any of the
// hashes $1 in either column or as a sibling.
const querySiblingsTaken = `SELECT EXISTS (SELECT 1 FROM clients
WHERE (token_hash = ANY($1::bytea[]) OR prev_token_hash = ANY($1::bytea[])) AND id <> $2)
OR EXISTS (SELECT 1 FROM client_token_siblings WHERE hash = ANY($1::bytea[]) AND client_id <> $2)`

// CreateClient stores c under the conditions of opts, in one transaction:
// it records one use of the initial access token opts.InitialTokenHash
// (store.ErrNotFound when it does not exist, has expired at opts.Now or
// is used up), counts the clients of c.Policy against opts.MaxClients
// (store.ErrLimitReached), and inserts c (store.ErrAlreadyExists
// when c.ID is taken or when any of c's token hashes, TokenHash,
// SiblingTokenHashes and PreviousTokenHash, is any of another client's). Any failure rolls
// the whole transaction back, the token's use included.
//
// The two UNIQUE indexes catch a hash taken in the same column; a hash taken
// in the other column is found by a query inside the transaction. For that
// query to stay true until the commit, the transaction first takes a
// transaction-scoped advisory lock on each hash it stores. Every transaction
// that stores a hash takes its lock first, so two that would store the same
// hash run one after the other; the second's query, which runs after the
// first has committed and released the lock, sees the first's row. Row locks
// (SELECT ... FOR UPDATE) would not do: they cannot lock a row that does not
// exist yet.
//
// The use of the initial access token is UseInitialToken's UPDATE, whose row
// lock makes concurrent uses wait for each other's commit or rollback and
// re-check the condition, so a rolled-back use is not spent and the uses
// never exceed MaxUses. The count of the policy's clients runs under the
// policy's advisory lock (see lockPolicy), taken after the token's row lock
// and the hash locks: every CreateClient takes its locks in that order, so
// they cannot deadlock.
func (s *Store) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	const op = "create client"
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		if err := lockTokenHashes(ctx, tx, c); err != nil {
			return err
		}
		if opts.InitialTokenHash != nil {
			// UseInitialToken's statement; no usable token is ErrNotFound.
			if _, err := scanToken(tx.QueryRow(ctx, queryUseToken, opts.InitialTokenHash, opts.Now)); err != nil {
				return fmt.Errorf("initial token: %w", err)
			}
		}
		if opts.MaxClients > 0 {
			if err := lockPolicy(ctx, tx, c.Policy); err != nil {
				return err
			}
			q := queryCountPolicy
			if c.Policy == "" {
				q = queryCountNoPolicy
			}
			var n int64
			if err := tx.QueryRow(ctx, q, c.Policy, opts.MaxClients).Scan(&n); err != nil {
				return err
			}
			if n >= opts.MaxClients {
				return fmt.Errorf("policy %q has %d clients: %w", c.Policy, n, store.ErrLimitReached)
			}
		}
		if err := tokenHashTaken(ctx, tx, c); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO clients (
	id, issued_at, updated_at, revision, metadata, secret_hash, secret_expires_at,
	secret_ciphertext, prev_secret_hash, prev_secret_ciphertext, prev_secret_expires_at,
	token_hash, prev_token_hash, prev_token_expires_at, policy, origin, last_used_at, disabled_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			c.ID, c.IssuedAt, c.UpdatedAt, c.Revision, c.Metadata,
			c.SecretHash, nullTime(c.SecretExpiresAt),
			c.SecretCiphertext, c.PreviousSecretHash, c.PreviousSecretCiphertext, nullTime(c.PreviousSecretExpiresAt),
			c.TokenHash, c.PreviousTokenHash, nullTime(c.PreviousTokenExpiresAt), c.Policy,
			c.Origin, nullTime(c.LastUsedAt), nullTime(c.DisabledAt),
		)
		if err != nil {
			return err
		}
		return insertSiblings(ctx, tx, c)
	})
}

// revokeAccessTokens deletes the access tokens of c that
// c.RevokeAccessTokens selects, in tx. The scope test is
// AccessTokenRevocation.Selects in SQL: a token goes unless the set of its
// space-separated scope tokens lies within the kept scope.
func revokeAccessTokens(ctx context.Context, tx pgx.Tx, c *store.Client) error {
	r := c.RevokeAccessTokens
	switch {
	case r == nil:
		return nil
	case r.All:
		_, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE client_id = $1`, c.ID)
		return err
	}
	keep := r.Scope
	if keep == nil {
		keep = []string{}
	}
	_, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE client_id = $1
	AND NOT (array_remove(regexp_split_to_array(scope, '\s+'), '') <@ $2::text[])`, c.ID, keep)
	return err
}

// insertSiblings stores c.SiblingTokenHashes, in order. The caller checked,
// under the hashes' locks, that no other client has them (tokenHashTaken);
// the primary key refuses a duplicate all the same.
func insertSiblings(ctx context.Context, tx pgx.Tx, c *store.Client) error {
	if len(c.SiblingTokenHashes) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO client_token_siblings (hash, client_id, position)
SELECT h, $2, p - 1 FROM unnest($1::bytea[]) WITH ORDINALITY AS s (h, p)`, c.SiblingTokenHashes, c.ID)
	return err
}

// The counts of a policy's clients for CreateOptions.MaxClients: the
// clients of policy $1, up to $2, for the LIMIT bounds the work to the limit
// the count is checked against. The term policy <> ” lets the planner use
// the partial index clients_policy whatever plan it makes for the parameter;
// the clients of no policy, which the index leaves out, are counted by a scan
// of the table.
const (
	queryCountPolicy   = `SELECT COUNT(*) FROM (SELECT 1 FROM clients WHERE policy = $1 AND policy <> '' LIMIT $2) AS c`
	queryCountNoPolicy = `SELECT COUNT(*) FROM (SELECT 1 FROM clients WHERE policy = $1 LIMIT $2) AS c`
)

// policyLockClass is the first key of the two-key advisory locks of policies
// (the ASCII bytes of "plcy"). The two-key locks are a key space of their
// own, apart from the one-key locks of token hashes and migrations.
const policyLockClass int32 = 0x706c6379

// lockPolicy takes the transaction-scoped advisory lock of the policy name,
// keyed on (policyLockClass, hashtext(name)), so that the transactions that
// count a policy's clients and then insert one run one at a time, across
// every process, and each counts (READ COMMITTED: a fresh snapshot per
// statement) the clients that the previous ones committed. Two policies
// whose names hash alike only wait for each other.
//
// An advisory lock, rather than a table of counters per policy: it needs no
// write besides the client's own, and DeleteClient and UpdateClient stay as
// they are; registrations in one policy are serialized either way, while
// those in different policies are not. A delete that runs concurrently is
// not waited for: until it commits, its client still counts, so the limit
// errs on the side of refusing.
func lockPolicy(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, policyLockClass, name)
	return err
}

// GetClient returns the client with the given ID, or store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	const op = "get client"
	if !storableID(id) {
		return nil, fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return c, nil
}

// GetClientByTokenHash returns the client whose TokenHash, one of whose
// SiblingTokenHashes, or whose PreviousTokenHash equals hash, or
// store.ErrNotFound.
func (s *Store) GetClientByTokenHash(ctx context.Context, hash []byte) (*store.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, queryClientByTokenHash, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get client by token", err)
	}
	return c, nil
}

// UpdateClient replaces the stored client c.ID with c if its stored revision
// equals c.Revision, and then sets c.Revision to the new revision. It
// returns store.ErrNotFound when there is no such client,
// store.ErrConflict when the revision differs and
// store.ErrAlreadyExists when a token hash of c belongs to another
// client, in that order of precedence; on error nothing is written. In the
// same transaction it deletes the access tokens that c.RevokeAccessTokens
// selects.
//
// The compare-and-swap is one statement, UPDATE ... WHERE id = $1 AND
// revision = $2: a concurrent update of the same client makes it wait for
// that update's commit and then re-check the revision, so of two updates of
// the same revision exactly one succeeds. Token hashes are locked and checked
// as in CreateClient.
func (s *Store) UpdateClient(ctx context.Context, c *store.Client) error {
	const op = "update client"
	if !storableID(c.ID) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var revision int64
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		if err := lockTokenHashes(ctx, tx, c); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `UPDATE clients SET
	issued_at = $1, updated_at = $2, revision = revision + 1, metadata = $3,
	secret_hash = $4, secret_expires_at = $5,
	secret_ciphertext = $6, prev_secret_hash = $7, prev_secret_ciphertext = $8, prev_secret_expires_at = $9,
	token_hash = $10, prev_token_hash = $11, prev_token_expires_at = $12, policy = $13
WHERE id = $14 AND revision = $15
RETURNING revision`,
			c.IssuedAt, c.UpdatedAt, c.Metadata,
			c.SecretHash, nullTime(c.SecretExpiresAt),
			c.SecretCiphertext, c.PreviousSecretHash, c.PreviousSecretCiphertext, nullTime(c.PreviousSecretExpiresAt),
			c.TokenHash, c.PreviousTokenHash, nullTime(c.PreviousTokenExpiresAt), c.Policy,
			c.ID, c.Revision,
		).Scan(&revision)
		if errors.Is(err, pgx.ErrNoRows) {
			var stored int64
			err := tx.QueryRow(ctx, `SELECT revision FROM clients WHERE id = $1`, c.ID).Scan(&stored)
			switch {
			case err == nil:
				return fmt.Errorf("%q: revision %d, stored %d: %w", c.ID, c.Revision, stored, store.ErrConflict)
			case errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("%q: %w", c.ID, store.ErrNotFound)
			}
			return err
		}
		if err != nil {
			return err
		}
		if err := tokenHashTaken(ctx, tx, c); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM client_token_siblings WHERE client_id = $1`, c.ID); err != nil {
			return err
		}
		if err := insertSiblings(ctx, tx, c); err != nil {
			return err
		}
		return revokeAccessTokens(ctx, tx, c)
	})
	if err != nil {
		return err
	}
	c.Revision = revision
	return nil
}

// DeleteClient removes the client with the given ID, its access tokens and
// its assertion records, in one transaction, or returns
// store.ErrNotFound.
//
// It deletes the client row first, which locks it until the commit: a
// concurrent CreateAccessToken, which reads the row FOR KEY SHARE, either
// waits and then finds no client, or has committed its token before the
// delete could lock the row. Such a token goes by the foreign key's cascade,
// and by the DELETE of the client's tokens that follows, which (READ
// COMMITTED) sees every commit before it.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	const op = "delete client"
	if !storableID(id) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%q: %w", id, store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM access_tokens WHERE client_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM assertion_ids WHERE client_id = $1`, id)
		return err
	})
}

// storableID reports whether id can be stored in a text column: PostgreSQL
// refuses NUL and, in a UTF8 database, invalid UTF-8. No stored client has
// any other ID, so a lookup of one is answered with store.ErrNotFound
// without asking the database, instead of with an encoding error.
func storableID(id string) bool {
	return utf8.ValidString(id) && !strings.ContainsRune(id, 0)
}

// lockTokenHashes takes the transaction-scoped advisory locks of c's token
// hashes, in ascending order of key so that two transactions never wait for
// each other's second lock. Callers take them before touching any row, which
// keeps the order of all locks the same across transactions.
func lockTokenHashes(ctx context.Context, tx pgx.Tx, c *store.Client) error {
	keys := []int64{hashLockKey(c.TokenHash)}
	if c.PreviousTokenHash != nil {
		keys = append(keys, hashLockKey(c.PreviousTokenHash))
	}
	for _, h := range c.SiblingTokenHashes {
		keys = append(keys, hashLockKey(h))
	}
	slices.Sort(keys)
	if len(keys) <= 2 {
		k1, k2 := keys[0], keys[len(keys)-1]
		// The select list is evaluated left to right. Taking a lock the
		// transaction already holds is a no-op.
		_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock($2)`, k1, k2)
		return err
	}
	// More hashes (siblings): one lock per key, in ascending order.
	for _, k := range slices.Compact(keys) {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, k); err != nil {
			return err
		}
	}
	return nil
}

// hashLockKey returns the key of the advisory lock of a token hash: the
// first 8 bytes of its SHA-256, as a big-endian int64. Two hashes that share
// a key only make their writers wait for each other.
func hashLockKey(hash []byte) int64 {
	sum := sha256.Sum256(hash)
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// errTokenHashTaken reports a token hash collision across the two hash
// columns, which the UNIQUE indexes (one per column) do not catch.
var errTokenHashTaken = fmt.Errorf("token hash: %w", store.ErrAlreadyExists)

// tokenHashTaken returns errTokenHashTaken when a client other than c has
// any of c's token hashes (TokenHash, SiblingTokenHashes, PreviousTokenHash)
// as its TokenHash, a sibling or its PreviousTokenHash.
// It runs in the write transaction after lockTokenHashes, so the answer holds
// until the transaction ends.
func tokenHashTaken(ctx context.Context, tx pgx.Tx, c *store.Client) error {
	var taken bool
	err := tx.QueryRow(ctx, queryTokenHashTaken, c.TokenHash, c.PreviousTokenHash, c.ID).Scan(&taken)
	if err == nil && !taken && len(c.SiblingTokenHashes) > 0 {
		err = tx.QueryRow(ctx, querySiblingsTaken, c.SiblingTokenHashes, c.ID).Scan(&taken)
	}
	switch {
	case err != nil:
		return err
	case taken:
		return errTokenHashTaken
	}
	return nil
}

// scanClient reads the clientColumns of row. A missing row is
// store.ErrNotFound.
func scanClient(row pgx.Row) (*store.Client, error) {
	var (
		c                                 store.Client
		secretExp, prevSecretExp, prevExp pgtype.Timestamptz
		lastUsed, disabled                pgtype.Timestamptz
	)
	err := row.Scan(&c.ID, &c.IssuedAt, &c.UpdatedAt, &c.Revision, &c.Metadata,
		&c.SecretHash, &secretExp,
		&c.SecretCiphertext, &c.PreviousSecretHash, &c.PreviousSecretCiphertext, &prevSecretExp,
		&c.TokenHash, &c.PreviousTokenHash, &prevExp, &c.Policy, &c.SiblingTokenHashes,
		&c.Origin, &lastUsed, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.IssuedAt = c.IssuedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.SecretExpiresAt = fromNullTime(secretExp)
	c.LastUsedAt = fromNullTime(lastUsed)
	c.DisabledAt = fromNullTime(disabled)
	c.PreviousSecretExpiresAt = fromNullTime(prevSecretExp)
	c.PreviousTokenExpiresAt = fromNullTime(prevExp)
	if len(c.SiblingTokenHashes) == 0 {
		c.SiblingTokenHashes = nil // an empty list reads back as nil
	}
	return &c, nil
}

// nullTime returns t for a timestamptz column, NULL for the zero time.
func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// fromNullTime returns the time of a timestamptz column in UTC, or the zero
// time for NULL.
func fromNullTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
