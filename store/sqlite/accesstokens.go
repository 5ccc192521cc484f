package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// CreateAccessToken stores t. It returns store.ErrNotFound when no
// client t.ClientID exists or the client is disabled, and
// store.ErrAlreadyExists when a token with the same Hash exists.
//
// The token is inserted by one INSERT ... SELECT that finds the client in
// the primary key index and, in the partial index clients_disabled, which
// holds only the disabled clients, that it is not disabled: for an enabled
// client, neither reads its row (migration 0011). Writes
// run one at a time (through the one writer connection, and under the
// database's write lock across processes), so a concurrent DeleteClient or
// SetClientDisabled either ran before, and nothing is inserted, or runs
// after, and deletes the token with the client's others.
func (s *Store) CreateAccessToken(ctx context.Context, t *store.AccessToken) error {
	return s.write(ctx, "create access token", func(ctx context.Context, tx *sql.Tx) error {
		return s.insertAccessToken(ctx, tx, t)
	})
}

// insertAccessToken inserts t in tx: store.ErrNotFound when its client
// does not exist or is disabled, or its grant does not exist (the grant by
// the foreign key of grant_id), store.ErrAlreadyExists when its hash is
// taken. CreateAccessToken, RedeemCode and UpdateGrant store their tokens
// through it, so none stores a token for a disabled client.
func (s *Store) insertAccessToken(ctx context.Context, tx *sql.Tx, t *store.AccessToken) error {
	var grant any // NULL for none
	if t.GrantID != "" {
		grant = t.GrantID
	}
	res, err := s.exec(ctx, tx, queryInsertAccessToken,
		t.Hash, t.Scope, t.IssuedAt.UnixMicro(), t.ExpiresAt.UnixMicro(), grant, t.Subject, encodeStrings(t.Resources), t.ClientID)
	if se, ok := errors.AsType[*sqlitedrv.Error](err); ok && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		// The grant does not exist (the SELECT found the client, unless
		// another program changed the database without the store).
		return fmt.Errorf("client %q or grant %q: %w: %w", t.ClientID, t.GrantID, store.ErrNotFound, err)
	}
	if err != nil {
		return err
	}
	return wantRow(res, fmt.Sprintf("client %q (or it is disabled)", t.ClientID), store.ErrNotFound)
}

// wantRow returns nil when res affected a row, and else an error wrapping
// sentinel, described by what.
func wantRow(res sql.Result, what string, sentinel error) error {
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("%s: %w", what, sentinel)
	}
	return nil
}

// GetAccessToken returns the access token with the given hash, or
// store.ErrNotFound. Expiry is the caller's concern.
func (s *Store) GetAccessToken(ctx context.Context, hash []byte) (*store.AccessToken, error) {
	const op = "get access token"
	var (
		t               store.AccessToken
		issued, expires int64
		grant           sql.NullString
		resources       []byte
	)
	err := s.readRow(ctx,
		`SELECT hash, client_id, scope, issued_at, expires_at, grant_id, subject, resources FROM access_tokens WHERE hash = ?`, hash,
	).Scan(&t.Hash, &t.ClientID, &t.Scope, &issued, &expires, &grant, &t.Subject, &resources)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	if err == nil {
		t.GrantID = grant.String
		t.Resources, err = decodeStrings(resources)
	}
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	if t.Hash == nil {
		t.Hash = []byte{} // NOT NULL
	}
	t.IssuedAt = fromMicro(issued)
	t.ExpiresAt = fromMicro(expires)
	return &t, nil
}

// DeleteAccessToken removes the access token with the given hash, or
// returns store.ErrNotFound.
func (s *Store) DeleteAccessToken(ctx context.Context, hash []byte) error {
	return s.write(ctx, "delete access token", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryDeleteAccessToken, hash)
		if err != nil {
			return err
		}
		return wantRow(res, "access token", store.ErrNotFound)
	})
}

// UseAssertionID records that client clientID used the assertion jti, valid
// until expiresAt. It returns store.ErrAlreadyExists when the client
// recorded the same jti before and that record has not expired at now
// (expires_at > now); an expired record is replaced. JWT IDs compare byte
// for byte. The check and the write are one statement (an upsert whose
// update applies only to an expired record), so of several concurrent uses of
// one jti exactly one succeeds.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error {
	return s.write(ctx, "use assertion ID", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryUseAssertionID, clientID, jti, expiresAt.UnixMicro(), now.UnixMicro())
		if err != nil {
			return err
		}
		return wantRow(res, "assertion ID", store.ErrAlreadyExists)
	})
}

// DeleteExpired removes the access tokens, assertion records,
// authorization records, signing keys, idempotency records and sessions
// that expired before now (expires_at < now; see store.AccessTokenStore),
// in one transaction, and returns how many it removed.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.write(ctx, "delete expired", func(ctx context.Context, tx *sql.Tx) error {
		total = 0
		for _, q := range []string{queryDeleteExpiredAccessTokens, queryDeleteExpiredAssertions,
			queryDeleteExpiredPending, queryDeleteExpiredCodes, queryDeleteExpiredGrants, queryDeleteExpiredConsents,
			queryDeleteExpiredSigningKeys, queryDeleteExpiredIdempotencyKeys, queryDeleteExpiredSessions} {
			res, err := s.exec(ctx, tx, q, now.UnixMicro())
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// The write statements of access tokens and assertion IDs, prepared on the
// writer at Open.
const (
	queryInsertAccessToken = `INSERT INTO access_tokens (hash, client_id, scope, issued_at, expires_at, grant_id, subject, resources)
SELECT ?, c.id, ?, ?, ?, ?, ?, ? FROM clients AS c WHERE c.id = ?
	AND NOT EXISTS (SELECT 1 FROM clients AS d INDEXED BY clients_disabled WHERE d.id = c.id AND d.disabled_at IS NOT NULL)`
	queryDeleteAccessToken = `DELETE FROM access_tokens WHERE hash = ?`
	queryUseAssertionID    = `INSERT INTO assertion_ids (client_id, jti, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
WHERE assertion_ids.expires_at <= ?4`
	queryDeleteExpiredAccessTokens = `DELETE FROM access_tokens WHERE expires_at < ?`
	queryDeleteExpiredAssertions   = `DELETE FROM assertion_ids WHERE expires_at < ?`
)
