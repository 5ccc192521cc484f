package sqlite

import (
	"context"
	"database/sql"
)

// write runs fn in a write transaction on the writer connection and commits
// it if fn returns nil. Any error, of fn or of the commit, rolls the
// transaction back and is returned as mapErr maps it for operation op.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see _txlock
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return s.mapErr(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.mapErr(ctx, op, err)
	}
	return nil
}
