package cli

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/clientreg/clientreg/store"
)

// Session lifetimes: the defaults of --session-idle and --session-lifetime,
// and how often, at most, a session's last use is written.
const (
	defaultSessionIdle     = time.Hour
	defaultSessionLifetime = 12 * time.Hour
	sessionTouchEvery      = time.Minute
)

// sessions are the server-side sessions of users signed in with --login dev
// or oidc. The cookie carries a random id (32 bytes, base64url); the store
// keeps only its keyed hash (HMAC-SHA256 under a key derived from the
// server key), so that a copy of the database signs nobody in. The cookie
// is HttpOnly, SameSite=Lax (the consent page is reached by top-level
// navigations from the client and, for oidc, from the provider), and
// Secure with the __Host- prefix when the issuer is https. A session ends
// after --session-idle without use or --session-lifetime after sign-in,
// whichever comes first, and at sign-out.
type sessions struct {
	st       store.SessionStore
	key      []byte // the hash key
	secure   bool   // the issuer is https
	idle     time.Duration
	lifetime time.Duration
	now      func() time.Time
}

// session is a signed-in user as the pages see it.
type session struct {
	hash    []byte
	subject string
	name    string // shown on the pages
}

// sessionClaims is what the session keeps in store.Session.Claims.
type sessionClaims struct {
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
}

// cookieName is the session cookie's name: with the __Host- prefix on
// https, which browsers accept only with Secure, Path=/ and no Domain.
func (s *sessions) cookieName() string {
	if s.secure {
		return "__Host-clientreg_session"
	}
	return "clientreg_session"
}

func (s *sessions) hash(id string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id))
	return m.Sum(nil)
}

// create signs subject in: it stores a new session and sets its cookie.
func (s *sessions) create(ctx context.Context, w http.ResponseWriter, subject, name string, claims sessionClaims) (*session, error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now().UTC().Truncate(time.Microsecond)
	data, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	rec := &store.Session{
		Hash: s.hash(id), Subject: subject, Name: name, Claims: data,
		CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(s.idle), ExpiresAt: now.Add(s.lifetime),
	}
	if err := s.st.CreateSession(ctx, rec); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: id, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.lifetime / time.Second),
	})
	return &session{hash: rec.Hash, subject: subject, name: name}, nil
}

// get returns the signed-in user of r, or nil when there is none (no
// cookie, an unknown, ended or expired session). An error is the store's.
// It records the use at most once per sessionTouchEvery.
func (s *sessions) get(r *http.Request) (*session, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil || len(c.Value) != 43 {
		return nil, nil
	}
	h := s.hash(c.Value)
	rec, err := s.st.GetSession(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(rec.IdleExpiresAt) || !now.Before(rec.ExpiresAt) {
		return nil, nil // DeleteExpired removes it
	}
	if now.Sub(rec.LastSeenAt) >= sessionTouchEvery {
		err := s.st.TouchSession(r.Context(), h, now, now.Add(s.idle))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return &session{hash: h, subject: rec.Subject, name: rec.Name}, nil
}

// end signs the user of r out: it deletes the session and clears the
// cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request, se *session) error {
	err := s.st.DeleteSession(r.Context(), se.hash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1,
	})
	return nil
}
