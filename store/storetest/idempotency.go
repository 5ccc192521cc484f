package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// RunIdempotency runs the conformance suite of store.IdempotencyStore
// against the stores that newStore returns; Run runs it too, as its subtest
// Idempotency. Each subtest calls newStore once and expects an empty store.
// It checks:
//
//   - an exact round trip of a reservation and of its completion (hashes
//     and ciphertext byte for byte, nil ciphertext while pending, times in
//     UTC to the microsecond, values owned by the caller);
//   - ErrAlreadyExists, with nothing written, for a key held by a record
//     that has not expired, pending or done; an expired record is replaced;
//   - Complete and Release act only on the pending reservation they name
//     (key and CreatedAt), and answer ErrNotFound otherwise; a done record
//     is never released;
//   - of concurrent reservations of one key exactly one succeeds;
//   - DeleteExpired removes exactly the records whose ExpiresAt is before
//     now, and counts them.
func RunIdempotency(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"IdempotencyRoundTrip", testIdempotencyRoundTrip},
		{"IdempotencyTaken", testIdempotencyTaken},
		{"IdempotencyCompleteRelease", testIdempotencyCompleteRelease},
		{"IdempotencyConcurrentReserve", testIdempotencyConcurrentReserve},
		{"IdempotencyDeleteExpired", testIdempotencyDeleteExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// newReservation returns a pending reservation of key made at created,
// with a lease of a minute.
func newReservation(key string, created time.Time) *store.IdempotencyRecord {
	return &store.IdempotencyRecord{
		KeyHash:     hash("idempotency key " + key),
		RequestHash: hash("request " + key),
		State:       store.IdempotencyPending,
		CreatedAt:   created,
		ExpiresAt:   created.Add(time.Minute),
	}
}

func mustReserve(t *testing.T, s store.Store, r *store.IdempotencyRecord) {
	t.Helper()
	if err := s.ReserveIdempotencyKey(context.Background(), r); err != nil {
		t.Fatalf("ReserveIdempotencyKey: %v", err)
	}
}

// wantIdempotency fails the test unless the record of want.KeyHash reads
// back as want.
func wantIdempotency(t *testing.T, s store.Store, want *store.IdempotencyRecord) {
	t.Helper()
	got, err := s.GetIdempotencyKey(context.Background(), want.KeyHash)
	if err != nil {
		t.Fatalf("GetIdempotencyKey: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetIdempotencyKey = %+v, want %+v", got, want)
	}
}

func testIdempotencyRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.GetIdempotencyKey(ctx, hash("none")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIdempotencyKey of a missing key: %v, want ErrNotFound", err)
	}
	r := newReservation("k", base)
	mustReserve(t, s, r)
	want := r.Clone()
	r.KeyHash[0] ^= 1 // the store keeps its own copy
	wantIdempotency(t, s, want)

	got, _ := s.GetIdempotencyKey(ctx, want.KeyHash)
	got.RequestHash[0] ^= 1 // and hands out copies
	wantIdempotency(t, s, want)

	response := []byte("sealed \x00 response")
	expires := base.Add(24 * time.Hour)
	if err := s.CompleteIdempotencyKey(ctx, want.KeyHash, want.CreatedAt, response, expires); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	response[0] = 'X'
	want.State, want.ResponseCiphertext, want.ExpiresAt = store.IdempotencyDone, []byte("sealed \x00 response"), expires
	wantIdempotency(t, s, want)

	// Times in another zone read back in UTC.
	local := newReservation("local", base.In(time.FixedZone("x", 3600)))
	mustReserve(t, s, local)
	local.CreatedAt, local.ExpiresAt = local.CreatedAt.UTC(), local.ExpiresAt.UTC()
	wantIdempotency(t, s, local)
}

