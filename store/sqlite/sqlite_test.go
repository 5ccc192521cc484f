package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/sqlite"
	"github.com/clientreg/clientreg/store/storetest"

	_ "modernc.org/sqlite"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) clientreg.Store {
		return open(t, filepath.Join(t.TempDir(), "clientreg.db"), sqlite.Options{})
	})
}

func TestStoreSynchronousFull(t *testing.T) {
	storetest.Run(t, func(t *testing.T) clientreg.Store {
		return open(t, filepath.Join(t.TempDir(), "clientreg.db"), sqlite.Options{Synchronous: "FULL"})
	})
}

// open opens the store at path and closes it when the test ends.
func open(t *testing.T, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenWithOptions(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("OpenWithOptions(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens path with the driver alone, for looking behind the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schemaVersion returns the number of migrations in the package.
func schemaVersion(t *testing.T) int {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(ms) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	return len(ms)
}

func testClient(id string) *clientreg.Client {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &clientreg.Client{
		ID:        id,
		IssuedAt:  now,
		UpdatedAt: now,
		Revision:  1,
		Metadata: clientreg.Metadata{
			RedirectURIs: []string{"https://app.example/cb"},
			ClientName:   "Client " + id,
			Localized:    map[string]string{"client_name#ja-Jpan-JP": "クライアント"},
		},
		SecretHash: []byte("secret " + id),
		TokenHash:  []byte("token " + id),
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	const rounds, openers = 20, 4
	for round := range rounds {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("round%d.db", round))
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [openers]error
		)
		for i := range openers {
			wg.Go(func() {
				<-start
				s, err := sqlite.Open(context.Background(), path)
				if err != nil {
					errs[i] = err
					return
				}
				// Each opener can write at once.
				errs[i] = s.CreateClient(context.Background(), testClient(fmt.Sprintf("c%d", i)), clientreg.CreateOptions{})
				if err := s.Close(); errs[i] == nil {
					errs[i] = err
				}
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: opener %d: %v", round, i, err)
			}
		}
		db := rawDB(t, path)
		var versions, clients int
		if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT COUNT(*) FROM clients`).Scan(&clients); err != nil {
			t.Fatal(err)
		}
		if want := schemaVersion(t); versions != want || clients != openers {
			t.Fatalf("round %d: %d migrations recorded, %d clients; want %d, %d", round, versions, clients, want, openers)
		}
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clientreg.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c := testClient("keep")
	if err := s.CreateClient(ctx, c, clientreg.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Metadata.ClientName = "updated"
	if err := s.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	tok := &clientreg.InitialToken{Hash: []byte("iat"), CreatedAt: c.IssuedAt, MaxUses: 3}
	if err := s.CreateInitialToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseInitialToken(ctx, tok.Hash, c.IssuedAt); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, sqlite.Options{})
	got, err := s.GetClient(ctx, "keep")
	if err != nil {
		t.Fatalf("GetClient after reopening: %v", err)
	}
	if got.Revision != 2 || got.Metadata.ClientName != "updated" || !got.IssuedAt.Equal(c.IssuedAt) ||
		got.Metadata.Localized["client_name#ja-Jpan-JP"] != "クライアント" {
		t.Errorf("after reopening: %+v, want %+v", got, c)
	}
	gotTok, err := s.GetInitialToken(ctx, tok.Hash)
	if err != nil || gotTok.Uses != 1 {
		t.Errorf("GetInitialToken after reopening: %+v, %v; want 1 use", gotTok, err)
	}
}

func TestClosedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "clientreg.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := testClient("c")
	if err := s.CreateClient(ctx, c, clientreg.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range allOps(ctx, s, c) {
		if !errors.Is(err, clientreg.ErrUnavailable) {
			t.Errorf("%s on a closed store: got %v, want ErrUnavailable", name, err)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "clientreg.db"), sqlite.Options{})
	c := testClient("c")
	if err := s.CreateClient(context.Background(), c, clientreg.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range allOps(ctx, s, testClient("c")) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: got %v, want context.Canceled", name, err)
		}
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for name, err := range allOps(ctx, s, testClient("c")) {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s past its deadline: got %v, want context.DeadlineExceeded", name, err)
		}
	}
	if _, err := s.GetClient(context.Background(), "c"); err != nil {
		t.Errorf("GetClient afterwards: %v", err)
	}
}

// allOps calls every method of s once and returns the errors by name. c is
// a stored client.
func allOps(ctx context.Context, s *sqlite.Store, c *clientreg.Client) map[string]error {
	errs := make(map[string]error)
	errs["CreateClient"] = s.CreateClient(ctx, testClient("new"), clientreg.CreateOptions{})
	_, errs["GetClient"] = s.GetClient(ctx, c.ID)
	_, errs["GetClientByTokenHash"] = s.GetClientByTokenHash(ctx, c.TokenHash)
	errs["UpdateClient"] = s.UpdateClient(ctx, c)
	errs["DeleteClient"] = s.DeleteClient(ctx, c.ID)
	errs["CreateInitialToken"] = s.CreateInitialToken(ctx, &clientreg.InitialToken{Hash: []byte("new")})
	_, errs["GetInitialToken"] = s.GetInitialToken(ctx, []byte("iat"))
	_, errs["UseInitialToken"] = s.UseInitialToken(ctx, []byte("iat"), time.Now())
	errs["CreateAccessToken"] = s.CreateAccessToken(ctx, &clientreg.AccessToken{
		Hash: []byte("at"), ClientID: c.ID, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	_, errs["GetAccessToken"] = s.GetAccessToken(ctx, []byte("at"))
	errs["DeleteAccessToken"] = s.DeleteAccessToken(ctx, []byte("at"))
	errs["UseAssertionID"] = s.UseAssertionID(ctx, c.ID, "jti", time.Now().Add(time.Hour), time.Now())
	_, errs["DeleteExpired"] = s.DeleteExpired(ctx, time.Now())
	return errs
}

// TestLockedIsUnavailable holds the write lock from another connection, as
// another process would, past the busy timeout.
func TestLockedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clientreg.db")
	s := open(t, path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	stored := testClient("stored")
	if err := s.CreateClient(ctx, stored, clientreg.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	conn, err := rawDB(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	err = s.CreateClient(ctx, testClient("blocked"), clientreg.CreateOptions{})
	if !errors.Is(err, clientreg.ErrUnavailable) {
		t.Errorf("CreateClient while another connection holds the write lock: got %v, want ErrUnavailable", err)
	}
	_, err = s.UseInitialToken(ctx, []byte("iat"), time.Now())
	if !errors.Is(err, clientreg.ErrUnavailable) {
		t.Errorf("UseInitialToken while another connection holds the write lock: got %v, want ErrUnavailable", err)
	}
	// Readers are not blocked by a writer in WAL mode.
	if _, err := s.GetClient(ctx, "stored"); err != nil {
		t.Errorf("GetClient while another connection holds the write lock: %v", err)
	}
	// Opening a database whose schema is up to date takes no write lock.
	if s2, err := sqlite.OpenWithOptions(ctx, path, sqlite.Options{BusyTimeout: 50 * time.Millisecond}); err != nil {
		t.Errorf("Open while another connection holds the write lock: %v", err)
	} else {
		s2.Close()
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, testClient("unblocked"), clientreg.CreateOptions{}); err != nil {
		t.Errorf("CreateClient after the lock is released: %v", err)
	}
}

// TestConcurrentStores has two stores on one file, as two processes would
// have, read and write at once: no call may fail with SQLITE_BUSY.
func TestConcurrentStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clientreg.db")
	stores := []*sqlite.Store{open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{})}
	tok := &clientreg.InitialToken{Hash: []byte("iat"), CreatedAt: time.Now(), MaxUses: 0}
	if err := stores[0].CreateInitialToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		s := stores[w%2]
		wg.Go(func() {
			for i := range perWorker {
				c := testClient(fmt.Sprintf("w%d-%d", w, i))
				if err := s.CreateClient(ctx, c, clientreg.CreateOptions{}); err != nil {
					errs <- err
					continue
				}
				other := stores[(w+1)%2]
				got, err := other.GetClientByTokenHash(ctx, c.TokenHash)
				if err != nil {
					errs <- fmt.Errorf("read of %s through the other store: %w", c.ID, err)
					continue
				}
				got.Metadata.ClientName = "updated"
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

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clientreg.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, schemaVersion(t)+1); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

func TestOpenArguments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		opts sqlite.Options
	}{
		{"", sqlite.Options{}},
		{":memory:", sqlite.Options{}},
		{"file:" + filepath.Join(dir, "x.db"), sqlite.Options{}},
		{filepath.Join(dir, "x.db"), sqlite.Options{Synchronous: "OFF"}},
		{filepath.Join(dir, "x.db"), sqlite.Options{Synchronous: "sometimes"}},
		{filepath.Join(dir, "x.db"), sqlite.Options{BusyTimeout: -time.Second}},
		{filepath.Join(dir, "missing", "x.db"), sqlite.Options{}},
	} {
		if s, err := sqlite.OpenWithOptions(ctx, tc.path, tc.opts); err == nil {
			s.Close()
			t.Errorf("OpenWithOptions(%q, %+v) succeeded", tc.path, tc.opts)
		}
	}
	if s, err := sqlite.OpenWithOptions(ctx, filepath.Join(dir, "y.db"), sqlite.Options{Synchronous: "full"}); err != nil {
		t.Errorf("Synchronous in lower case: %v", err)
	} else {
		s.Close()
	}
}

// TestPathNeedsEscaping opens a file whose name holds the characters that
// mean something in an SQLite URI.
func TestPathNeedsEscaping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b?c#d%20e&f=g")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "client reg?.db")
	s := open(t, path, sqlite.Options{})
	if err := s.CreateClient(context.Background(), testClient("c"), clientreg.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path given: %v", err)
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files beside the directory: %v", entries)
	}
}

func TestRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s := open(t, "clientreg.db", sqlite.Options{})
	if err := s.CreateClient(context.Background(), testClient("c"), clientreg.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("clientreg.db"); err != nil {
		t.Error(err)
	}
}

// TestMetadataThatCannotBeRead checks that metadata whose encoding would not
// decode is refused, instead of making the client unreadable, and that the
// error is not mistaken for an OAuth error of the request.
func TestMetadataThatCannotBeRead(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "clientreg.db"), sqlite.Options{})
	c := testClient("bad")
	c.Metadata.Localized = map[string]string{"client_name#not a tag": "x"}
	err := s.CreateClient(ctx, c, clientreg.CreateOptions{})
	if err == nil {
		t.Fatal("CreateClient with an invalid language tag succeeded")
	}
	var oauthErr *clientreg.Error
	if errors.As(err, &oauthErr) {
		t.Errorf("the error is a *clientreg.Error: %v", err)
	}
	if _, err := s.GetClient(ctx, "bad"); !errors.Is(err, clientreg.ErrNotFound) {
		t.Errorf("GetClient: %v, want ErrNotFound", err)
	}

	good := testClient("good")
	if err := s.CreateClient(ctx, good, clientreg.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	good.Metadata.Extensions = map[string]json.RawMessage{"x": nil}
	if err := s.UpdateClient(ctx, good); err == nil {
		t.Error("UpdateClient with a nil extension value succeeded")
	}
	if got, err := s.GetClient(ctx, "good"); err != nil || got.Revision != 1 {
		t.Errorf("GetClient: %+v, %v; want revision 1", got, err)
	}
}

// TestUpgradeFromVersion1 opens a database that only the first migration
// created, with a client in it: Open adds the columns and tables of access
// tokens and secret rotation, and the client reads back with them unset.
func TestUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clientreg.db")
	init, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		string(init),
		`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)`,
		`INSERT INTO clients (id, issued_at, updated_at, revision, metadata, secret_hash, token_hash)
VALUES ('old', 1700000000000000, 1700000000000000, 3, CAST('{"client_name":"old"}' AS BLOB), x'01', x'02')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := open(t, path, sqlite.Options{})
	c, err := s.GetClient(ctx, "old")
	if err != nil {
		t.Fatalf("GetClient after the upgrade: %v", err)
	}
	if c.Revision != 3 || c.Metadata.ClientName != "old" || string(c.SecretHash) != "\x01" ||
		c.SecretCiphertext != nil || c.PreviousSecretHash != nil || c.PreviousSecretCiphertext != nil || !c.PreviousSecretExpiresAt.IsZero() || c.Policy != "" {
		t.Errorf("client after the upgrade: %+v", c)
	}
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = c.SecretHash, time.Now()
	if err := s.UpdateClient(ctx, c); err != nil {
		t.Errorf("UpdateClient after the upgrade: %v", err)
	}
	tok := &clientreg.AccessToken{Hash: []byte("at"), ClientID: "old", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateAccessToken(ctx, tok); err != nil {
		t.Errorf("CreateAccessToken after the upgrade: %v", err)
	}
	if err := s.UseAssertionID(ctx, "old", "jti", time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Errorf("UseAssertionID after the upgrade: %v", err)
	}
	var versions int
	if err := rawDB(t, path).QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil || versions != schemaVersion(t) {
		t.Errorf("%d migrations recorded (%v), want %d", versions, err, schemaVersion(t))
	}
}
