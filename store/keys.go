package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// SigningKey is a key that signs JWT access tokens (RFC 9068), as it is
// stored: the private key only encrypted, under a key the store never sees,
// and the public key as the JWK the server publishes.
//
// # Life cycle
//
// A key goes through four instants, all set when it is created, none zero,
// in this order, equal instants allowed: CreatedAt <= ActivateAt <=
// RetireAt <= ExpiresAt.
//
//   - from CreatedAt on it is published (its PublicJWK is in the JWKS) and
//     tokens signed with it are accepted, but nobody signs with it yet, so
//     that every instance and every verifier's cache fetches it before the
//     first token signed with it appears;
//   - from ActivateAt until RetireAt, instances sign with it (among the keys
//     in that window, the caller signs with the newest: the greatest
//     ActivateAt);
//   - from RetireAt until ExpiresAt, nobody signs with it, and it stays
//     published and accepted, so that every token signed with it verifies
//     until it expires: ExpiresAt is RetireAt plus the longest access token
//     lifetime;
//   - from ExpiresAt on (ExpiresAt <= now) it is neither published nor
//     accepted: ListSigningKeys leaves it out, DeleteExpired removes it once
//     ExpiresAt is before its now, and CreateSigningKey may replace it (see
//     SigningKeyStore).
//
// Which key signs and which keys are published is the caller's decision,
// from the keys ListSigningKeys returns; the store only keeps them.
//
// Times are in UTC. Backends preserve them with at least microsecond
// precision (the caller should truncate to microseconds the times it
// compares with what it reads back).
type SigningKey struct {
	// ID is the key ID, the JWS kid header of the tokens it signs: random,
	// chosen by the caller, unique among the stored keys. It is not empty
	// and is valid UTF-8 without NUL, so that every backend can store it; it
	// round-trips byte for byte.
	ID string
	// Generation numbers the rotations: the first key is generation 1, and
	// each rotation creates the key of the greatest generation listed plus
	// one. It is positive and unique among the stored keys, but a key that
	// has expired gives its generation up to a new key; it is what makes a
	// rotation happen once across instances (see SigningKeyStore).
	Generation int64
	// Algorithm is the JWS algorithm of the key ("RS256", or "ES256"; RFC
	// 7518 section 3.1). The store keeps it byte for byte without
	// interpreting it; it is not empty and is valid UTF-8 without NUL.
	Algorithm string
	// PrivateKeyCiphertext is the private key encrypted by the caller under
	// the server key. The store never sees the plaintext; it keeps the
	// ciphertext byte for byte. It is never empty.
	PrivateKeyCiphertext []byte
	// PublicJWK is the public key as a JWK JSON document (RFC 7517), kid and
	// alg included, as the caller publishes it. It is opaque to the store,
	// which keeps it byte for byte and never parses it. It is never empty.
	PublicJWK []byte
	// CreatedAt is when the key was created, and published from.
	CreatedAt time.Time
	// ActivateAt is when instances start signing with the key.
	ActivateAt time.Time
	// RetireAt is when instances stop signing with the key.
	RetireAt time.Time
	// ExpiresAt is when the key stops being published and accepted: RetireAt
	// plus the longest token lifetime.
	ExpiresAt time.Time
}

// Clone returns a deep copy of k, so that a caller may change the copy
// without touching k. Clone of nil is nil.
func (k *SigningKey) Clone() *SigningKey {
	if k == nil {
		return nil
	}
	d := *k
	d.PrivateKeyCiphertext = cloneBytes(k.PrivateKeyCiphertext)
	d.PublicJWK = cloneBytes(k.PublicJWK)
	return &d
}

// Expired reports whether k has expired at now: ExpiresAt is not after now.
// An expired key is neither published nor accepted.
func (k *SigningKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.After(now)
}

