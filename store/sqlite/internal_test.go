package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientreg/clientreg/store"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts     Options
		wantSync int
		wantBusy int
	}{
		{Options{}, 1, 10000},
		{Options{Synchronous: "FULL"}, 2, 10000},
		{Options{Synchronous: "EXTRA", BusyTimeout: 1500 * time.Millisecond}, 3, 1500},
	} {
		s, err := OpenWithOptions(ctx, filepath.Join(t.TempDir(), "x.db"), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for name, db := range map[string]*sql.DB{"writer": s.writer, "reader": s.reader, "checkpointer": s.checkpointer} {
			var mode string
			var sync, busy, fk int
			for pragma, dest := range map[string]any{
				"journal_mode": &mode, "synchronous": &sync, "busy_timeout": &busy, "foreign_keys": &fk,
			} {
				if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(dest); err != nil {
					t.Fatalf("%s: PRAGMA %s: %v", name, pragma, err)
				}
			}
			if mode != "wal" || sync != tc.wantSync || busy != tc.wantBusy || fk != 1 {
				t.Errorf("%+v: %s: journal_mode %s, synchronous %d, busy_timeout %d, foreign_keys %d; want wal, %d, %d, 1",
					tc.opts, name, mode, sync, busy, fk, tc.wantSync, tc.wantBusy)
			}
		}
		var autockpt int
		if err := s.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&autockpt); err != nil || autockpt != writerAutocheckpoint {
			t.Errorf("writer: wal_autocheckpoint %d (%v), want %d", autockpt, err, writerAutocheckpoint)
		}
		if s.writer.Stats().MaxOpenConnections != 1 {
			t.Errorf("writer pool allows %d connections", s.writer.Stats().MaxOpenConnections)
		}
		if _, err := s.reader.ExecContext(ctx, `DELETE FROM clients`); err == nil {
			t.Error("a reader connection can write")
		}
	}
}

