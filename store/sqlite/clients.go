package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clientreg/clientreg/store"
)

// clientColumns are the columns scanClient reads, in its order. The
// IS NOT NULL columns tell an empty byte string from a missing one, since the
// driver returns both as a nil slice.
const clientColumns = `id, issued_at, updated_at, revision, metadata,
	secret_hash, secret_hash IS NOT NULL, secret_expires_at,
	secret_ciphertext, secret_ciphertext IS NOT NULL,
	prev_secret_hash, prev_secret_hash IS NOT NULL,
	prev_secret_ciphertext, prev_secret_ciphertext IS NOT NULL, prev_secret_expires_at,
	token_hash, prev_token_hash, prev_token_hash IS NOT NULL, prev_token_expires_at,
	policy,
	(SELECT group_concat(hex(hash), ',' ORDER BY position) FROM client_token_siblings WHERE client_id = clients.id),
	origin, last_used_at, disabled_at`

// queryClientByID reads one client, its sibling token hashes included (the
// last column: NULL for none, else their hex encodings, comma-separated).
const queryClientByID = `SELECT ` + clientColumns + ` FROM clients WHERE id = ?`

// queryClientByTokenHash finds a client by any of its token hashes; each
// branch searches its own UNIQUE index.
const queryClientByTokenHash = `SELECT ` + clientColumns + ` FROM clients WHERE token_hash = ?1
UNION ALL
SELECT ` + clientColumns + ` FROM clients WHERE prev_token_hash = ?1
UNION ALL
SELECT ` + clientColumns + ` FROM clients WHERE id = (SELECT client_id FROM client_token_siblings WHERE hash = ?1)
LIMIT 1`

// CreateClient stores c under the conditions of opts, in one transaction:
// it records one use of the initial access token opts.InitialTokenHash
// (store.ErrNotFound when it does not exist, has expired at opts.Now or
// is used up), counts the clients of c.Policy against opts.MaxClients
// (store.ErrLimitReached), and inserts c (store.ErrAlreadyExists
// when c.ID is taken or when any of c's token hashes, TokenHash,
// SiblingTokenHashes and PreviousTokenHash, is any of another client's).
// Any failure rolls the whole transaction back, the token's use included.
//
// The count is exact across processes: writes to the database run one at a
// time, under SQLite's write lock, which the transaction takes when it
// begins (BEGIN IMMEDIATE).
func (s *Store) CreateClient(ctx context.Context, c *store.Client, opts store.CreateOptions) error {
	const op = "create client"
	return s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		if opts.InitialTokenHash != nil {
			// UseInitialToken's statement; no usable token is ErrNotFound.
			if _, err := scanToken(s.queryRow(ctx, tx, queryUseToken, opts.InitialTokenHash, opts.Now.UnixMicro())); err != nil {
				return fmt.Errorf("initial token: %w", err)
			}
		}
		if opts.MaxClients > 0 {
			q := queryCountPolicy
			if c.Policy == "" {
				q = queryCountNoPolicy
			}
			var n int64
			if err := s.queryRow(ctx, tx, q, c.Policy, opts.MaxClients).Scan(&n); err != nil {
				return err
			}
			if n >= opts.MaxClients {
				return fmt.Errorf("policy %q has %d clients: %w", c.Policy, n, store.ErrLimitReached)
			}
		}
		res, err := s.exec(ctx, tx, queryInsertClient,
			c.ID, c.IssuedAt.UnixMicro(), c.UpdatedAt.UnixMicro(), c.Revision, c.Metadata,
			c.SecretHash, nullMicro(c.SecretExpiresAt),
			c.SecretCiphertext, c.PreviousSecretHash, c.PreviousSecretCiphertext, nullMicro(c.PreviousSecretExpiresAt),
			c.TokenHash, c.PreviousTokenHash, nullMicro(c.PreviousTokenExpiresAt), c.Policy,
			c.Origin, nullMicro(c.LastUsedAt), nullMicro(c.DisabledAt),
		)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		switch {
		case err != nil:
			return err
		case n == 0: // the INSERT's condition: see queryInsertClient
			return errTokenHashTaken
		}
		return s.insertSiblings(ctx, tx, c)
	})
}

