package store

import (
	"context"
	"time"
)

// Session is a signed-in user's session at the server's own pages (sign-in,
// consent, sign-out): the standalone server creates one when a user signs
// in and finds it again from the browser's cookie. It belongs to nobody (no
// client): deleting a client leaves sessions alone, and DeleteExpired
// removes the expired ones.
type Session struct {
	// Hash is the keyed hash of the random session id that the cookie
	// carries; it is the record's identity. The id itself is never stored.
	Hash []byte
	// Subject is the signed-in user, as the tokens issued to the user name
	// them.
	Subject string
	// Name is what the pages show for the user (a name or an email
	// address); it is never the identity.
	Name string
	// Claims is opaque to the store (the server keeps JSON there); nil for
	// none.
	Claims []byte
	// CreatedAt is when the user signed in; LastSeenAt when the session was
	// last used (updated coarsely, see TouchSession).
	CreatedAt  time.Time
	LastSeenAt time.Time
	// IdleExpiresAt ends the session when it goes unused until then; it
	// moves with each TouchSession. ExpiresAt ends it whatever its use.
	// Neither is zero.
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
}

// SessionStore keeps sessions. Expiry is the caller's concern (GetSession
// returns an expired session that DeleteExpired has not removed yet);
// DeleteExpired removes a session once IdleExpiresAt or ExpiresAt has
// passed.
type SessionStore interface {
	// CreateSession stores a new session. It returns ErrAlreadyExists when
	// the hash is taken.
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns the session with the given hash, or ErrNotFound.
	GetSession(ctx context.Context, hash []byte) (*Session, error)
	// TouchSession sets the session's LastSeenAt and IdleExpiresAt, or
	// returns ErrNotFound. Callers touch coarsely (the standalone server at
	// most once a minute per session), so that a page view is not a write.
	TouchSession(ctx context.Context, hash []byte, lastSeen, idleExpiresAt time.Time) error
	// DeleteSession removes the session with the given hash (sign-out), or
	// returns ErrNotFound.
	DeleteSession(ctx context.Context, hash []byte) error
}