// TestBackgroundCheckpoint checks that committed writes reach the database
// file without the writer's own checkpoint: the log stays far below
// writerAutocheckpoint pages here, so only the checkpointer goroutine
// copies pages into the file.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	meta := []byte(`{"client_name":"` + strings.Repeat("x", 2000) + `"}`)
	for i := range 200 {
		c := &store.Client{ID: fmt.Sprintf("c%03d", i), Revision: 1, TokenHash: []byte(fmt.Sprintf("t%03d", i)), Metadata: meta}
		if err := s.CreateClient(ctx, c, store.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// 200 clients of 2 KB: at least 400 KB in the file once copied.
	const want = 400 << 10
	deadline := time.Now().Add(10 * time.Second)
	for size() < want {
		if time.Now().After(deadline) {
			t.Fatalf("database file of %d bytes (%d at open) 10s after the writes, want at least %d: no checkpoint ran", size(), before, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogRestarts checks that the log starts over once it holds
// restartPages pages while writes keep coming: a background checkpoint then
// never copies the whole log, so only the writer's restart checkpoint lets
// it start over. Four goroutines write clients for a second, back to back;
// the -wal file must stay far smaller than the pages they wrote, estimated
// from the size of the file after the first clients. SQLite's own automatic
// checkpoint, at writerAutocheckpoint pages, is far beyond what this test
// writes.
func TestLogRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	const restart = 50 // pages
	s, err := open(ctx, path, Options{}, restart)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	meta := []byte(`{"client_name":"` + strings.Repeat("x", 2000) + `"}`)
	create := func(id string) error {
		c := &store.Client{ID: id, Revision: 1, TokenHash: []byte("t" + id), Metadata: meta}
		return s.CreateClient(ctx, c, store.CreateOptions{})
	}
	const firstClients = 20
	for i := range firstClients {
		if err := create(fmt.Sprintf("first-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	perClient := walSize() / firstClients // an upper bound: the schema's pages are in it

	var wg sync.WaitGroup
	var mu sync.Mutex
	written := 0
	deadline := time.Now().Add(time.Second)
	for g := range 4 {
		wg.Go(func() {
			n := 0
			for ; time.Now().Before(deadline); n++ {
				if err := create(fmt.Sprintf("g%d-%d", g, n)); err != nil {
					t.Error(err)
					break
				}
			}
			mu.Lock()
			written += n
			mu.Unlock()
		})
	}
	wg.Wait()
	got, without := walSize(), int64(written)*perClient
	t.Logf("%d clients in 1s; -wal file of %d bytes, about %d without restarts", written, got, without)
	if got > without/3 {
		t.Errorf("-wal file of %d bytes after %d clients of about %d bytes of log each: the log did not start over at %d pages", got, written, perClient, restart)
	}
	for _, id := range []string{"first-0", "g0-0", "g3-1"} {
		if c, err := s.GetClient(ctx, id); err != nil || !bytes.Equal(c.Metadata, meta) {
			t.Fatalf("GetClient(%s) after the restarts: %v", id, err)
		}
	}
}

// TestWriterBeginsImmediate checks that write transactions take the write
// lock when they begin, so that they never fail midway with SQLITE_BUSY.
func TestWriterBeginsImmediate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := OpenWithOptions(ctx, path, Options{BusyTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(20)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `DELETE FROM initial_tokens`); err == nil {
		t.Error("another connection wrote while a transaction of the writer was open, before its first statement")
	}
}

// TestQueryPlans checks that token hash lookups search the indexes and
// never scan the clients table.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	args := make([]any, 18)
	for i := range args {
		args[i] = []byte{byte(i)}
	}
	for name, tc := range map[string]struct {
		q     string
		nargs int
	}{
		"queryClientByTokenHash": {queryClientByTokenHash, 1},
		"queryInsertClient":      {queryInsertClient, 18},
		"queryUpdateClient":      {queryUpdateClient, 15},
	} {
		rows, err := s.writer.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.q, args[:tc.nargs]...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		if strings.Contains(all, "SCAN clients") || !strings.Contains(all, "clients_token_hash") || !strings.Contains(all, "clients_prev_token_hash") {
			t.Errorf("%s: plan does not search both token hash indexes:\n%s", name, all)
		}
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init.sql" {
		t.Errorf("embedded migrations: %+v", ms)
	}
}

func TestMapErr(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	interrupted := errors.New("interrupted (9)")
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		closed bool
		err    error
		want   []error
	}{
		{"interrupted by a canceled context", canceled, false, interrupted, []error{context.Canceled, interrupted}},
		{"context error", bg, false, context.DeadlineExceeded, []error{context.DeadlineExceeded}},
		{"bad connection", bg, false, driver.ErrBadConn, []error{store.ErrUnavailable, driver.ErrBadConn}},
		{"connection done", bg, false, sql.ErrConnDone, []error{store.ErrUnavailable, sql.ErrConnDone}},
		{"closed store", bg, true, errors.New("sql: database is closed"), []error{store.ErrUnavailable}},
		{"sentinel", bg, false, store.ErrNotFound, []error{store.ErrNotFound}},
	} {
		s := &Store{}
		s.closed.Store(tc.closed)
		got := s.mapErr(tc.ctx, "op", tc.err)
		for _, w := range tc.want {
			if !errors.Is(got, w) {
				t.Errorf("%s: %v is not %v", tc.name, got, w)
			}
		}
	}
	if err := (&Store{}).mapErr(bg, "op", interrupted); errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) {
		t.Errorf("an unclassified error became %v", err)
	}
}

// testStore opens a store on a new file, closed at the end of the test.
func testStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// wantWriterWorks checks that the writer still commits a write, after what
// the caller did to it.
func wantWriterWorks(t *testing.T, s *Store, after string) {
	t.Helper()
	if err := s.CreateClient(context.Background(), &store.Client{ID: "after", Revision: 1, TokenHash: []byte("t"), Metadata: []byte("{}")}, store.CreateOptions{}); err != nil {
		t.Errorf("CreateClient %s: %v", after, err)
	}
}

// batchOp returns a write operation running fn, for runBatch.
func batchOp(fn func(ctx context.Context, tx *sql.Tx) error) *writeOp {
	return &writeOp{ctx: context.Background(), fn: fn, done: make(chan error, 1)}
}

// createOp is a batch operation storing a client with the given ID.
func createOp(s *Store, id string) *writeOp {
	return batchOp(func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, queryInsertClient, id, 1, 1, 1, []byte(`{}`),
			nil, nil, nil, nil, nil, nil, []byte("token "+id), nil, nil, "", "", nil, nil)
		return err
	})
}

// results returns the answers of the operations of a batch that ran.
func results(t *testing.T, ops ...*writeOp) []error {
	t.Helper()
	errs := make([]error, len(ops))
	for i, w := range ops {
		select {
		case errs[i] = <-w.done:
		default:
			t.Fatalf("operation %d was not answered", i)
		}
	}
	return errs
}

// stored reports which of the client IDs are stored.
func stored(t *testing.T, s *Store, ids ...string) map[string]bool {
	t.Helper()
	got := make(map[string]bool)
	for _, id := range ids {
		_, err := s.GetClient(context.Background(), id)
		switch {
		case err == nil:
			got[id] = true
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("GetClient(%q): %v", id, err)
		}
	}
	return got
}

// TestBatchIsolatesFailures runs a batch in which some operations fail: each
// failure rolls back its own statements only, and gets its own error.
func TestBatchIsolatesFailures(t *testing.T) {
	s := testStore(t)
	boom := errors.New("boom")
	ops := []*writeOp{
		createOp(s, "a"),
		createOp(s, "a"), // the ID is taken: a constraint violation
		batchOp(func(ctx context.Context, tx *sql.Tx) error {
			// Writes, then fails: its write must not be kept.
			if err := createOp(s, "c").fn(ctx, tx); err != nil {
				return err
			}
			return boom
		}),
		createOp(s, "b"),
	}
	s.runBatch(ops) // the writer goroutine is idle: no write is under way
	errs := results(t, ops...)
	if errs[0] != nil || errs[3] != nil {
		t.Errorf("the operations that succeed: %v, %v", errs[0], errs[3])
	}
	if se, ok := errors.AsType[*sqlitedrv.Error](errs[1]); !ok || se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT {
		t.Errorf("the duplicate: %v, want its constraint violation", errs[1])
	}
	if !errors.Is(errs[2], boom) {
		t.Errorf("the failing operation: %v, want its own error", errs[2])
	}
	if got := stored(t, s, "a", "b", "c"); !got["a"] || !got["b"] || got["c"] {
		t.Errorf("stored %v, want a and b only", got)
	}
}

// TestBatchAbort breaks the transaction of a batch midway: every operation
// fails, those that had succeeded included, and nothing is stored.
func TestBatchAbort(t *testing.T) {
	s := testStore(t)
	ops := []*writeOp{
		createOp(s, "a"),
		batchOp(func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "ROLLBACK") // ends the transaction
			return err
		}),
		createOp(s, "b"),
	}
	s.runBatch(ops)
	for i, err := range results(t, ops...) {
		if err == nil {
			t.Errorf("operation %d succeeded in a transaction that rolled back", i)
		}
	}
	if got := stored(t, s, "a", "b"); len(got) > 0 {
		t.Errorf("stored %v, want nothing", got)
	}
	wantWriterWorks(t, s, "after the aborted batch")
}

