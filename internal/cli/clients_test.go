package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/postgres"
	"github.com/clientreg/clientreg/store/sqlite"
)

// oldClient is a client registered anonymously age ago and never used.
func oldClient(id string, age time.Duration) *store.Client {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &store.Client{
		ID: id, IssuedAt: now.Add(-age), UpdatedAt: now.Add(-age), Revision: 1,
		Metadata: []byte(`{"client_name":"` + id + `"}`), TokenHash: []byte("token " + id + rand.Text()),
		Origin: store.OriginAnonymous,
	}
}

func TestClientsPurgeDryRun(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "clientreg.db")
	if code, _, stderr := run(t, nil, "iat", "create", "--db", db, "--create-db"); code != ExitOK {
		t.Fatalf("iat create: %s", stderr)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*store.Client{oldClient("old", 8*24*time.Hour), oldClient("young", time.Hour)} {
		if err := st.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, nil, "clients", "purge", "--db", db, "--dry-run")
	if code != ExitOK || !strings.Contains(out, "old\tunused\t") || strings.Contains(out, "young") || !strings.HasSuffix(out, "would remove 1 clients\n") {
		t.Fatalf("--dry-run: exit %d, stdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	code, out, _ = run(t, nil, "clients", "purge", "--db", db, "--dry-run")
	if code != ExitOK || !strings.HasSuffix(out, "would remove 1 clients\n") {
		t.Fatalf("a dry run removed something:\n%s", out)
	}
	code, out, stderr = run(t, nil, "clients", "purge", "--db", db)
	if code != ExitOK || !strings.Contains(out, "old\tunused\t") || !strings.HasSuffix(out, "removed 1 clients\n") {
		t.Fatalf("purge: exit %d, stdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	code, out, _ = run(t, nil, "clients", "purge", "--db", db, "--client-unused-ttl", "30m")
	if code != ExitOK || !strings.Contains(out, "young\tunused\t") || !strings.HasSuffix(out, "removed 1 clients\n") {
		t.Fatalf("purge with a shorter TTL:\n%s", out)
	}
}

// Two instances' sweepers on one PostgreSQL database purge every expired
// client once, without an error.
func TestPurgeSweepersShareDatabase(t *testing.T) {
	dsn := pgURL(t)
	ctx := context.Background()
	key := []byte("0123456789abcdef0123456789abcdef")
	var handlers []*clientreg.Handler
	for range 2 {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		h, err := clientreg.New(clientreg.Config{Issuer: "http://clientreg.invalid", Store: st, SecretKey: key})
		if err != nil {
			t.Fatal(err)
		}
		handlers = append(handlers, h)
		if len(handlers) == 1 {
			const n = 450 // several batches each
			for i := range n {
				if err := st.CreateClient(ctx, oldClient(fmt.Sprintf("c%04d", i), 8*24*time.Hour), store.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		purged int
	)
	for _, h := range handlers {
		wg.Go(func() {
			for {
				n, err := purgeExpiredClients(ctx, h)
				if err != nil {
					t.Errorf("purgeExpiredClients: %v", err)
					return
				}
				mu.Lock()
				purged += n
				mu.Unlock()
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if purged != 450 || countClients(t, dsn) != 0 {
		t.Fatalf("%d clients purged, %d left; want 450 and 0", purged, countClients(t, dsn))
	}
}
