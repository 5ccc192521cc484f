package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"
)

func init() {
	writeQueries = append(writeQueries, queryInsertSession, queryTouchSession, queryDeleteSession, queryDeleteExpiredSessions)
}

// The write statements of sessions, prepared on the writer at Open.
const (
	queryInsertSession = `INSERT INTO sessions (hash, subject, name, claims, created_at, last_seen_at, idle_expires_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	queryTouchSession          = `UPDATE sessions SET last_seen_at = ?, idle_expires_at = ? WHERE hash = ?`
	queryDeleteSession         = `DELETE FROM sessions WHERE hash = ?`
	queryDeleteExpiredSessions = `DELETE FROM sessions WHERE idle_expires_at < ?1 OR expires_at < ?1`
)

// CreateSession stores se. It returns store.ErrAlreadyExists when a
// session with the same Hash exists.
func (s *Store) CreateSession(ctx context.Context, se *store.Session) error {
	return s.write(ctx, "create session", func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, queryInsertSession, se.Hash, se.Subject, se.Name, se.Claims,
			se.CreatedAt.UnixMicro(), se.LastSeenAt.UnixMicro(), se.IdleExpiresAt.UnixMicro(), se.ExpiresAt.UnixMicro())
		return err
	})
}

// GetSession returns the session with the given hash, or
// store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, hash []byte) (*store.Session, error) {
	const op = "get session"
	var (
		se                           store.Session
		created, seen, idle, expires int64
	)
	err := s.readRow(ctx,
		`SELECT hash, subject, name, claims, created_at, last_seen_at, idle_expires_at, expires_at FROM sessions WHERE hash = ?`,
		hash).Scan(&se.Hash, &se.Subject, &se.Name, &se.Claims, &created, &seen, &idle, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	se.CreatedAt, se.LastSeenAt = fromMicro(created), fromMicro(seen)
	se.IdleExpiresAt, se.ExpiresAt = fromMicro(idle), fromMicro(expires)
	return &se, nil
}

// TouchSession sets the session's LastSeenAt and IdleExpiresAt, or returns
// store.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, hash []byte, lastSeen, idleExpiresAt time.Time) error {
	return s.write(ctx, "touch session", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryTouchSession, lastSeen.UnixMicro(), idleExpiresAt.UnixMicro(), hash)
		if err != nil {
			return err
		}
		return wantRow(res, "session", store.ErrNotFound)
	})
}

// DeleteSession removes the session with the given hash, or returns
// store.ErrNotFound.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	return s.write(ctx, "delete session", func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, queryDeleteSession, hash)
		if err != nil {
			return err
		}
		return wantRow(res, "session", store.ErrNotFound)
	})
}