// TestBatchCommitFails makes the commit of a batch fail (a deferred foreign
// key violation): every operation of the batch fails, nothing is stored, and
// the writer goes on.
func TestBatchCommitFails(t *testing.T) {
	s := testStore(t)
	ops := []*writeOp{
		createOp(s, "a"),
		batchOp(func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (hash, client_id, scope, issued_at, expires_at) VALUES (x'01', 'nobody', '', 0, 0)`)
			return err
		}),
		createOp(s, "b"),
	}
	s.runBatch(ops)
	for i, err := range results(t, ops...) {
		if se, ok := errors.AsType[*sqlitedrv.Error](err); !ok || se.Code() != sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
			t.Errorf("operation %d: %v, want the commit's foreign key violation", i, err)
		}
	}
	if got := stored(t, s, "a", "b"); len(got) > 0 {
		t.Errorf("stored %v, want nothing", got)
	}
	wantWriterWorks(t, s, "after the failed commit")
}

// TestBatchSkipsCanceled checks that an operation whose caller gave up
// before it started never runs and is not answered.
func TestBatchSkipsCanceled(t *testing.T) {
	s := testStore(t)
	canceled := createOp(s, "canceled")
	canceled.state.Store(opCanceled)
	ok := createOp(s, "ok")
	s.runBatch([]*writeOp{canceled, ok})
	if err := results(t, ok)[0]; err != nil {
		t.Errorf("the other operation: %v", err)
	}
	select {
	case err := <-canceled.done:
		t.Errorf("the canceled operation was answered: %v", err)
	default:
	}
	if got := stored(t, s, "canceled", "ok"); !got["ok"] || got["canceled"] {
		t.Errorf("stored %v, want ok only", got)
	}
}

// TestCanceledWhileQueued gives up on a write that the writer goroutine has
// taken into a batch but not started: the caller gets its context's error,
// and the write never happens.
func TestCanceledWhileQueued(t *testing.T) {
	bg := context.Background()
	s, err := Open(bg, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	taken, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.testHookBatch = func() {
		once.Do(func() {
			close(taken)
			<-release
		})
	}
	ctx, cancel := context.WithCancel(bg)
	result := make(chan error, 1)
	go func() {
		result <- s.CreateClient(ctx, &store.Client{ID: "gave up", Revision: 1, TokenHash: []byte("t"), Metadata: []byte("{}")}, store.CreateOptions{})
	}()
	<-taken // the writer holds the operation and has not begun its batch
	cancel()
	err = <-result
	close(release)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateClient given up before it started: %v, want context.Canceled", err)
	}
	if err := s.CreateClient(bg, &store.Client{ID: "later", Revision: 1, TokenHash: []byte("u"), Metadata: []byte("{}")}, store.CreateOptions{}); err != nil {
		t.Fatalf("CreateClient afterwards: %v", err)
	}
	if got := stored(t, s, "gave up", "later"); got["gave up"] || !got["later"] {
		t.Errorf("stored %v, want later only", got)
	}
}