// revokeAccessTokens deletes the access tokens of c that
// c.RevokeAccessTokens selects, in tx.
func (s *Store) revokeAccessTokens(ctx context.Context, tx *sql.Tx, c *store.Client) error {
	r := c.RevokeAccessTokens
	switch {
	case r == nil:
		return nil
	case r.All:
		_, err := s.exec(ctx, tx, queryDeleteClientTokens, c.ID)
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT hash, scope FROM access_tokens WHERE client_id = ?`, c.ID)
	if err != nil {
		return err
	}
	var doomed [][]byte
	for rows.Next() {
		var h []byte
		var scope string
		if err := rows.Scan(&h, &scope); err != nil {
			rows.Close()
			return err
		}
		if r.Selects(scope) {
			doomed = append(doomed, h)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, h := range doomed {
		if _, err := s.exec(ctx, tx, queryDeleteAccessToken, h); err != nil {
			return err
		}
	}
	return nil
}

// insertSiblings stores c.SiblingTokenHashes, in order, if each is free:
// not the TokenHash or PreviousTokenHash of another client (a condition of
// queryInsertSibling) nor another client's sibling (the primary key).
func (s *Store) insertSiblings(ctx context.Context, tx *sql.Tx, c *store.Client) error {
	for i, h := range c.SiblingTokenHashes {
		res, err := s.exec(ctx, tx, queryInsertSibling, h, c.ID, i)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		switch {
		case err != nil:
			return err
		case n == 0:
			return errTokenHashTaken
		}
	}
	return nil
}

// GetClient returns the client with the given ID, or store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := s.scanClient(s.readRow(ctx, queryClientByID, id))
	if err != nil {
		return nil, s.mapErr(ctx, "get client", err)
	}
	return c, nil
}

// GetClientByTokenHash returns the client whose TokenHash, one of whose
// SiblingTokenHashes, or whose PreviousTokenHash equals hash, or
// store.ErrNotFound.
func (s *Store) GetClientByTokenHash(ctx context.Context, hash []byte) (*store.Client, error) {
	c, err := s.scanClient(s.readRow(ctx, queryClientByTokenHash, hash))
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
func (s *Store) UpdateClient(ctx context.Context, c *store.Client) error {
	const op = "update client"
	err := s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryUpdateClient,
			c.IssuedAt.UnixMicro(), c.UpdatedAt.UnixMicro(), c.Metadata,
			c.SecretHash, nullMicro(c.SecretExpiresAt),
			c.SecretCiphertext, c.PreviousSecretHash, c.PreviousSecretCiphertext, nullMicro(c.PreviousSecretExpiresAt),
			c.TokenHash, c.PreviousTokenHash, nullMicro(c.PreviousTokenExpiresAt), c.Policy,
			c.ID, c.Revision,
		)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			// Which of the UPDATE's conditions failed, in the order of
			// precedence: see queryUpdateClient.
			var stored int64
			err := s.queryRow(ctx, tx, queryClientRevision, c.ID).Scan(&stored)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("%q: %w", c.ID, store.ErrNotFound)
			case err != nil:
				return err
			case stored != c.Revision:
				return fmt.Errorf("%q: revision %d, stored %d: %w", c.ID, c.Revision, stored, store.ErrConflict)
			}
			return errTokenHashTaken
		}
		if _, err := s.exec(ctx, tx, queryDeleteSiblings, c.ID); err != nil {
			return err
		}
		if err := s.insertSiblings(ctx, tx, c); err != nil {
			return err
		}
		return s.revokeAccessTokens(ctx, tx, c)
	})
	if err != nil {
		return err
	}
	c.Revision++
	return nil
}

// DeleteClient removes the client with the given ID, its access tokens and
// its assertion records, in one transaction, or returns
// store.ErrNotFound. The access tokens would go with the client anyway,
// by the foreign key's ON DELETE CASCADE; deleting them explicitly does not
// depend on foreign_keys=ON, which every connection must set for itself.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.write(ctx, "delete client", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryDeleteClient, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%q: %w", id, store.ErrNotFound)
		}
		for _, q := range []string{queryDeleteClientTokens, queryDeleteClientAssertions, queryDeleteSiblings} {
			if _, err := s.exec(ctx, tx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// errTokenHashTaken reports a token hash collision across the two hash
// columns, which the UNIQUE indexes (one per column) do not catch.
var errTokenHashTaken = fmt.Errorf("token hash: %w", store.ErrAlreadyExists)

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// scanClient reads the clientColumns of row. A missing row is
// store.ErrNotFound.
func (s *Store) scanClient(row scanner) (*store.Client, error) {
	var (
		c                                 store.Client
		issued, updated                   int64
		hasSecret, hasCipher, hasPrev     bool
		hasPrevSecret, hasPrevCipher      bool
		secretExp, prevSecretExp, prevExp sql.NullInt64
		siblings                          sql.NullString
		lastUsed, disabled                sql.NullInt64
	)
	err := row.Scan(&c.ID, &issued, &updated, &c.Revision, &c.Metadata,
		&c.SecretHash, &hasSecret, &secretExp,
		&c.SecretCiphertext, &hasCipher,
		&c.PreviousSecretHash, &hasPrevSecret,
		&c.PreviousSecretCiphertext, &hasPrevCipher, &prevSecretExp,
		&c.TokenHash, &c.PreviousTokenHash, &hasPrev, &prevExp,
		&c.Policy, &siblings, &c.Origin, &lastUsed, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if siblings.Valid {
		for _, x := range strings.Split(siblings.String, ",") {
			h, err := hex.DecodeString(x)
			if err != nil {
				return nil, fmt.Errorf("sibling token hash: %w", err)
			}
			c.SiblingTokenHashes = append(c.SiblingTokenHashes, h)
		}
	}
	c.IssuedAt = fromMicro(issued)
	c.UpdatedAt = fromMicro(updated)
	c.SecretExpiresAt = fromNullMicro(secretExp)
	c.PreviousSecretExpiresAt = fromNullMicro(prevSecretExp)
	c.PreviousTokenExpiresAt = fromNullMicro(prevExp)
	c.LastUsedAt = fromNullMicro(lastUsed)
	c.DisabledAt = fromNullMicro(disabled)
	for _, f := range []struct {
		b   *[]byte
		set bool
	}{
		{&c.SecretHash, hasSecret},
		{&c.SecretCiphertext, hasCipher},
		{&c.PreviousSecretHash, hasPrevSecret},
		{&c.PreviousSecretCiphertext, hasPrevCipher},
		{&c.TokenHash, true}, // NOT NULL
		{&c.PreviousTokenHash, hasPrev},
	} {
		if f.set && *f.b == nil {
			*f.b = []byte{}
		}
	}
	return &c, nil
}

// nullMicro returns t in Unix microseconds, or nil (NULL) for the zero time.
func nullMicro(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicro returns the time of us Unix microseconds, in UTC.
func fromMicro(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}

// fromNullMicro returns the time of n, or the zero time for NULL.
func fromNullMicro(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicro(n.Int64)
}

// The write statements, prepared once on the writer connection at Open
// (see Store.exec).
//
// A registration access token hash must not be the TokenHash, a sibling
// (table client_token_siblings) or the PreviousTokenHash of another client. The UNIQUE index of each column
// fails the INSERT or UPDATE that would store a hash taken in the same
// column; the collisions across the columns (the new TokenHash as another
// client's PreviousTokenHash, the new PreviousTokenHash as another's
// TokenHash) are conditions of the statements themselves, NOT EXISTS
// subqueries that are one point lookup in one index each (a NULL hash looks
// up nothing). A statement whose condition fails writes no row, and the
// caller reports errTokenHashTaken. Writes run one at a time, so the
// condition holds until the commit.
const (
	// queryInsertClient inserts a client if its token hashes are free
	// across the columns.
	queryInsertClient = `INSERT INTO clients (
	id, issued_at, updated_at, revision, metadata, secret_hash, secret_expires_at,
	secret_ciphertext, prev_secret_hash, prev_secret_ciphertext, prev_secret_expires_at,
	token_hash, prev_token_hash, prev_token_expires_at, policy, origin, last_used_at, disabled_at
) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18
WHERE NOT EXISTS (SELECT 1 FROM clients WHERE prev_token_hash = ?12)
	AND NOT EXISTS (SELECT 1 FROM clients WHERE token_hash = ?13)
	AND NOT EXISTS (SELECT 1 FROM client_token_siblings WHERE hash = ?12)
	AND NOT EXISTS (SELECT 1 FROM client_token_siblings WHERE hash = ?13)`
	// queryUpdateClient updates client ?14 if its revision is ?15 and its
	// new token hashes are free across the columns (the client's own
	// hashes do not count: a rotation moves TokenHash to
	// PreviousTokenHash). When it updates nothing, queryClientRevision
	// tells which condition failed: no such client, another revision, or
	// else a token hash.
	queryUpdateClient = `UPDATE clients SET
	issued_at = ?1, updated_at = ?2, revision = revision + 1, metadata = ?3,
	secret_hash = ?4, secret_expires_at = ?5,
	secret_ciphertext = ?6, prev_secret_hash = ?7, prev_secret_ciphertext = ?8, prev_secret_expires_at = ?9,
	token_hash = ?10, prev_token_hash = ?11, prev_token_expires_at = ?12, policy = ?13
WHERE id = ?14 AND revision = ?15
	AND NOT EXISTS (SELECT 1 FROM clients AS o WHERE o.prev_token_hash = ?10 AND o.id <> ?14)
	AND NOT EXISTS (SELECT 1 FROM clients AS o WHERE o.token_hash = ?11 AND o.id <> ?14)
	AND NOT EXISTS (SELECT 1 FROM client_token_siblings AS o WHERE o.hash = ?10 AND o.client_id <> ?14)
	AND NOT EXISTS (SELECT 1 FROM client_token_siblings AS o WHERE o.hash = ?11 AND o.client_id <> ?14)`
	// queryInsertSibling stores sibling token hash ?1 of client ?2 at
	// position ?3 if no other client has it as TokenHash or
	// PreviousTokenHash; the primary key refuses another client's sibling.
	// The client's own old siblings are deleted first (queryDeleteSiblings).
	queryInsertSibling = `INSERT INTO client_token_siblings (hash, client_id, position)
SELECT ?1, ?2, ?3
WHERE NOT EXISTS (SELECT 1 FROM clients WHERE token_hash = ?1 AND id <> ?2)
	AND NOT EXISTS (SELECT 1 FROM clients WHERE prev_token_hash = ?1 AND id <> ?2)`
	queryDeleteSiblings         = `DELETE FROM client_token_siblings WHERE client_id = ?`
	queryClientRevision         = `SELECT revision FROM clients WHERE id = ?`
	queryDeleteClient           = `DELETE FROM clients WHERE id = ?`
	queryDeleteClientTokens     = `DELETE FROM access_tokens WHERE client_id = ?`
	queryDeleteClientAssertions = `DELETE FROM assertion_ids WHERE client_id = ?`
	// queryCountPolicy counts the clients of policy ?1, up to ?2: the
	// LIMIT bounds the work to the limit it is checked against. The term
	// policy <> '' lets SQLite use the partial index clients_policy.
	queryCountPolicy = `SELECT COUNT(*) FROM (SELECT 1 FROM clients WHERE policy = ?1 AND policy <> '' LIMIT ?2)`
	// queryCountNoPolicy is queryCountPolicy for the policy "" (?1), whose
	// clients the index leaves out: it scans the table.
	queryCountNoPolicy = `SELECT COUNT(*) FROM (SELECT 1 FROM clients WHERE policy = ?1 LIMIT ?2)`
)

// writeQueries are prepared on the writer at Open.
var writeQueries = []string{queryInsertClient, queryUpdateClient, queryClientRevision, queryDeleteClient,
	queryInsertSibling, queryDeleteSiblings,
	queryDeleteClientTokens, queryDeleteClientAssertions,
	queryCountPolicy, queryCountNoPolicy,
	querySavepoint, queryRollbackToSavepoint, queryReleaseSavepoint,
	queryInsertToken, queryUseToken,
	queryInsertAccessToken, queryDeleteAccessToken, queryUseAssertionID,
	queryDeleteExpiredAccessTokens, queryDeleteExpiredAssertions}

// exec runs q in tx, through its prepared statement when there is one: the
// statement was prepared on the writer's only connection, which tx holds,
// so SQLite does not parse the SQL again.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.prepared[q]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// queryRow is exec for a query returning one row.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.prepared[q]; st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}