// Validate reports why k cannot be stored, or nil: an empty ID or
// Algorithm, or one that is not valid UTF-8 without NUL, a Generation that
// is not positive, an empty PrivateKeyCiphertext or PublicJWK, a zero time,
// or times out of the order CreatedAt <= ActivateAt <= RetireAt <=
// ExpiresAt. CreateSigningKey calls it first, and stores nothing when it
// fails; its error wraps none of the storage errors.
func (k *SigningKey) Validate() error {
	var problems []error
	for _, f := range []struct{ name, value string }{{"ID", k.ID}, {"Algorithm", k.Algorithm}} {
		if f.value == "" || !utf8.ValidString(f.value) || strings.ContainsRune(f.value, 0) {
			problems = append(problems, fmt.Errorf("the %s %q is not a non-empty UTF-8 string without NUL", f.name, f.value))
		}
	}
	if k.Generation < 1 {
		problems = append(problems, fmt.Errorf("the Generation %d is not positive", k.Generation))
	}
	if len(k.PrivateKeyCiphertext) == 0 {
		problems = append(problems, errors.New("the PrivateKeyCiphertext is empty"))
	}
	if len(k.PublicJWK) == 0 {
		problems = append(problems, errors.New("the PublicJWK is empty"))
	}
	times := []struct {
		name string
		t    time.Time
	}{{"CreatedAt", k.CreatedAt}, {"ActivateAt", k.ActivateAt}, {"RetireAt", k.RetireAt}, {"ExpiresAt", k.ExpiresAt}}
	for i, f := range times {
		switch {
		case f.t.IsZero():
			problems = append(problems, fmt.Errorf("the %s is zero", f.name))
		case i > 0 && !times[i-1].t.IsZero() && f.t.Before(times[i-1].t):
			problems = append(problems, fmt.Errorf("the %s %v is before the %s %v", f.name, f.t, times[i-1].name, times[i-1].t))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("signing key %q: %w", k.ID, errors.Join(problems...))
	}
	return nil
}

// SigningKeyStore stores the signing keys of JWT access tokens, shared by
// every instance that shares the store. Its methods follow the rules of
// ClientStore: safe for concurrent use, context first, values owned by the
// caller on the way in and on the way out, every field round-tripping
// exactly (times as SigningKey describes).
//
// # Rotation
//
// Rotation is the caller's schedule over these methods, made safe by
// Generation. Every instance, from time to time, lists the keys
// (ListSigningKeys at now) and, when the newest generation G listed (0 when
// none is) is due for a successor, creates the key of generation G+1 with a
// CreatedAt of now or later. Of several creations of one generation, through
// any number of stores in any number of processes at once, exactly one
// succeeds; the others get ErrAlreadyExists and store nothing, and their
// instances list again to find the winner's key, which they publish and
// later sign with instead of their own. A rotation therefore creates one key,
// whoever runs it.
//
// A stored key of generation G+1 that has expired at the new key's CreatedAt
// does not take the generation: CreateSigningKey replaces it. Since
// ListSigningKeys leaves out exactly the keys expired at its now, a caller
// whose CreatedAt is no earlier than the now it listed at gets
// ErrAlreadyExists for a generation that no listed key held only when
// another instance has created it since; an expired key that DeleteExpired
// has not removed yet never blocks a rotation, and a deployment whose keys
// all expired (one stopped for longer than a key's lifetime) starts over at
// generation 1. A deleted key's generation is free again too.
type SigningKeyStore interface {
	// CreateSigningKey stores the new key k. It returns an error wrapping
	// no storage error when k.Validate fails, and ErrAlreadyExists when
	// k.ID is the ID of another stored key (expired or not; the key that k
	// replaces does not count), or when a stored key of k.Generation has
	// not expired at k.CreatedAt. A stored key of k.Generation that has
	// expired at k.CreatedAt is replaced by k.
	// On any error nothing is written. Under any concurrency, across every
	// process sharing the store, exactly one of several creations of one
	// generation succeeds.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every stored key that has not expired at now
	// (ExpiresAt after now), ordered by ActivateAt, then by ID (byte-wise),
	// in a slice the caller owns; an empty slice, or nil, when there is
	// none.
	ListSigningKeys(ctx context.Context, now time.Time) ([]*SigningKey, error)
	// DeleteSigningKey removes the key with the given ID, expired or not,
	// or returns ErrNotFound. Its generation is free again afterwards. It is
	// for a key that must stop being trusted at once (a compromised key);
	// expired keys go with DeleteExpired.
	DeleteSigningKey(ctx context.Context, id string) error
}
