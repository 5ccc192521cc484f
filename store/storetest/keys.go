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

// RunSigningKeys runs the conformance suite of store.SigningKeyStore
// against the stores that newStore returns; Run runs it too, as its subtest
// SigningKeys. Each subtest calls newStore once and expects an empty store.
// It checks:
//
//   - an exact round trip of every field (ciphertext and JWK byte for byte,
//     times in UTC to the microsecond, values owned by the caller);
//   - ErrAlreadyExists, with nothing written, for a taken ID (also an
//     expired key's) and for a generation held by a key that has not
//     expired at the new key's CreatedAt; the generation of an expired key
//     is taken over;
//   - CreateSigningKey refuses a key that SigningKey.Validate refuses, with
//     an error that is none of the storage errors, and stores nothing;
//   - ListSigningKeys leaves out exactly the keys expired at now and orders
//     the others by ActivateAt, then by ID byte for byte;
//   - DeleteSigningKey and its ErrNotFound, and that it frees the ID and
//     the generation;
//   - DeleteExpired removes exactly the keys whose ExpiresAt is before now,
//     and counts them;
//   - of concurrent creations of one generation exactly one succeeds;
//   - a canceled context and a closed store write nothing.
func RunSigningKeys(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SigningKeyRoundTrip", testSigningKeyRoundTrip},
		{"SigningKeyTaken", testSigningKeyTaken},
		{"SigningKeyExpiredGeneration", testSigningKeyExpiredGeneration},
		{"SigningKeyInvalid", testSigningKeyInvalid},
		{"SigningKeyList", testSigningKeyList},
		{"SigningKeyDelete", testSigningKeyDelete},
		{"SigningKeyDeleteExpired", testSigningKeyDeleteExpired},
		{"SigningKeyConcurrentCreate", testSigningKeyConcurrentCreate},
		{"SigningKeyConcurrentReplace", testSigningKeyConcurrentReplace},
		{"SigningKeyCanceledContext", testSigningKeyCanceledContext},
		{"SigningKeyClosed", testSigningKeyClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// newSigningKey returns a key with every field set, created at created,
// active an hour later for a day, expiring an hour and a microsecond after
// it retires. Its ciphertext and JWK derive from id: the ciphertext holds
// bytes that are not UTF-8, the JWK text that a store which parsed or
// normalized JSON would change.
func newSigningKey(id string, generation int64, created time.Time) *store.SigningKey {
	return &store.SigningKey{
		ID:                   id,
		Generation:           generation,
		Algorithm:            "ES256",
		PrivateKeyCiphertext: append([]byte("nonce\x00\xff\xfe ciphertext of "), id...),
		PublicJWK: fmt.Appendf(nil, `{"kty":"EC", "crv":"P-256","kid":%q,"alg":"ES256","use":"sig",`+
			`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","n":1.50e+2, "z":"\u00e9"}`, id),
		CreatedAt:  created,
		ActivateAt: created.Add(time.Hour),
		RetireAt:   created.Add(25 * time.Hour),
		ExpiresAt:  created.Add(26*time.Hour + time.Microsecond),
	}
}

func signingKeyTimes(k *store.SigningKey) map[string]*time.Time {
	return map[string]*time.Time{"CreatedAt": &k.CreatedAt, "ActivateAt": &k.ActivateAt, "RetireAt": &k.RetireAt, "ExpiresAt": &k.ExpiresAt}
}

func mustCreateSigningKey(t *testing.T, s store.Store, k *store.SigningKey) {
	t.Helper()
	if err := s.CreateSigningKey(context.Background(), k); err != nil {
		t.Fatalf("CreateSigningKey(%q, generation %d): %v", k.ID, k.Generation, err)
	}
}

// wantSigningKeys fails the test unless ListSigningKeys at now returns
// want, in order, and returns what it returned.
func wantSigningKeys(t *testing.T, what string, s store.Store, now time.Time, want ...*store.SigningKey) []*store.SigningKey {
	t.Helper()
	got, err := s.ListSigningKeys(context.Background(), now)
	if err != nil {
		t.Fatalf("%s: ListSigningKeys: %v", what, err)
	}
	if len(got) != len(want) {
		t.Errorf("%s: ListSigningKeys returned %d keys %v, want %d %v", what, len(got), keyIDs(got), len(want), keyIDs(want))
		return got
	}
	for i := range got {
		wantRecord(t, fmt.Sprintf("%s: key %d", what, i), got[i], want[i], signingKeyTimes)
	}
	return got
}

// keyIDs returns the IDs of ks, for messages.
func keyIDs(ks []*store.SigningKey) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = fmt.Sprintf("%s (generation %d)", k.ID, k.Generation)
	}
	return ids
}

