package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"
)

// CreateSession stores se. It returns store.ErrAlreadyExists when a
// session with the same Hash exists.
func (s *Store) CreateSession(ctx context.Context, se *store.Session) error {
	const op = "create session"
	if !storableID(se.Subject) || !storableID(se.Name) {
		return fmt.Errorf("postgres: %s: subject or name holds a NUL byte or invalid UTF-8", op)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, subject, name, claims, created_at, last_seen_at, idle_expires_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		se.Hash, se.Subject, se.Name, se.Claims, se.CreatedAt, se.LastSeenAt, se.IdleExpiresAt, se.ExpiresAt)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	return nil
}

// GetSession returns the session with the given hash, or
// store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, hash []byte) (*store.Session, error) {
	var se store.Session
	err := s.pool.QueryRow(ctx,
		`SELECT hash, subject, name, claims, created_at, last_seen_at, idle_expires_at, expires_at FROM sessions WHERE hash = $1`,
		hash).Scan(&se.Hash, &se.Subject, &se.Name, &se.Claims, &se.CreatedAt, &se.LastSeenAt, &se.IdleExpiresAt, &se.ExpiresAt)
	if err != nil {
		return nil, s.mapErr(ctx, "get session", err)
	}
	se.CreatedAt, se.LastSeenAt = se.CreatedAt.UTC(), se.LastSeenAt.UTC()
	se.IdleExpiresAt, se.ExpiresAt = se.IdleExpiresAt.UTC(), se.ExpiresAt.UTC()
	return &se, nil
}

// TouchSession sets the session's LastSeenAt and IdleExpiresAt, or returns
// store.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, hash []byte, lastSeen, idleExpiresAt time.Time) error {
	const op = "touch session"
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE hash = $3`, lastSeen, idleExpiresAt, hash)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// DeleteSession removes the session with the given hash, or returns
// store.ErrNotFound.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	const op = "delete session"
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}
