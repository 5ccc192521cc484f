package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// RunSharing runs the suite of stores that share one database, as the
// server instances of one deployment do, against the pairs that open
// returns. Each subtest calls open once; open returns two stores opened
// separately on one new, empty database, and may register cleanups with t
// (closing the stores among them). The suite checks that:
//
//   - SeeEachOther: each store reads what the other wrote, and an update
//     based on the other's read succeeds;
//   - ConcurrentStores: both stores read and write at once without an
//     error;
//   - InitialTokenMaxUses: a token with MaxUses N used concurrently through
//     both stores, by UseInitialToken and by CreateClient, succeeds exactly
//     N times;
//   - MaxClients: CreateOptions.MaxClients holds exactly across both
//     stores;
//   - AssertionID: exactly one of concurrent uses of one jti through both
//     stores succeeds;
//   - TokenHashRace: of two concurrent writes that would give two clients
//     the same token hash, each in the other's column and through the
//     other store, exactly one succeeds;
//   - TakePendingOnce, RedeemCodeOnce, UpdateGrantOnce: of concurrent
//     TakePendingAuthorization, RedeemCode and UpdateGrant (from the same
//     revision) calls on one record through both stores, exactly one
//     succeeds, and each store then reads the winner's writes;
//   - SigningKeyGenerationOnce: of concurrent creations of one signing key
//     generation through both stores, a new one or one held by an expired
//     key, exactly one succeeds, and each store then lists the winner's
//     key;
//   - IdempotencyReserveOnce: of concurrent reservations of one
//     idempotency key through both stores, exactly one succeeds, and each
//     store then reads the winner's reservation;
//   - PurgeOnce: concurrent PurgeClients through both stores remove every
//     selected client once: none is returned twice, and none fails;
//   - DisableRace: a SetClientDisabled through one store racing calls that
//     store access tokens of the same client through both
//     (CreateAccessToken, RedeemCode, UpdateGrant) leaves no token and no
//     grant of the client, and no call fails but with ErrNotFound or, for
//     UpdateGrant, ErrConflict (see RunAdmin).
//
// A backend whose stores cannot share a database (such as store/memory)
// does not run it.
func RunSharing(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"SeeEachOther", testSeeEachOther},
		{"ConcurrentStores", testConcurrentStores},
		{"InitialTokenMaxUses", testSharedInitialTokenMaxUses},
		{"MaxClients", testSharedMaxClients},
		{"AssertionID", testSharedAssertionID},
		{"TokenHashRace", testTokenHashRace},
		{"TakePendingOnce", testSharedTakePending},
		{"RedeemCodeOnce", testSharedRedeemCode},
		{"UpdateGrantOnce", testSharedUpdateGrant},
		{"SigningKeyGenerationOnce", testSharedSigningKeyGeneration},
		{"IdempotencyReserveOnce", testIdempotencyReserveRace},
		{"PurgeOnce", testSharedPurge},
		{"DisableRace", testDisableRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

func testSeeEachOther(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	c := newClient("shared")
	mustCreate(t, a, c)
	wantClient(t, "GetClient through the other store", mustGet(t, b, "shared"), c)
	got, err := b.GetClientByTokenHash(ctx, c.TokenHash)
	if err != nil {
		t.Fatalf("GetClientByTokenHash through the other store: %v", err)
	}
	wantClient(t, "GetClientByTokenHash through the other store", got, c)

	got.Metadata = metadata("updated through b")
	mustUpdate(t, b, got)
	wantClient(t, "GetClient after the other store's update", mustGet(t, a, "shared"), got)
	stale := c.Clone()
	wantErr(t, "UpdateClient based on a read before the other store's update", a.UpdateClient(ctx, stale), store.ErrConflict)

	tok := newToken("shared", 2, base.Add(time.Hour))
	mustCreateToken(t, a, tok)
	if _, err := b.UseInitialToken(ctx, tok.Hash, base); err != nil {
		t.Fatalf("UseInitialToken through the other store: %v", err)
	}
	if got, err := a.GetInitialToken(ctx, tok.Hash); err != nil || got.Uses != 1 {
		t.Errorf("GetInitialToken after the other store's use: %+v, %v; want 1 use", got, err)
	}

	at := newAccessToken("shared", "shared", base.Add(time.Hour))
	mustCreateAccessToken(t, b, at)
	wantAccessToken(t, "GetAccessToken through the other store", a, at)

	if err := a.DeleteClient(ctx, "shared"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	_, err = b.GetClient(ctx, "shared")
	wantErr(t, "GetClient after the other store's delete", err, store.ErrNotFound)
	wantNoAccessToken(t, "access token after the other store deleted its client", b, at.Hash)
}

// testConcurrentStores has the two stores read and write at once: every
// worker creates clients through one, reads and updates them through the
// other, and uses an unlimited initial access token. No call may fail (an
// SQLite store, say, must not return SQLITE_BUSY).
func testConcurrentStores(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	stores := []store.Store{a, b}
	tok := &store.InitialToken{Hash: hash("iat"), CreatedAt: time.Now(), MaxUses: 0}
	if err := stores[0].CreateInitialToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*3)
	for w := range workers {
		s := stores[w%2]
		wg.Go(func() {
			for i := range perWorker {
				c := newClient(fmt.Sprintf("w%d-%d", w, i))
				if err := s.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
					errs <- err
					continue
				}
				other := stores[(w+1)%2]
				got, err := other.GetClientByTokenHash(ctx, c.TokenHash)
				if err != nil {
					errs <- fmt.Errorf("read of %s through the other store: %w", c.ID, err)
					continue
				}
				got.Metadata = metadata("updated")
				if err := other.UpdateClient(ctx, got); err != nil {
					errs <- err
				}
				if _, err := s.UseInitialToken(ctx, tok.Hash, time.Now()); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := stores[1].GetInitialToken(ctx, tok.Hash)
	if err != nil || got.Uses != workers*perWorker {
		t.Errorf("GetInitialToken: %+v, %v; want %d uses", got, err, workers*perWorker)
	}
}

func testSharedInitialTokenMaxUses(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const maxUses, workers = 5, 16
	tok := newToken("shared", maxUses, base.Add(time.Hour))
	mustCreateToken(t, a, tok)
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  [workers]error
	)
	for w := range workers {
		s := []store.Store{a, b}[w%2]
		wg.Go(func() {
			<-start
			if w%4 < 2 {
				_, errs[w] = s.UseInitialToken(ctx, tok.Hash, base)
				return
			}
			errs[w] = s.CreateClient(ctx, newClient(fmt.Sprintf("w%d", w)), store.CreateOptions{InitialTokenHash: tok.Hash, Now: base})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for w, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("worker %d: got %v, want nil or ErrNotFound", w, err)
		case w%4 >= 2:
			if _, err := a.GetClient(ctx, fmt.Sprintf("w%d", w)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("worker %d: the refused client is stored: GetClient error %v", w, err)
			}
		}
	}
	if ok != maxUses {
		t.Errorf("%d of %d concurrent uses through two stores succeeded, want %d", ok, workers, maxUses)
	}
	for _, s := range []store.Store{a, b} {
		if got, err := s.GetInitialToken(ctx, tok.Hash); err != nil || got.Uses != maxUses {
			t.Errorf("GetInitialToken: %+v, %v; want %d uses", got, err, maxUses)
		}
	}
}

func testSharedMaxClients(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const maxClients, workers = 4, 16
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  [workers]error
	)
	for w := range workers {
		s := []store.Store{a, b}[w%2]
		wg.Go(func() {
			c := newClient(fmt.Sprintf("w%d", w))
			c.Policy = "partners"
			<-start
			errs[w] = s.CreateClient(ctx, c, store.CreateOptions{MaxClients: maxClients})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for w, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrLimitReached):
			t.Errorf("worker %d: got %v, want nil or ErrLimitReached", w, err)
		}
	}
	if ok != maxClients {
		t.Errorf("%d of %d concurrent creates through two stores succeeded, want %d", ok, workers, maxClients)
	}
	stored := 0
	for w := range workers {
		if _, err := b.GetClient(ctx, fmt.Sprintf("w%d", w)); err == nil {
			stored++
		}
	}
	if stored != maxClients {
		t.Errorf("%d clients of the policy are stored, want %d", stored, maxClients)
	}
	// Deleting one frees a place, for either store.
	for w := range workers {
		if errs[w] == nil {
			if err := a.DeleteClient(ctx, fmt.Sprintf("w%d", w)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	c := newClient("after")
	c.Policy = "partners"
	if err := b.CreateClient(ctx, c, store.CreateOptions{MaxClients: maxClients}); err != nil {
		t.Errorf("CreateClient after a delete through the other store: %v", err)
	}
}

func testSharedAssertionID(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	mustCreate(t, a, newClient("c"))
	const rounds, workers = 20, 8
	for round := range rounds {
		jti := fmt.Sprintf("jti-%d", round)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [workers]error
		)
		for w := range workers {
			s := []store.Store{a, b}[w%2]
			wg.Go(func() {
				<-start
				errs[w] = s.UseAssertionID(ctx, "c", jti, base.Add(time.Hour), base)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for w, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("round %d: worker %d: got %v, want nil or ErrAlreadyExists", round, w, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d of %d concurrent uses of one jti through two stores succeeded, want exactly 1", round, ok, workers)
		}
	}
}

// testTokenHashRace has the two stores store the same token hash for two
// clients at once, each in the other's column: per-column uniqueness does
// not stop that, so only the store's own check, which must hold across
// stores, does. Exactly one write of each round may succeed, and the hash
// then belongs to the winner alone.
func testTokenHashRace(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	stores := [2]store.Store{a, b}
	const rounds = 100
	type result struct {
		hashes [][]byte
		winner string
	}
	var results []result
	for round := range rounds {
		h := fmt.Appendf(nil, "shared %d", round)
		ca, cb := newClient(fmt.Sprintf("a%d", round)), newClient(fmt.Sprintf("b%d", round))
		hashes := [][]byte{h}
		var write [2]func() error
		switch round % 4 {
		case 0: // two creates: TokenHash against PreviousTokenHash
			ca.TokenHash = h
			cb.PreviousTokenHash = h
			write[0] = func() error { return stores[0].CreateClient(ctx, ca, store.CreateOptions{}) }
			write[1] = func() error { return stores[1].CreateClient(ctx, cb, store.CreateOptions{}) }
		case 1: // a create and a rotation
			ca.PreviousTokenHash = h
			if err := stores[1].CreateClient(ctx, cb, store.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			cb.PreviousTokenHash, cb.TokenHash = cb.TokenHash, h
			write[0] = func() error { return stores[0].CreateClient(ctx, ca, store.CreateOptions{}) }
			write[1] = func() error { return stores[1].UpdateClient(ctx, cb) }
		case 3: // two creates, each with both hashes of the other, swapped
			h2 := fmt.Appendf(nil, "second shared %d", round)
			ca.TokenHash, ca.PreviousTokenHash = h, h2
			cb.TokenHash, cb.PreviousTokenHash = h2, h
			hashes = append(hashes, h2)
			write[0] = func() error { return stores[0].CreateClient(ctx, ca, store.CreateOptions{}) }
			write[1] = func() error { return stores[1].CreateClient(ctx, cb, store.CreateOptions{}) }
		case 2: // two updates
			for i, c := range []*store.Client{ca, cb} {
				if err := stores[i].CreateClient(ctx, c, store.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			ca.TokenHash = h
			cb.PreviousTokenHash = h
			write[0] = func() error { return stores[0].UpdateClient(ctx, ca) }
			write[1] = func() error { return stores[1].UpdateClient(ctx, cb) }
		}
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [2]error
		)
		for i := range write {
			wg.Go(func() {
				<-start
				errs[i] = write[i]()
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Fatalf("round %d: writer %d: got %v, want nil or ErrAlreadyExists", round, i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of the two writes of the same hash succeeded, want 1", round, ok)
		}
		winner := ca.ID
		if errs[0] != nil {
			winner = cb.ID
		}
		results = append(results, result{hashes, winner})
	}
	// Every contested hash belongs to its round's winner, through either
	// store.
	for round, r := range results {
		for _, h := range r.hashes {
			for i, s := range stores {
				got, err := s.GetClientByTokenHash(ctx, h)
				if err != nil || got.ID != r.winner {
					t.Errorf("round %d: GetClientByTokenHash(%q) through store %d: %v, %v; want client %q", round, h, i, got, err, r.winner)
				}
			}
		}
	}
}

// testSharedSigningKeyGeneration has instances race to rotate: creations of
// one generation through both stores, each with a key ID of its own. In the
// odd rounds the generation is held by an expired key, which the winner
// replaces.
func testSharedSigningKeyGeneration(t *testing.T, a, b store.Store) {
	const rounds, creators = 20, 6
	var winners []*store.SigningKey
	for round := range rounds {
		gen := int64(round + 1)
		if round%2 == 1 {
			mustCreateSigningKey(t, b, newSigningKey(fmt.Sprintf("expired %d", round), gen, base.Add(-30*24*time.Hour)))
		}
		keys := make([]*store.SigningKey, creators)
		for i := range keys {
			keys[i] = newSigningKey(fmt.Sprintf("kid %d/%d", round, i), gen, base.Add(time.Duration(round)*time.Minute))
		}
		errs := sharedRace(a, b, creators, func(s store.Store, i int) error {
			return s.CreateSigningKey(context.Background(), keys[i])
		})
		winners = append(winners, keys[oneWinner(t, fmt.Sprintf("round %d", round), errs, store.ErrAlreadyExists)])
		for _, s := range []store.Store{a, b} {
			wantSigningKeys(t, fmt.Sprintf("round %d", round), s, base, winners...)
		}
	}
}
