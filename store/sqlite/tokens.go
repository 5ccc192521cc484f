package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/clientreg/clientreg/store"
)

// tokenColumns are the columns of initial_tokens that scanToken reads, in
// its order.
const tokenColumns = `hash, created_at, expires_at, max_uses, uses, policy`

// The write statements of initial tokens, prepared on the writer at Open.
const (
	queryInsertToken = `INSERT INTO initial_tokens (` + tokenColumns + `) VALUES (?, ?, ?, ?, ?, ?)`
	queryUseToken    = `UPDATE initial_tokens SET uses = uses + 1
WHERE hash = ?
	AND (max_uses = 0 OR uses < max_uses)
	AND (expires_at IS NULL OR expires_at > ?)
RETURNING ` + tokenColumns
)

// CreateInitialToken stores t, or returns store.ErrAlreadyExists when a
// token with the same Hash exists.
func (s *Store) CreateInitialToken(ctx context.Context, t *store.InitialToken) error {
	return s.write(ctx, "create initial token", func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, queryInsertToken,
			t.Hash, t.CreatedAt.UnixMicro(), nullMicro(t.ExpiresAt), t.MaxUses, t.Uses, t.Policy)
		return err
	})
}

// GetInitialToken returns the token with the given hash, or
// store.ErrNotFound.
func (s *Store) GetInitialToken(ctx context.Context, hash []byte) (*store.InitialToken, error) {
	t, err := scanToken(s.readRow(ctx,
		`SELECT `+tokenColumns+` FROM initial_tokens WHERE hash = ?`, hash))
	if err != nil {
		return nil, s.mapErr(ctx, "get initial token", err)
	}
	return t, nil
}

// UseInitialToken records one use of the token with the given hash if it is
// usable at now, and returns the updated token. It returns
// store.ErrNotFound when the token does not exist, has expired or is used
// up. The check and the count are one UPDATE statement, so concurrent uses
// never exceed MaxUses.
func (s *Store) UseInitialToken(ctx context.Context, hash []byte, now time.Time) (*store.InitialToken, error) {
	var t *store.InitialToken
	err := s.write(ctx, "use initial token", func(ctx context.Context, tx *sql.Tx) error {
		var err error
		t, err = scanToken(s.queryRow(ctx, tx, queryUseToken, hash, now.UnixMicro()))
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// scanToken reads an initial token from row. A missing row is
// store.ErrNotFound.
func scanToken(row scanner) (*store.InitialToken, error) {
	var (
		t       store.InitialToken
		created int64
		expires sql.NullInt64
	)
	err := row.Scan(&t.Hash, &created, &expires, &t.MaxUses, &t.Uses, &t.Policy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if t.Hash == nil {
		t.Hash = []byte{} // NOT NULL
	}
	t.CreatedAt = fromMicro(created)
	t.ExpiresAt = fromNullMicro(expires)
	return &t, nil
}