// storageError reports whether err wraps one of the storage errors.
func storageError(err error) bool {
	for _, sentinel := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrConflict, store.ErrUnavailable,
		store.ErrLimitReached, store.ErrUsed, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

func testSigningKeyRoundTrip(t *testing.T, s store.Store) {
	es := newSigningKey("kid-é\u2028 1", 1, base.In(zone))
	rs := newSigningKey("kid-2", 2, base.Add(time.Second+time.Microsecond))
	rs.Algorithm = "RS256"
	rs.ActivateAt, rs.RetireAt = rs.CreatedAt, rs.CreatedAt // equal instants are allowed
	want := []*store.SigningKey{es.Clone(), rs.Clone()}
	mustCreateSigningKey(t, s, es)
	mustCreateSigningKey(t, s, rs)
	for i, k := range []*store.SigningKey{es, rs} {
		if !reflect.DeepEqual(k, want[i]) {
			t.Errorf("CreateSigningKey changed the caller's key: %#v, was %#v", k, want[i])
		}
		// The store keeps no reference to what it was given...
		k.PrivateKeyCiphertext[0], k.PublicJWK[0] = 'X', 'X'
	}
	// (rs's ActivateAt sorts it first.)
	got := wantSigningKeys(t, "after CreateSigningKey", s, base, want[1], want[0])
	// ...and hands out none.
	for _, k := range got {
		k.PrivateKeyCiphertext[1], k.PublicJWK[1] = 'Y', 'Y'
		k.ID = "changed"
	}
	wantSigningKeys(t, "after changing what ListSigningKeys returned", s, base, want[1], want[0])
}

func testSigningKeyTaken(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newSigningKey("a", 1, base)
	mustCreateSigningKey(t, s, a)
	sameID := newSigningKey("a", 2, base.Add(time.Minute))
	sameID.Algorithm = "RS256"
	wantErr(t, "CreateSigningKey of a taken ID", s.CreateSigningKey(ctx, sameID), store.ErrAlreadyExists)
	sameGeneration := newSigningKey("b", 1, base.Add(time.Minute))
	wantErr(t, "CreateSigningKey of a taken generation", s.CreateSigningKey(ctx, sameGeneration), store.ErrAlreadyExists)
	wantSigningKeys(t, "after the refused creations", s, base, a)

	b := newSigningKey("b", 2, base.Add(time.Minute))
	mustCreateSigningKey(t, s, b)
	wantSigningKeys(t, "after creating the next generation", s, base, a, b)
}

func testSigningKeyExpiredGeneration(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := newSigningKey("old", 1, base)
	mustCreateSigningKey(t, s, old)

	// Not expired a microsecond before its ExpiresAt: the generation is
	// taken.
	early := newSigningKey("new", 1, old.ExpiresAt.Add(-time.Microsecond))
	wantErr(t, "CreateSigningKey of the generation of a key that expires a microsecond later", s.CreateSigningKey(ctx, early), store.ErrAlreadyExists)
	wantSigningKeys(t, "after the refused creation", s, early.CreatedAt, old)

	// Expired at its ExpiresAt: the new key replaces it.
	replacing := newSigningKey("new", 1, old.ExpiresAt)
	mustCreateSigningKey(t, s, replacing)
	wantSigningKeys(t, "after taking over the generation", s, base, replacing)
	wantErr(t, "DeleteSigningKey of the replaced key", s.DeleteSigningKey(ctx, "old"), store.ErrNotFound)
	wantDeleteExpired(t, "after the replacement", s, farFuture, 1)

	// A key of the same ID as the expired key it replaces.
	expired := newSigningKey("same", 2, base)
	mustCreateSigningKey(t, s, expired)
	same := newSigningKey("same", 2, expired.ExpiresAt.Add(2*time.Hour))
	mustCreateSigningKey(t, s, same)
	wantSigningKeys(t, "after replacing a key by one of its ID", s, same.CreatedAt, same)

	// The ID of an expired key of another generation stays taken until the
	// key is deleted.
	lapsed := newSigningKey("lapsed", 3, base)
	mustCreateSigningKey(t, s, lapsed)
	reuse := newSigningKey("lapsed", 4, lapsed.ExpiresAt.Add(time.Hour))
	wantErr(t, "CreateSigningKey of the ID of an expired key", s.CreateSigningKey(ctx, reuse), store.ErrAlreadyExists)
	wantSigningKeys(t, "after the refused reuse of an ID", s, reuse.CreatedAt, same)
	if err := s.DeleteSigningKey(ctx, "lapsed"); err != nil {
		t.Fatalf("DeleteSigningKey of an expired key: %v", err)
	}
	mustCreateSigningKey(t, s, reuse)
	wantSigningKeys(t, "after reusing the ID of a deleted key", s, reuse.CreatedAt, reuse, same)
}

func testSigningKeyInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	for name, change := range map[string]func(k *store.SigningKey){
		"empty ID":                    func(k *store.SigningKey) { k.ID = "" },
		"ID with NUL":                 func(k *store.SigningKey) { k.ID = "a\x00b" },
		"ID not UTF-8":                func(k *store.SigningKey) { k.ID = "a\xffb" },
		"empty Algorithm":             func(k *store.SigningKey) { k.Algorithm = "" },
		"Algorithm with NUL":          func(k *store.SigningKey) { k.Algorithm = "RS256\x00" },
		"Generation 0":                func(k *store.SigningKey) { k.Generation = 0 },
		"negative Generation":         func(k *store.SigningKey) { k.Generation = -1 },
		"nil PrivateKeyCiphertext":    func(k *store.SigningKey) { k.PrivateKeyCiphertext = nil },
		"empty PrivateKeyCiphertext":  func(k *store.SigningKey) { k.PrivateKeyCiphertext = []byte{} },
		"nil PublicJWK":               func(k *store.SigningKey) { k.PublicJWK = nil },
		"zero CreatedAt":              func(k *store.SigningKey) { k.CreatedAt = time.Time{} },
		"zero ActivateAt":             func(k *store.SigningKey) { k.ActivateAt = time.Time{} },
		"zero RetireAt":               func(k *store.SigningKey) { k.RetireAt = time.Time{} },
		"zero ExpiresAt":              func(k *store.SigningKey) { k.ExpiresAt = time.Time{} },
		"ActivateAt before CreatedAt": func(k *store.SigningKey) { k.ActivateAt = k.CreatedAt.Add(-time.Microsecond) },
		"RetireAt before ActivateAt":  func(k *store.SigningKey) { k.RetireAt = k.ActivateAt.Add(-time.Microsecond) },
		"ExpiresAt before RetireAt":   func(k *store.SigningKey) { k.ExpiresAt = k.RetireAt.Add(-time.Microsecond) },
	} {
		k := newSigningKey("invalid", 1, base)
		change(k)
		if err := k.Validate(); err == nil {
			t.Errorf("%s: Validate accepted the key", name)
		}
		err := s.CreateSigningKey(ctx, k)
		if err == nil || storageError(err) {
			t.Errorf("%s: CreateSigningKey: got %v, want an error that is no storage error", name, err)
		}
	}
	wantSigningKeys(t, "after the refused keys", s, base.Add(-time.Hour))
	mustCreateSigningKey(t, s, newSigningKey("invalid", 1, base)) // neither ID nor generation was taken
}

