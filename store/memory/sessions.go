package memory

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/clientreg/clientreg/store"
)

// copySession returns a copy of s that shares no memory with it.
func copySession(s *store.Session) *store.Session {
	c := *s
	c.Hash = bytes.Clone(s.Hash)
	c.Claims = bytes.Clone(s.Claims)
	return &c
}

// CreateSession stores a copy of se. It returns store.ErrAlreadyExists
// when a session with the same Hash exists.
func (s *Store) CreateSession(ctx context.Context, se *store.Session) error {
	const op = "create session"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := string(se.Hash)
	if _, ok := s.sessions[h]; ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrAlreadyExists)
	}
	c := copySession(se)
	c.CreatedAt, c.LastSeenAt = c.CreatedAt.UTC(), c.LastSeenAt.UTC()
	c.IdleExpiresAt, c.ExpiresAt = c.IdleExpiresAt.UTC(), c.ExpiresAt.UTC()
	s.sessions[h] = c
	return nil
}

// GetSession returns a copy of the session with the given hash, or
// store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, hash []byte) (*store.Session, error) {
	const op = "get session"
	if err := s.usable(ctx, op); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	se, ok := s.sessions[string(hash)]
	if !ok {
		return nil, fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	return copySession(se), nil
}

// TouchSession sets the session's LastSeenAt and IdleExpiresAt, or returns
// store.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, hash []byte, lastSeen, idleExpiresAt time.Time) error {
	const op = "touch session"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.sessions[string(hash)]
	if !ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	se.LastSeenAt, se.IdleExpiresAt = lastSeen.UTC(), idleExpiresAt.UTC()
	return nil
}

// DeleteSession removes the session with the given hash, or returns
// store.ErrNotFound.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	const op = "delete session"
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[string(hash)]; !ok {
		return fmt.Errorf("memory: %s: %w", op, store.ErrNotFound)
	}
	delete(s.sessions, string(hash))
	return nil
}

// deleteExpiredSessions removes the sessions whose idle or absolute
// lifetime ended before now and returns how many. The caller holds s.mu
// for writing.
func (s *Store) deleteExpiredSessions(now time.Time) int64 {
	var n int64
	for h, se := range s.sessions {
		if se.IdleExpiresAt.Before(now) || se.ExpiresAt.Before(now) {
			delete(s.sessions, h)
			n++
		}
	}
	return n
}
