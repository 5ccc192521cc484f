package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/clientreg/clientreg/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// tokenColumns are the columns scanToken reads, in its order.
const tokenColumns = `hash, created_at, expires_at, max_uses, uses, policy`

// queryUseToken records one use of the initial token $1 if it is usable at
// $2, and returns it; used by UseInitialToken and by CreateClient for
// CreateOptions.InitialTokenHash.
const queryUseToken = `UPDATE initial_tokens SET uses = uses + 1
WHERE hash = $1
	AND (max_uses = 0 OR uses < max_uses)
	AND (expires_at IS NULL OR expires_at > $2)
RETURNING ` + tokenColumns

// CreateInitialToken stores t, or returns store.ErrAlreadyExists when a
// token with the same Hash exists.
func (s *Store) CreateInitialToken(ctx context.Context, t *store.InitialToken) error {
	if _, err := s.pool.Exec(ctx,
		`INSERT INTO initial_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.CreatedAt, nullTime(t.ExpiresAt), t.MaxUses, t.Uses, t.Policy,
	); err != nil {
		return s.mapErr(ctx, "create initial token", err)
	}
	return nil
}

// GetInitialToken returns the token with the given hash, or
// store.ErrNotFound.
func (s *Store) GetInitialToken(ctx context.Context, hash []byte) (*store.InitialToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx,
		`SELECT `+tokenColumns+` FROM initial_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get initial token", err)
	}
	return t, nil
}

// UseInitialToken records one use of the token with the given hash if it is
// usable at now, and returns the updated token. It returns
// store.ErrNotFound when the token does not exist, has expired or is used
// up. The check and the count are one UPDATE statement: concurrent uses of
// the same token wait for each other's commit and re-check the condition on
// the row as updated, so they never exceed MaxUses.
func (s *Store) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*store.InitialToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, queryUseToken, hash, now))
	if err != nil {
		return nil, s.mapErr(ctx, "use initial token", err)
	}
	return t, nil
}

// scanToken reads the tokenColumns of row. A missing row is
// store.ErrNotFound.
func scanToken(row pgx.Row) (*store.InitialToken, error) {
	var (
		t       store.InitialToken
		expires pgtype.Timestamptz
	)
	err := row.Scan(&t.Hash, &t.CreatedAt, &expires, &t.MaxUses, &t.Uses, &t.Policy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt = fromNullTime(expires)
	return &t, nil
}