func testSigningKeyList(t *testing.T, s store.Store) {
	// Created in an order that is neither that of ActivateAt nor that of
	// the IDs; "kid-B" and "kid-a" have the same ActivateAt and sort byte
	// for byte ('B' < 'a'), not as a case-insensitive collation would.
	third := newSigningKey("kid-0", 3, base.Add(2*time.Hour))
	tiedA := newSigningKey("kid-a", 2, base.Add(time.Hour))
	first := newSigningKey("kid-z", 1, base)
	tiedB := newSigningKey("kid-B", 4, base.Add(time.Hour))
	tiedB.CreatedAt = base.Add(30 * time.Minute) // same ActivateAt, earlier creation
	for _, k := range []*store.SigningKey{third, tiedA, first, tiedB} {
		mustCreateSigningKey(t, s, k)
	}
	wantSigningKeys(t, "before every creation", s, base.Add(-time.Hour), first, tiedB, tiedA, third)
	wantSigningKeys(t, "a microsecond before the first expiry", s, first.ExpiresAt.Add(-time.Microsecond), first, tiedB, tiedA, third)
	wantSigningKeys(t, "at the first expiry", s, first.ExpiresAt, tiedB, tiedA, third)
	wantSigningKeys(t, "at the expiry of the tied keys", s, tiedA.ExpiresAt, third)
	got := wantSigningKeys(t, "after every expiry", s, farFuture)
	if len(got) != 0 {
		t.Errorf("ListSigningKeys after every expiry: %v", keyIDs(got))
	}
	wantSigningKeys(t, "listing again, before every creation", s, base.Add(-time.Hour), first, tiedB, tiedA, third)
}

func testSigningKeyDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := newSigningKey("a", 1, base), newSigningKey("b", 2, base.Add(time.Minute))
	mustCreateSigningKey(t, s, a)
	mustCreateSigningKey(t, s, b)
	if err := s.DeleteSigningKey(ctx, "a"); err != nil {
		t.Fatalf("DeleteSigningKey: %v", err)
	}
	wantSigningKeys(t, "after DeleteSigningKey", s, base, b)
	wantErr(t, "DeleteSigningKey again", s.DeleteSigningKey(ctx, "a"), store.ErrNotFound)
	wantErr(t, "DeleteSigningKey of an unknown ID", s.DeleteSigningKey(ctx, "unknown"), store.ErrNotFound)
	wantErr(t, "DeleteSigningKey of an ID no key can have", s.DeleteSigningKey(ctx, "a\x00\xff"), store.ErrNotFound)
	wantSigningKeys(t, "after the failed deletes", s, base, b)

	// The ID and the generation are free again.
	again := newSigningKey("a", 1, base.Add(time.Hour))
	mustCreateSigningKey(t, s, again)
	wantSigningKeys(t, "after creating the deleted key's ID and generation", s, base, b, again)
	// So is the generation of the newest key.
	if err := s.DeleteSigningKey(ctx, "b"); err != nil {
		t.Fatalf("DeleteSigningKey: %v", err)
	}
	c := newSigningKey("c", 2, base.Add(2*time.Hour))
	mustCreateSigningKey(t, s, c)
	wantSigningKeys(t, "after replacing a deleted generation", s, base, again, c)
}

func testSigningKeyDeleteExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	k1 := newSigningKey("k1", 1, base)
	k2 := newSigningKey("k2", 2, base.Add(time.Hour))
	k3 := newSigningKey("k3", 3, base.Add(2*time.Hour))
	for _, k := range []*store.SigningKey{k1, k2, k3} {
		mustCreateSigningKey(t, s, k)
	}
	wantDeleteExpired(t, "at the first expiry", s, k1.ExpiresAt, 0) // expires_at < now only
	wantSigningKeys(t, "after DeleteExpired at the first expiry", s, base, k1, k2, k3)
	wantDeleteExpired(t, "a microsecond after the first expiry", s, k1.ExpiresAt.Add(time.Microsecond), 1)
	wantSigningKeys(t, "after the first key was removed", s, base, k2, k3)
	wantDeleteExpired(t, "again", s, k1.ExpiresAt.Add(time.Microsecond), 0)
	// Removed, not hidden: its ID is free.
	mustCreateSigningKey(t, s, newSigningKey("k1", 4, base.Add(3*time.Hour)))
	wantDeleteExpired(t, "at far future", s, farFuture, 3)
	wantSigningKeys(t, "after DeleteExpired at far future", s, base)
	if err := s.DeleteSigningKey(ctx, "k3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSigningKey of a key DeleteExpired removed: %v, want ErrNotFound", err)
	}
}