func testIdempotencyTaken(t *testing.T, s store.Store) {
	ctx := context.Background()
	pending := newReservation("pending", base)
	mustReserve(t, s, pending)
	again := newReservation("pending", base.Add(30*time.Second))
	again.RequestHash = hash("another request")
	if err := s.ReserveIdempotencyKey(ctx, again); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("reserving a pending key: %v, want ErrAlreadyExists", err)
	}
	wantIdempotency(t, s, pending)

	done := newReservation("done", base)
	mustReserve(t, s, done)
	if err := s.CompleteIdempotencyKey(ctx, done.KeyHash, done.CreatedAt, []byte("r"), base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReserveIdempotencyKey(ctx, newReservation("done", base.Add(59*time.Minute))); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("reserving a done key: %v, want ErrAlreadyExists", err)
	}

	// At the lease's end the key is free: the new reservation replaces
	// the expired one, which can no longer be completed.
	later := newReservation("pending", base.Add(time.Minute))
	mustReserve(t, s, later)
	wantIdempotency(t, s, later)
	if err := s.CompleteIdempotencyKey(ctx, pending.KeyHash, pending.CreatedAt, []byte("r"), base.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing a replaced reservation: %v, want ErrNotFound", err)
	}
	wantIdempotency(t, s, later)
	// So is a done key at its expiry.
	mustReserve(t, s, newReservation("done", base.Add(time.Hour)))
}

func testIdempotencyCompleteRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	r := newReservation("k", base)
	mustReserve(t, s, r)
	if err := s.CompleteIdempotencyKey(ctx, r.KeyHash, base.Add(time.Microsecond), []byte("r"), base.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing another reservation: %v, want ErrNotFound", err)
	}
	if err := s.ReleaseIdempotencyKey(ctx, r.KeyHash, base.Add(time.Microsecond)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("releasing another reservation: %v, want ErrNotFound", err)
	}
	if err := s.ReleaseIdempotencyKey(ctx, hash("none"), base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("releasing a missing key: %v, want ErrNotFound", err)
	}
	wantIdempotency(t, s, r)
	if err := s.ReleaseIdempotencyKey(ctx, r.KeyHash, r.CreatedAt); err != nil {
		t.Fatalf("ReleaseIdempotencyKey: %v", err)
	}
	if _, err := s.GetIdempotencyKey(ctx, r.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a released key: %v, want ErrNotFound", err)
	}
	if err := s.CompleteIdempotencyKey(ctx, r.KeyHash, r.CreatedAt, []byte("r"), base.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing a released reservation: %v, want ErrNotFound", err)
	}
	// The key is free again at once.
	r2 := newReservation("k", base.Add(time.Second))
	mustReserve(t, s, r2)
	if err := s.CompleteIdempotencyKey(ctx, r2.KeyHash, r2.CreatedAt, []byte("r"), base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteIdempotencyKey(ctx, r2.KeyHash, r2.CreatedAt, []byte("again"), base.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completing twice: %v, want ErrNotFound", err)
	}
	if err := s.ReleaseIdempotencyKey(ctx, r2.KeyHash, r2.CreatedAt); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("releasing a done record: %v, want ErrNotFound", err)
	}
	r2.State, r2.ResponseCiphertext, r2.ExpiresAt = store.IdempotencyDone, []byte("r"), base.Add(time.Hour)
	wantIdempotency(t, s, r2)
}

func testIdempotencyConcurrentReserve(t *testing.T, s store.Store) {
	testIdempotencyReserveRace(t, s, s)
}

// testIdempotencyReserveRace has requests race to reserve one key through
// a and b, round after round; exactly one wins each round, and both stores
// then read the winner's reservation.
func testIdempotencyReserveRace(t *testing.T, a, b store.Store) {
	const rounds, racers = 20, 8
	for round := range rounds {
		key := fmt.Sprintf("key %d", round)
		rs := make([]*store.IdempotencyRecord, racers)
		for i := range rs {
			rs[i] = newReservation(key, base)
			rs[i].RequestHash = hash(fmt.Sprintf("request %d/%d", round, i))
		}
		errs := sharedRace(a, b, racers, func(s store.Store, i int) error {
			return s.ReserveIdempotencyKey(context.Background(), rs[i])
		})
		w := oneWinner(t, fmt.Sprintf("round %d", round), errs, store.ErrAlreadyExists)
		wantIdempotency(t, a, rs[w])
		wantIdempotency(t, b, rs[w])
	}
}

func testIdempotencyDeleteExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	expired := newReservation("expired", base.Add(-2*time.Minute)) // expires a minute before base
	atNow := newReservation("at now", base.Add(-time.Minute))      // expires at base: not before it
	live := newReservation("live", base)
	for _, r := range []*store.IdempotencyRecord{expired, atNow, live} {
		mustReserve(t, s, r)
	}
	n, err := s.DeleteExpired(ctx, base)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if _, err := s.GetIdempotencyKey(ctx, expired.KeyHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the expired record: %v, want ErrNotFound", err)
	}
	wantIdempotency(t, s, atNow)
	wantIdempotency(t, s, live)
}
