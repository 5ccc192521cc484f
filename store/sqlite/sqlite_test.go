package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/sqlite"
	"github.com/clientreg/clientreg/store/storetest"

	_ "modernc.org/sqlite"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "clientreg.db"), sqlite.Options{})
	})
}

func TestStoreSynchronousFull(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "clientreg.db"), sqlite.Options{Synchronous: "FULL"})
	})
}

// TestDurability runs the life-cycle suite on database files: the schema
// versions are the rows of schema_migrations, and the first schema is that
// of migrations/0001_init.sql.
func TestDurability(t *testing.T) {
	storetest.RunDurability(t, storetest.Durable{
		Open: func(_ *testing.T, path string) (store.Store, error) {
			return sqlite.Open(context.Background(), path)
		},
		Database: func(t *testing.T) string { return filepath.Join(t.TempDir(), "clientreg.db") },
		Migrated: func(t *testing.T, path string) {
			t.Helper()
			var versions int
			if err := rawDB(t, path).QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil || versions != schemaVersion(t) {
				t.Errorf("%d migrations recorded (%v), want %d", versions, err, schemaVersion(t))
			}
		},
		RecordNewerSchema: func(t *testing.T, path string) {
			t.Helper()
			db := rawDB(t, path)
			if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) SELECT MAX(version) + 1, 0 FROM schema_migrations`); err != nil {
				t.Fatal(err)
			}
			db.Close()
		},
		CreateFirstSchema: func(t *testing.T, path string) {
			t.Helper()
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
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
		},
	})
}

// TestSharing runs the sharing suite on two stores of one file, as two
// processes would have: no call may fail with SQLITE_BUSY.
func TestSharing(t *testing.T) {
	storetest.RunSharing(t, func(t *testing.T) (a, b store.Store) {
		path := filepath.Join(t.TempDir(), "clientreg.db")
		return open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{})
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

func testClient(id string) *store.Client {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &store.Client{
		ID:         id,
		IssuedAt:   now,
		UpdatedAt:  now,
		Revision:   1,
		Metadata:   []byte(`{"redirect_uris":["https://app.example/cb"],"client_name":"Client ` + id + `","client_name#ja-Jpan-JP":"クライアント"}`),
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
				errs[i] = s.CreateClient(context.Background(), testClient(fmt.Sprintf("c%d", i)), store.CreateOptions{})
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

// TestLockedIsUnavailable holds the write lock from another connection, as
// another process would, past the busy timeout.
func TestLockedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clientreg.db")
	s := open(t, path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	stored := testClient("stored")
	if err := s.CreateClient(ctx, stored, store.CreateOptions{}); err != nil {
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
	err = s.CreateClient(ctx, testClient("blocked"), store.CreateOptions{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateClient while another connection holds the write lock: got %v, want ErrUnavailable", err)
	}
	_, err = s.UseInitialToken(ctx, []byte("iat"), time.Now())
	if !errors.Is(err, store.ErrUnavailable) {
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
	if err := s.CreateClient(ctx, testClient("unblocked"), store.CreateOptions{}); err != nil {
		t.Errorf("CreateClient after the lock is released: %v", err)
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
	if err := s.CreateClient(context.Background(), testClient("c"), store.CreateOptions{}); err != nil {
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
	if err := s.CreateClient(context.Background(), testClient("c"), store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("clientreg.db"); err != nil {
		t.Error(err)
	}
}
