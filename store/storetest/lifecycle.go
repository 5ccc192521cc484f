package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
)

// RunLifecycle runs the conformance suite of store.ClientLifecycleStore
// against the stores that newStore returns; Run runs it too, as its subtest
// Lifecycle. It checks that TouchClient writes only a stale LastUsedAt and
// leaves Revision alone, that UpdateClient keeps Origin and LastUsedAt, and
// that PurgeClients selects exactly the never-used and idle clients of the
// given origins without a live grant, in IssuedAt order, at most Limit, and
// removes nothing on a dry run.
func RunLifecycle(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"TouchClient", testTouchClient},
		{"PurgeClients", testPurgeClients},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func testTouchClient(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newClient("c")
	c.LastUsedAt = time.Time{}
	mustCreate(t, s, c)
	if got := mustGet(t, s, "c"); !got.LastUsedAt.IsZero() || got.Origin != store.OriginAnonymous {
		t.Fatalf("a new client: LastUsedAt %v, Origin %q", got.LastUsedAt, got.Origin)
	}
	touch := func(at, stale time.Time) {
		t.Helper()
		if err := s.TouchClient(ctx, "c", at, stale); err != nil {
			t.Fatalf("TouchClient: %v", err)
		}
	}
	touch(base, base.Add(-time.Hour))
	if got := mustGet(t, s, "c"); !got.LastUsedAt.Equal(base) || got.Revision != 1 || !got.UpdatedAt.Equal(c.UpdatedAt) {
		t.Fatalf("after the first use: LastUsedAt %v Revision %d UpdatedAt %v", got.LastUsedAt, got.Revision, got.UpdatedAt)
	}
	touch(base.Add(30*time.Minute), base.Add(-30*time.Minute)) // recent: no write
	if got := mustGet(t, s, "c"); !got.LastUsedAt.Equal(base) {
		t.Fatalf("a recent use was overwritten: %v", got.LastUsedAt)
	}
	touch(base.Add(2*time.Hour), base.Add(time.Hour)) // stale: written
	if got := mustGet(t, s, "c"); !got.LastUsedAt.Equal(base.Add(2 * time.Hour)) {
		t.Fatalf("a stale use was kept: %v", got.LastUsedAt)
	}
	if err := s.TouchClient(ctx, "missing", base, base); err != nil {
		t.Fatalf("TouchClient of a missing client: %v", err)
	}
	// An update keeps both.
	u := mustGet(t, s, "c")
	u.LastUsedAt, u.Origin = time.Time{}, store.OriginOperator
	if err := s.UpdateClient(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "c"); !got.LastUsedAt.Equal(base.Add(2*time.Hour)) || got.Origin != store.OriginAnonymous {
		t.Fatalf("after an update: LastUsedAt %v Origin %q", got.LastUsedAt, got.Origin)
	}
}

// lifecycleClient is a client issued at issued, last used at used (zero:
// never), of origin origin.
func lifecycleClient(id, origin string, issued, used time.Time) *store.Client {
	c := newClient(id)
	c.IssuedAt, c.LastUsedAt, c.Origin = issued, used, origin
	return c
}

func purgedIDs(cs []*store.Client) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func testPurgeClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	day := 24 * time.Hour
	now := base.Add(100 * day)
	for _, c := range []*store.Client{
		lifecycleClient("unused-old", store.OriginAnonymous, now.Add(-8*day), time.Time{}),
		lifecycleClient("unused-young", store.OriginAnonymous, now.Add(-6*day), time.Time{}),
		lifecycleClient("idle", store.OriginInitialToken, now.Add(-99*day), now.Add(-91*day)),
		lifecycleClient("active", store.OriginAnonymous, now.Add(-99*day), now.Add(-89*day)),
		lifecycleClient("operator", store.OriginOperator, now.Add(-99*day), time.Time{}),
		lifecycleClient("legacy", "", now.Add(-99*day), time.Time{}),
		lifecycleClient("granted", store.OriginAnonymous, base, base),
	} {
		mustCreate(t, s, c)
	}
	mustRedeem(t, s, "g", "granted") // live until base+7d (idle)
	q := store.ClientPurge{
		Origins:      []string{store.OriginAnonymous, store.OriginInitialToken},
		UnusedBefore: now.Add(-7 * day),
		IdleBefore:   now.Add(-90 * day),
		Now:          base.Add(day),
		Limit:        10,
		DryRun:       true,
	}
	got, err := s.PurgeClients(ctx, q)
	if want := []string{"idle", "unused-old"}; err != nil || !slices.Equal(purgedIDs(got), want) {
		t.Fatalf("dry run = %v, %v; want %v", purgedIDs(got), err, want)
	}
	if got[0].Origin != store.OriginInitialToken || !got[0].LastUsedAt.Equal(now.Add(-91*day)) || got[0].SiblingTokenHashes != nil {
		t.Fatalf("a purged client reads back as %+v", got[0])
	}
	mustGet(t, s, "idle")
	// Once the grant has expired, its client goes too.
	q.Now, q.DryRun, q.Limit = now, false, 2
	got, err = s.PurgeClients(ctx, q)
	if want := []string{"granted", "idle"}; err != nil || !slices.Equal(purgedIDs(got), want) {
		t.Fatalf("purge (limit 2) = %v, %v; want %v", purgedIDs(got), err, want)
	}
	got, err = s.PurgeClients(ctx, q)
	if want := []string{"unused-old"}; err != nil || !slices.Equal(purgedIDs(got), want) {
		t.Fatalf("second purge = %v, %v; want %v", purgedIDs(got), err, want)
	}
	for _, id := range []string{"granted", "idle", "unused-old"} {
		if _, err := s.GetClient(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("purged client %s: %v", id, err)
		}
	}
	for _, id := range []string{"unused-young", "active", "operator", "legacy"} {
		mustGet(t, s, id)
	}
	if got, err := s.PurgeClients(ctx, q); err != nil || len(got) != 0 {
		t.Fatalf("third purge = %v, %v; want none", purgedIDs(got), err)
	}
	// Zero bounds select nobody.
	if got, err := s.PurgeClients(ctx, store.ClientPurge{Origins: q.Origins, Now: now, Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("purge without bounds = %v, %v", purgedIDs(got), err)
	}
}

// testSharedPurge has both stores purge a hundred clients in small
// batches at once: every client is removed once.
func testSharedPurge(t *testing.T, a, b store.Store) {
	const n = 100
	for i := range n {
		mustCreate(t, a, lifecycleClient(fmt.Sprintf("c%03d", i), store.OriginAnonymous, base.Add(time.Duration(i)*time.Second), time.Time{}))
	}
	q := store.ClientPurge{Origins: []string{store.OriginAnonymous}, UnusedBefore: base.Add(time.Hour), Now: base, Limit: 7}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for w := range 4 {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for {
				got, err := s.PurgeClients(context.Background(), q)
				if err != nil {
					t.Errorf("PurgeClients: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					seen[c.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d clients purged, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("client %s returned by %d purges", id, k)
		}
	}
}