func testSigningKeyConcurrentCreate(t *testing.T, s store.Store) {
	const rounds, workers = 10, 8
	var winners []*store.SigningKey
	for round := range rounds {
		gen := int64(round + 1)
		keys := make([]*store.SigningKey, workers)
		for i := range keys {
			keys[i] = newSigningKey(fmt.Sprintf("kid %d/%d", round, i), gen, base.Add(time.Duration(round)*time.Minute))
		}
		errs := sharedRace(s, s, workers, func(s store.Store, i int) error {
			return s.CreateSigningKey(context.Background(), keys[i])
		})
		winners = append(winners, keys[oneWinner(t, fmt.Sprintf("round %d", round), errs, store.ErrAlreadyExists)])
		wantSigningKeys(t, fmt.Sprintf("after round %d", round), s, base, winners...)
	}
}

// testSigningKeyConcurrentReplace has several creations of one generation
// race to replace the expired key that holds it: exactly one succeeds.
func testSigningKeyConcurrentReplace(t *testing.T, s store.Store) {
	const rounds, workers = 10, 8
	var winners []*store.SigningKey
	for round := range rounds {
		gen := int64(round + 1)
		expired := newSigningKey(fmt.Sprintf("expired %d", round), gen, base.Add(-30*24*time.Hour))
		mustCreateSigningKey(t, s, expired)
		keys := make([]*store.SigningKey, workers)
		for i := range keys {
			keys[i] = newSigningKey(fmt.Sprintf("kid %d/%d", round, i), gen, base.Add(time.Duration(round)*time.Minute))
		}
		errs := sharedRace(s, s, workers, func(s store.Store, i int) error {
			return s.CreateSigningKey(context.Background(), keys[i])
		})
		winners = append(winners, keys[oneWinner(t, fmt.Sprintf("round %d", round), errs, store.ErrAlreadyExists)])
		wantSigningKeys(t, fmt.Sprintf("after round %d", round), s, expired.CreatedAt, winners...)
	}
}

func testSigningKeyCanceledContext(t *testing.T, s store.Store) {
	bg := context.Background()
	a := newSigningKey("a", 1, base)
	mustCreateSigningKey(t, s, a)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	for name, err := range signingKeyOps(ctx, s, a) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: got %v, want context.Canceled", name, err)
		}
	}
	wantSigningKeys(t, "after the canceled calls", s, base, a)
	mustCreateSigningKey(t, s, newSigningKey("new", 2, base)) // neither ID nor generation was taken
}

// signingKeyOps calls every method of store.SigningKeyStore once, for the
// stored key k, and returns the errors by name. CreateSigningKey would
// create the key "new" of the generation after k's.
func signingKeyOps(ctx context.Context, s store.SigningKeyStore, k *store.SigningKey) map[string]error {
	errs := make(map[string]error)
	errs["CreateSigningKey"] = s.CreateSigningKey(ctx, newSigningKey("new", k.Generation+1, k.CreatedAt))
	_, errs["ListSigningKeys"] = s.ListSigningKeys(ctx, k.CreatedAt)
	errs["DeleteSigningKey"] = s.DeleteSigningKey(ctx, k.ID)
	return errs
}

func testSigningKeyClosed(t *testing.T, s store.Store) {
	a := newSigningKey("a", 1, base)
	mustCreateSigningKey(t, s, a)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, err := range signingKeyOps(context.Background(), s, a) {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s on a closed store: got %v, want ErrUnavailable", name, err)
		}
	}
}
