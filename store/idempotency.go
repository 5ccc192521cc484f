package store

import (
	"context"
	"time"
)

// IdempotencyState is the state of an IdempotencyRecord.
type IdempotencyState string

// The states of an IdempotencyRecord.
const (
	// IdempotencyPending marks a key reserved by a request that is still
	// being processed: a second request with the key is answered 409.
	IdempotencyPending IdempotencyState = "pending"
	// IdempotencyDone marks a key whose request completed: its response is
	// in ResponseCiphertext and is replayed to a retry.
	IdempotencyDone IdempotencyState = "done"
)

// IdempotencyRecord is the record of one Idempotency-Key
// (draft-ietf-httpapi-idempotency-key-header) presented on a registration
// request, as it is stored: only keyed hashes and the response encrypted
// under a key the store never sees.
//
// Times are in UTC. Backends preserve them with at least microsecond
// precision (the caller truncates the times it compares).
type IdempotencyRecord struct {
	// KeyHash is the keyed hash of the key, scoped by the caller (to the
	// initial access token presented, for example); it is the record's
	// identity. Never empty.
	KeyHash []byte
	// RequestHash is the keyed hash of the request (its body and its
	// credentials): a retry with another RequestHash is not the same
	// request. Never empty.
	RequestHash []byte
	// State is IdempotencyPending or IdempotencyDone.
	State IdempotencyState
	// ResponseCiphertext is the response encrypted by the caller; nil while
	// State is IdempotencyPending.
	ResponseCiphertext []byte
	// CreatedAt is when the key was reserved. With KeyHash it identifies
	// one reservation: Complete and Release act only on the reservation
	// they name, never on a later one of the same key.
	CreatedAt time.Time
	// ExpiresAt ends the record: from then on (ExpiresAt <= now) the key is
	// free again, and DeleteExpired removes the record once ExpiresAt is
	// before its now. A pending record expires after a short lease (a
	// request that died holds its key no longer), a done one after the
	// replay window.
	ExpiresAt time.Time
}

// Clone returns a deep copy of r. Clone of nil is nil.
func (r *IdempotencyRecord) Clone() *IdempotencyRecord {
	if r == nil {
		return nil
	}
	d := *r
	d.KeyHash = cloneBytes(r.KeyHash)
	d.RequestHash = cloneBytes(r.RequestHash)
	d.ResponseCiphertext = cloneBytes(r.ResponseCiphertext)
	return &d
}

// Expired reports whether r has expired at now: ExpiresAt is not after now.
func (r *IdempotencyRecord) Expired(now time.Time) bool {
	return !r.ExpiresAt.After(now)
}

// IdempotencyStore stores the records of idempotency keys, shared by every
// instance that shares the store. Its methods follow the rules of
// ClientStore: safe for concurrent use, context first, values owned by the
// caller on the way in and on the way out, every field round-tripping
// exactly.
//
// A request reserves its key (ReserveIdempotencyKey, a pending record),
// does its work, and then either completes the reservation with its
// response (CompleteIdempotencyKey) or releases it (ReleaseIdempotencyKey),
// so that a retry can run. Of several reservations of one key, through any
// number of stores in any number of processes at once, exactly one
// succeeds.
type IdempotencyStore interface {
	// ReserveIdempotencyKey stores r, whose State is IdempotencyPending. It
	// returns ErrAlreadyExists, and writes nothing, when a record of
	// r.KeyHash is stored that has not expired at r.CreatedAt; an expired
	// one is replaced. Under any concurrency, across every process sharing
	// the store, exactly one of several reservations of one key succeeds.
	ReserveIdempotencyKey(ctx context.Context, r *IdempotencyRecord) error
	// CompleteIdempotencyKey turns the pending reservation of keyHash made
	// at createdAt into a done record with the given response and expiry.
	// It returns ErrNotFound, and writes nothing, when no such pending
	// reservation is stored (it was released, completed, or replaced after
	// it expired).
	CompleteIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time, response []byte, expiresAt time.Time) error
	// ReleaseIdempotencyKey deletes the pending reservation of keyHash made
	// at createdAt, or returns ErrNotFound when no such pending reservation
	// is stored. A done record is never released.
	ReleaseIdempotencyKey(ctx context.Context, keyHash []byte, createdAt time.Time) error
	// GetIdempotencyKey returns the record of keyHash, expired or not, or
	// ErrNotFound. Expiry is the caller's concern.
	GetIdempotencyKey(ctx context.Context, keyHash []byte) (*IdempotencyRecord, error)
}
